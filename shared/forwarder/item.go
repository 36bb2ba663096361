package forwarder

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/logistos-sync/logistos-sync/shared/logistos"
	"github.com/logistos-sync/logistos-sync/shared/queue"
)

// outcome is how a record ends.
type outcome int

const (
	outcomePending   outcome = iota
	outcomeForwarded         // acknowledged
	outcomeTransient         // SQS delivers it again after a backoff
	outcomePermanent         // to the DLQ now
	outcomeDeadline          // not attempted: no time left in this invocation
	outcomeSkipped           // a topic this deployment does not forward: to the DLQ now
)

func (o outcome) String() string {
	return [...]string{"pending", "forwarded", "transient_failure", "permanent_failure", "deadline", "skipped"}[o]
}

var errDeadline = errors.New("not attempted: too close to the Lambda deadline")

// item is one SQS record on its way through a batch.
type item struct {
	rec      *events.SQSMessage
	attrs    map[string]string
	event    string
	store    string // the shop's URL, as Logistos knows it
	origin   string
	order    logistos.Order
	orderID  string
	outcome  outcome
	err      error
	latency  time.Duration
	retry    bool // report as a batch item failure
	receives int
}

// decode reads the envelope and the order; a record that cannot be read
// fails permanently, since no number of retries will change its bytes.
func (h *Handler) decode(rec *events.SQSMessage) *item {
	it := &item{rec: rec, attrs: make(map[string]string, len(rec.MessageAttributes))}
	for k, v := range rec.MessageAttributes {
		if v.StringValue != nil {
			it.attrs[k] = *v.StringValue
		}
	}
	it.receives, _ = strconv.Atoi(rec.Attributes["ApproximateReceiveCount"])
	it.origin = it.attrs[queue.AttrOrigin]
	var err error
	if it.event, it.order, err = logistos.Queued(rec.Body, it.attrs); err != nil {
		it.outcome, it.err = outcomePermanent, err
		return it
	}
	it.orderID = it.order.ID.Text()
	if it.store, err = logistos.ShopOf(it.attrs, h.StoreURL); err != nil {
		it.outcome, it.err = outcomePermanent, err
		return it
	}
	if it.origin != queue.OriginBackfill && !h.Topics[it.event] {
		// FORWARD_TOPICS changed after it was queued: kept in the DLQ, where
		// a redrive forwards it once the topic is forwarded again.
		it.outcome, it.err = outcomeSkipped, fmt.Errorf("topic %q is not forwarded by this deployment (FORWARD_TOPICS)", it.event)
	}
	return it
}

func (it *item) setResult(err error) {
	switch {
	case err == nil:
		it.outcome = outcomeForwarded
	case logistos.IsTransient(err):
		it.outcome, it.err = outcomeTransient, err
	default:
		it.outcome, it.err = outcomePermanent, err
	}
}

// settle acts on an item's outcome: DLQ, backoff, metrics and its log line.
func (h *Handler) settle(ctx context.Context, it *item) {
	level := slog.LevelInfo
	switch it.outcome {
	case outcomeForwarded:
	case outcomeTransient:
		level = slog.LevelWarn
		it.retry = true
		backoff := h.Backoff
		if backoff == nil {
			backoff = h.Retry.Delay
		}
		d := backoff(it.receives)
		if it.receives >= MaxReceives {
			// Its last try: SQS moves it to the waiting queue when it is
			// next received, so hiding it longer would only delay that by
			// up to the schedule's next step (hours on the slow one).
			d = 0
		}
		h.Queues.Backoff(ctx, h.Log, it.rec, d)
	case outcomeDeadline:
		level = slog.LevelWarn
		it.retry = true
		h.Queues.Backoff(ctx, h.Log, it.rec, deadlineRetryDelay)
	case outcomePermanent, outcomeSkipped:
		level = slog.LevelError
		if err := h.Queues.DeadLetter(ctx, it.rec, it.attrs, it.err); err != nil {
			// Not in the DLQ, so it must stay on the queue: report it, and
			// SQS's own redrive takes it to the DLQ after maxReceiveCount.
			it.retry = true
			h.Log.LogAttrs(ctx, slog.LevelError, "dead-letter failed", slog.String("message_id", it.rec.MessageId),
				slog.String("order_id", it.orderID), slog.String("error", err.Error()))
		}
	}
	attrs := []slog.Attr{
		slog.String("order_id", it.orderID), slog.String("event", it.event), slog.String("origin", it.origin),
		slog.String("outcome", it.outcome.String()), slog.String("message_id", it.rec.MessageId),
		slog.Int("receive_count", it.receives), slog.Float64("latency_ms", float64(it.latency.Microseconds())/1000),
	}
	if it.order.Dropped > 0 {
		// An object or array where the allow-list keeps a scalar: a plugin's
		// doing, worth knowing, never worth sending.
		attrs = append(attrs, slog.Int("values_dropped", it.order.Dropped))
	}
	var le *logistos.Error
	if errors.As(it.err, &le) && le.StatusCode != 0 {
		attrs = append(attrs, slog.Int("status", le.StatusCode))
	}
	if it.err != nil {
		attrs = append(attrs, slog.String("error", it.err.Error()))
	}
	h.Log.LogAttrs(ctx, level, "order "+it.outcome.String(), attrs...)
}
