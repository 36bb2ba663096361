package activate

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/logistos-sync/logistos-sync/shared/config"
	"github.com/logistos-sync/logistos-sync/shared/orderpages"
	"github.com/logistos-sync/logistos-sync/shared/queue"
	"github.com/logistos-sync/logistos-sync/shared/wooapi"
)

// The backfill's engine: one invocation's slice of the shop's order pages
// (run), read here, enqueued by enqueue.go and recorded in the checkpoint
// by checkpoint.go.
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
	jobs, results, wait := r.enqueuers(workCtx, workers)
	defer func() { close(jobs); cancel(); wait() }()
	ticker := time.NewTicker(tick)
	defer ticker.Stop()

	c := &coordinator{r: r, jobs: jobs, done: make(map[int]pageResult),
		cutOff: func(err error) bool { return cutOff(ctx, workCtx, err) }}
	for !c.stopping || c.inflight > 0 {
		var in <-chan orderpages.Result
		if !c.stopping && c.inflight < workers {
			in = list.C
		}
		select {
		case res, ok := <-in:
			c.handOver(res, ok)
		case res := <-results:
			c.settle(res)
			r.progress(ctx, false)
		case <-drain:
			drain, c.stopping = nil, true
			r.log.LogAttrs(ctx, slog.LevelInfo, "backfill slice ending before the deadline", slog.Int("in_flight", c.inflight))
		case <-ticker.C:
		}
		if serr := r.maybeSave(ctx); serr != nil && c.err == nil {
			c.err, c.stopping = serr, true
		}
	}
	return c.finished, c.err
}

// enqueuers starts n goroutines that enqueue the pages sent on jobs and
// send what became of each on results. Close jobs, then call wait.
func (r *run) enqueuers(ctx context.Context, n int) (jobs chan<- job, results <-chan pageResult, wait func()) {
	in := make(chan job, n)
	out := make(chan pageResult, n)
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			for j := range in {
				out <- r.enqueuePage(ctx, j.seq, j.page)
			}
		})
	}
	return in, out, wg.Wait
}

// coordinator is the state of pages' loop: the pages handed to the
// enqueuers, those back, and those recorded in the checkpoint, which are
// recorded strictly in the order they were handed over.
type coordinator struct {
	r      *run
	jobs   chan<- job
	cutOff func(error) bool // the error only means the slice's time ran out (cutOff)

	handed, recorded, inflight int
	done                       map[int]pageResult // back from the enqueuers, not yet recorded
	stopping                   bool               // no more pages are taken on
	broken                     bool               // a page failed: none after it can be recorded
	finished                   bool               // the last page is recorded
	err                        error
}

// handOver gives the next page the reader handed over to an enqueuer; ok
// is false when the reader has no more (the last page, or time ran out).
func (c *coordinator) handOver(res orderpages.Result, ok bool) {
	switch {
	case !ok:
		c.stopping = true
	case res.Err != nil:
		c.fail(res.Err)
		c.stopping = true
	default:
		c.jobs <- job{c.handed, res.Page}
		c.handed++
		c.inflight++
	}
}

// settle takes an enqueuer's result and records every page now next in
// line; the first that failed stops the slice.
func (c *coordinator) settle(res pageResult) {
	c.inflight--
	c.done[res.seq] = res
	for !c.broken {
		d, ok := c.done[c.recorded]
		if !ok {
			return
		}
		delete(c.done, c.recorded)
		c.recorded++
		if d.err != nil {
			c.fail(d.err)
			c.broken, c.stopping = true, true
			return
		}
		c.r.record(&d)
		c.finished = c.finished || d.last
	}
}

// fail keeps the slice's first error, unless it only means that the
// slice's time ran out.
func (c *coordinator) fail(err error) {
	if c.err == nil && !c.cutOff(err) {
		c.err = err
	}
}

// cutOff reports whether err only means that the slice's time ran out (its
// work context ended, the invocation's did not) or that a retry would
// outlive it: the continuation reads that page again.
func cutOff(ctx, work context.Context, err error) bool {
	return (work.Err() != nil && ctx.Err() == nil) || errors.Is(err, wooapi.ErrNoTimeToRetry)
}
