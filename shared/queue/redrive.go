package queue

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// RedriveAPI is the part of the SQS client a Redriver uses.
type RedriveAPI interface {
	GetQueueAttributes(ctx context.Context, in *sqs.GetQueueAttributesInput, opts ...func(*sqs.Options)) (*sqs.GetQueueAttributesOutput, error)
	StartMessageMoveTask(ctx context.Context, in *sqs.StartMessageMoveTaskInput, opts ...func(*sqs.Options)) (*sqs.StartMessageMoveTaskOutput, error)
	ListMessageMoveTasks(ctx context.Context, in *sqs.ListMessageMoveTasksInput, opts ...func(*sqs.Options)) (*sqs.ListMessageMoveTasksOutput, error)
	ReceiveMessage(ctx context.Context, in *sqs.ReceiveMessageInput, opts ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error)
	SendMessage(ctx context.Context, in *sqs.SendMessageInput, opts ...func(*sqs.Options)) (*sqs.SendMessageOutput, error)
	DeleteMessage(ctx context.Context, in *sqs.DeleteMessageInput, opts ...func(*sqs.Options)) (*sqs.DeleteMessageOutput, error)
}

// How a redrive moves messages.
const (
	// MethodMoveTask is SQS's own StartMessageMoveTask, run by SQS.
	MethodMoveTask = "move-task"
	// MethodCopy receives, sends and deletes each message: for emulators
	// without move tasks (kumo answers InvalidAction).
	MethodCopy = "copy"
)

// Move task statuses as ListMessageMoveTasks reports them.
const (
	StatusRunning    = "RUNNING"
	StatusCompleted  = "COMPLETED"
	StatusCancelling = "CANCELLING"
	StatusCancelled  = "CANCELLED"
	StatusFailed     = "FAILED"
)

const (
	// DefaultPollInterval is how often a move task's progress is read.
	DefaultPollInterval = 2 * time.Second
	// MaxRedriveRate is StartMessageMoveTask's limit on messages per second.
	MaxRedriveRate = 500
	// copyWait is the long-poll wait of the copy fallback: short, because
	// an emulator may not wake a long poll, and an empty answer ends the copy.
	copyWait = 1
	// copyVisibility hides a received message while it is copied; if the
	// copy fails it reappears in the DLQ after this many seconds.
	copyVisibility = 60
)

// RedriveProgress is how far a redrive has come.
type RedriveProgress struct {
	Method string // MethodMoveTask or MethodCopy
	Status string // a Status* value
	Moved  int64
	Total  int64 // messages in the DLQ when the redrive started
}

// Redriver moves the messages of a dead-letter queue back to the orders
// queue.
type Redriver struct {
	Client   RedriveAPI
	DLQURL   string
	QueueURL string
	// Rate caps messages moved per second by a move task (at most
	// MaxRedriveRate); zero lets SQS choose.
	Rate int32
	// PollInterval is how often a move task's progress is read;
	// DefaultPollInterval when zero.
	PollInterval time.Duration
	// Progress, when set, receives each progress report.
	Progress func(RedriveProgress)

	// arns are the queues' ARNs, looked up once: they never change for a
	// URL, and a Redriver kept for the life of a container (reconcile's)
	// would otherwise ask for them on every run.
	mu   sync.Mutex
	arns map[string]string
}

// Pending is how many messages are visible in the DLQ.
func (r *Redriver) Pending(ctx context.Context) (int64, error) {
	dlq, err := r.attributes(ctx, r.DLQURL)
	if err != nil {
		return 0, err
	}
	n, _ := strconv.ParseInt(dlq[string(types.QueueAttributeNameApproximateNumberOfMessages)], 10, 64)
	return n, nil
}

// Redrive moves every message in the DLQ to the orders queue and returns
// the final progress. It starts an SQS message move task with the orders
// queue as explicit destination (messages the forwarder dead-lettered itself
// were sent to the DLQ, so SQS does not know their source) and waits for it
// to finish; where move tasks do not exist it copies the messages itself.
func (r *Redriver) Redrive(ctx context.Context) (RedriveProgress, error) {
	p, source, err := r.start(ctx)
	if err != nil || p.Status != StatusRunning {
		return p, err
	}
	return r.wait(ctx, source, p)
}

// Start is Redrive without the wait: it returns once SQS runs the move
// task (Status StatusRunning, Total the messages it found), or, where move
// tasks do not exist, once the copy is done.
func (r *Redriver) Start(ctx context.Context) (RedriveProgress, error) {
	p, _, err := r.start(ctx)
	return p, err
}

// Running reports whether a move task out of the DLQ is running; false
// where move tasks do not exist.
func (r *Redriver) Running(ctx context.Context) (bool, error) {
	arn, err := r.arn(ctx, r.DLQURL)
	if err != nil {
		return false, fmt.Errorf("source queue: %w", err)
	}
	out, err := r.Client.ListMessageMoveTasks(ctx, &sqs.ListMessageMoveTasksInput{SourceArn: &arn, MaxResults: aws.Int32(1)})
	if unsupported(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("list message move tasks: %w", err)
	}
	return len(out.Results) > 0 && aws.ToString(out.Results[0].Status) == StatusRunning, nil
}

// start starts the move task, or copies, and returns the DLQ's ARN.
func (r *Redriver) start(ctx context.Context) (RedriveProgress, string, error) {
	if r.Rate < 0 || r.Rate > MaxRedriveRate {
		return RedriveProgress{}, "", fmt.Errorf("redrive rate %d: want 0 (SQS chooses) to %d messages per second", r.Rate, MaxRedriveRate)
	}
	dlq, err := r.attributes(ctx, r.DLQURL)
	if err != nil {
		return RedriveProgress{}, "", fmt.Errorf("dead-letter queue: %w", err)
	}
	destARN, err := r.arn(ctx, r.QueueURL)
	if err != nil {
		return RedriveProgress{}, "", fmt.Errorf("orders queue: %w", err)
	}
	total, _ := strconv.ParseInt(dlq[string(types.QueueAttributeNameApproximateNumberOfMessages)], 10, 64)
	p := RedriveProgress{Method: MethodMoveTask, Total: total}
	if total == 0 {
		p.Status = StatusCompleted
		return p, "", nil
	}
	in := &sqs.StartMessageMoveTaskInput{
		SourceArn:      aws.String(dlq[string(types.QueueAttributeNameQueueArn)]),
		DestinationArn: aws.String(destARN),
	}
	if r.Rate > 0 {
		in.MaxNumberOfMessagesPerSecond = aws.Int32(r.Rate)
	}
	if _, err := r.Client.StartMessageMoveTask(ctx, in); err != nil {
		if !unsupported(err) {
			return p, "", fmt.Errorf("start message move task: %w", err)
		}
		p.Method = MethodCopy
		p, err = r.copy(ctx, p)
		return p, "", err
	}
	p.Status = StatusRunning
	return p, aws.ToString(in.SourceArn), nil
}

// unsupported reports whether err says the endpoint has no such action,
// as emulators answer for move tasks.
func unsupported(err error) bool {
	var coded interface{ ErrorCode() string }
	if !errors.As(err, &coded) {
		return false
	}
	switch coded.ErrorCode() {
	case "InvalidAction", "UnknownOperationException", "NotImplemented":
		return true
	}
	return false
}

// wait follows the move task started on source until it ends.
func (r *Redriver) wait(ctx context.Context, source string, p RedriveProgress) (RedriveProgress, error) {
	interval := r.PollInterval
	if interval <= 0 {
		interval = DefaultPollInterval
	}
	for {
		out, err := r.Client.ListMessageMoveTasks(ctx, &sqs.ListMessageMoveTasksInput{SourceArn: &source, MaxResults: aws.Int32(1)})
		if err != nil {
			return p, fmt.Errorf("list message move tasks: %w", err)
		}
		// Only one task can run per source queue, and the newest comes first.
		if len(out.Results) > 0 {
			t := out.Results[0]
			p.Status, p.Moved = aws.ToString(t.Status), t.ApproximateNumberOfMessagesMoved
			if t.ApproximateNumberOfMessagesToMove != nil {
				p.Total = *t.ApproximateNumberOfMessagesToMove
			}
			r.report(p)
			switch p.Status {
			case StatusCompleted:
				return p, nil
			case StatusFailed:
				return p, fmt.Errorf("message move task failed after %d of %d messages: %s", p.Moved, p.Total, aws.ToString(t.FailureReason))
			case StatusCancelled:
				return p, fmt.Errorf("message move task was cancelled after %d of %d messages", p.Moved, p.Total)
			}
		}
		select {
		case <-ctx.Done():
			return p, fmt.Errorf("stopped waiting (the move task goes on in SQS): %w", ctx.Err())
		case <-time.After(interval):
		}
	}
}

// copy moves at most p.Total messages one by one: send to the orders queue,
// then delete from the DLQ, so a failure can duplicate an order (Logistos
// de-duplicates on the Idempotency-Key) but never lose one. The bound keeps
// an order that fails again from circling for ever.
func (r *Redriver) copy(ctx context.Context, p RedriveProgress) (RedriveProgress, error) {
	p.Status = StatusRunning
	r.report(p)
	for p.Moved < p.Total {
		out, err := r.Client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
			QueueUrl:              &r.DLQURL,
			MaxNumberOfMessages:   int32(min(p.Total-p.Moved, MaxBatchEntries)),
			WaitTimeSeconds:       copyWait,
			VisibilityTimeout:     copyVisibility,
			MessageAttributeNames: []string{"All"},
		})
		if err != nil {
			return p, fmt.Errorf("receive from the dead-letter queue after %d of %d: %w", p.Moved, p.Total, err)
		}
		if len(out.Messages) == 0 {
			break // drained sooner than counted: someone else took some
		}
		for _, m := range out.Messages {
			if _, err := r.Client.SendMessage(ctx, &sqs.SendMessageInput{
				QueueUrl:          &r.QueueURL,
				MessageBody:       m.Body,
				MessageAttributes: withoutFailure(m.MessageAttributes),
			}); err != nil {
				return p, fmt.Errorf("send message %s to the orders queue (it stays in the DLQ): %w", aws.ToString(m.MessageId), err)
			}
			if _, err := r.Client.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: &r.DLQURL, ReceiptHandle: m.ReceiptHandle}); err != nil {
				return p, fmt.Errorf("delete message %s from the DLQ (it is now in both queues): %w", aws.ToString(m.MessageId), err)
			}
			p.Moved++
		}
		r.report(p)
	}
	p.Status = StatusCompleted
	r.report(p)
	return p, nil
}

// withoutFailure copies a message's attributes minus the forwarder's failure-* ones.
func withoutFailure(in map[string]types.MessageAttributeValue) map[string]types.MessageAttributeValue {
	out := make(map[string]types.MessageAttributeValue, len(in))
	for k, v := range in {
		if !strings.HasPrefix(k, AttrFailurePrefix) {
			out[k] = v
		}
	}
	return out
}

func (r *Redriver) attributes(ctx context.Context, url string) (map[string]string, error) {
	if url == "" {
		return nil, errors.New("no queue URL")
	}
	out, err := r.Client.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
		QueueUrl: &url,
		AttributeNames: []types.QueueAttributeName{
			types.QueueAttributeNameQueueArn, types.QueueAttributeNameApproximateNumberOfMessages,
		},
	})
	if err != nil {
		return nil, fmt.Errorf("attributes of %s: %w", url, err)
	}
	arn := out.Attributes[string(types.QueueAttributeNameQueueArn)]
	if arn == "" {
		return nil, fmt.Errorf("attributes of %s: no QueueArn", url)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.arns == nil {
		r.arns = map[string]string{}
	}
	r.arns[url] = arn
	return out.Attributes, nil
}

// arn is the queue's ARN, looked up once.
func (r *Redriver) arn(ctx context.Context, url string) (string, error) {
	r.mu.Lock()
	arn, ok := r.arns[url]
	r.mu.Unlock()
	if ok {
		return arn, nil
	}
	attrs, err := r.attributes(ctx, url)
	if err != nil {
		return "", err
	}
	return attrs[string(types.QueueAttributeNameQueueArn)], nil
}

func (r *Redriver) report(p RedriveProgress) {
	if r.Progress != nil {
		r.Progress(p)
	}
}
