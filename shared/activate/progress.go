package activate

import (
	"context"
	"log/slog"
	"math"
	"time"
)

// Progress is a snapshot of a backfill, for logs and progress bars.
type Progress struct {
	PagesDone      int     // pages enqueued in order, over the whole backfill
	PagesTotal     int     // X-WP-TotalPages as last seen; -1 unknown
	OrdersEnqueued int64   // over the whole backfill, re-reads included
	OrdersTotal    int     // X-WP-Total as last seen; -1 unknown
	RatePerSecond  float64 // orders enqueued per second in this invocation
	ETA            time.Duration
	Final          bool // the last snapshot of this invocation
}

func (r *run) snapshot(final bool) Progress {
	st := r.st
	p := Progress{PagesDone: st.NextPage - 1, PagesTotal: st.TotalPages, OrdersEnqueued: st.Enqueued,
		OrdersTotal: st.Total, Final: final}
	elapsed := r.h.now().Sub(r.start)
	if elapsed > 0 {
		p.RatePerSecond = float64(r.enqueuedThisRun) / elapsed.Seconds()
	}
	if r.pagesThisRun > 0 && p.PagesTotal > p.PagesDone {
		perPage := elapsed / time.Duration(r.pagesThisRun)
		p.ETA = perPage * time.Duration(p.PagesTotal-p.PagesDone)
	}
	return p
}

// progress reports to the Progress callback every time, and to the log
// every ProgressEvery and at the end of the invocation.
func (r *run) progress(ctx context.Context, final bool) {
	p := r.snapshot(final)
	if r.h.Progress != nil {
		r.h.Progress(p)
	}
	now := r.h.now()
	if !final && now.Sub(r.lastProgress) < durationOr(r.h.ProgressEvery, DefaultProgressEvery) {
		return
	}
	r.lastProgress = now
	pct := 0.0
	if p.PagesTotal > 0 {
		pct = math.Round(1000*float64(p.PagesDone)/float64(p.PagesTotal)) / 10
	}
	r.log.LogAttrs(ctx, slog.LevelInfo, "backfill progress",
		slog.Int("pages_done", p.PagesDone), slog.Int("pages_total", p.PagesTotal), slog.Float64("percent", pct),
		slog.Int64("orders_enqueued", p.OrdersEnqueued), slog.Int("orders_total", p.OrdersTotal),
		slog.Float64("rate_per_s", math.Round(p.RatePerSecond*10)/10), slog.Float64("eta_s", math.Round(p.ETA.Seconds())),
		slog.Bool("final", final))
}

// report copies this invocation's figures into rep.
func (r *run) report(rep *BackfillReport) {
	p := r.snapshot(true)
	rep.ThisInvocation = r.enqueuedThisRun
	rep.RatePerSecond = math.Round(p.RatePerSecond*10) / 10
	rep.ETASeconds = math.Round(p.ETA.Seconds())
}
