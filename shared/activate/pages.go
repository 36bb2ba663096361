package activate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/logistos-sync/logistos-sync/shared/config"
	"github.com/logistos-sync/logistos-sync/shared/logistos"
	"github.com/logistos-sync/logistos-sync/shared/metrics"
	"github.com/logistos-sync/logistos-sync/shared/queue"
	"github.com/logistos-sync/logistos-sync/shared/state"
	"github.com/logistos-sync/logistos-sync/shared/wooapi"
)

// Paging of the backfill.
//
// WooCommerce pages by offset, so a list that changes under the backfill
// shifts: when an order on an earlier page is trashed, deleted, or leaves
// the status filter, every later order moves one place forward, and the
// first order of a page not yet read slides onto a page already read. It
// would be skipped. (Orders created later cannot shift anything: the
// cut-off keeps them out. Orders that join the list only push others back,
// which repeats one; Logistos de-duplicates.)
//
// The guard: pages are enqueued in any order but recorded in order, and each
// page carries the X-WP-Total it was listed with. When page p is recorded,
// page p-1's highest id and total are known (from this run or the
// checkpoint). Equal totals mean nothing left the list between the two
// reads, so the pages are adjacent. Different totals mean orders with ids
// between page p-1's last and page p's first may have slid back unseen:
// fillGap reads the list again around that spot (stepping back until a
// page starts at or before the last id recorded) and enqueues every order
// in that id range. Nothing is skipped; a repair costs a page or two. The
// one blind spot is a removal and an addition that cancel out between the
// two reads of one pair of pages, both within seconds.
//
// The guard relies on the shop paging as WooCommerce does, which a page
// cache or proxy in front of /wp-json/ (or a plugin rewriting the query)
// breaks: it answers page 1 for every page, repeats a page, or sends stale
// X-WP-Total headers. Trusting such answers would end "complete" with
// orders never read, or never end. So every page is checked on its own
// (checkPage: ids ascending, headers that agree with its contents) and
// against the page before it (advance: some order past the last one
// recorded). A page failing a check is read once more, because a cache's
// one-off answer or an order changing between WooCommerce's count and page
// queries heals; failing again, it ends the backfill with
// ErrUntrustedPaging.
const (
	// PerPage is the page size: WooCommerce's maximum.
	PerPage = wooapi.MaxPerPage
	// aheadPerSlot bounds how far past the first unrecorded page work may
	// run, per fetch slot: what a crash can make us send twice.
	aheadPerSlot = 4
	// maxGapPages bounds the re-reading of one gap.
	maxGapPages = 20
	// tick is how often the coordinator checks timers when no page ends.
	tick = 250 * time.Millisecond
)

// errLostLease means another run took the backfill over.
var errLostLease = errors.New("another run took over the backfill (its checkpoint lease)")

// ErrUntrustedPaging means the shop's order pages are not what WooCommerce
// serves: running again changes nothing until the shop is fixed.
var ErrUntrustedPaging = errors.New("the shop's order pages cannot be trusted")

// pagingAdvice is what the owner can do about ErrUntrustedPaging.
const pagingAdvice = "a page cache in front of the REST API (a caching plugin, CDN or reverse proxy) or a plugin rewriting its queries " +
	"(or capping per_page below 100) does this: exclude /wp-json/ from every cache"

// pageResult is what is kept of an enqueued page: no order data.
type pageResult struct {
	page              int
	count             int
	dead              int // of count, orders dead-lettered (too large for the queue)
	first, last       int64
	total, totalPages int
	err               error
}

func resultOf(p int, pg *wooapi.OrdersPage) pageResult {
	res := pageResult{page: p, count: len(pg.IDs), total: pg.Total, totalPages: pg.TotalPages}
	if n := len(pg.IDs); n > 0 {
		res.first, res.last = pg.IDs[0], pg.IDs[n-1]
	}
	return res
}

func (p *pageResult) isLast() bool {
	return p.count < PerPage || (p.totalPages >= 0 && p.page >= p.totalPages)
}

// run is one invocation's share of a backfill.
type run struct {
	h       *Handler
	shop    *wooapi.Client
	st      *backfillState
	version int64
	log     *slog.Logger
	start   time.Time
	slots   chan struct{} // fetches in flight
	sender  BatchSender   // h.Queue, recording in h.Ledger what it queued

	// recordedID is st.LastID for the workers: a page ending at or before
	// it is a repeat, not worth queueing (advance decides about it).
	recordedID atomic.Int64

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

// pages enqueues pages from st.NextPage on until the last one (finished),
// the drain margin before the deadline, or an error.
func (r *run) pages(ctx context.Context) (finished bool, err error) {
	conc := r.concurrency()
	r.slots = make(chan struct{}, conc)
	r.recordedID.Store(r.st.LastID)
	// Four times as many workers as fetch slots: while some wait on the
	// shop, the others enqueue the pages already fetched (SQS takes about
	// as long as the shop per page), so the fetch slots never idle.
	workers := 4 * conc
	window := aheadPerSlot * conc

	workCtx, cancel := context.WithCancel(ctx)
	var drain <-chan time.Time
	if dl, ok := ctx.Deadline(); ok {
		// A short function timeout gets proportionally shorter margins,
		// so that part of every invocation still does work.
		left := time.Until(dl)
		stop := min(durationOr(r.h.StopMargin, DefaultStopMargin), left/6)
		drainBy := min(durationOr(r.h.DrainMargin, DefaultDrainMargin), left/3)
		workCtx, cancel = context.WithDeadline(ctx, dl.Add(-stop))
		drain = time.After(left - drainBy)
	}
	jobs := make(chan int, workers)
	results := make(chan pageResult, workers)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for p := range jobs {
				results <- r.page(workCtx, p)
			}
		})
	}
	defer func() { close(jobs); cancel(); wg.Wait() }()
	ticker := time.NewTicker(tick)
	defer ticker.Stop()

	// Plan with the pages last seen (the probe's, or the checkpoint's);
	// every answer corrects the plan.
	next, planned, inflight := r.st.NextPage, max(r.st.NextPage, r.st.TotalPages), 0
	done := make(map[int]pageResult)
	stopping := false
	for {
		for !stopping && inflight < workers && next <= planned && next < r.st.NextPage+window {
			jobs <- next
			next++
			inflight++
		}
		if inflight == 0 {
			if stopping || finished {
				return finished, err
			}
			planned = max(planned, next) // the list grew past what it said
			continue
		}
		select {
		case res := <-results:
			inflight--
			if res.err != nil && !errors.Is(res.err, ErrUntrustedPaging) {
				// A page cut off by the stop margin (workCtx ended, ctx did
				// not), or whose retry would outlive it, is not an error:
				// the continuation reads it again.
				cutOff := (workCtx.Err() != nil && ctx.Err() == nil) || errors.Is(res.err, wooapi.ErrNoTimeToRetry)
				if err == nil && !cutOff {
					err = res.err
				}
				stopping = true
				continue
			}
			if finished {
				continue
			}
			switch {
			case res.err != nil: // a paging error: nothing to plan with
			case res.totalPages >= 0:
				planned = max(res.totalPages, r.st.NextPage)
			case res.count == PerPage:
				planned = max(planned, res.page+workers)
			}
			done[res.page] = res
			for !finished {
				d, ok := done[r.st.NextPage]
				if !ok {
					break
				}
				delete(done, d.page)
				// A page's paging error counts in page order, so that the
				// first page that went wrong names the cause.
				gerr := d.err
				if gerr == nil {
					gerr = r.advance(workCtx, &d)
				}
				if gerr == nil {
					gerr = r.bridge(workCtx, &d)
				}
				if gerr != nil {
					if err == nil {
						err = gerr
					}
					stopping = true
					break
				}
				r.record(&d)
				finished = d.isLast()
			}
			if finished {
				stopping = true
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

// page lists one page and enqueues its orders.
func (r *run) page(ctx context.Context, p int) pageResult {
	pg, err := r.fetch(ctx, p)
	if err != nil {
		return pageResult{page: p, err: err}
	}
	res := resultOf(p, pg)
	if res.count > 0 && res.last <= r.recordedID.Load() {
		// Nothing past the pages recorded: a repeat, which advance reads
		// again (and enqueues, if it heals) when its turn comes.
		return res
	}
	if res.dead, err = r.enqueue(ctx, pg); err != nil {
		return pageResult{page: p, err: fmt.Errorf("enqueue page %d: %w", p, err)}
	}
	return res
}

// fetch lists page p and checks it on its own (checkPage), reading it once
// more before it gives up on it: a cache's stale answer, or an order that
// changed between WooCommerce's count and page queries, does not repeat.
func (r *run) fetch(ctx context.Context, p int) (*wooapi.OrdersPage, error) {
	pg, err := r.list(ctx, p)
	if err == nil && checkPage(p, pg) != nil {
		if pg, err = r.list(ctx, p); err == nil {
			err = checkPage(p, pg)
		}
	}
	return pg, err
}

// checkPage returns ErrUntrustedPaging when page p is not what WooCommerce
// serves for orderby=id&order=asc: ids strictly ascending, and X-WP-Total
// and X-WP-TotalPages (when sent) that agree with each other and with
// where the page is and how full.
func checkPage(p int, pg *wooapi.OrdersPage) error {
	for i := 1; i < len(pg.IDs); i++ {
		if pg.IDs[i] <= pg.IDs[i-1] {
			return fmt.Errorf("%w: page %d lists order %d after order %d, out of order although the backfill asks for orderby=id&order=asc; %s",
				ErrUntrustedPaging, p, pg.IDs[i], pg.IDs[i-1], pagingAdvice)
		}
	}
	if pg.Total < 0 {
		return nil // no headers (a proxy strips them): nothing to compare
	}
	if pg.TotalPages >= 0 && pg.TotalPages != pagesOf(pg.Total) {
		return fmt.Errorf("%w: page %d came with X-WP-TotalPages %d, but its X-WP-Total %d makes %d pages of %d; %s",
			ErrUntrustedPaging, p, pg.TotalPages, pg.Total, pagesOf(pg.Total), PerPage, pagingAdvice)
	}
	n, before := len(pg.IDs), (p-1)*PerPage
	switch {
	case n == PerPage && pg.Total < before+n:
		return fmt.Errorf("%w: page %d is full, so the list holds at least %d orders, but X-WP-Total says %d; %s",
			ErrUntrustedPaging, p, before+n, pg.Total, pagingAdvice)
	case n < PerPage && pg.Total != before+n && (n > 0 || pg.Total > before):
		return fmt.Errorf("%w: page %d ends the list at %d orders in all, but X-WP-Total says %d; %s",
			ErrUntrustedPaging, p, before+n, pg.Total, pagingAdvice)
	}
	return nil
}

// list fetches page p within the concurrency limit.
func (r *run) list(ctx context.Context, p int) (*wooapi.OrdersPage, error) {
	select {
	case r.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-r.slots }()
	return r.shop.ListOrders(ctx, wooapi.OrdersQuery{Page: p, PerPage: PerPage, Status: r.st.Statuses,
		Before: r.st.Cutoff, OrderBy: "id", Order: "asc"})
}

// enqueue sends the orders of pg (those in keep, or all when keep is nil),
// and dead-letters those too large for the queue; it returns how many it
// dead-lettered.
func (r *run) enqueue(ctx context.Context, pg *wooapi.OrdersPage, keep ...int) (dead int, err error) {
	idx := keep
	if idx == nil {
		idx = make([]int, len(pg.Orders))
		for i := range idx {
			idx[i] = i
		}
	}
	if len(idx) == 0 {
		return 0, nil
	}
	now := r.h.now()
	msgs := make([]queue.Message, len(idx))
	ptrs := make([]*queue.Message, len(idx))
	for j, i := range idx {
		msgs[j] = queue.Message{Body: bytesView(pg.Orders[i]), Topic: logistos.EventBackfill, Source: r.h.StoreURL,
			Origin: queue.OriginBackfill, ReceivedAt: now}
		ptrs[j] = &msgs[j]
	}
	err = r.sender.SendBatch(ctx, ptrs)
	var tooLarge *queue.TooLargeError
	if errors.As(err, &tooLarge) {
		// Every other order is on the queue; these never can be.
		dead, err = len(tooLarge.Indexes), r.deadLetter(ctx, pg, idx, ptrs, tooLarge)
	}
	if err != nil {
		return 0, err
	}
	r.h.Metrics.Count(metrics.OrdersBackfilled, len(idx)-dead)
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
func (r *run) deadLetter(ctx context.Context, pg *wooapi.OrdersPage, idx []int, ms []*queue.Message, tl *queue.TooLargeError) error {
	if r.h.DeadLetters == nil {
		return tl
	}
	ids := make([]int64, len(idx))
	for j, i := range idx {
		ids[j] = pg.IDs[i]
	}
	o := queue.Oversize{Client: r.h.DeadLetters, DLQURL: r.h.DLQURL, Log: r.log}
	return o.DeadLetter(ctx, ms, ids, tl, "backfilled")
}

// advance makes sure page d lists some order past the last one recorded,
// as every page does in orderby=id order unless a page's worth of orders
// joined the list before it since the last page was read. A page that does
// not is read again (and enqueued, d then describing the new read): a
// cache's one-off answer heals; a shop that ignores ?page= or keeps
// repeating a page ends the backfill.
func (r *run) advance(ctx context.Context, d *pageResult) error {
	st := r.st
	if st.NextPage == 1 || d.count == 0 || d.last > st.LastID {
		return nil
	}
	pg, err := r.fetch(ctx, d.page)
	if err != nil {
		return err
	}
	fresh := resultOf(d.page, pg)
	joined := fresh.total >= 0 && st.LastTotal >= 0 && fresh.total-st.LastTotal >= fresh.count
	if fresh.count > 0 && fresh.last <= st.LastID && !joined {
		return fmt.Errorf("%w: page %d lists orders %d to %d again, none after order %d where page %d ended: the shop ignores ?page= or repeats pages; %s",
			ErrUntrustedPaging, d.page, fresh.first, fresh.last, st.LastID, d.page-1, pagingAdvice)
	}
	if fresh.dead, err = r.enqueue(ctx, pg); err != nil {
		return fmt.Errorf("enqueue page %d: %w", d.page, err)
	}
	r.log.LogAttrs(ctx, slog.LevelInfo, "backfill page repeated an earlier one; read again", slog.Int("page", d.page),
		slog.Int64("last_id_before", st.LastID), slog.Int64("last_id_now", fresh.last))
	*d = fresh
	return nil
}

// bridge makes sure nothing fell between the last recorded page and d.
func (r *run) bridge(ctx context.Context, d *pageResult) error {
	st := r.st
	if st.NextPage == 1 || st.LastTotal < 0 || d.total < 0 || d.total == st.LastTotal {
		return nil
	}
	hi := int64(math.MaxInt64)
	if d.count > 0 {
		hi = d.first
	}
	if hi <= st.LastID+1 {
		return nil // adjacent ids: nothing can be between them
	}
	n, dead, err := r.fillGap(ctx, st.LastID, hi, st.NextPage-1)
	st.DeadLettered += int64(dead)
	if err != nil {
		return fmt.Errorf("re-read orders between ids %d and %d after the shop's list changed: %w", st.LastID, hi, err)
	}
	st.Repaired += int64(n)
	st.Enqueued += int64(n)
	r.enqueuedThisRun += int64(n)
	r.log.LogAttrs(ctx, slog.LevelInfo, "backfill list shifted; gap re-read", slog.Int("page", d.page),
		slog.Int("total_before", st.LastTotal), slog.Int("total_now", d.total), slog.Int("orders_recovered", n))
	return nil
}

// fillGap enqueues every order with lo < id < hi, reading the list from
// page hint. A page is trusted to continue the coverage when it starts at
// or before lo+1, when it is page 1, or when it follows a trusted page
// listed with the same X-WP-Total (the list did not move in between);
// otherwise the walk steps back a page. It ends at a page reaching hi, or
// at the end of the list. It returns how many orders it enqueued and how
// many it dead-lettered.
func (r *run) fillGap(ctx context.Context, lo, hi int64, hint int) (found, dead int, err error) {
	q := max(hint, 1)
	seen := make(map[int64]bool)
	prevTotal, havePrev := 0, false
	for range maxGapPages {
		pg, err := r.fetch(ctx, q)
		if err != nil {
			return found, dead, err
		}
		n := len(pg.IDs)
		follows := havePrev && pg.Total >= 0 && pg.Total == prevTotal
		if n == 0 {
			if q == 1 || follows {
				return found, dead, nil // the list ends before hi
			}
			q, havePrev = q-1, false // the list shrank past this page
			continue
		}
		if q > 1 && pg.IDs[0] > lo+1 && !follows {
			q, havePrev = q-1, false // the spot slid back past this page
			continue
		}
		var keep []int
		for i, id := range pg.IDs {
			if id > lo && id < hi && !seen[id] {
				seen[id] = true
				keep = append(keep, i)
			}
		}
		d, err := r.enqueue(ctx, pg, keep...)
		if err != nil {
			return found, dead, err
		}
		found, dead = found+len(keep)-d, dead+d
		if pg.IDs[n-1] >= hi-1 || n < PerPage {
			return found, dead, nil
		}
		q, prevTotal, havePrev = q+1, pg.Total, true
	}
	return found, dead, fmt.Errorf("the list kept moving over %d pages", maxGapPages)
}

// record moves the checkpoint past page d.
func (r *run) record(d *pageResult) {
	st := r.st
	st.NextPage++
	// Never back: a page that orders joined in bulk may end before it.
	if d.count > 0 && d.last > st.LastID {
		st.LastID = d.last
		r.recordedID.Store(d.last)
	}
	st.LastTotal = d.total
	if d.total >= 0 {
		st.Total = d.total
	}
	if d.totalPages >= 0 {
		st.TotalPages = d.totalPages
	}
	st.Enqueued += int64(d.count - d.dead)
	st.DeadLettered += int64(d.dead)
	r.pagesThisRun++
	r.enqueuedThisRun += int64(d.count - d.dead)
	r.dirty = true
}

// maybeSave writes the checkpoint when it changed and CheckpointEvery passed.
func (r *run) maybeSave(ctx context.Context) error {
	if !r.dirty || r.h.now().Sub(r.lastSave) < durationOr(r.h.CheckpointEvery, DefaultCheckpointEvery) {
		return nil
	}
	r.st.LeaseUntil = r.h.leaseUntil(ctx) // renew
	err := r.save(ctx)
	if err != nil && !errors.Is(err, errLostLease) {
		// Keep going: the next tick tries again, and the final write must succeed.
		r.log.LogAttrs(ctx, slog.LevelWarn, "backfill checkpoint write failed", slog.String("error", err.Error()))
		return nil
	}
	return err
}

// save writes the checkpoint; ErrConflict becomes errLostLease.
func (r *run) save(ctx context.Context) error {
	doc, err := json.Marshal(r.st)
	if err != nil {
		return err
	}
	v, err := r.h.State.Put(ctx, BackfillID, doc, r.version)
	if errors.Is(err, state.ErrConflict) {
		return errLostLease
	}
	if err != nil {
		return err
	}
	r.version, r.dirty, r.lastSave = v, false, r.h.now()
	return nil
}

// saveWithin is save bounded by finalWriteTimeout, for the last write.
func (r *run) saveWithin(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, finalWriteTimeout)
	defer cancel()
	return r.save(ctx)
}
