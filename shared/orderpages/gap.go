package orderpages

import (
	"fmt"
	"log/slog"
	"math"

	"github.com/logistos-sync/logistos-sync/shared/wooapi"
)

// maxGapPages bounds the re-reading of one gap.
const maxGapPages = 20

// bridge returns the orders between the last page handed over and page p
// when the list may have shifted between the two reads, nil otherwise.
// Equal totals mean nothing left the list in between, so the pages are
// adjacent; different totals mean orders with ids between the two pages may
// have slid back onto a page already read. The one blind spot is a removal
// and an addition that cancel out between two reads, both within seconds.
func (l *listing) bridge(p int, pg *wooapi.OrdersPage) (*Page, error) {
	at := l.at
	if at.LastTotal < 0 || pg.Total < 0 || pg.Total == at.LastTotal {
		return nil, nil
	}
	hi := int64(math.MaxInt64)
	if len(pg.IDs) > 0 {
		hi = pg.IDs[0]
	}
	if hi <= at.LastID+1 {
		return nil, nil // adjacent ids: nothing can be between them
	}
	gap, err := l.fillGap(at.LastID, hi, p-1)
	if err != nil {
		return nil, fmt.Errorf("re-read orders between ids %d and %d after the shop's list changed: %w", at.LastID, hi, err)
	}
	l.Log.LogAttrs(l.ctx, slog.LevelInfo, "order list shifted; gap re-read", slog.Int("page", p),
		slog.Int("total_before", at.LastTotal), slog.Int("total_now", pg.Total), slog.Int("orders", len(gap.IDs)))
	if len(gap.IDs) == 0 {
		return nil, nil
	}
	gap.Number, gap.Gap, gap.After = p, true, at
	gap.Total, gap.TotalPages = pg.Total, pg.TotalPages
	l.handed += len(gap.IDs)
	return gap, nil
}

// fillGap collects every order with lo < id < hi, reading the list from
// page hint. A page is trusted to continue the coverage when it starts at
// or before lo+1, when it is page 1, or when it follows a trusted page
// listed with the same X-WP-Total (the list did not move in between);
// otherwise the walk steps back a page. It ends at a page reaching hi, or
// at the end of the list.
func (l *listing) fillGap(lo, hi int64, hint int) (*Page, error) {
	gap := &Page{}
	q := max(hint, 1)
	seen := make(map[int64]bool)
	prevTotal, havePrev := 0, false
	for range maxGapPages {
		pg, err := l.fetch(q)
		if err != nil {
			return nil, err
		}
		n := len(pg.IDs)
		follows := havePrev && pg.Total >= 0 && pg.Total == prevTotal
		if n == 0 {
			if q == 1 || follows {
				return gap, nil // the list ends before hi
			}
			q, havePrev = q-1, false // the list shrank past this page
			continue
		}
		if q > 1 && pg.IDs[0] > lo+1 && !follows {
			q, havePrev = q-1, false // the spot slid back past this page
			continue
		}
		for i, id := range pg.IDs {
			if id > lo && id < hi && !seen[id] {
				seen[id] = true
				gap.Orders, gap.IDs = append(gap.Orders, pg.Orders[i]), append(gap.IDs, id)
			}
		}
		if pg.IDs[n-1] >= hi-1 || n < PerPage {
			return gap, nil
		}
		q, prevTotal, havePrev = q+1, pg.Total, true
	}
	return nil, fmt.Errorf("the list kept moving over %d pages", maxGapPages)
}
