package activate

import (
	"context"
	"errors"
	"fmt"
	"unsafe"

	"github.com/logistos-sync/logistos-sync/shared/metrics"
	"github.com/logistos-sync/logistos-sync/shared/orderpages"
	"github.com/logistos-sync/logistos-sync/shared/queue"
	"github.com/logistos-sync/logistos-sync/shared/wooapi"
)

// Enqueueing of the backfill's pages: each page's orders go on the backfill
// queue in batches, byte for byte as the shop listed them.

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
