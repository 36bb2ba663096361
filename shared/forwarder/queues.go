package forwarder

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/logistos-sync/logistos-sync/shared/logistos"
	"github.com/logistos-sync/logistos-sync/shared/queue"
)

// deadlineRetryDelay is how soon a record not attempted for lack of time in
// its invocation comes back: it never reached Logistos, so it says nothing
// about Logistos and owes no backoff.
const deadlineRetryDelay = 5 * time.Second

// SQSAPI is the part of the SQS client the forwarder uses.
type SQSAPI interface {
	SendMessage(ctx context.Context, in *sqs.SendMessageInput, opts ...func(*sqs.Options)) (*sqs.SendMessageOutput, error)
	ChangeMessageVisibility(ctx context.Context, in *sqs.ChangeMessageVisibilityInput, opts ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityOutput, error)
	GetQueueUrl(ctx context.Context, in *sqs.GetQueueUrlInput, opts ...func(*sqs.Options)) (*sqs.GetQueueUrlOutput, error)
}

// Queues is the forwarder's side of SQS: the DLQ, and visibility changes on
// the queue records came from.
type Queues struct {
	Client SQSAPI
	DLQURL string

	urls sync.Map // event source ARN → queue URL
}

// DeadLetter sends a record to the DLQ as it was queued, with the reason
// (queue.DeadLetter's format). attrs are the record's String attributes.
func (q *Queues) DeadLetter(ctx context.Context, rec *events.SQSMessage, attrs map[string]string, reason error) error {
	if _, err := q.Client.SendMessage(ctx, queue.DeadLetter(q.DLQURL, rec.Body, attrs, logistos.Refusal(reason))); err != nil {
		return fmt.Errorf("send to DLQ: %w", err)
	}
	return nil
}

// Backoff makes a failed record invisible for d from now. It is best effort:
// if it fails, the record still comes back after the queue's visibility
// timeout, so the failure is only logged.
func (q *Queues) Backoff(ctx context.Context, log *slog.Logger, rec *events.SQSMessage, d time.Duration) {
	url, err := q.url(ctx, rec.EventSourceARN)
	if err == nil {
		_, err = q.Client.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{
			QueueUrl: &url, ReceiptHandle: &rec.ReceiptHandle, VisibilityTimeout: int32(d / time.Second),
		})
	}
	if err != nil {
		log.LogAttrs(ctx, slog.LevelWarn, "backoff not applied", slog.String("message_id", rec.MessageId), slog.String("error", err.Error()))
	}
}

// url finds a queue's URL from its ARN (arn:aws:sqs:region:account:name),
// once per cold start.
func (q *Queues) url(ctx context.Context, arn string) (string, error) {
	if u, ok := q.urls.Load(arn); ok {
		return u.(string), nil
	}
	parts := strings.Split(arn, ":")
	if len(parts) != 6 || parts[2] != "sqs" {
		return "", fmt.Errorf("event source %q is not an SQS queue ARN", arn)
	}
	out, err := q.Client.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: &parts[5], QueueOwnerAWSAccountId: &parts[4]})
	if err != nil {
		return "", fmt.Errorf("queue url of %s: %w", parts[5], err)
	}
	q.urls.Store(arn, aws.ToString(out.QueueUrl))
	return aws.ToString(out.QueueUrl), nil
}
