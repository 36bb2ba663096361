// Package esm emulates the Lambda event source mapping for SQS: it polls a
// queue, hands batches to a handler as events.SQSEvent, and deletes what the
// handler settled, honouring ReportBatchItemFailures.
//
// Like the real mapping, a batch is all-or-nothing unless the handler
// returns batchItemFailures: an error, a panic, a timeout or an unknown item
// identifier keeps every record on the queue for SQS to deliver again (and
// to move to the DLQ after maxReceiveCount).
package esm

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"syscall"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// Limits and defaults of the emulated mapping.
const (
	// MaxBatchSize is SQS's ReceiveMessage limit, and so a standard
	// queue's largest batch without a batching window.
	MaxBatchSize = 10
	// DefaultWait is the long-poll wait of each receive. It is short because
	// kumo does not wake a long poll when a message's visibility expires.
	DefaultWait = 1 * time.Second
	// DefaultFunctionTimeout is the handler's deadline when none is set
	// (Lambda's default is 3 s; the forwarder's template sets more).
	DefaultFunctionTimeout = 30 * time.Second
	// idlePause keeps a failing receive (queue gone, emulator down), or
	// short polling of an empty queue, from spinning.
	idlePause = 500 * time.Millisecond
	// settleTimeout bounds the deletes after a batch.
	settleTimeout = 10 * time.Second
)

// EventSource is the eventSource of every SQS record.
const EventSource = "aws:sqs"

// Func is a Lambda handler for SQS events with ReportBatchItemFailures.
type Func func(context.Context, events.SQSEvent) (events.SQSEventResponse, error)

// SQSAPI is the part of the SQS client the poller uses.
type SQSAPI interface {
	ReceiveMessage(ctx context.Context, in *sqs.ReceiveMessageInput, opts ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error)
	DeleteMessageBatch(ctx context.Context, in *sqs.DeleteMessageBatchInput, opts ...func(*sqs.Options)) (*sqs.DeleteMessageBatchOutput, error)
}

// Poller feeds one queue to one handler, one batch at a time.
type Poller struct {
	Client   SQSAPI
	QueueURL string
	QueueARN string // the records' eventSourceARN
	Region   string // the records' awsRegion
	Handler  Func
	// BatchSize is at most MaxBatchSize; MaxBatchSize when zero.
	BatchSize int
	// Wait is each receive's long-poll wait, whole seconds; DefaultWait
	// when zero, no wait when negative.
	Wait time.Duration
	// FunctionTimeout is the deadline of each invocation's context;
	// DefaultFunctionTimeout when zero.
	FunctionTimeout time.Duration
	Log             *slog.Logger // slog.Default when nil
}

// Result is what one poll did.
type Result struct {
	Received int      // records handed to the handler
	Deleted  int      // records acknowledged
	Kept     []string // message ids left for SQS to deliver again
	Err      error    // the invocation's error, if the whole batch failed
}

// Run polls until ctx is cancelled. A batch in flight when ctx is cancelled
// is finished and settled before Run returns, so stopping loses nothing.
func (p *Poller) Run(ctx context.Context) error {
	failed := 0 // receives failed in a row
	for ctx.Err() == nil {
		r, err := p.Poll(ctx)
		if err != nil && ctx.Err() == nil {
			failed++
			// A receive whose answer was cut short (the emulator's proxy
			// drops a connection now and then when another of its clients
			// goes away) is retried at once, quietly: only a failure that
			// repeats says something about the queue.
			if failed == 1 && cutShort(err) {
				p.log().LogAttrs(ctx, slog.LevelDebug, "sqs receive cut short; retrying", slog.String("queue", p.QueueURL), slog.String("error", err.Error()))
				continue
			}
			p.log().LogAttrs(ctx, slog.LevelWarn, "sqs receive failed", slog.String("queue", p.QueueURL), slog.String("error", err.Error()))
			select {
			case <-ctx.Done():
			case <-time.After(idlePause):
			}
			continue
		}
		failed = 0
		if r.Received == 0 && p.wait() == 0 {
			select {
			case <-ctx.Done():
			case <-time.After(idlePause):
			}
		}
	}
	return nil
}

// cutShort reports whether a receive failed because its connection ended
// early, rather than because SQS refused it.
func cutShort(err error) bool {
	return errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET)
}

// Poll receives one batch, invokes the handler with it and deletes the
// records it settled. It returns an error only when the receive failed;
// handler failures are in the Result.
func (p *Poller) Poll(ctx context.Context) (Result, error) {
	out, err := p.Client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
		QueueUrl:                    aws.String(p.QueueURL),
		MaxNumberOfMessages:         int32(p.batchSize()),
		WaitTimeSeconds:             int32(p.wait() / time.Second),
		MessageSystemAttributeNames: []types.MessageSystemAttributeName{types.MessageSystemAttributeNameAll},
		MessageAttributeNames:       []string{"All"},
	})
	if err != nil {
		return Result{}, fmt.Errorf("receive from %s: %w", p.QueueURL, err)
	}
	if len(out.Messages) == 0 {
		return Result{}, nil
	}
	ev := Event(out.Messages, p.QueueARN, p.Region)
	// The invocation and its settlement outlive a cancelled ctx: a batch
	// that was received is always finished, as Lambda finishes it.
	base := context.WithoutCancel(ctx)
	resp, err := p.invoke(base, ev)
	var keep map[string]bool
	if err == nil {
		keep, err = failures(ev, resp)
	}
	res := Result{Received: len(ev.Records), Err: err}
	if err != nil {
		p.log().LogAttrs(ctx, slog.LevelWarn, "batch failed; every record stays on the queue",
			slog.Int("records", len(ev.Records)), slog.String("error", err.Error()))
		for _, r := range ev.Records {
			res.Kept = append(res.Kept, r.MessageId)
		}
		return res, nil
	}
	var done []types.DeleteMessageBatchRequestEntry
	for i, r := range ev.Records {
		if keep[r.MessageId] {
			res.Kept = append(res.Kept, r.MessageId)
			continue
		}
		done = append(done, types.DeleteMessageBatchRequestEntry{Id: aws.String(fmt.Sprint(i)), ReceiptHandle: aws.String(r.ReceiptHandle)})
	}
	res.Deleted = p.delete(base, done)
	return res, nil
}

// invoke calls the handler with the function's deadline; a panic or a
// handler still running at the deadline fails the whole batch, as a crashed
// or timed-out Lambda does. (A real sandbox is then frozen; here the
// handler's goroutine runs on until it notices its context.)
func (p *Poller) invoke(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
	timeout := p.FunctionTimeout
	if timeout <= 0 {
		timeout = DefaultFunctionTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	type result struct {
		resp events.SQSEventResponse
		err  error
	}
	ch := make(chan result, 1)
	go func() {
		defer func() {
			if v := recover(); v != nil {
				ch <- result{err: fmt.Errorf("handler panicked: %v", v)}
			}
		}()
		resp, err := p.Handler(ctx, ev)
		ch <- result{resp, err}
	}()
	select {
	case r := <-ch:
		return r.resp, r.err
	case <-ctx.Done():
		return events.SQSEventResponse{}, fmt.Errorf("task timed out after %s", timeout)
	}
}

// failures returns the records the handler reported. An empty or unknown
// item identifier makes Lambda treat the whole batch as failed.
func failures(ev events.SQSEvent, resp events.SQSEventResponse) (map[string]bool, error) {
	ids := make(map[string]bool, len(ev.Records))
	for _, r := range ev.Records {
		ids[r.MessageId] = true
	}
	keep := make(map[string]bool, len(resp.BatchItemFailures))
	for _, f := range resp.BatchItemFailures {
		if !ids[f.ItemIdentifier] {
			return nil, fmt.Errorf("batchItemFailures names %q, which is not in the batch", f.ItemIdentifier)
		}
		keep[f.ItemIdentifier] = true
	}
	return keep, nil
}

// delete acknowledges records and returns how many SQS deleted; a failed
// delete only means SQS delivers the record again.
func (p *Poller) delete(ctx context.Context, entries []types.DeleteMessageBatchRequestEntry) int {
	if len(entries) == 0 {
		return 0
	}
	ctx, cancel := context.WithTimeout(ctx, settleTimeout)
	defer cancel()
	out, err := p.Client.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{QueueUrl: aws.String(p.QueueURL), Entries: entries})
	if err != nil {
		p.log().LogAttrs(ctx, slog.LevelWarn, "sqs delete failed; the records will be delivered again",
			slog.Int("records", len(entries)), slog.String("error", err.Error()))
		return 0
	}
	for _, f := range out.Failed {
		p.log().LogAttrs(ctx, slog.LevelWarn, "sqs delete failed for a record",
			slog.String("code", aws.ToString(f.Code)), slog.String("error", aws.ToString(f.Message)))
	}
	return len(out.Successful)
}

func (p *Poller) batchSize() int {
	if p.BatchSize <= 0 || p.BatchSize > MaxBatchSize {
		return MaxBatchSize
	}
	return p.BatchSize
}

func (p *Poller) wait() time.Duration {
	if p.Wait == 0 {
		return DefaultWait
	}
	return max(p.Wait, 0)
}

func (p *Poller) log() *slog.Logger {
	if p.Log != nil {
		return p.Log
	}
	return slog.Default()
}

// Event builds the event Lambda passes for messages received from the queue
// arn in region.
func Event(msgs []types.Message, arn, region string) events.SQSEvent {
	ev := events.SQSEvent{Records: make([]events.SQSMessage, len(msgs))}
	for i, m := range msgs {
		ev.Records[i] = Record(m, arn, region)
	}
	return ev
}

// Record converts one received message into an SQS event record.
func Record(m types.Message, arn, region string) events.SQSMessage {
	rec := events.SQSMessage{
		MessageId:              aws.ToString(m.MessageId),
		ReceiptHandle:          aws.ToString(m.ReceiptHandle),
		Body:                   aws.ToString(m.Body),
		Md5OfBody:              aws.ToString(m.MD5OfBody),
		Md5OfMessageAttributes: aws.ToString(m.MD5OfMessageAttributes),
		Attributes:             make(map[string]string, len(m.Attributes)),
		MessageAttributes:      make(map[string]events.SQSMessageAttribute, len(m.MessageAttributes)),
		EventSourceARN:         arn,
		EventSource:            EventSource,
		AWSRegion:              region,
	}
	for k, v := range m.Attributes {
		rec.Attributes[k] = v
	}
	for k, v := range m.MessageAttributes {
		rec.MessageAttributes[k] = events.SQSMessageAttribute{
			StringValue:      v.StringValue,
			BinaryValue:      v.BinaryValue,
			StringListValues: nonNil(v.StringListValues),
			BinaryListValues: nonNilBytes(v.BinaryListValues),
			DataType:         aws.ToString(v.DataType),
		}
	}
	return rec
}

// Lambda writes empty lists, never null, for the list values.
func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func nonNilBytes(s [][]byte) [][]byte {
	if s == nil {
		return [][]byte{}
	}
	return s
}
