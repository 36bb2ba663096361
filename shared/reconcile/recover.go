package reconcile

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"

	"github.com/logistos-sync/logistos-sync/shared/metrics"
	"github.com/logistos-sync/logistos-sync/shared/orderpages"
	"github.com/logistos-sync/logistos-sync/shared/queue"
	"github.com/logistos-sync/logistos-sync/shared/wooapi"
	"github.com/logistos-sync/logistos-sync/shared/woohook"
)

// drafts are statuses WooCommerce fires no order.created for (an
// unfinished block checkout): not orders the webhook missed.
var drafts = map[string]bool{"checkout-draft": true, "draft": true, "auto-draft": true}

// maxReportedIDs bounds MissingIDs in the report and log line.
const maxReportedIDs = 20

// recoverOrders scans the window, finds what is missing and queues it.
func (h *Handler) recoverOrders(ctx context.Context, log *slog.Logger, t *target, shop *wooapi.Client, w Window, dry bool, rep *Report) error {
	if !w.End.After(w.Start) {
		return nil
	}
	stubs, topic, err := h.listWindow(ctx, log, shop, w)
	if err != nil {
		return err
	}
	rep.OrdersSeen = len(stubs)
	missing, err := h.missing(ctx, t, stubs, topic)
	if err != nil {
		return err
	}
	rep.OrdersMissing = len(missing)
	rep.MissingIDs = missing[:min(len(missing), maxReportedIDs)]
	if dry {
		return nil
	}
	for start := 0; start < len(missing); start += wooapi.MaxPerPage {
		chunk := missing[start:min(start+wooapi.MaxPerPage, len(missing))]
		if err := h.queueMissing(ctx, log, t, shop, chunk, topic, rep); err != nil {
			return err
		}
	}
	return nil
}

// listWindow lists the orders created in w, and with Updated those
// modified in it too, each with the topic it would be queued with.
func (h *Handler) listWindow(ctx context.Context, log *slog.Logger, shop *wooapi.Client, w Window) (map[int64]wooapi.OrderStub, map[int64]string, error) {
	stubs, err := h.scan(ctx, log, shop, wooapi.OrdersQuery{After: w.Start, Before: w.End})
	if err != nil {
		return nil, nil, err
	}
	topic := map[int64]string{}
	for id := range stubs {
		topic[id] = woohook.TopicOrderCreated
	}
	if h.Updated {
		mod, err := h.scan(ctx, log, shop, wooapi.OrdersQuery{ModifiedAfter: w.Start, ModifiedBefore: w.End})
		if err != nil {
			return nil, nil, err
		}
		for id, s := range mod {
			if _, ok := stubs[id]; !ok {
				stubs[id], topic[id] = s, woohook.TopicOrderUpdated
			}
		}
	}
	// A shop (or a proxy) that ignores the date filters lists orders
	// outside the window: they are not this sweep's to judge.
	for id, s := range stubs {
		if !w.holds(s.Created) && !(h.Updated && w.holds(s.Modified)) {
			delete(stubs, id)
		}
	}
	return stubs, topic, nil
}

// missing returns, in ascending order, the ids among stubs the ledger has
// no entry for, and with Updated those modified since their entry (whose
// topic becomes order.updated).
func (h *Handler) missing(ctx context.Context, t *target, stubs map[int64]wooapi.OrderStub, topic map[int64]string) ([]int64, error) {
	ids := slices.Sorted(maps.Keys(stubs))
	known, err := t.ledger.Get(ctx, ids)
	if err != nil {
		return nil, err
	}
	var missing []int64
	for _, id := range ids {
		e, ok := known[id]
		switch {
		case !ok:
		case h.Updated && stubs[id].Modified > e.Modified:
			// Same layout, so the strings compare as the dates do.
			topic[id] = woohook.TopicOrderUpdated
		default:
			continue
		}
		missing = append(missing, id)
	}
	return missing, nil
}

// queueMissing fetches the orders ids (a page's worth) in full and queues
// them with their topics; one deleted since the scan is skipped.
func (h *Handler) queueMissing(ctx context.Context, log *slog.Logger, t *target, shop *wooapi.Client, ids []int64, topic map[int64]string, rep *Report) error {
	bodies, err := fetch(ctx, shop, ids)
	if err != nil {
		return err
	}
	at := h.now()
	ms := make([]*queue.Message, 0, len(bodies))
	var queued []int64
	for _, id := range ids {
		if b, ok := bodies[id]; ok {
			ms = append(ms, &queue.Message{Body: string(b), Topic: topic[id], Source: t.url,
				Origin: queue.OriginReconcile, ReceivedAt: at})
			queued = append(queued, id)
		}
	}
	if len(ms) == 0 {
		return nil
	}
	dead, err := h.send(ctx, log, t, ms, queued)
	if err != nil {
		return err
	}
	rep.OrdersDeadLettered += len(dead)
	rep.OrdersQueued += len(ms) - len(dead)
	h.Metrics.Count(metrics.OrdersRecovered, len(ms)-len(dead))
	for i := range ms {
		if dead[i] {
			continue
		}
		log.LogAttrs(ctx, slog.LevelInfo, "order recovered", slog.Int64("order_id", queued[i]),
			slog.String("topic", ms[i].Topic), slog.String("origin", queue.OriginReconcile), slog.String("outcome", "enqueued"))
	}
	return nil
}

// send queues ms, the orders ids, and dead-letters those too large for
// the queue (dead holds their positions): one such order must not fail
// every sweep from now on and hold the high-water mark back.
func (h *Handler) send(ctx context.Context, log *slog.Logger, t *target, ms []*queue.Message, ids []int64) (dead map[int]bool, err error) {
	err = t.queue.SendBatch(ctx, ms)
	var tl *queue.TooLargeError
	if !errors.As(err, &tl) || h.DeadLetters == nil {
		return nil, err
	}
	o := queue.Oversize{Client: h.DeadLetters, DLQURL: h.DLQURL, Log: log}
	if err := o.DeadLetter(ctx, ms, ids, tl, "recovered"); err != nil {
		return nil, err
	}
	dead = make(map[int]bool, len(tl.Indexes))
	for _, j := range tl.Indexes {
		dead[j] = true
	}
	return dead, nil
}

// fetch returns the full JSON of the orders ids, as the shop lists them:
// one include= page, then one GET per order the page lacked (a shop or
// proxy that ignores include= must not make an order look fetched, nor
// another order be queued in its place). An order deleted for good since
// the scan is left out: there is nothing to send.
func fetch(ctx context.Context, shop *wooapi.Client, ids []int64) (map[int64][]byte, error) {
	pg, err := shop.ListOrders(ctx, wooapi.OrdersQuery{Include: ids, PerPage: wooapi.MaxPerPage, OrderBy: "id", Order: "asc"})
	if err != nil {
		return nil, err
	}
	want := make(map[int64]bool, len(ids))
	for _, id := range ids {
		want[id] = true
	}
	out := make(map[int64][]byte, len(ids))
	for i, o := range pg.Orders {
		if want[pg.IDs[i]] {
			out[pg.IDs[i]] = o
		}
	}
	for _, id := range ids {
		if _, ok := out[id]; ok {
			continue
		}
		b, err := shop.GetOrder(ctx, id)
		switch {
		case errors.Is(err, wooapi.ErrNoSuchOrder):
		case err != nil:
			return nil, err
		default:
			out[id] = b
		}
	}
	return out, nil
}

// scan lists every order matching q's dates, stubs only, ScanConcurrency
// pages at a time, through orderpages: a shop whose paging cannot be
// trusted fails the sweep, so the mark never moves past orders it never
// saw. Drafts (which X-WP-Total counts too) are left out.
func (h *Handler) scan(ctx context.Context, log *slog.Logger, shop *wooapi.Client, q wooapi.OrdersQuery) (map[int64]wooapi.OrderStub, error) {
	q.Fields = wooapi.StubFields
	list := orderpages.Reader{Shop: shop, Query: q, Concurrency: ScanConcurrency, MaxOrders: MaxWindowOrders, Log: log}.Open(ctx, orderpages.Start)
	defer list.Close()
	// Sized by what was listed, never by a header.
	out := make(map[int64]wooapi.OrderStub)
	for res := range list.C {
		var le *orderpages.LimitError
		switch {
		case errors.As(res.Err, &le):
			return nil, fmt.Errorf("the window holds %d orders, more than one sweep scans (%d): run activate's backfill with {\"restart\":true} instead, or send {\"since\": ...} for a shorter window", le.Orders, le.Max)
		case res.Err != nil:
			return nil, res.Err
		}
		stubs, err := res.Page.Stubs()
		if err != nil {
			return nil, fmt.Errorf("list orders page %d: %w", res.Page.Number, err)
		}
		for _, s := range stubs {
			if !drafts[s.Status] {
				out[s.ID] = s
			}
		}
		if res.Page.Last {
			return out, nil
		}
	}
	return nil, fmt.Errorf("list the window's orders: %w", cmp.Or(ctx.Err(), errors.New("the listing ended before its last page")))
}
