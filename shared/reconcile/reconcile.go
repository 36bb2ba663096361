// Package reconcile finds the orders the webhook missed and queues them, and
// repairs the webhooks (order.created's, and order.updated's when it is
// forwarded). WooCommerce never retries a delivery and silently
// disables a webhook after repeated failures, so an endpoint outage, a 5xx,
// a wrong secret or a paused webhook would otherwise lose orders for good.
//
// A sweep lists the window's orders cheaply (ids and dates only), looks them
// up in the ledger of orders queued, fetches in full only those missing,
// queues them with origin=reconcile and records them; then it puts the
// webhooks back in shape. Runs never overlap (a lease in the state table),
// and the window's start (the high-water mark) only moves once a sweep has
// queued everything it found, so a crashed sweep is covered by the next.
package reconcile

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/logistos-sync/logistos-sync/shared/hookreg"
	"github.com/logistos-sync/logistos-sync/shared/ledger"
	"github.com/logistos-sync/logistos-sync/shared/metrics"
	"github.com/logistos-sync/logistos-sync/shared/orderpages"
	"github.com/logistos-sync/logistos-sync/shared/queue"
	"github.com/logistos-sync/logistos-sync/shared/secret"
	"github.com/logistos-sync/logistos-sync/shared/state"
	"github.com/logistos-sync/logistos-sync/shared/wooapi"
	"github.com/logistos-sync/logistos-sync/shared/woohook"
	"github.com/logistos-sync/logistos-sync/shared/wookey"
)

// StateID is reconcile's document in the state table: its high-water mark
// and its lease.
const StateID = "reconcile"

// Tuning of a sweep.
const (
	// ScanConcurrency is how many pages are listed at once: quick, yet
	// gentle on a shop on shared hosting (as BACKFILL_CONCURRENCY's default).
	ScanConcurrency = 4
	// MaxWindowOrders bounds what one sweep scans. A larger window (weeks
	// of a busy shop's webhook being broken) fails with a clear message
	// naming the backfill instead of running into the Lambda timeout.
	MaxWindowOrders = 200_000
)

// Outcomes of a sweep.
const (
	OutcomeDone            = "done"
	OutcomeWouldDo         = "would_do" // dry run
	OutcomeAlreadyRunning  = "already_running"
	OutcomeNeedsActivation = "needs_activation"
	OutcomeNotConnected    = "not_connected"
	OutcomeFailed          = "failed"
)

// Event is the function's input: {} on schedule.
type Event struct {
	// Since overrides the window's start (RFC 3339).
	Since *time.Time `json:"since,omitempty"`
	// DryRun reads only: nothing is queued, recorded or written to the shop.
	DryRun bool `json:"dry_run,omitempty"`
}

// Window is the span of order dates a sweep covers: [Start, End).
type Window struct {
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
}

// holds reports whether a shop date ("2026-11-20T18:42:07", GMT) is in the
// window; an empty or unreadable date is given the benefit of the doubt.
func (w Window) holds(date string) bool {
	t, err := time.Parse(wooapi.DateLayout, date)
	return date == "" || err != nil || (t.After(w.Start) && t.Before(w.End))
}

// WebhookReport says what the repair found and did.
type WebhookReport struct {
	Outcome string `json:"outcome"` // in_shape, repaired, would_repair, failed
	// Topics each have a webhook: order.created, and order.updated when
	// it is forwarded.
	Topics []string `json:"topics"`
	// WebhookIDs is the webhook of each topic (none yet for one a dry run
	// would create).
	WebhookIDs map[string]int64 `json:"webhook_ids,omitempty"`
	Actions    []string         `json:"actions"`
	Error      string           `json:"error,omitempty"`
}

// Webhook repair outcomes.
const (
	WebhookInShape     = "in_shape"
	WebhookRepairedOut = "repaired"
	WebhookWouldRepair = "would_repair"
	WebhookFailed      = "failed"
)

// Report is the function's result.
type Report struct {
	RunID   string  `json:"run_id"`
	DryRun  bool    `json:"dry_run"`
	Outcome string  `json:"outcome"`
	Detail  string  `json:"detail"`
	Window  *Window `json:"window,omitempty"`
	// OrdersSeen were listed in the window; OrdersMissing had no ledger
	// entry (or an older date_modified_gmt, with order.updated forwarded);
	// OrdersQueued were put on the queue (0 in a dry run).
	OrdersSeen    int `json:"orders_seen"`
	OrdersMissing int `json:"orders_missing"`
	OrdersQueued  int `json:"orders_queued"`
	// OrdersDeadLettered were too large for the queue even compressed:
	// on the dead-letter queue by id, with the reason.
	OrdersDeadLettered int            `json:"orders_dead_lettered,omitempty"`
	MissingIDs         []int64        `json:"missing_ids,omitempty"` // the first few, for the owner to look up
	Webhook            *WebhookReport `json:"webhook,omitempty"`
	Error              string         `json:"error,omitempty"`
	DurationMS         int64          `json:"duration_ms"`
}

// drafts are statuses WooCommerce fires no order.created for (an
// unfinished block checkout): not orders the webhook missed.
var drafts = map[string]bool{"checkout-draft": true, "draft": true, "auto-draft": true}

// maxReportedIDs bounds MissingIDs in the report and log line.
const maxReportedIDs = 20

// Handler runs sweeps. Build it once per cold start (New).
type Handler struct {
	Shop          *wooapi.Client // without a key: Keys supplies it per sweep
	Keys          wookey.Source
	Queue         queue.BatchSender   // the orders queue, recording in the ledger what it accepted (ledger.RecordingSender)
	DeadLetters   queue.DeadLetterAPI // takes missed orders too large for Queue even compressed (nil: they fail the sweep)
	DLQURL        string              // the dead-letter queue DeadLetters sends to
	Ledger        ledger.Store
	State         state.Store
	WebhookSecret secret.Source

	StoreURL   string
	WebhookURL string
	Grace      time.Duration
	// Updated: order.updated is forwarded, so an order modified after what
	// the ledger holds is missing too (queued with topic order.updated).
	Updated bool
	// WebhookTopics each have a webhook the repair keeps in shape
	// (hookreg.Topics); order.created when empty.
	WebhookTopics []string

	Now     func() time.Time
	Log     *slog.Logger
	Metrics *metrics.Emitter
}

func (h *Handler) now() time.Time {
	if h.Now != nil {
		return h.Now()
	}
	return time.Now()
}

// doc is reconcile's state document.
type doc struct {
	// Mark is the end of the last window swept to the end: the next window
	// starts here (minus ledger.Overlap). Never moves back.
	Mark time.Time `json:"mark"`
	// Lease is held by the sweep running.
	state.Lease
	LastRun time.Time `json:"last_run"`
}

// Handle runs one sweep. Outcomes that need the owner, not a retry
// (needs_activation, not_connected, already_running) succeed; a sweep that
// could not finish returns the error, so Lambda counts it (alarmed) and the
// high-water mark stays where it was for the next sweep.
func (h *Handler) Handle(ctx context.Context, ev Event) (Report, error) {
	start := h.now()
	rep := Report{RunID: state.NewRunID(start), DryRun: ev.DryRun}
	log := h.Log.With(slog.String("run_id", rep.RunID))
	err := h.sweep(ctx, log, ev, &rep)
	rep.DurationMS = h.now().Sub(start).Milliseconds()
	level := slog.LevelInfo
	if err != nil {
		rep.Outcome, rep.Error = OutcomeFailed, err.Error()
		if rep.Detail == "" {
			rep.Detail = hint(err)
		}
		level = slog.LevelError
		h.Metrics.Count(metrics.ReconcileFailed, 1)
	}
	log.LogAttrs(ctx, level, "reconcile report", slog.Any("report", rep))
	return rep, err
}

// hint says what the owner should do about a failed sweep.
func hint(err error) string {
	var we *wooapi.Error
	switch {
	case errors.Is(err, wooapi.ErrWrongKey):
		return "the shop refused the REST API key (revoked or replaced?): create a Read/Write key in WooCommerce > Settings > Advanced > REST API, put it in the WooCommerce credentials secret, and the next sweep recovers every order since the last good one"
	case errors.As(err, &we) && we.Hint != "":
		return we.Hint + "; the next sweep covers the whole window again"
	case errors.Is(err, orderpages.ErrUntrusted):
		return "exclude /wp-json/ from every page cache (caching plugin, CDN, reverse proxy); until then no sweep finishes and the high-water mark stays, so the first sweep after the fix covers every order since"
	}
	return "the next sweep covers the whole window again; if it keeps failing, read the reconcile function's log"
}

func (h *Handler) sweep(ctx context.Context, log *slog.Logger, ev Event, rep *Report) error {
	key, err := h.Keys.Key(ctx, true)
	if errors.Is(err, wookey.ErrNoKey) {
		rep.Outcome, rep.Detail = OutcomeNotConnected, wookey.NotConnected(h.WebhookURL)+"; nothing to reconcile until then"
		return nil
	}
	if err != nil {
		return err
	}
	cutoff, ok, err := state.ActivationCutoff(ctx, h.State)
	if err != nil {
		return err
	}
	if !ok {
		rep.Outcome, rep.Detail = OutcomeNeedsActivation, "activation has not run its backfill yet, so there is no cut-off to reconcile from: run activate"
		return nil
	}
	shop := h.Shop.WithKey(key)

	st, version, err := h.load(ctx)
	if err != nil {
		return err
	}
	now := h.now()
	if !ev.DryRun {
		if st.HeldByAnother(rep.RunID, now) {
			rep.Outcome = OutcomeAlreadyRunning
			rep.Detail = fmt.Sprintf("sweep %s is running (lease until %s); this one stops", st.Owner, st.LeaseUntil.Format(time.RFC3339))
			return nil
		}
		st.Take(ctx, rep.RunID, now)
		if version, err = h.State.Put(ctx, StateID, mustJSON(st), version); err != nil {
			if errors.Is(err, state.ErrConflict) {
				rep.Outcome, rep.Detail = OutcomeAlreadyRunning, "another sweep took the lease at the same moment; this one stops"
				return nil
			}
			return err
		}
	}

	// The window starts ledger.Overlap early; from the cut-off on, that is
	// the backfill's ledger.Horizon, before which it records nothing.
	w := Window{Start: ledger.Horizon(cutoff).UTC(), End: now.Add(-h.Grace).UTC().Truncate(time.Second)}
	if !st.Mark.IsZero() {
		w.Start = st.Mark.Add(-ledger.Overlap).UTC()
	}
	if ev.Since != nil {
		w.Start = ev.Since.UTC()
	}
	rep.Window = &w

	serr := h.recoverOrders(ctx, log, shop, w, ev.DryRun, rep)
	if serr != nil {
		serr = fmt.Errorf("recover the window's missed orders: %w", serr)
	}
	rep.Webhook = h.repair(ctx, log, shop, ev.DryRun)
	if ev.DryRun {
		if serr != nil {
			return serr
		}
		rep.Outcome = OutcomeWouldDo
		rep.Detail = fmt.Sprintf("would queue %d of the %d orders created in the window", rep.OrdersMissing, rep.OrdersSeen)
		return nil
	}

	// Release the lease; the mark moves only past a window swept to its end.
	st.Release()
	st.LastRun = now.UTC()
	if serr == nil && w.End.After(st.Mark) {
		st.Mark = w.End
	}
	if _, err := h.State.Put(context.WithoutCancel(ctx), StateID, mustJSON(st), version); err != nil {
		serr = errors.Join(serr, fmt.Errorf("store the high-water mark: %w", err))
	}
	if serr != nil {
		return serr
	}
	if rep.Webhook.Outcome == WebhookFailed {
		return fmt.Errorf("repair the webhook: %s", rep.Webhook.Error)
	}
	rep.Outcome = OutcomeDone
	rep.Detail = fmt.Sprintf("%d orders created between %s and %s; %d had not reached us and were queued; webhooks (%s) %s",
		rep.OrdersSeen, w.Start.Format(time.RFC3339), w.End.Format(time.RFC3339), rep.OrdersQueued,
		strings.Join(rep.Webhook.Topics, ", "), rep.Webhook.Outcome)
	return nil
}

func (h *Handler) load(ctx context.Context) (doc, int64, error) {
	raw, version, err := h.State.Get(ctx, StateID)
	var st doc
	if err != nil || raw == nil {
		return st, version, err
	}
	if err := json.Unmarshal(raw, &st); err != nil {
		// Rewritten by this run: the window falls back to the cut-off,
		// which only costs a longer scan.
		h.Log.Warn("reconcile state unreadable; the window starts at the activation cut-off", slog.String("error", err.Error()))
		return doc{}, version, nil
	}
	return st, version, nil
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // a struct of times and strings always marshals
	}
	return b
}

// recoverOrders scans the window, finds what is missing and queues it.
func (h *Handler) recoverOrders(ctx context.Context, log *slog.Logger, shop *wooapi.Client, w Window, dry bool, rep *Report) error {
	if !w.End.After(w.Start) {
		return nil
	}
	stubs, err := h.scan(ctx, log, shop, wooapi.OrdersQuery{After: w.Start, Before: w.End})
	if err != nil {
		return err
	}
	topic := map[int64]string{}
	for id := range stubs {
		topic[id] = woohook.TopicOrderCreated
	}
	if h.Updated {
		mod, err := h.scan(ctx, log, shop, wooapi.OrdersQuery{ModifiedAfter: w.Start, ModifiedBefore: w.End})
		if err != nil {
			return err
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
	rep.OrdersSeen = len(stubs)
	ids := make([]int64, 0, len(stubs))
	for id := range stubs {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	known, err := h.Ledger.Get(ctx, ids)
	if err != nil {
		return err
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
	rep.OrdersMissing = len(missing)
	rep.MissingIDs = missing[:min(len(missing), maxReportedIDs)]
	if dry || len(missing) == 0 {
		return nil
	}
	for start := 0; start < len(missing); start += wooapi.MaxPerPage {
		chunk := missing[start:min(start+wooapi.MaxPerPage, len(missing))]
		bodies, err := fetch(ctx, shop, chunk)
		if err != nil {
			return err
		}
		at := h.now()
		ms := make([]*queue.Message, 0, len(bodies))
		var ids []int64
		for _, id := range chunk {
			if b, ok := bodies[id]; ok {
				ms = append(ms, &queue.Message{Body: string(b), Topic: topic[id], Source: h.StoreURL,
					Origin: queue.OriginReconcile, ReceivedAt: at})
				ids = append(ids, id)
			}
		}
		if len(ms) == 0 {
			continue
		}
		dead, err := h.send(ctx, log, ms, ids)
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
			log.LogAttrs(ctx, slog.LevelInfo, "order recovered", slog.Int64("order_id", ids[i]),
				slog.String("topic", ms[i].Topic), slog.String("origin", queue.OriginReconcile), slog.String("outcome", "enqueued"))
		}
	}
	return nil
}

// send queues ms, the orders ids, and dead-letters those too large for
// the queue (dead holds their positions): one such order must not fail
// every sweep from now on and hold the high-water mark back.
func (h *Handler) send(ctx context.Context, log *slog.Logger, ms []*queue.Message, ids []int64) (dead map[int]bool, err error) {
	err = h.Queue.SendBatch(ctx, ms)
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

// repair puts the webhooks back in shape: for each of WebhookTopics
// (order.created, and order.updated when forwarded) exactly one active
// webhook at WebhookURL. One that is not active is replaced, not
// re-activated (hookreg.Inspect says why). In shape, it writes nothing.
func (h *Handler) repair(ctx context.Context, log *slog.Logger, shop *wooapi.Client, dry bool) *WebhookReport {
	rep := &WebhookReport{Topics: h.WebhookTopics, Actions: []string{}}
	fail := func(err error) *WebhookReport {
		rep.Outcome, rep.Error = WebhookFailed, err.Error()
		log.LogAttrs(ctx, slog.LevelError, "webhook repair failed", slog.String("error", err.Error()))
		return rep
	}
	secrets, err := h.WebhookSecret.Values(ctx)
	if err != nil || len(secrets) == 0 || len(secrets[0]) == 0 {
		return fail(fmt.Errorf("read the webhook secret: %v", err))
	}
	plan, err := hookreg.Inspect(ctx, shop, hookreg.Want{URL: h.WebhookURL, Secret: string(secrets[0]), Topics: h.WebhookTopics})
	if err != nil {
		return fail(err)
	}
	rep.Topics, rep.WebhookIDs, rep.Actions = plan.Topics, plan.IDs, plan.Actions()
	switch {
	case len(plan.Writes) == 0:
		rep.Outcome = WebhookInShape
		return rep
	case dry:
		rep.Outcome = WebhookWouldRepair
		return rep
	}
	for _, w := range plan.Writes {
		if err := w.Do(ctx); err != nil {
			return fail(err)
		}
		log.LogAttrs(ctx, slog.LevelWarn, "webhook repaired", slog.String("action", w.Action))
	}
	rep.Outcome = WebhookRepairedOut
	h.Metrics.Count(metrics.WebhookRepaired, 1)
	return rep
}
