package reconcile

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"golang.org/x/sync/errgroup"

	"github.com/logistos-sync/logistos-sync/shared/metrics"
	"github.com/logistos-sync/logistos-sync/shared/shop"
	"github.com/logistos-sync/logistos-sync/shared/state"
	"github.com/logistos-sync/logistos-sync/shared/wooapi"
)

// DisconnectAfter is how many sweeps in a row a hub shop's key may be
// refused (401) before the shop is disconnected: one refusal may be a key
// being replaced, three (45 minutes at the default interval) are a shop
// that revoked the stack's access, and sweeping it on would only fail.
const DisconnectAfter = 3

// Fleet sweeps (a hub). template.yaml's ReconcileSweepJobs and
// SweepConcurrency follow these (local/templatecheck).
const (
	// SweepBatchSize is the most jobs one invocation receives (the event
	// source's BatchSize); it sweeps them all at once.
	SweepBatchSize = 10
	// DefaultSweepConcurrency is the most invocations at once sweeping jobs
	// (the event source's MaximumConcurrency), so that 50 shops are swept at
	// a time: within a new account's 10 concurrent executions, beside the
	// webhook and the forwarder.
	DefaultSweepConcurrency = 5
	// JobTimeout bounds one job's sweep. A quiet shop's takes about a
	// second (BenchmarkFleetSweep: 0.6 s at 250 ms a REST call), a window of
	// 10,000 orders about 30 s at 1 s a page (BenchmarkSweep's 101 pages,
	// four at a time). A shop that hangs (30 s a request, retried) must not
	// hold its invocation's slot, and the jobs queued behind it, for the
	// function's 15 minutes: each such shop costs at most this of one of
	// SweepConcurrency's slots. A window too large for it keeps failing,
	// with a hint to sweep the shop directly ({"store_url": ...}), which has
	// the function's whole timeout.
	JobTimeout = 2 * time.Minute
)

// A hub's quiet shops: most shops of a hub take a few orders a week, and a
// sweep's cost (mostly the KMS call that opens the shop's key) is the same
// whatever it finds.
const (
	// QuietAfter is how long a shop's sweeps must have seen no order (and it
	// must have been connected) before it counts as quiet.
	QuietAfter = 24 * time.Hour
	// QuietEvery is how often a quiet shop is swept instead of every run:
	// an order its webhook missed reaches Logistos within about an hour,
	// and its first order makes it busy again.
	QuietEvery = time.Hour
	// dueSlack keeps a run that starts a little early (the schedule's
	// jitter) from skipping a quiet shop for one more interval.
	dueSlack = time.Minute
	// readConcurrency is how many shops' documents the fan-out reads at once.
	readConcurrency = 16
)

// sweepBatch is the most jobs one SendMessageBatch takes (SQS's limit).
const sweepBatch = 10

// SweepSender is the part of the SQS client the fan-out uses.
type SweepSender interface {
	SendMessageBatch(ctx context.Context, in *sqs.SendMessageBatchInput, opts ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error)
}

// Job is a sweep job's body on the sweep queue: the shop to sweep.
type Job struct {
	StoreURL string `json:"store_url"`
}

// FanOutReport is what a hub's scheduled run put on the sweep queue.
type FanOutReport struct {
	Shops     int `json:"shops"`     // in the shops table
	Connected int `json:"connected"` // of them connected
	// Quiet are connected shops left for a later run: quiet for QuietAfter
	// and swept within QuietEvery.
	Quiet  int `json:"quiet,omitempty"`
	Queued int `json:"queued"` // jobs SQS took (0 in a dry run)
	Failed int `json:"failed,omitempty"`
}

// Invoke is the function's entry point: the schedule's and a person's
// events (Event) and the sweep queue's (an SQS event, told apart by its
// Records), so that one function serves both event sources.
func (h *Handler) Invoke(ctx context.Context, payload json.RawMessage) (any, error) {
	var probe struct {
		Records json.RawMessage `json:"Records"`
	}
	if err := json.Unmarshal(payload, &probe); err != nil {
		return nil, fmt.Errorf("the event is not a JSON object: %w", err)
	}
	if probe.Records != nil {
		var ev events.SQSEvent
		if err := json.Unmarshal(payload, &ev); err != nil {
			return nil, fmt.Errorf("read the sweep queue's event: %w", err)
		}
		return h.HandleJobs(ctx, ev)
	}
	var ev Event
	if err := json.Unmarshal(payload, &ev); err != nil {
		return nil, fmt.Errorf("read the event: %w", err)
	}
	return h.Handle(ctx, ev)
}

// fanOut is a hub's scheduled run: the waiting orders' release (once a
// run, not once a shop: it needs only Logistos), then one job a connected
// shop on the sweep queue, which this function consumes with bounded
// concurrency.
func (h *Handler) fanOut(ctx context.Context, ev Event) (Report, error) {
	start := h.now()
	rep := Report{RunID: state.NewRunID(start), DryRun: ev.DryRun}
	log := h.Log.With(slog.String("run_id", rep.RunID))
	var err error
	if ev.Since != nil {
		err = errors.New(`a hub sweeps one shop from "since": name it with "store_url"`)
	} else {
		h.release(ctx, ev, &rep)
		var fo FanOutReport
		fo, err = h.queueSweeps(ctx, ev.DryRun)
		rep.FanOut = &fo
		rep.Outcome = OutcomeQueued
		rep.Detail = fmt.Sprintf("%d of %d shops connected; %d sweep jobs queued, %d quiet shops left for a later run", fo.Connected, fo.Shops, fo.Queued, fo.Quiet)
		if ev.DryRun {
			rep.Outcome, rep.Detail = OutcomeWouldDo, fmt.Sprintf("would queue a sweep of each of the %d connected shops", fo.Connected)
		}
	}
	rep.DurationMS = h.now().Sub(start).Milliseconds()
	level := slog.LevelInfo
	if err != nil {
		rep.Outcome, rep.Error = OutcomeFailed, err.Error()
		rep.Detail = "the shops not queued are swept at the next scheduled run"
		level = slog.LevelError
		h.Metrics.Count(metrics.ReconcileFailed, 1)
	}
	log.LogAttrs(ctx, level, "reconcile report", slog.Any("report", rep))
	return rep, err
}

// queueSweeps puts one job a connected shop on the sweep queue, ten a call.
// A batch SQS refuses does not stop the others: those shops wait for the
// next run, and the error says how many.
func (h *Handler) queueSweeps(ctx context.Context, dry bool) (FanOutReport, error) {
	var fo FanOutReport
	shops, err := h.Shops.List(ctx)
	if err != nil {
		return fo, fmt.Errorf("list the shops: %w", err)
	}
	fo.Shops = len(shops)
	shops = slices.DeleteFunc(shops, func(s shop.Shop) bool { return s.Status != shop.Connected })
	slices.SortFunc(shops, func(a, b shop.Shop) int { return cmp.Compare(a.ID, b.ID) })
	fo.Connected = len(shops)
	if dry {
		return fo, nil
	}
	shops = h.due(ctx, shops)
	fo.Quiet = fo.Connected - len(shops)
	var errs []error
	for start := 0; start < len(shops); start += sweepBatch {
		batch := shops[start:min(start+sweepBatch, len(shops))]
		in := &sqs.SendMessageBatchInput{QueueUrl: aws.String(h.SweepQueueURL)}
		for i, s := range batch {
			body, _ := json.Marshal(Job{StoreURL: s.URL})
			in.Entries = append(in.Entries, types.SendMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), MessageBody: aws.String(string(body))})
		}
		out, err := h.Sweeps.SendMessageBatch(ctx, in)
		if err != nil {
			fo.Failed += len(batch)
			errs = append(errs, err)
			continue
		}
		fo.Queued += len(out.Successful)
		fo.Failed += len(out.Failed)
		if len(out.Failed) > 0 {
			errs = append(errs, fmt.Errorf("SQS refused %d jobs: %s", len(out.Failed), aws.ToString(out.Failed[0].Message)))
		}
	}
	if len(errs) > 0 {
		return fo, fmt.Errorf("queue the sweep jobs (%d of %d not queued): %w", fo.Failed, fo.Connected, errors.Join(errs...))
	}
	return fo, nil
}

// due returns the shops this run sweeps: every busy shop, and a quiet one
// (no order in its sweeps for QuietAfter) once every QuietEvery. A shop
// whose document cannot be read is swept: sweeping costs cents, missing
// an order does not.
func (h *Handler) due(ctx context.Context, shops []shop.Shop) []shop.Shop {
	now := h.now()
	skip := make([]bool, len(shops))
	var g errgroup.Group
	g.SetLimit(readConcurrency)
	for i, s := range shops {
		g.Go(func() error {
			raw, _, err := state.ForShop(h.State, s.ID).Get(ctx, StateID)
			var d doc
			if err != nil || raw == nil || json.Unmarshal(raw, &d) != nil {
				return nil
			}
			active := d.LastActive
			if s.ConnectedAt.After(active) {
				active = s.ConnectedAt
			}
			skip[i] = d.Unauthorized == 0 && now.Sub(active) >= QuietAfter && now.Sub(d.LastRun) < QuietEvery-dueSlack
			return nil
		})
	}
	_ = g.Wait() // no read fails the run: an unread shop is swept
	out := shops[:0:0]
	for i, s := range shops {
		if !skip[i] {
			out = append(out, s)
		}
	}
	return out
}

// HandleJobs sweeps each job's shop, all of the batch at once, and reports
// the jobs whose sweep failed (ReportBatchItemFailures), so that one shop's
// failure never holds another's. A failed job comes back after the queue's
// visibility timeout, by when the next scheduled run has queued the shop
// again; the sweep then finds it stale (already_swept) unless it failed
// before it could start. An unreadable job, or one for a shop the stack
// does not serve, is dropped with a log line: it would never succeed.
func (h *Handler) HandleJobs(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
	var (
		mu   sync.Mutex
		resp events.SQSEventResponse
		wg   sync.WaitGroup
	)
	for _, r := range ev.Records {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if !h.job(ctx, r) {
				mu.Lock()
				resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: r.MessageId})
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return resp, nil
}

// job sweeps one job's shop; false when the job should come back.
func (h *Handler) job(ctx context.Context, r events.SQSMessage) bool {
	var j Job
	if err := json.Unmarshal([]byte(r.Body), &j); err != nil || j.StoreURL == "" {
		h.Log.LogAttrs(ctx, slog.LevelError, "sweep job unreadable: dropped", slog.String("message_id", r.MessageId))
		return true
	}
	ev := Event{StoreURL: j.StoreURL}
	if ms, err := strconv.ParseInt(r.Attributes[string(types.MessageSystemAttributeNameSentTimestamp)], 10, 64); err == nil {
		ev.queuedAt = time.UnixMilli(ms)
	}
	ctx, cancel := context.WithTimeout(ctx, JobTimeout)
	defer cancel()
	_, err := h.handle(ctx, ev, false)
	return err == nil || errors.Is(err, ErrUnknownShop)
}

// unauthorized reports whether err is the shop answering 401: its key
// unknown, its secret wrong, or its permission short.
func unauthorized(err error) bool {
	var we *wooapi.Error
	return errors.As(err, &we) && we.StatusCode == http.StatusUnauthorized
}

// disconnect marks a hub shop disconnected once its key was refused on n
// sweeps in a row: the schedule stops queuing it, and connecting again
// (activation sets it connected) restores its sweeps. The shop is read
// again first, so that a shop connected again meanwhile is left alone.
func (h *Handler) disconnect(ctx context.Context, log *slog.Logger, t *target, n int, rep *Report) error {
	s, err := h.Shops.Get(ctx, t.id)
	if err != nil {
		return fmt.Errorf("disconnect the shop: %w", err)
	}
	if s.Status != shop.Connected || !s.UpdatedAt.Equal(t.shop.UpdatedAt) {
		return nil
	}
	s.Status, s.UpdatedAt = shop.Disconnected, h.now().UTC()
	if err := h.Shops.Put(ctx, s); err != nil {
		return fmt.Errorf("disconnect the shop: %w", err)
	}
	rep.Disconnected = true
	h.Metrics.Count(metrics.ShopsDisconnected, 1)
	log.LogAttrs(ctx, slog.LevelWarn, "shop disconnected", slog.String("shop", t.id),
		slog.String("reason", fmt.Sprintf("the shop refused its REST API key (401) on %d sweeps in a row; it is no longer swept until its owner connects it again", n)))
	return nil
}
