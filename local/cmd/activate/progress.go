package main

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/logistos-sync/logistos-sync/shared/activate"
)

const (
	// barWidth is the bar's length in characters.
	barWidth = 30
	// redrawEvery limits redraws: the handler reports every page.
	redrawEvery = 100 * time.Millisecond
)

// progressBar draws the backfill's progress on one terminal line.
type progressBar struct {
	w    io.Writer
	mu   sync.Mutex
	last time.Time
	drew bool
}

func (b *progressBar) update(p activate.Progress) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !p.Final && time.Since(b.last) < redrawEvery {
		return
	}
	b.last, b.drew = time.Now(), true
	fmt.Fprint(b.w, "\r"+render(p)+"\033[K")
}

// done ends the bar's line; the next update starts a new one.
func (b *progressBar) done() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.drew {
		fmt.Fprintln(b.w)
		b.drew = false
	}
}

// render is one line: bar, pages, orders, rate and ETA.
func render(p activate.Progress) string {
	frac := 0.0
	if p.PagesTotal > 0 {
		frac = min(float64(p.PagesDone)/float64(p.PagesTotal), 1)
	}
	filled := int(frac * barWidth)
	total := "?"
	if p.PagesTotal >= 0 {
		total = fmt.Sprint(p.PagesTotal)
	}
	eta := "--:--"
	if p.ETA > 0 {
		eta = fmt.Sprintf("%d:%02d", int(p.ETA.Minutes()), int(p.ETA.Seconds())%60)
	}
	return fmt.Sprintf("backfill [%s%s] %3.0f%%  page %d/%s  %d orders  %.0f/s  ETA %s",
		strings.Repeat("#", filled), strings.Repeat("-", barWidth-filled), 100*frac,
		p.PagesDone, total, p.OrdersEnqueued, p.RatePerSecond, eta)
}
