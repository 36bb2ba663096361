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
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/logistos-sync/logistos-sync/shared/ledger"
	"github.com/logistos-sync/logistos-sync/shared/metrics"
	"github.com/logistos-sync/logistos-sync/shared/orderpages"
	"github.com/logistos-sync/logistos-sync/shared/queue"
	"github.com/logistos-sync/logistos-sync/shared/secret"
	"github.com/logistos-sync/logistos-sync/shared/shop"
	"github.com/logistos-sync/logistos-sync/shared/state"
	"github.com/logistos-sync/logistos-sync/shared/waiting"
	"github.com/logistos-sync/logistos-sync/shared/wooapi"
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
	// OutcomeAlreadySwept: a sweep job queued before the shop's last sweep
	// started, so that sweep covered it.
	OutcomeAlreadySwept = "already_swept"
	// OutcomeQueued: a hub's scheduled run queued its shops' sweep jobs.
	OutcomeQueued = "queued"
)

// Event is the function's input: {} on schedule. In a hub, {} queues one
// job a connected shop on the sweep queue (fan-out); {"store_url":...}
// sweeps that shop now, as each job does.
type Event struct {
	// StoreURL names the shop to sweep: in a hub, one it has connected; in
	// a single-shop stack, its home shop (the only one it sweeps).
	StoreURL string `json:"store_url,omitempty"`
	// Since overrides the window's start (RFC 3339).
	Since *time.Time `json:"since,omitempty"`
	// DryRun reads only: nothing is queued, recorded or written to the shop.
	DryRun bool `json:"dry_run,omitempty"`

	// queuedAt is when the sweep queue took the job (SentTimestamp): a job
	// queued before the shop's last sweep started is stale (the schedule's
	// next job, or a failed job coming back) and is not swept again.
	queuedAt time.Time
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

// Report is the function's result.
type Report struct {
	RunID string `json:"run_id"`
	// Shop is the id of the hub shop swept ("" for a single-shop stack's).
	Shop    string  `json:"shop,omitempty"`
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
	// Waiting is what became of the orders waiting for Logistos.
	Waiting *waiting.Report `json:"waiting,omitempty"`
	// FanOut is what a hub's scheduled run queued on the sweep queue.
	FanOut *FanOutReport `json:"fan_out,omitempty"`
	// Disconnected: the shop's key was refused on DisconnectAfter sweeps
	// in a row, and this one marked the shop disconnected.
	Disconnected bool   `json:"disconnected,omitempty"`
	Error        string `json:"error,omitempty"`
	DurationMS   int64  `json:"duration_ms"`
}

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
	// Waiting moves the orders that waited out a Logistos outage back to
	// the orders queue once Logistos answers; nil leaves them.
	Waiting *waiting.Releaser

	StoreURL   string
	WebhookURL string
	Grace      time.Duration
	// Updated: order.updated is forwarded, so an order modified after what
	// the ledger holds is missing too (queued with topic order.updated).
	Updated bool
	// WebhookTopics each have a webhook the repair keeps in shape
	// (hookreg.Topics); order.created when empty.
	WebhookTopics []string

	// Shops makes this a hub: its shops, their keys and secrets. nil in a
	// single-shop stack, whose one shop is the fields above.
	Shops shop.Store
	// Sweeps is the sweep queue (SweepQueueURL) a hub's scheduled run
	// puts one job a connected shop on.
	Sweeps        SweepSender
	SweepQueueURL string
	// HTTP calls hub shops (the home shop's client is Shop).
	HTTP *http.Client

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
	// Unauthorized counts a hub shop's sweeps in a row whose REST calls got
	// 401 (its key revoked); at DisconnectAfter the shop is disconnected.
	Unauthorized int `json:"unauthorized,omitempty"`
	// LastActive is the last sweep whose window held an order of the shop's
	// (as the shop lists them, so a disabled webhook does not make a busy
	// shop look quiet): a hub sweeps a shop quiet for QuietAfter less often.
	LastActive time.Time `json:"last_active,omitzero"`
	// LastOutcome is how the last sweep ended, OutcomeDone or
	// OutcomeFailed, for the operator's view of a hub (cmd/shops).
	LastOutcome string `json:"last_outcome,omitempty"`
}

// Handle runs one sweep. Outcomes that need the owner, not a retry
// (needs_activation, not_connected, already_running) succeed; a sweep that
// could not finish returns the error, so Lambda counts it (alarmed) and the
// high-water mark stays where it was for the next sweep.
//
// In a hub, {} is the scheduled run: it releases the waiting orders and
// queues one sweep job a connected shop (fanOut); {"store_url":...} sweeps
// that shop now, without the release (once a scheduled run is enough).
func (h *Handler) Handle(ctx context.Context, ev Event) (Report, error) {
	if h.Shops != nil && ev.StoreURL == "" {
		return h.fanOut(ctx, ev)
	}
	return h.handle(ctx, ev, h.Shops == nil)
}

// handle sweeps ev's shop, first releasing the waiting orders when release.
func (h *Handler) handle(ctx context.Context, ev Event, release bool) (Report, error) {
	start := h.now()
	rep := Report{RunID: state.NewRunID(start), DryRun: ev.DryRun}
	log := h.Log.With(slog.String("run_id", rep.RunID))
	if release {
		h.release(ctx, ev, &rep)
	}
	t, ok, err := h.resolve(ctx, ev.StoreURL)
	switch {
	case err != nil:
	case t.hub:
		// The id, never the URL: logs keep no more of a shop than they need.
		rep.Shop = t.id
		log = log.With(slog.String("shop", t.id))
		if !ok {
			rep.Outcome, rep.Detail = OutcomeNotConnected, fmt.Sprintf("the shop is %s: nothing is swept until it connects again", t.shop.Status)
			break
		}
		fallthrough
	default:
		err = h.sweep(ctx, log, ev, &rep, t)
	}
	rep.DurationMS = h.now().Sub(start).Milliseconds()
	level := slog.LevelInfo
	if err != nil {
		rep.Outcome, rep.Error = OutcomeFailed, err.Error()
		if rep.Detail == "" {
			rep.Detail = hint(err, h.Shops != nil)
		}
		level = slog.LevelError
		h.Metrics.Count(metrics.ReconcileFailed, 1)
	}
	log.LogAttrs(ctx, level, "reconcile report", slog.Any("report", rep))
	return rep, err
}

// release moves the orders that waited out a Logistos outage back: first,
// and whatever becomes of the sweep, since it needs only Logistos, not the
// shop. A failure is in the report and the log, and the next run tries
// again; the waiting queue's age alarm watches.
func (h *Handler) release(ctx context.Context, ev Event, rep *Report) {
	if h.Waiting != nil && !ev.DryRun {
		w, _ := h.Waiting.Release(ctx)
		rep.Waiting = &w
	}
}

// hint says what the owner (or, in a hub, the operator) should do about a
// failed sweep.
func hint(err error, hub bool) string {
	var we *wooapi.Error
	switch {
	case hub && errors.Is(err, context.DeadlineExceeded):
		return fmt.Sprintf("the sweep ran out of its %s: the shop is too slow, or its window too large for a sweep job; sweep it directly with {\"store_url\": ...}, which has the function's whole timeout", JobTimeout)
	case hub && errors.Is(err, wooapi.ErrWrongKey):
		return fmt.Sprintf("the shop refused its REST API key (revoked or replaced?): the shop's owner connects it again; after %d such sweeps in a row the shop is disconnected and no longer swept", DisconnectAfter)
	case errors.Is(err, wooapi.ErrWrongKey):
		return "the shop refused the REST API key (revoked or replaced?): create a Read/Write key in WooCommerce > Settings > Advanced > REST API, put it in the WooCommerce credentials secret, and the next sweep recovers every order since the last good one"
	case errors.As(err, &we) && we.Hint != "":
		return we.Hint + "; the next sweep covers the whole window again"
	case errors.Is(err, orderpages.ErrUntrusted):
		return "exclude /wp-json/ from every page cache (caching plugin, CDN, reverse proxy); until then no sweep finishes and the high-water mark stays, so the first sweep after the fix covers every order since"
	}
	return "the next sweep covers the whole window again; if it keeps failing, read the reconcile function's log"
}

// sweep finds the activation's cut-off, takes the lease, recovers the
// window's missed orders, repairs the webhooks and moves the mark.
func (h *Handler) sweep(ctx context.Context, log *slog.Logger, ev Event, rep *Report, t *target) error {
	key, err := t.keys.Key(ctx, true)
	if errors.Is(err, wookey.ErrNoKey) {
		rep.Outcome, rep.Detail = OutcomeNotConnected, wookey.NotConnected(h.WebhookURL)+"; nothing to reconcile until then"
		return nil
	}
	if err != nil {
		return err
	}
	cutoff, ok, err := state.ActivationCutoff(ctx, t.state)
	if err != nil {
		return err
	}
	if !ok {
		rep.Outcome, rep.Detail = OutcomeNeedsActivation, "activation has not run its backfill yet, so there is no cut-off to reconcile from: run activate"
		return nil
	}
	shop := t.base.WithKey(key)

	st, version, err := h.load(ctx, t)
	if err != nil {
		return err
	}
	if !ev.queuedAt.IsZero() && st.LastRun.After(ev.queuedAt) {
		rep.Outcome = OutcomeAlreadySwept
		rep.Detail = fmt.Sprintf("swept at %s, after this job was queued: nothing to do", st.LastRun.Format(time.RFC3339))
		return nil
	}
	now := h.now()
	if !ev.DryRun {
		var stop bool
		if version, stop, err = h.lease(ctx, t, &st, version, now, rep); stop || err != nil {
			return err
		}
	}
	w := h.window(st, cutoff, ev, now)
	rep.Window = &w

	serr := h.recoverOrders(ctx, log, t, shop, w, ev.DryRun, rep)
	if serr != nil {
		serr = fmt.Errorf("recover the window's missed orders: %w", serr)
	}
	rep.Webhook = h.repair(ctx, log, t, shop, ev.DryRun)
	if ev.DryRun {
		if serr != nil {
			return serr
		}
		rep.Outcome = OutcomeWouldDo
		rep.Detail = fmt.Sprintf("would queue %d of the %d orders created in the window", rep.OrdersMissing, rep.OrdersSeen)
		return nil
	}
	return h.finish(ctx, log, t, st, version, w, now, serr, rep)
}

// lease takes the sweeps' lease in st and writes it, unless another sweep
// holds it or wrote first (stop, with rep saying so).
func (h *Handler) lease(ctx context.Context, t *target, st *doc, version int64, now time.Time, rep *Report) (_ int64, stop bool, err error) {
	if st.HeldByAnother(rep.RunID, now) {
		rep.Outcome = OutcomeAlreadyRunning
		rep.Detail = fmt.Sprintf("sweep %s is running (lease until %s); this one stops", st.Owner, st.LeaseUntil.Format(time.RFC3339))
		return version, true, nil
	}
	st.Take(ctx, rep.RunID, now)
	version, err = t.state.Put(ctx, StateID, mustJSON(st), version)
	if errors.Is(err, state.ErrConflict) {
		rep.Outcome, rep.Detail = OutcomeAlreadyRunning, "another sweep took the lease at the same moment; this one stops"
		return version, true, nil
	}
	return version, false, err
}

// window is the span of order dates the sweep covers: from the mark, or
// at first from the cut-off, each less ledger.Overlap (from the cut-off on,
// that is the backfill's ledger.Horizon, before which it records nothing),
// or from ev.Since; to Grace before now.
func (h *Handler) window(st doc, cutoff time.Time, ev Event, now time.Time) Window {
	w := Window{Start: ledger.Horizon(cutoff).UTC(), End: now.Add(-h.Grace).UTC().Truncate(time.Second)}
	if !st.Mark.IsZero() {
		w.Start = st.Mark.Add(-ledger.Overlap).UTC()
	}
	if ev.Since != nil {
		w.Start = ev.Since.UTC()
	}
	return w
}

// finish releases the lease, moves the mark only past a window swept to its
// end (serr nil), counts a hub shop's sweeps refused with 401 (and
// disconnects it at DisconnectAfter), and reports.
func (h *Handler) finish(ctx context.Context, log *slog.Logger, t *target, st doc, version int64, w Window, now time.Time, serr error, rep *Report) error {
	st.Release()
	st.LastRun = now.UTC()
	if rep.OrdersSeen > 0 {
		st.LastActive = st.LastRun
	}
	st.LastOutcome = OutcomeDone
	if serr != nil || rep.Webhook.Outcome == WebhookFailed {
		st.LastOutcome = OutcomeFailed
	}
	if serr == nil && w.End.After(st.Mark) {
		st.Mark = w.End
	}
	if t.hub {
		switch {
		case unauthorized(serr) || unauthorized(rep.Webhook.err):
			st.Unauthorized++
			// The refused key may be a warm container's copy of one the
			// shop has since replaced by connecting again.
			if r, ok := h.Shops.(shop.Refresher); ok {
				r.Refresh(t.id)
			}
		case serr == nil && rep.Webhook.Outcome != WebhookFailed:
			st.Unauthorized = 0
		}
	}
	// The count starts again from a disconnect, so that a shop connected
	// again has DisconnectAfter sweeps too.
	refused := st.Unauthorized
	if refused >= DisconnectAfter {
		st.Unauthorized = 0
	}
	ctx = context.WithoutCancel(ctx)
	_, err := t.state.Put(ctx, StateID, mustJSON(st), version)
	if err != nil {
		serr = errors.Join(serr, fmt.Errorf("store the high-water mark: %w", err))
	}
	if err == nil && refused >= DisconnectAfter {
		serr = errors.Join(serr, h.disconnect(ctx, log, t, refused, rep))
	}
	if serr != nil {
		return serr
	}
	if rep.Webhook.Outcome == WebhookFailed {
		if unauthorized(rep.Webhook.err) {
			return fmt.Errorf("repair the webhook: %w", rep.Webhook.err)
		}
		return fmt.Errorf("repair the webhook: %s", rep.Webhook.Error)
	}
	rep.Outcome = OutcomeDone
	rep.Detail = fmt.Sprintf("%d orders created between %s and %s; %d had not reached us and were queued; webhooks (%s) %s",
		rep.OrdersSeen, w.Start.Format(time.RFC3339), w.End.Format(time.RFC3339), rep.OrdersQueued,
		strings.Join(rep.Webhook.Topics, ", "), rep.Webhook.Outcome)
	return nil
}

func (h *Handler) load(ctx context.Context, t *target) (doc, int64, error) {
	raw, version, err := t.state.Get(ctx, StateID)
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
