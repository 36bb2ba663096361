package queue

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// SendAPI is the part of the SQS client a Sender uses.
type SendAPI interface {
	SendMessage(ctx context.Context, in *sqs.SendMessageInput, opts ...func(*sqs.Options)) (*sqs.SendMessageOutput, error)
	SendMessageBatch(ctx context.Context, in *sqs.SendMessageBatchInput, opts ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error)
}

// BatchSender puts messages on a queue in batches: a *Sender, or a
// wrapper around one (ledger.RecordingSender records what it queued).
type BatchSender interface {
	SendBatch(ctx context.Context, ms []*Message) error
}

// Sender puts messages on one queue.
type Sender struct {
	Client   SendAPI
	QueueURL string
	// Limit is the queue's maximum message size; MaxMessageBytes when zero.
	Limit int
	// RetryDelay is how long SendBatch waits before resending the entries
	// SQS failed on its side, given the retry's number (1 to 4). Nil means
	// the production schedule: 100 ms doubling. Tests set it so that they
	// check the schedule without sleeping through it.
	RetryDelay func(retry int) time.Duration
}

func (s *Sender) limit() int {
	if s.Limit > 0 {
		return s.Limit
	}
	return MaxMessageBytes
}

// stringType is shared by every attribute: the SDK only reads it.
var stringType = aws.String("String")

// attributes builds the SQS attributes of m; vals holds the values, so
// the caller decides where they live.
func attributes(m *Message, encoding string, vals *[7]string) map[string]types.MessageAttributeValue {
	*vals = [7]string{m.Topic, m.Source, m.Origin, m.WebhookID, m.DeliveryID, m.receivedAt(), encoding}
	names := [7]string{AttrTopic, AttrSource, AttrOrigin, AttrWebhookID, AttrDeliveryID, AttrReceivedAt, AttrContentEncoding}
	attrs := make(map[string]types.MessageAttributeValue, len(vals))
	for i := range vals {
		if vals[i] != "" {
			attrs[names[i]] = types.MessageAttributeValue{DataType: stringType, StringValue: &vals[i]}
		}
	}
	return attrs
}

// sendRequest holds a SendMessage input with the strings its pointers
// refer to, so that a webhook delivery costs one allocation here, not nine.
type sendRequest struct {
	in   sqs.SendMessageInput
	body string
	vals [7]string
}

// Send enqueues one message and returns its SQS message id.
func (s *Sender) Send(ctx context.Context, m Message) (string, error) {
	r := &sendRequest{}
	var err error
	var enc string
	if r.body, enc, err = Encode(&m, s.limit()); err != nil {
		return "", err
	}
	r.in = sqs.SendMessageInput{QueueUrl: &s.QueueURL, MessageBody: &r.body, MessageAttributes: attributes(&m, enc, &r.vals)}
	out, err := s.Client.SendMessage(ctx, &r.in)
	if err != nil {
		return "", fmt.Errorf("sqs send: %w", err)
	}
	return aws.ToString(out.MessageId), nil
}

// batchRetries bounds how often SendBatch resends entries SQS failed
// individually (throttling, internal errors) before it gives up.
const batchRetries = 4

// batchRetryDelay is the production wait before SendBatch's retry number
// retry (1-based): 100 ms doubling, so the four retries wait 1.5 s in all,
// long enough for SQS throttling to ease and short next to a Lambda timeout.
func batchRetryDelay(retry int) time.Duration {
	return 100 * time.Millisecond << (retry - 1)
}

func (s *Sender) retryDelay(retry int) time.Duration {
	if s.RetryDelay != nil {
		return s.RetryDelay(retry)
	}
	return batchRetryDelay(retry)
}

// SendBatch enqueues messages with SendMessageBatch, in as few calls as the
// entry-count and byte limits allow. Entries that SQS fails on its side are
// resent with backoff; an error means some message was not enqueued (and
// names how many), so the caller must not record them as done. Messages too
// large even compressed do not stop the others: when they are the only
// failure, the error is a *TooLargeError naming them, and every other
// message was sent.
func (s *Sender) SendBatch(ctx context.Context, ms []*Message) error {
	type entry struct {
		e    types.SendMessageBatchRequestEntry
		size int
	}
	var batch []entry
	size := 0
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		entries := make([]types.SendMessageBatchRequestEntry, len(batch))
		for i := range batch {
			entries[i] = batch[i].e
		}
		batch, size = batch[:0], 0
		return s.sendEntries(ctx, entries)
	}
	var tooLarge *TooLargeError
	for i, m := range ms {
		body, enc, err := Encode(m, s.limit())
		if errors.Is(err, ErrTooLarge) {
			if tooLarge == nil {
				tooLarge = &TooLargeError{}
			}
			tooLarge.Indexes, tooLarge.Errs = append(tooLarge.Indexes, i), append(tooLarge.Errs, err)
			continue
		}
		if err != nil {
			return fmt.Errorf("message %d: %w", i, err)
		}
		e := entry{
			e: types.SendMessageBatchRequestEntry{
				Id:                aws.String(strconv.Itoa(i)),
				MessageBody:       aws.String(body),
				MessageAttributes: attributes(m, enc, new([7]string)),
			},
			size: len(body) + m.attributeSize(enc),
		}
		if len(batch) == MaxBatchEntries || size+e.size > MaxBatchBytes {
			if err := flush(); err != nil {
				return err
			}
		}
		batch = append(batch, e)
		size += e.size
	}
	if err := flush(); err != nil {
		return err
	}
	if tooLarge != nil {
		return tooLarge
	}
	return nil
}

func (s *Sender) sendEntries(ctx context.Context, entries []types.SendMessageBatchRequestEntry) error {
	for attempt := 0; ; attempt++ {
		out, err := s.Client.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: &s.QueueURL, Entries: entries})
		if err != nil {
			return fmt.Errorf("sqs send batch of %d: %w", len(entries), err)
		}
		if len(out.Failed) == 0 {
			return nil
		}
		var retry []types.SendMessageBatchRequestEntry
		var reasons []string
		for _, f := range out.Failed {
			reasons = append(reasons, aws.ToString(f.Code)+": "+aws.ToString(f.Message))
			if f.SenderFault {
				return fmt.Errorf("sqs rejected a message (%s): %s", aws.ToString(f.Id), reasons[len(reasons)-1])
			}
			for _, e := range entries {
				if aws.ToString(e.Id) == aws.ToString(f.Id) {
					retry = append(retry, e)
				}
			}
		}
		if attempt == batchRetries {
			return fmt.Errorf("sqs failed %d of %d messages after %d attempts: %s", len(out.Failed), len(entries), attempt+1, strings.Join(reasons, "; "))
		}
		entries = retry
		select {
		case <-ctx.Done():
			return errors.Join(fmt.Errorf("sqs failed %d messages", len(entries)), ctx.Err())
		case <-time.After(s.retryDelay(attempt + 1)):
		}
	}
}
