package queue

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/service/sqs"
)

// DeadLetterAPI puts a message on the dead-letter queue (the SQS client).
type DeadLetterAPI interface {
	SendMessage(ctx context.Context, in *sqs.SendMessageInput, opts ...func(*sqs.Options)) (*sqs.SendMessageOutput, error)
}

// Oversize dead-letters the orders SendBatch found too large for the queue
// even compressed (a *TooLargeError): by id, since the order itself does
// not fit, with its message's attributes and the reason, so that the owner
// learns which order to send by other means while the producer (the
// backfill, reconcile) goes on with the rest instead of failing on it for
// ever.
type Oversize struct {
	Client DeadLetterAPI
	DLQURL string
	Log    *slog.Logger
}

// DeadLetter sends the orders tl names; ms are the messages SendBatch was
// given and ids their orders' ids. missed says what the order did not get
// ("backfilled", "recovered").
func (o *Oversize) DeadLetter(ctx context.Context, ms []*Message, ids []int64, tl *TooLargeError, missed string) error {
	for k, j := range tl.Indexes {
		id, size := ids[j], len(ms[j].Body)
		f := Failure{Class: FailurePermanent,
			Reason: fmt.Sprintf("order %d (%d bytes) was not %s: %v; send it to Logistos by other means", id, size, missed, tl.Errs[k])}
		in := DeadLetter(o.DLQURL, `{"id":`+strconv.FormatInt(id, 10)+`}`, ms[j].StringAttributes(), f)
		if _, err := o.Client.SendMessage(ctx, in); err != nil {
			return fmt.Errorf("dead-letter order %d, too large for the queue: %w", id, err)
		}
		// Its id and size only: the order's data stays out of the logs.
		o.Log.LogAttrs(ctx, slog.LevelWarn, "order dead-lettered", slog.Int64("order_id", id), slog.Int("bytes", size),
			slog.String("reason", "too large for an SQS message even gzip-compressed"))
	}
	return nil
}
