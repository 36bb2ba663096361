// Package waiting moves orders that waited out a Logistos outage back to
// the orders queue, with no human step.
//
// An order whose POSTs keep failing transiently (network, timeout, 408,
// 429, 5xx) is moved by SQS, after maxReceiveCount receives, to the waiting
// queue: the orders and backfill queues' redrive target. Orders Logistos
// refused (4xx) or that cannot be read never go there: the forwarder sends
// those to the dead-letter queue, which needs a human. So everything
// waiting needs only Logistos to answer again.
//
// A Releaser, run on reconcile's schedule, decides whether it does with one
// order, not the backlog: it takes one waiting order as a canary and POSTs
// it as the forwarder would (same payload, same Idempotency-Key). While
// that fails nothing else happens, so a Logistos that stays down sees one
// POST per run. Once it goes through, an SQS message move task takes the
// rest back to the orders queue at a bounded rate, so that a recovering
// Logistos is not flooded.
package waiting

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/logistos-sync/logistos-sync/shared/logistos"
	"github.com/logistos-sync/logistos-sync/shared/metrics"
	"github.com/logistos-sync/logistos-sync/shared/queue"
)

// Outcomes of a release.
const (
	OutcomeNone        = "none"          // nothing waiting
	OutcomeMoving      = "moving"        // a move task from an earlier run is still running
	OutcomeStillFailed = "still_failing" // the canary failed again: nothing moved
	OutcomeReleased    = "released"      // the canary went through: the rest are on their way back
	OutcomeFailed      = "failed"        // SQS failed us: the next run tries again
)

const (
	// canaryVisibility hides the canary while it is tried. After a failed
	// try it reappears, for the next run.
	canaryVisibility = 60
	// receiveWait is a short long poll: a short poll samples only some SQS
	// servers and can answer empty while a few orders wait.
	receiveWait = 1
	// maxUnreadable bounds the unreadable messages one run dead-letters
	// while looking for a canary; the rest wait for the next run.
	maxUnreadable = 3
)

// Poster sends a payload to Logistos; errors are classified by
// logistos.IsTransient.
type Poster interface {
	PostOrders(ctx context.Context, p *logistos.Payload) error
}

// Report is what a release did, for reconcile's report.
type Report struct {
	Outcome string `json:"outcome"`
	// Waiting is how many orders were waiting (approximate, as SQS counts).
	Waiting int64 `json:"waiting"`
	// Canary is the order tried, by id.
	Canary string `json:"canary_order_id,omitempty"`
	// Moved is how many orders the move task took on (approximate), or
	// copied where there are no move tasks.
	Moved int64  `json:"moved,omitempty"`
	Error string `json:"error,omitempty"`
}

// SQSAPI is the part of the SQS client a Releaser uses.
type SQSAPI interface {
	queue.RedriveAPI
	ChangeMessageVisibility(ctx context.Context, in *sqs.ChangeMessageVisibilityInput, opts ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityOutput, error)
}

// Releaser moves the waiting queue's orders back once Logistos answers.
type Releaser struct {
	SQS        SQSAPI
	WaitingURL string
	QueueURL   string // where waiting orders go back to
	DLQURL     string // where a canary Logistos refuses goes
	Logistos   Poster
	StoreURL   string // the home shop, normalised with logistos.StoreURL; "" in a hub (each message's wc-source)
	// Rate is the most orders a second the move task takes back (at most
	// queue.MaxRedriveRate).
	Rate int32
	// PostTimeout bounds the canary's POST; logistos.RequestTimeout when zero.
	PostTimeout time.Duration
	Log         *slog.Logger
	Metrics     *metrics.Emitter

	once     sync.Once
	redriver *queue.Redriver
}

// Release tries one waiting order and, when it goes through, starts moving
// the others back. Every outcome is in the report; SQS failures are also
// returned.
func (r *Releaser) Release(ctx context.Context) (Report, error) {
	rep, err := r.release(ctx)
	level := slog.LevelInfo
	switch {
	case err != nil:
		rep.Outcome, rep.Error = OutcomeFailed, err.Error()
		level = slog.LevelError
	case rep.Outcome == OutcomeStillFailed:
		level = slog.LevelWarn
	}
	if rep.Outcome != OutcomeNone || err != nil {
		// Quiet when nothing waits: that is every run of a healthy stack.
		r.Log.LogAttrs(ctx, level, "waiting orders", slog.Any("waiting", rep))
	}
	return rep, err
}

func (r *Releaser) release(ctx context.Context) (Report, error) {
	rep := Report{Outcome: OutcomeNone}
	// One Redriver for the Releaser's life: it keeps the queues' ARNs.
	r.once.Do(func() {
		r.redriver = &queue.Redriver{Client: r.SQS, DLQURL: r.WaitingURL, QueueURL: r.QueueURL, Rate: r.Rate}
	})
	redriver := r.redriver
	n, err := redriver.Pending(ctx)
	if err != nil || n == 0 {
		if err != nil {
			err = fmt.Errorf("count the waiting orders: %w", err)
		}
		return rep, err
	}
	rep.Waiting = n
	if running, err := redriver.Running(ctx); err != nil || running {
		rep.Outcome = OutcomeMoving
		return rep, err
	}
	answered, err := r.canary(ctx, &rep)
	if err != nil || !answered {
		return rep, err
	}
	p, err := redriver.Start(ctx)
	if err != nil {
		return rep, fmt.Errorf("move the waiting orders back (Logistos answered the canary): %w", err)
	}
	rep.Outcome = OutcomeReleased
	rep.Moved = max(p.Total, p.Moved)
	if rep.Moved > 0 {
		r.Metrics.Count(metrics.OrdersReleased, int(rep.Moved))
	}
	return rep, nil
}

// canary POSTs one waiting order and reports whether Logistos answered:
// with 2xx (the order is delivered and deleted) or with a refusal (the
// order goes to the DLQ, as the forwarder would have sent it; Logistos is
// up, so the others can come back). Unreadable messages on the way (a
// crash, not Logistos, made them wait) go to the DLQ too.
func (r *Releaser) canary(ctx context.Context, rep *Report) (answered bool, err error) {
	for range maxUnreadable + 1 {
		out, err := r.SQS.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
			QueueUrl: &r.WaitingURL, MaxNumberOfMessages: 1, WaitTimeSeconds: receiveWait,
			VisibilityTimeout: canaryVisibility, MessageAttributeNames: []string{"All"},
		})
		if err != nil {
			return false, fmt.Errorf("receive a waiting order: %w", err)
		}
		if len(out.Messages) == 0 {
			return false, nil // taken by someone else, or counted wrong: next run
		}
		m := &out.Messages[0]
		attrs := stringAttributes(m.MessageAttributes)
		event, order, rerr := logistos.Queued(aws.ToString(m.Body), attrs)
		if rerr != nil {
			if err := r.deadLetter(ctx, m, attrs, rerr); err != nil {
				return false, err
			}
			continue
		}
		rep.Canary = order.ID.Text()
		store, serr := logistos.ShopOf(attrs, r.StoreURL)
		if serr != nil {
			if err := r.deadLetter(ctx, m, attrs, serr); err != nil {
				return false, err
			}
			continue
		}
		perr := r.post(ctx, logistos.OrderPayload(store, event, order))
		switch {
		case perr == nil:
		case logistos.IsTransient(perr):
			rep.Outcome, rep.Error = OutcomeStillFailed, perr.Error()
			// Visible again at once: hidden, it would miss a move task
			// started before it reappears.
			if _, err := r.SQS.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{
				QueueUrl: &r.WaitingURL, ReceiptHandle: m.ReceiptHandle, VisibilityTimeout: 0,
			}); err != nil {
				r.Log.LogAttrs(ctx, slog.LevelWarn, "canary not made visible again", slog.String("order_id", rep.Canary), slog.String("error", err.Error()))
			}
			return false, nil
		default:
			return true, r.deadLetter(ctx, m, attrs, perr)
		}
		if _, err := r.SQS.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: &r.WaitingURL, ReceiptHandle: m.ReceiptHandle}); err != nil {
			// Delivered: the move task takes it back once more and Logistos
			// drops it as a duplicate (same Idempotency-Key).
			r.Log.LogAttrs(ctx, slog.LevelWarn, "canary delivered but not deleted", slog.String("order_id", rep.Canary), slog.String("error", err.Error()))
		}
		return true, nil
	}
	return false, nil
}

func (r *Releaser) post(ctx context.Context, p *logistos.Payload) error {
	timeout := r.PostTimeout
	if timeout <= 0 {
		timeout = logistos.RequestTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	return r.Logistos.PostOrders(ctx, p)
}

// deadLetter sends m to the DLQ with the reason, then deletes it from the
// waiting queue. If the delete fails it is on both: the DLQ's copy says
// why, and the waiting copy is tried again next run.
func (r *Releaser) deadLetter(ctx context.Context, m *types.Message, attrs map[string]string, reason error) error {
	if _, err := r.SQS.SendMessage(ctx, queue.DeadLetter(r.DLQURL, aws.ToString(m.Body), attrs, logistos.Refusal(reason))); err != nil {
		return fmt.Errorf("send a refused waiting order to the DLQ: %w", err)
	}
	if _, err := r.SQS.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: &r.WaitingURL, ReceiptHandle: m.ReceiptHandle}); err != nil {
		return fmt.Errorf("delete a refused order from the waiting queue (it is also in the DLQ): %w", err)
	}
	r.Log.LogAttrs(ctx, slog.LevelError, "waiting order dead-lettered", slog.String("message_id", aws.ToString(m.MessageId)), slog.String("error", reason.Error()))
	return nil
}

func stringAttributes(in map[string]types.MessageAttributeValue) map[string]string {
	out := make(map[string]string, len(in))
	for k, v := range in {
		if v.StringValue != nil {
			out[k] = *v.StringValue
		}
	}
	return out
}
