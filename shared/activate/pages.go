package activate

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"
	"unsafe"

	"github.com/logistos-sync/logistos-sync/shared/config"
	"github.com/logistos-sync/logistos-sync/shared/metrics"
	"github.com/logistos-sync/logistos-sync/shared/orderpages"
	"github.com/logistos-sync/logistos-sync/shared/queue"
	"github.com/logistos-sync/logistos-sync/shared/wooapi"
)

// Paging of the backfill.
//
// The shop's pages are read through orderpages, which never trusts the
// shop's paging: it checks each page on its own and against the pages
// before it, reads a page that fails once more, re-reads the list where
// it shifted between two pages, and hands the pages over in order, each
// only once it passed. So no order is queued from a page the shop got wrong
// (a cache answering page 1 for every page costs page 1 once, then a
// failure), and a total that lies ends the backfill in a failure, never in
// "complete" with orders unread.
//
// Pages handed over are enqueued several at a time (SQS takes about as long
// per page as the shop) and recorded in the order they were handed over,
// so the checkpoint (the next page, and the last order id and X-WP-Total
// before it: orderpages.Position) always describes pages that are all on
// the queue.
const (
	// PerPage is the page size: WooCommerce's maximum.
	PerPage = orderpages.PerPage
	// aheadPerSlot is, per fetch slot, how many pages are listed past the
	// last one handed over, and how many are enqueued at once: together
	// what is held in memory, and what a crash can make us send twice.
	aheadPerSlot = 2
	// tick is how often the coordinator checks timers when no page ends.
	tick = 250 * time.Millisecond
)

// job is a page to enqueue, the seq-th handed over.
type job struct {
	seq  int
	page *orderpages.Page
}

// pageResult is what is kept of an enqueued page: no order data.
type pageResult struct {
	seq               int // its place in the order pages were handed over
	page              int
	listed            int
	orders            int // handed over, of which dead were dead-lettered
	dead              int
	gap, last         bool
	total, totalPages int
	after             orderpages.Position
	err               error
}

// run is one invocation's share of a backfill.
type run struct {
	h       *Handler
	shop    *wooapi.Client
	st      *backfillState
	version int64
	log     *slog.Logger
	start   time.Time
	sender  queue.BatchSender // h.Queue, recording in h.Ledger what it queued

	pagesThisRun    int
	enqueuedThisRun int64
	dirty           bool
	lastSave        time.Time
	lastProgress    time.Time
}

func (r *run) concurrency() int {
	if r.h.Concurrency > 0 {
		return r.h.Concurrency
	}
	return config.DefaultBackfillConcurrency
}

func durationOr(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

// slice bounds the work of this invocation: work stops at the stop margin
// before the deadline, and drain fires at the drain margin, after which no
// page is taken on.
func (r *run) slice(ctx context.Context) (work context.Context, cancel context.CancelFunc, drain <-chan time.Time) {
	dl, ok := ctx.Deadline()
	if !ok {
		work, cancel = context.WithCancel(ctx)
		return work, cancel, nil
	}
	// A short function timeout gets proportionally shorter margins, so
	// that part of every invocation still does work.
	left := time.Until(dl)
	stop := min(durationOr(r.h.StopMargin, DefaultStopMargin), left/6)
	drainBy := min(durationOr(r.h.DrainMargin, DefaultDrainMargin), left/3)
	work, cancel = context.WithDeadline(ctx, dl.Add(-stop))
	return work, cancel, time.After(left - drainBy)
}

// pages enqueues pages from st.NextPage on until the last one (finished),
// the drain margin before the deadline, or an error.
func (r *run) pages(ctx context.Context) (finished bool, err error) {
	conc := r.concurrency()
	workCtx, cancel, drain := r.slice(ctx)
	defer cancel()
	st := r.st
	list := orderpages.Reader{Shop: r.shop, Query: wooapi.OrdersQuery{Status: st.Statuses, Before: st.Cutoff},
		Concurrency: conc, Ahead: aheadPerSlot * conc, Expect: st.Total, Log: r.log}.Open(workCtx, st.position())
	defer list.Close()

	workers := aheadPerSlot * conc
	jobs := make(chan job, workers)
	results := make(chan pageResult, workers)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for j := range jobs {
				results <- r.enqueuePage(workCtx, j.seq, j.page)
			}
		})
	}
	defer func() { close(jobs); cancel(); wg.Wait() }()
	ticker := time.NewTicker(tick)
	defer ticker.Stop()

	handed, recorded, inflight := 0, 0, 0
	done := make(map[int]pageResult)
	stopping, broken := false, false
	for {
		if stopping && inflight == 0 {
			return finished, err
		}
		var in <-chan orderpages.Result
		if !stopping && inflight < workers {
			in = list.C
		}
		select {
		case res, ok := <-in:
			switch {
			case !ok: // after the last page, or the slice's time ran out
				stopping = true
			case res.Err != nil:
				if err == nil && !cutOff(ctx, workCtx, res.Err) {
					err = res.Err
				}
				stopping = true
			default:
				jobs <- job{handed, res.Page}
				handed++
				inflight++
			}
		case res := <-results:
			inflight--
			done[res.seq] = res
			for !broken {
				d, ok := done[recorded]
				if !ok {
					break
				}
				delete(done, recorded)
				recorded++
				if d.err != nil {
					if err == nil && !cutOff(ctx, workCtx, d.err) {
						err = d.err
					}
					broken, stopping = true, true // what follows it cannot be recorded
					break
				}
				r.record(&d)
				finished = finished || d.last
			}
			r.progress(ctx, false)
		case <-drain:
			drain, stopping = nil, true
			r.log.LogAttrs(ctx, slog.LevelInfo, "backfill slice ending before the deadline", slog.Int("in_flight", inflight))
		case <-ticker.C:
		}
		if serr := r.maybeSave(ctx); serr != nil && err == nil {
			err, stopping = serr, true
		}
	}
}

// cutOff reports whether err only means that the slice's time ran out (its
// work context ended, the invocation's did not) or that a retry would
// outlive it: the continuation reads that page again.
func cutOff(ctx, work context.Context, err error) bool {
	return (work.Err() != nil && ctx.Err() == nil) || errors.Is(err, wooapi.ErrNoTimeToRetry)
}

// enqueuePage enqueues pg, the seq-th page handed over.
func (r *run) enqueuePage(ctx context.Context, seq int, pg *orderpages.Page) pageResult {
	res := pageResult{seq: seq, page: pg.Number, listed: pg.Listed, orders: len(pg.IDs), gap: pg.Gap, last: pg.Last,
		total: pg.Total, totalPages: pg.TotalPages, after: pg.After}
	var err error
	if res.dead, err = r.enqueue(ctx, &pg.OrdersPage); err != nil {
		what := fmt.Sprintf("page %d", pg.Number)
		if pg.Gap {
			what = fmt.Sprintf("the orders re-read before page %d", pg.Number)
		}
		res.err = fmt.Errorf("enqueue %s: %w", what, err)
	}
	return res
}

// enqueue sends the orders of pg, and dead-letters those too large for
// the queue; it returns how many it dead-lettered.
func (r *run) enqueue(ctx context.Context, pg *wooapi.OrdersPage) (dead int, err error) {
	if len(pg.Orders) == 0 {
		return 0, nil
	}
	now := r.h.now()
	msgs := make([]queue.Message, len(pg.Orders))
	ptrs := make([]*queue.Message, len(pg.Orders))
	for i, o := range pg.Orders {
		msgs[i] = queue.Message{Body: bytesView(o), Source: r.h.StoreURL, Origin: queue.OriginBackfill, ReceivedAt: now}
		ptrs[i] = &msgs[i]
	}
	err = r.sender.SendBatch(ctx, ptrs)
	var tooLarge *queue.TooLargeError
	if errors.As(err, &tooLarge) {
		// Every other order is on the queue; these never can be.
		dead, err = len(tooLarge.Indexes), r.deadLetter(ctx, pg, ptrs, tooLarge)
	}
	if err != nil {
		return 0, err
	}
	r.h.Metrics.Count(metrics.OrdersBackfilled, len(ptrs)-dead)
	if dead > 0 {
		r.h.Metrics.Count(metrics.OrdersBackfillDeadLettered, dead)
	}
	return dead, nil
}

// bytesView is b as a string without a copy. Only for bytes nothing
// writes again: an order of a page is a slice of the shop's answer, which
// wooapi hands over and never touches after (OrdersPage.Orders), and the
// messages built from it live no longer than the page. Copying every order
// cost the backfill a second copy of each page (100 pages a second).
func bytesView(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

// deadLetter dead-letters the orders SendBatch found too large
// (queue.Oversize), so that the backfill goes on. Without a DLQ it returns
// tl.
func (r *run) deadLetter(ctx context.Context, pg *wooapi.OrdersPage, ms []*queue.Message, tl *queue.TooLargeError) error {
	if r.h.DeadLetters == nil {
		return tl
	}
	o := queue.Oversize{Client: r.h.DeadLetters, DLQURL: r.h.DLQURL, Log: r.log}
	return o.DeadLetter(ctx, ms, pg.IDs, tl, "backfilled")
}

// record moves the checkpoint past d, the next page handed over.
func (r *run) record(d *pageResult) {
	st := r.st
	sent := int64(d.orders - d.dead)
	st.Enqueued += sent
	st.DeadLettered += int64(d.dead)
	r.enqueuedThisRun += sent
	r.dirty = true
	if d.gap {
		st.Repaired += sent
		return
	}
	if d.total >= 0 {
		st.Total = d.total
	}
	if d.totalPages >= 0 {
		st.TotalPages = d.totalPages
	}
	if d.last && d.listed == 0 {
		return // the empty page that confirms the end: no page of orders
	}
	st.NextPage, st.LastID, st.LastTotal = d.after.Page, d.after.LastID, d.after.LastTotal
	r.pagesThisRun++
}
