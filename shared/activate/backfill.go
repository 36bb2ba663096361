package activate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/logistos-sync/logistos-sync/shared/config"
	"github.com/logistos-sync/logistos-sync/shared/ledger"
	"github.com/logistos-sync/logistos-sync/shared/orderpages"
	"github.com/logistos-sync/logistos-sync/shared/state"
	"github.com/logistos-sync/logistos-sync/shared/wooapi"
)

// Timing of a backfill slice and its lease.
const (
	// DefaultDrainMargin: no page is started later than this before the
	// invocation's deadline, so the pages in flight (one request timeout
	// plus their enqueue) can finish. Both margins shrink to a third and a
	// sixth of the invocation's time when that is short.
	DefaultDrainMargin = wooapi.RequestTimeout + 10*time.Second
	// DefaultStopMargin: what is still in flight this close to the deadline
	// is abandoned (re-read by the continuation), leaving time to write the
	// checkpoint and invoke the continuation.
	DefaultStopMargin = 3 * config.AWSRequestTimeout
	// DefaultCheckpointEvery: progress is written at most this often (and
	// always before continuing or finishing), not once per page.
	DefaultCheckpointEvery = 2 * time.Second
	// DefaultProgressEvery: how often progress is logged.
	DefaultProgressEvery = 10 * time.Second
	// ContinuationLease keeps the lease for the continuation while its
	// asynchronous invocation waits to start; a console re-run in the
	// meantime reports "already running" instead of racing it.
	ContinuationLease = 15 * time.Minute
	// finalWriteTimeout bounds the last checkpoint write of a run that was
	// cancelled, so progress is kept even then.
	finalWriteTimeout = 10 * time.Second
	// MaxInvocations bounds a backfill's self-continuation, so that a shop
	// answering in some way the page checks do not catch cannot keep it
	// going (and enqueueing) for ever. 200 invocations of 15 minutes are
	// 50 hours: a million orders at 4 pages of 100 a second take 42 minutes,
	// and the slowest shops seen are a few times slower, not a hundred.
	MaxInvocations = 200
)

// BackfillReport says what the backfill step did; counts are for the whole
// backfill unless named for this invocation.
type BackfillReport struct {
	Outcome        string    `json:"outcome"`
	Detail         string    `json:"detail"`
	Cutoff         time.Time `json:"cutoff"`
	Statuses       []string  `json:"statuses"`
	PagesDone      int       `json:"pages_done"`
	PagesTotal     int       `json:"pages_total"`
	OrdersTotal    int       `json:"orders_total"`
	OrdersEnqueued int64     `json:"orders_enqueued"`
	// OrdersDeadLettered were too large for the queue even compressed: they
	// are on the dead-letter queue by id, with the reason.
	OrdersDeadLettered int64      `json:"orders_dead_lettered"`
	RepairedOrders     int64      `json:"orders_reread_after_shift"`
	Invocations        int        `json:"invocations"`
	ThisInvocation     int64      `json:"orders_enqueued_this_invocation"`
	RatePerSecond      float64    `json:"rate_orders_per_second"`
	ETASeconds         float64    `json:"eta_seconds,omitempty"`
	StartedAt          *time.Time `json:"started_at,omitempty"`
	CompletedAt        *time.Time `json:"completed_at,omitempty"`
	LeaseUntil         *time.Time `json:"lease_until,omitempty"`
	DurationMS         int64      `json:"duration_ms"`
}

// backfillState is the checkpoint: enough to resume exactly where the
// pages enqueued in order end, and to detect a shift of the shop's list
// since then (orderpages.Position).
type backfillState struct {
	StoreURL    string     `json:"store_url"`
	Statuses    []string   `json:"statuses"`
	Cutoff      time.Time  `json:"cutoff"`
	StartedAt   time.Time  `json:"started_at"`
	CompletedAt *time.Time `json:"completed_at,omitempty"`
	// NextPage is the first page not yet enqueued; every page before it is.
	NextPage int `json:"next_page"`
	// LastID and LastTotal describe page NextPage-1: its highest order id
	// and the X-WP-Total it was listed with (-1 unknown).
	LastID     int64 `json:"last_id"`
	LastTotal  int   `json:"last_total"`
	Total      int   `json:"total"`
	TotalPages int   `json:"total_pages"`
	Enqueued   int64 `json:"enqueued"`
	// DeadLettered counts orders sent to the DLQ instead (too large).
	DeadLettered int64 `json:"dead_lettered"`
	Repaired     int64 `json:"repaired"`
	Invocations  int   `json:"invocations"`
	// Lease is held by the run backfilling; each checkpoint write renews it.
	state.Lease
}

func (st *backfillState) fill(rep *BackfillReport) {
	rep.Cutoff, rep.Statuses = st.Cutoff, st.Statuses
	rep.PagesDone, rep.PagesTotal = st.NextPage-1, st.TotalPages
	rep.OrdersTotal, rep.OrdersEnqueued, rep.RepairedOrders = st.Total, st.Enqueued, st.Repaired
	rep.OrdersDeadLettered = st.DeadLettered
	rep.Invocations, rep.CompletedAt = st.Invocations, st.CompletedAt
	started := st.StartedAt
	rep.StartedAt = &started
}

func (h *Handler) statuses() []string {
	if len(h.Statuses) == 0 {
		return []string{wooapi.StatusAny}
	}
	return h.Statuses
}

// cutoffFrom fixes the cut-off: the shop's own clock when it sent one (its
// dates are what `before` compares), rounded up to the next second because
// `before` is strict and WooCommerce dates have whole seconds. Orders of
// that last second may also arrive by webhook; Logistos de-duplicates.
func cutoffFrom(shopDate, now time.Time) time.Time {
	t := now
	if !shopDate.IsZero() {
		t = shopDate
	}
	return t.UTC().Truncate(time.Second).Add(time.Second)
}

// position is where the listing resumes.
func (st *backfillState) position() orderpages.Position {
	return orderpages.Position{Page: st.NextPage, LastID: st.LastID, LastTotal: st.LastTotal}
}

// backfill runs (or resumes) the backfill until it completes or the
// invocation nears its deadline; then it returns the continuation event
// (already invoked when h.Invoker is set).
func (h *Handler) backfill(ctx context.Context, log *slog.Logger, shop *wooapi.Client, ev Event, runID string) (*BackfillReport, *Event, error) {
	start := h.now()
	rep := &BackfillReport{Statuses: h.statuses()}
	defer func() { rep.DurationMS = ms(h.now().Sub(start)) }()
	next, err := h.runBackfill(ctx, log, shop, ev, runID, start, rep)
	if err != nil {
		rep.Outcome, rep.Detail = OutcomeFailed, err.Error()
	}
	return rep, next, err
}

// runBackfill is backfill's work, filling rep as it goes: it finds where
// the backfill stands, takes its lease, enqueues this invocation's slice of
// pages and settles the checkpoint.
func (h *Handler) runBackfill(ctx context.Context, log *slog.Logger, shop *wooapi.Client, ev Event, runID string, start time.Time, rep *BackfillReport) (*Event, error) {
	st, version, err := h.loadBackfill(ctx, log)
	if err != nil {
		return nil, err
	}
	now := h.now()
	if st != nil {
		st.fill(rep)
		var stop bool
		if st, stop = h.resumeOrStop(ctx, log, st, ev, runID, now, rep); stop {
			return nil, nil
		}
	}
	fresh := st == nil
	if fresh {
		if st, err = h.newBackfill(ctx, shop, now); err != nil {
			return nil, err
		}
		rep.StartedAt, rep.CompletedAt = &st.StartedAt, nil
	}
	rep.Cutoff = st.Cutoff
	if ev.DryRun {
		return nil, h.dryBackfill(ctx, shop, st, fresh, rep)
	}
	if st.Invocations >= MaxInvocations {
		return nil, fmt.Errorf("the backfill has taken %d invocations without finishing (at page %d of %d), more than any shop needs: "+
			"the shop's order pages are not advancing as they should; send {\"restart\": true} to start over once they do", st.Invocations, st.NextPage, st.TotalPages)
	}

	r, err := h.startRun(ctx, shop, st, version, log, runID, start)
	if errors.Is(err, errLostLease) {
		rep.Outcome, rep.Detail = OutcomeAlreadyRunning, "another run took the backfill at the same moment; it continues by itself"
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	log.LogAttrs(ctx, slog.LevelInfo, "backfill started", slog.Bool("resumed", !fresh), slog.Int("page", st.NextPage),
		slog.Time("cutoff", st.Cutoff), slog.Any("statuses", st.Statuses))

	finished, err := r.pages(ctx)
	r.progress(ctx, true)
	defer func() { st.fill(rep); r.report(rep) }()
	return h.endSlice(ctx, log, r, finished, err, runID, rep)
}

// resumeOrStop decides what becomes of the checkpoint st: this run stops
// (stop, with rep saying why), starts over (nil), or resumes st.
func (h *Handler) resumeOrStop(ctx context.Context, log *slog.Logger, st *backfillState, ev Event, runID string, now time.Time, rep *BackfillReport) (_ *backfillState, stop bool) {
	switch {
	case ev.Continuation && st.Owner != "" && st.Owner != runID:
		// (A continuation finding the lease free, released by a failed
		// slice, resumes: that is Lambda retrying it after an error.)
		rep.Outcome = OutcomeSuperseded
		rep.Detail = "another run took over this backfill; this continuation stops"
		return st, true
	case st.HeldByAnother(runID, now):
		until := st.LeaseUntil
		rep.Outcome, rep.LeaseUntil = OutcomeAlreadyRunning, &until
		rep.Detail = fmt.Sprintf("run %s is backfilling (page %d of %d); it continues by itself. If it crashed, run again after %s to resume",
			st.Owner, st.NextPage-1, st.TotalPages, until.Format(time.RFC3339))
		return st, true
	case st.StoreURL != h.StoreURL || !slices.Equal(st.Statuses, h.statuses()):
		log.LogAttrs(ctx, slog.LevelWarn, "backfill checkpoint is for another shop or status filter; starting over")
		return nil, false
	case ev.Restart:
		log.LogAttrs(ctx, slog.LevelInfo, "backfill restarted on request")
		return nil, false
	case st.CompletedAt != nil:
		rep.Outcome = OutcomeComplete
		rep.Detail = fmt.Sprintf("the backfill completed at %s (%d orders enqueued); send {\"restart\": true} to backfill again",
			st.CompletedAt.Format(time.RFC3339), st.Enqueued)
		return st, true
	}
	return st, false
}

// newBackfill plans a backfill from the first page. One order is enough
// to read the shop's clock (Date header), which fixes the cut-off, and its
// X-WP-Total (no cut-off yet) bounds the pages to plan for.
func (h *Handler) newBackfill(ctx context.Context, shop *wooapi.Client, now time.Time) (*backfillState, error) {
	probe, err := shop.ListOrders(ctx, wooapi.OrdersQuery{PerPage: 1, Status: h.statuses()})
	if err != nil {
		return nil, err
	}
	return &backfillState{StoreURL: h.StoreURL, Statuses: h.statuses(), Cutoff: cutoffFrom(probe.Date, now),
		StartedAt: now.UTC(), NextPage: 1, LastTotal: -1, Total: probe.Total, TotalPages: orderpages.Pages(probe.Total)}, nil
}

// startRun takes the checkpoint's lease for this invocation and writes it;
// errLostLease means another run wrote it first.
func (h *Handler) startRun(ctx context.Context, shop *wooapi.Client, st *backfillState, version int64, log *slog.Logger, runID string, start time.Time) (*run, error) {
	st.Take(ctx, runID, h.now())
	st.Invocations++
	r := &run{h: h, shop: shop, st: st, version: version, log: log, start: start,
		// Recorded once on the queue, and only from the horizon on:
		// reconcile looks up nothing older, and most of a shop's history is.
		sender: &ledger.RecordingSender{Sender: h.Queue, Recorder: h.Ledger, Since: ledger.Horizon(st.Cutoff)}}
	return r, r.save(ctx)
}

// endSlice settles the checkpoint once the slice's pages are done (err
// ended them, or they are all enqueued, or the deadline nears) and writes
// it even if ctx is cancelled: released after a failure, complete, or held
// for the continuation it starts.
func (h *Handler) endSlice(ctx context.Context, log *slog.Logger, r *run, finished bool, err error, runID string, rep *BackfillReport) (*Event, error) {
	st := r.st
	final := context.WithoutCancel(ctx)
	switch {
	case err != nil:
		st.Release()
		if serr := r.saveWithin(final); serr != nil {
			err = errors.Join(err, serr)
		}
		again := "run again"
		if errors.Is(err, orderpages.ErrUntrusted) {
			again = "once that is fixed, run again"
		}
		return nil, fmt.Errorf("%w; %s to resume from page %d", err, again, st.NextPage)
	case finished:
		at := h.now().UTC()
		st.CompletedAt = &at
		st.Release()
		if err := r.saveWithin(final); err != nil {
			return nil, err
		}
		rep.Outcome = OutcomeComplete
		rep.Detail = fmt.Sprintf("every order created before %s is on the queue", st.Cutoff.Format(time.RFC3339))
		log.LogAttrs(ctx, slog.LevelInfo, "backfill complete", slog.Int64("orders_enqueued", st.Enqueued), slog.Int("pages", st.NextPage-1))
		return nil, nil
	case r.pagesThisRun == 0:
		st.Release()
		_ = r.saveWithin(final)
		return nil, errors.New("no page could be enqueued before the invocation's deadline: raise the function's timeout (900 s recommended)")
	}
	return h.continueBackfill(ctx, log, r, runID, rep)
}

// continueBackfill holds the lease for the continuation while its
// invocation waits to start, and starts it (when h.Invoker is set).
func (h *Handler) continueBackfill(ctx context.Context, log *slog.Logger, r *run, runID string, rep *BackfillReport) (*Event, error) {
	st := r.st
	final := context.WithoutCancel(ctx)
	next := &Event{Steps: []string{StepBackfill}, RunID: runID, Continuation: true, StoreURL: h.continuationShop()}
	st.LeaseUntil = h.now().Add(ContinuationLease)
	if err := r.saveWithin(final); err != nil {
		return nil, err
	}
	if h.Invoker != nil {
		if err := h.Invoker.Continue(final, *next); err != nil {
			st.Release()
			_ = r.saveWithin(final)
			return nil, fmt.Errorf("continue in a new invocation: %w; run the backfill again to resume from page %d", err, st.NextPage)
		}
	}
	rep.Outcome = OutcomeContinuing
	rep.Detail = fmt.Sprintf("enqueued up to page %d of %d; continuing in a new invocation (run %s)", st.NextPage-1, st.TotalPages, runID)
	log.LogAttrs(ctx, slog.LevelInfo, "backfill continues", slog.Int("next_page", st.NextPage))
	return next, nil
}

// loadBackfill reads the checkpoint; nil when there is none.
func (h *Handler) loadBackfill(ctx context.Context, log *slog.Logger) (*backfillState, int64, error) {
	doc, version, err := h.State.Get(ctx, state.BackfillID)
	if err != nil || doc == nil {
		return nil, version, err
	}
	st := &backfillState{}
	if err := json.Unmarshal(doc, st); err != nil || st.NextPage < 1 {
		log.LogAttrs(ctx, slog.LevelWarn, "backfill checkpoint unreadable; starting over")
		return nil, version, nil
	}
	return st, version, nil
}

// dryBackfill reports what a run would do, reading only.
func (h *Handler) dryBackfill(ctx context.Context, shop *wooapi.Client, st *backfillState, fresh bool, rep *BackfillReport) error {
	pg, err := shop.ListOrders(ctx, wooapi.OrdersQuery{PerPage: 1, Status: st.Statuses, Before: st.Cutoff})
	if err != nil {
		return err
	}
	pages := orderpages.Pages(pg.Total)
	rep.Outcome, rep.OrdersTotal, rep.PagesTotal = OutcomeWouldDo, pg.Total, pages
	if fresh {
		rep.Detail = fmt.Sprintf("would enqueue %d orders created before %s, in %d pages of %d", pg.Total, st.Cutoff.Format(time.RFC3339), pages, wooapi.MaxPerPage)
	} else {
		rep.Detail = fmt.Sprintf("would resume at page %d of %d (%d orders enqueued so far)", st.NextPage, pages, st.Enqueued)
	}
	return nil
}
