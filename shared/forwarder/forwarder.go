// Package forwarder turns queued WooCommerce orders into Logistos payloads
// and posts them, for an SQS event source with ReportBatchItemFailures.
//
// Each record ends in exactly one of three ways: forwarded (acknowledged),
// failed transiently (reported as a batch item failure, so SQS delivers it
// again later, and to the DLQ after maxReceiveCount), or failed permanently
// or skipped (a topic no longer forwarded): sent to the DLQ at once with the
// reason, then acknowledged. Nothing is retried forever and nothing is
// dropped silently.
//
// The function has two event sources: the orders queue (live orders from
// the webhook and reconcile), whose records go out at once, and the backfill
// queue, whose records are paced (Pacer) so that a shop's history reaches
// Logistos at a bounded rate and never holds up a live order.
package forwarder

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/logistos-sync/logistos-sync/shared/logistos"
	"github.com/logistos-sync/logistos-sync/shared/metrics"
)

const (
	// DefaultConcurrency is how many POSTs one invocation has in flight: a
	// whole SQS batch (10), so that a batch costs one Logistos latency. The
	// event source's MaximumConcurrency bounds the invocations, so Logistos
	// sees at most MaximumConcurrency × DefaultConcurrency requests at once.
	DefaultConcurrency = 10
	// deadlineMargin is kept free at the end of an invocation for reporting
	// and DLQ calls; no POST starts unless a whole one fits before it.
	deadlineMargin = 2 * time.Second
)

// Poster sends a payload to Logistos; errors are classified by
// logistos.IsTransient.
type Poster interface {
	PostOrders(ctx context.Context, p *logistos.Payload) error
}

// Handler processes SQS batches of orders. Build it once per cold start.
type Handler struct {
	Logistos Poster
	Queues   *Queues
	StoreURL string          // the home shop, normalised with logistos.StoreURL; "" in a hub (each message's wc-source)
	Topics   map[string]bool // webhook topics forwarded
	// BackfillQueueARN is the backfill queue's: its records wait for
	// BackfillPacer before their POST. Which queue a record came from
	// decides, not its origin attribute, which says who queued it (and so
	// its Logistos event): a backfilled order redriven to the orders queue
	// travels as a live one, and holds up nothing there.
	BackfillQueueARN string
	// BackfillPacer spaces the backfill queue's POSTs; nil paces nothing.
	BackfillPacer *Pacer
	// Concurrency bounds POSTs in flight; DefaultConcurrency when zero.
	Concurrency int
	// PostTimeout is how long one POST may take; logistos.RequestTimeout when zero.
	PostTimeout time.Duration
	// Retry records the POSTs' outcomes and schedules the retries of
	// records that failed transiently. Its zero value is ready: one per
	// Handler, that is per container.
	Retry Retry
	// Backoff, when set, replaces Retry's schedule (which still records
	// outcomes): tests set it to retry without waiting.
	Backoff func(receives int) time.Duration
	// Now is the clock read against the invocation's deadline; time.Now
	// when nil.
	Now     func() time.Time
	Log     *slog.Logger
	Metrics *metrics.Emitter
}

// Handle processes one batch and reports the records SQS must deliver again.
func (h *Handler) Handle(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
	items := make([]*item, len(ev.Records))
	for i := range ev.Records {
		items[i] = h.decode(&ev.Records[i])
	}

	limit := h.Concurrency
	if limit <= 0 {
		limit = DefaultConcurrency
	}
	sem := make(chan struct{}, limit)
	var wg sync.WaitGroup
	for _, it := range items {
		if it.outcome != outcomePending {
			continue
		}
		if err := h.pace(ctx, it); err != nil {
			it.outcome, it.err = outcomeDeadline, err
			continue
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			h.send(ctx, it)
		}()
	}
	wg.Wait()

	var resp events.SQSEventResponse
	counts := map[outcome]int{}
	dropped := 0
	for _, it := range items {
		h.settle(ctx, it)
		counts[it.outcome]++
		dropped += it.order.Dropped
		if it.retry {
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: it.rec.MessageId})
		}
	}
	// One line per batch, with the counts that are not zero: a custom
	// metric is billed for every hour it is written in, and no alarm
	// needs a zero (a Logistos outage is alarmed by the waiting queue's
	// age, a free SQS metric).
	var ms []metrics.Metric
	for _, m := range []metrics.Metric{
		{Name: metrics.OrdersForwarded, Unit: metrics.Count, Value: float64(counts[outcomeForwarded])},
		{Name: metrics.OrdersFailedTransient, Unit: metrics.Count, Value: float64(counts[outcomeTransient])},
		{Name: metrics.OrdersFailedPermanent, Unit: metrics.Count, Value: float64(counts[outcomePermanent])},
		{Name: metrics.OrdersSkipped, Unit: metrics.Count, Value: float64(counts[outcomeSkipped])},
		{Name: metrics.ValuesDropped, Unit: metrics.Count, Value: float64(dropped)},
	} {
		if m.Value != 0 {
			ms = append(ms, m)
		}
	}
	h.Metrics.Emit(ms...)
	return resp, nil
}

// send posts one order, unless the invocation is too close to its deadline
// for a POST to finish. Each order has a POST of its own: its
// Idempotency-Key is then its own (shop, id, date modified), the same
// however SQS groups it on a retry or a redrive, so Logistos can drop a
// duplicate.
func (h *Handler) send(ctx context.Context, it *item) {
	if !h.timeLeft(ctx) {
		it.outcome, it.err = outcomeDeadline, errDeadline
		return
	}
	p := logistos.OrderPayload(it.store, it.event, it.order)
	pctx, cancel := context.WithTimeout(ctx, h.postTimeout())
	defer cancel()
	start := time.Now()
	err := h.Logistos.PostOrders(pctx, p)
	h.Retry.Observe(err)
	// The latency goes in the order's log line (latency_ms), not in a metric
	// line of its own: one more log event and metric-month per order.
	it.latency = time.Since(start)
	it.setResult(err)
}

// pace waits for a backfill queue record's turn; live records never wait.
// It fails when the turn comes too late for a whole POST before the
// deadline, or the invocation ends first.
func (h *Handler) pace(ctx context.Context, it *item) error {
	if h.BackfillPacer == nil || it.rec.EventSourceARN != h.BackfillQueueARN {
		return nil
	}
	return h.BackfillPacer.Wait(ctx, h.lastStart(ctx))
}

// timeLeft reports whether a whole POST fits before the Lambda deadline.
func (h *Handler) timeLeft(ctx context.Context) bool {
	last := h.lastStart(ctx)
	if last.IsZero() {
		return true
	}
	now := time.Now
	if h.Now != nil {
		now = h.Now
	}
	return now().Before(last)
}

// lastStart is the moment from which a whole POST no longer fits before
// the invocation's deadline; zero without a deadline.
func (h *Handler) lastStart(ctx context.Context) time.Time {
	d, ok := ctx.Deadline()
	if !ok {
		return time.Time{}
	}
	return d.Add(-(h.postTimeout() + deadlineMargin))
}

func (h *Handler) postTimeout() time.Duration {
	if h.PostTimeout > 0 {
		return h.PostTimeout
	}
	return logistos.RequestTimeout
}
