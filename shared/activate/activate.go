// Package activate connects a shop to Logistos once: it hands the shop's
// REST API key to Logistos (handoff), registers the order.created webhook
// (webhook) and puts every existing order on the backfill queue (backfill).
//
// Every step is safe to run again: a handoff already made is skipped, the
// webhook is brought to the wanted state rather than created twice, and a
// backfill resumes from its checkpoint. The backfill works up to the Lambda
// deadline, then continues itself in a fresh invocation.
package activate

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/logistos-sync/logistos-sync/shared/ledger"
	"github.com/logistos-sync/logistos-sync/shared/logistos"
	"github.com/logistos-sync/logistos-sync/shared/metrics"
	"github.com/logistos-sync/logistos-sync/shared/queue"
	"github.com/logistos-sync/logistos-sync/shared/secret"
	"github.com/logistos-sync/logistos-sync/shared/state"
	"github.com/logistos-sync/logistos-sync/shared/wooapi"
	"github.com/logistos-sync/logistos-sync/shared/wookey"
)

// Steps, in the order they always run: the webhook exists before the
// backfill's cut-off, so every order is covered by one or the other.
const (
	StepHandoff  = "handoff"
	StepWebhook  = "webhook"
	StepBackfill = "backfill"
)

// AllSteps is what an event without steps runs.
var AllSteps = []string{StepHandoff, StepWebhook, StepBackfill}

// Event is the activate function's input.
type Event struct {
	Steps  []string `json:"steps,omitempty"`
	DryRun bool     `json:"dry_run,omitempty"`
	// Force hands the credentials to Logistos again although they were
	// already handed off.
	Force bool `json:"force,omitempty"`
	// Restart backfills from the first order although a backfill completed
	// or is part-way through.
	Restart bool `json:"restart,omitempty"`
	// PendingKey is the reference of a key that arrived through connect
	// (wookey.Pending): proven against the shop before anything else, it
	// becomes the key in use; refused, it is discarded and nothing runs.
	// Connect sets it; empty runs with the key in use.
	PendingKey string `json:"pending_key,omitempty"`
	// StoreURL is the shop to activate in a hub (its normalised URL), as
	// connect's state was bound to it; empty is the stack's home shop. A
	// pending key is read for this shop only (wookey.Pending.Get).
	StoreURL string `json:"store_url,omitempty"`
	// RunID and Continuation are set by the function when it continues
	// itself; the cut-off and progress live in the checkpoint.
	RunID        string `json:"run_id,omitempty"`
	Continuation bool   `json:"continuation,omitempty"`
}

// Step outcomes in reports.
const (
	OutcomeDone           = "done"
	OutcomeAlreadyDone    = "already_done"
	OutcomeWouldDo        = "would_do" // dry run
	OutcomeFailed         = "failed"
	OutcomeComplete       = "complete"
	OutcomeContinuing     = "continuing"
	OutcomeAlreadyRunning = "already_running"
	OutcomeSuperseded     = "superseded"
	// OutcomeNotConnected: no key yet. Not a function error (nothing is
	// broken, the owner has not connected the shop), as in reconcile.
	OutcomeNotConnected = "not_connected"
	// OutcomeKeyRejected: the run was started for a key that arrived
	// through connect, and the shop refused it. Not a function error: a
	// stranger's key is expected, and must not page the owner.
	OutcomeKeyRejected = "key_rejected"
)

// Report is the function's result: what each step did.
type Report struct {
	RunID  string `json:"run_id"`
	DryRun bool   `json:"dry_run"`
	OK     bool   `json:"ok"`
	// Outcome is set when the run did nothing for a reason that is not a
	// failure: not_connected (no key yet; Detail names the ConnectUrl).
	Outcome string `json:"outcome,omitempty"`
	Detail  string `json:"detail,omitempty"`
	// Key says what became of the pending key the run was started for.
	Key        *KeyReport      `json:"key,omitempty"`
	Handoff    *HandoffReport  `json:"handoff,omitempty"`
	Webhook    *WebhookReport  `json:"webhook,omitempty"`
	Backfill   *BackfillReport `json:"backfill,omitempty"`
	Error      string          `json:"error,omitempty"`
	DurationMS int64           `json:"duration_ms"`
	// Next is the event of the invocation that continues the backfill; the
	// function has already sent it when it runs in Lambda, a local runner
	// calls Handle with it.
	Next *Event `json:"next,omitempty"`
}

// CredentialsPoster hands credentials to Logistos (logistos.Client).
type CredentialsPoster interface {
	PostCredentials(ctx context.Context, c logistos.Credentials) error
}

// Handler runs activation. Build it once per cold start; Handle may be
// called many times (the Lambda RIE and local runs keep it warm).
type Handler struct {
	Shop          *wooapi.Client // the shop, without a key: Keys supplies it per invocation
	Keys          wookey.Source
	Pending       wookey.Pending // keys that arrived through connect, not yet proven
	KeyStore      KeyWriter      // where a proven key becomes the key in use (nil: literal keys, none can be adopted)
	Logistos      CredentialsPoster
	Queue         queue.BatchSender   // the backfill queue (queue.Sender), apart from the live orders
	Ledger        *ledger.Recorder    // records what the backfill queued, from its ledger.Horizon on (nil: nothing)
	DeadLetters   queue.DeadLetterAPI // takes orders too large for Queue even compressed (nil: they fail the backfill)
	DLQURL        string              // the dead-letter queue DeadLetters sends to
	State         state.Store
	Invoker       Invoker       // nil: Report.Next is left for the caller to run
	WebhookSecret secret.Source // the secret WooCommerce signs deliveries with

	StoreURL       string
	WebhookURL     string
	CredentialsURL string
	Statuses       []string // backfill status filter; wooapi.StatusAny when empty
	Concurrency    int      // pages fetched at once; config.DefaultBackfillConcurrency when zero
	WebhookTopics  []string // a webhook is kept for each (hookreg.Topics); order.created when empty

	// Timing of a backfill slice; the package defaults when zero.
	DrainMargin     time.Duration
	StopMargin      time.Duration
	CheckpointEvery time.Duration
	ProgressEvery   time.Duration

	Now      func() time.Time
	Log      *slog.Logger
	Metrics  *metrics.Emitter
	Progress func(Progress) // optional: called as pages complete (a terminal progress bar)
}

func (h *Handler) now() time.Time {
	if h.Now != nil {
		return h.Now()
	}
	return time.Now()
}

// Handle runs the steps of ev in order and stops at the first that fails.
// A failure returns the error (Lambda shows it as the invocation's error
// message) after logging the whole report.
func (h *Handler) Handle(ctx context.Context, ev Event) (Report, error) {
	start := h.now()
	rep := Report{RunID: ev.RunID, DryRun: ev.DryRun}
	if rep.RunID == "" || !ev.Continuation {
		rep.RunID = state.NewRunID(start)
	}
	log := h.Log.With(slog.String("run_id", rep.RunID))
	steps, err := normalize(ev.Steps)
	if err == nil && ev.Continuation && (ev.RunID == "" || ev.PendingKey != "" || !slices.Equal(steps, []string{StepBackfill})) {
		err = errors.New(`a continuation event carries "run_id" and only the backfill step`)
	}
	if err != nil {
		return h.finish(ctx, log, rep, start, fmt.Errorf("bad event: %w", err))
	}
	log.LogAttrs(ctx, slog.LevelInfo, "activation started", slog.Any("steps", steps),
		slog.Bool("dry_run", ev.DryRun), slog.Bool("continuation", ev.Continuation))

	key, err := h.key(ctx, log, ev, &rep)
	switch {
	case errors.Is(err, wookey.ErrNoKey):
		rep.Outcome, rep.Detail = OutcomeNotConnected, wookey.NotConnected(h.WebhookURL)
		return h.finish(ctx, log, rep, start, nil)
	case errors.Is(err, errKeyRejected):
		return h.finish(ctx, log, rep, start, nil)
	case err != nil:
		return h.finish(ctx, log, rep, start, err)
	}
	shop := h.Shop.WithKey(key)
	for _, step := range steps {
		switch step {
		case StepHandoff:
			rep.Handoff, err = h.handoff(ctx, log, shop, ev)
		case StepWebhook:
			rep.Webhook, err = h.webhook(ctx, log, shop, ev)
		case StepBackfill:
			rep.Backfill, rep.Next, err = h.backfill(ctx, log, shop, ev, rep.RunID)
		}
		if err != nil {
			return h.finish(ctx, log, rep, start, fmt.Errorf("%s: %w", step, err))
		}
	}
	return h.finish(ctx, log, rep, start, nil)
}

func (h *Handler) finish(ctx context.Context, log *slog.Logger, rep Report, start time.Time, err error) (Report, error) {
	rep.DurationMS = h.now().Sub(start).Milliseconds()
	rep.OK = err == nil
	level := slog.LevelInfo
	if err != nil {
		rep.Error = err.Error()
		level = slog.LevelError
	}
	log.LogAttrs(ctx, level, "activation report", slog.Any("report", rep))
	return rep, err
}

// normalize validates steps and puts them in running order; empty means all.
func normalize(steps []string) ([]string, error) {
	if len(steps) == 0 {
		return AllSteps, nil
	}
	var out []string
	for _, s := range steps {
		if !slices.Contains(AllSteps, strings.ToLower(strings.TrimSpace(s))) {
			return nil, fmt.Errorf("unknown step %q (steps are %s)", s, strings.Join(AllSteps, ", "))
		}
	}
	for _, s := range AllSteps {
		if slices.ContainsFunc(steps, func(x string) bool { return strings.EqualFold(strings.TrimSpace(x), s) }) {
			out = append(out, s)
		}
	}
	return out, nil
}

func ms(d time.Duration) int64 { return d.Milliseconds() }
