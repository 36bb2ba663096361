package queue

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/logistos-sync/logistos-sync/internal/sqstest"
)

const (
	testDLQURL   = "https://sqs.us-east-1.amazonaws.com/123456789012/orders-dlq"
	testDLQARN   = "arn:aws:sqs:us-east-1:123456789012:orders-dlq"
	testQueueURL = "https://sqs.us-east-1.amazonaws.com/123456789012/orders"
	testQueueARN = "arn:aws:sqs:us-east-1:123456789012:orders"
)

// codedError is an SQS error as the SDK returns it.
type codedError struct{ code string }

func (e codedError) Error() string     { return "api error " + e.code }
func (e codedError) ErrorCode() string { return e.code }

// redriveSQS is two queues and a scripted move task; the orders queue is
// a sqstest.Sender (sent messages in Sent, Err fails sends).
type redriveSQS struct {
	sqstest.Sender
	mu       sync.Mutex
	dlq      []types.Message
	startErr error
	started  []*sqs.StartMessageMoveTaskInput
	tasks    []types.ListMessageMoveTasksResultEntry // returned one per call, the last repeated
	lists    int
	deleted  []string
}

func (f *redriveSQS) GetQueueAttributes(_ context.Context, in *sqs.GetQueueAttributesInput, _ ...func(*sqs.Options)) (*sqs.GetQueueAttributesOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch aws.ToString(in.QueueUrl) {
	case testDLQURL:
		return &sqs.GetQueueAttributesOutput{Attributes: map[string]string{"QueueArn": testDLQARN, "ApproximateNumberOfMessages": strconv.Itoa(len(f.dlq))}}, nil
	case testQueueURL:
		return &sqs.GetQueueAttributesOutput{Attributes: map[string]string{"QueueArn": testQueueARN, "ApproximateNumberOfMessages": strconv.Itoa(len(f.Sent()))}}, nil
	}
	return nil, codedError{"AWS.SimpleQueueService.NonExistentQueue"}
}

func (f *redriveSQS) StartMessageMoveTask(_ context.Context, in *sqs.StartMessageMoveTaskInput, _ ...func(*sqs.Options)) (*sqs.StartMessageMoveTaskOutput, error) {
	f.started = append(f.started, in)
	if f.startErr != nil {
		return nil, f.startErr
	}
	return &sqs.StartMessageMoveTaskOutput{TaskHandle: aws.String("handle-1")}, nil
}

func (f *redriveSQS) ListMessageMoveTasks(_ context.Context, in *sqs.ListMessageMoveTasksInput, _ ...func(*sqs.Options)) (*sqs.ListMessageMoveTasksOutput, error) {
	if aws.ToString(in.SourceArn) != testDLQARN {
		return nil, codedError{"ResourceNotFoundException"}
	}
	i := min(f.lists, len(f.tasks)-1)
	f.lists++
	return &sqs.ListMessageMoveTasksOutput{Results: []types.ListMessageMoveTasksResultEntry{f.tasks[i]}}, nil
}

func (f *redriveSQS) ReceiveMessage(_ context.Context, in *sqs.ReceiveMessageInput, _ ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []types.Message
	for _, m := range f.dlq {
		if len(out) == int(in.MaxNumberOfMessages) {
			break
		}
		if !slices.Contains(f.deleted, aws.ToString(m.ReceiptHandle)) {
			out = append(out, m)
		}
	}
	return &sqs.ReceiveMessageOutput{Messages: out}, nil
}

func (f *redriveSQS) DeleteMessage(_ context.Context, in *sqs.DeleteMessageInput, _ ...func(*sqs.Options)) (*sqs.DeleteMessageOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.deleted = append(f.deleted, aws.ToString(in.ReceiptHandle))
	return &sqs.DeleteMessageOutput{}, nil
}

func dlqMessages(n int) []types.Message {
	ms := make([]types.Message, n)
	for i := range ms {
		id := strconv.Itoa(i)
		ms[i] = types.Message{
			MessageId: aws.String("m" + id), ReceiptHandle: aws.String("r" + id), Body: aws.String(`{"id":` + id + `}`),
			MessageAttributes: map[string]types.MessageAttributeValue{
				AttrTopic:           {DataType: aws.String("String"), StringValue: aws.String("order.created")},
				"failure-class":     {DataType: aws.String("String"), StringValue: aws.String("permanent")},
				"failure-reason":    {DataType: aws.String("String"), StringValue: aws.String("logistos: 422")},
				AttrContentEncoding: {DataType: aws.String("String"), StringValue: aws.String("gzip")},
			},
		}
	}
	return ms
}

func task(status string, moved, total int64) types.ListMessageMoveTasksResultEntry {
	return types.ListMessageMoveTasksResultEntry{
		Status: aws.String(status), ApproximateNumberOfMessagesMoved: moved, ApproximateNumberOfMessagesToMove: aws.Int64(total),
		SourceArn: aws.String(testDLQARN), DestinationArn: aws.String(testQueueARN),
	}
}

func TestRedriveMoveTask(t *testing.T) {
	f := &redriveSQS{dlq: dlqMessages(10), tasks: []types.ListMessageMoveTasksResultEntry{
		task(StatusRunning, 0, 10), task(StatusRunning, 6, 10), task(StatusCompleted, 10, 10),
	}}
	var reports []RedriveProgress
	r := &Redriver{Client: f, DLQURL: testDLQURL, QueueURL: testQueueURL, Rate: 50, PollInterval: time.Millisecond,
		Progress: func(p RedriveProgress) { reports = append(reports, p) }}
	got, err := r.Redrive(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(f.started) != 1 {
		t.Fatalf("started %d move tasks, want 1", len(f.started))
	}
	in := f.started[0]
	// The destination must be explicit: SQS only knows a source for messages
	// it dead-lettered itself, not for those the forwarder sent.
	if aws.ToString(in.SourceArn) != testDLQARN || aws.ToString(in.DestinationArn) != testQueueARN {
		t.Errorf("move task %s -> %s, want %s -> %s", aws.ToString(in.SourceArn), aws.ToString(in.DestinationArn), testDLQARN, testQueueARN)
	}
	if aws.ToInt32(in.MaxNumberOfMessagesPerSecond) != 50 {
		t.Errorf("rate %d, want 50", aws.ToInt32(in.MaxNumberOfMessagesPerSecond))
	}
	want := RedriveProgress{Method: MethodMoveTask, Status: StatusCompleted, Moved: 10, Total: 10}
	if got != want {
		t.Errorf("result %+v, want %+v", got, want)
	}
	if len(reports) != 3 || reports[1].Moved != 6 || reports[1].Status != StatusRunning {
		t.Errorf("progress reports %+v, want RUNNING 0/10, RUNNING 6/10, COMPLETED 10/10", reports)
	}
	if len(f.Sent()) != 0 || len(f.deleted) != 0 {
		t.Errorf("the move task path copied messages itself (%d sent, %d deleted)", len(f.Sent()), len(f.deleted))
	}
}

func TestRedriveMoveTaskEnds(t *testing.T) {
	failed := task(StatusFailed, 3, 10)
	failed.FailureReason = aws.String("AWS.SimpleQueueService.NonExistentQueue")
	tests := []struct {
		name    string
		last    types.ListMessageMoveTasksResultEntry
		wantErr string
	}{
		{"failed", failed, "failed after 3 of 10 messages: AWS.SimpleQueueService.NonExistentQueue"},
		{"cancelled", task(StatusCancelled, 4, 10), "cancelled after 4 of 10"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &redriveSQS{dlq: dlqMessages(10), tasks: []types.ListMessageMoveTasksResultEntry{task(StatusRunning, 1, 10), tt.last}}
			r := &Redriver{Client: f, DLQURL: testDLQURL, QueueURL: testQueueURL, PollInterval: time.Millisecond}
			p, err := r.Redrive(context.Background())
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err %v, want one containing %q", err, tt.wantErr)
			}
			if p.Status != aws.ToString(tt.last.Status) || p.Moved != tt.last.ApproximateNumberOfMessagesMoved {
				t.Errorf("progress %+v does not reflect the task's end", p)
			}
			if f.started[0].MaxNumberOfMessagesPerSecond != nil {
				t.Error("a rate was sent although none was set; SQS should choose")
			}
		})
	}
}

func TestRedriveStopsWaitingWithContext(t *testing.T) {
	f := &redriveSQS{dlq: dlqMessages(2), tasks: []types.ListMessageMoveTasksResultEntry{task(StatusRunning, 0, 2)}}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	r := &Redriver{Client: f, DLQURL: testDLQURL, QueueURL: testQueueURL, PollInterval: time.Millisecond}
	if _, err := r.Redrive(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err %v, want the context's deadline", err)
	}
}

func TestRedriveFallsBackToCopyOnlyWhenMoveTasksDoNotExist(t *testing.T) {
	tests := []struct {
		name     string
		startErr error
		wantCopy bool
	}{
		{"emulator without move tasks", codedError{"InvalidAction"}, true},
		{"access denied", codedError{"AccessDenied"}, false},
		{"source is not a DLQ", codedError{"InvalidParameterValue"}, false},
		{"network", errors.New("dial tcp: connection refused"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &redriveSQS{dlq: dlqMessages(12), startErr: tt.startErr}
			r := &Redriver{Client: f, DLQURL: testDLQURL, QueueURL: testQueueURL}
			p, err := r.Redrive(context.Background())
			if !tt.wantCopy {
				if err == nil || len(f.Sent()) != 0 {
					t.Fatalf("err %v, %d copied: want the error and no copy", err, len(f.Sent()))
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if p != (RedriveProgress{Method: MethodCopy, Status: StatusCompleted, Moved: 12, Total: 12}) {
				t.Errorf("progress %+v", p)
			}
			if len(f.Sent()) != 12 || len(f.deleted) != 12 {
				t.Fatalf("%d sent, %d deleted, want 12 each", len(f.Sent()), len(f.deleted))
			}
			for _, in := range f.Sent() {
				if aws.ToString(in.QueueUrl) != testQueueURL {
					t.Errorf("sent to %s", aws.ToString(in.QueueUrl))
				}
				if _, ok := in.MessageAttributes[AttrContentEncoding]; !ok {
					t.Error("content-encoding dropped: the forwarder could not decode the body")
				}
				for k := range in.MessageAttributes {
					if strings.HasPrefix(k, AttrFailurePrefix) {
						t.Errorf("attribute %s copied back to the orders queue", k)
					}
				}
			}
		})
	}
}

func TestRedriveCopyKeepsAMessageItCannotSend(t *testing.T) {
	f := &redriveSQS{dlq: dlqMessages(3), startErr: codedError{"InvalidAction"}, Sender: sqstest.Sender{Err: codedError{"ServiceUnavailable"}}}
	r := &Redriver{Client: f, DLQURL: testDLQURL, QueueURL: testQueueURL}
	if _, err := r.Redrive(context.Background()); err == nil || !strings.Contains(err.Error(), "stays in the DLQ") {
		t.Fatalf("err %v", err)
	}
	if len(f.deleted) != 0 {
		t.Errorf("deleted %d messages that were not sent", len(f.deleted))
	}
}

func TestRedriveEmptyDLQStartsNothing(t *testing.T) {
	f := &redriveSQS{}
	r := &Redriver{Client: f, DLQURL: testDLQURL, QueueURL: testQueueURL}
	p, err := r.Redrive(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(f.started) != 0 || p.Status != StatusCompleted || p.Total != 0 {
		t.Errorf("empty DLQ: %d tasks started, progress %+v", len(f.started), p)
	}
}

func TestRedriveBadSettings(t *testing.T) {
	tests := []struct {
		name string
		r    *Redriver
		want string
	}{
		{"rate too high", &Redriver{DLQURL: testDLQURL, QueueURL: testQueueURL, Rate: MaxRedriveRate + 1}, "redrive rate"},
		{"no DLQ", &Redriver{QueueURL: testQueueURL}, "dead-letter queue: no queue URL"},
		{"unknown queue", &Redriver{DLQURL: testDLQURL, QueueURL: "https://sqs.us-east-1.amazonaws.com/123456789012/nope"}, "NonExistentQueue"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &redriveSQS{dlq: dlqMessages(1)}
			tt.r.Client = f
			if _, err := tt.r.Redrive(context.Background()); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err %v, want %q", err, tt.want)
			}
			if len(f.started) != 0 {
				t.Error("a move task started despite the bad settings")
			}
		})
	}
}

// Start leaves SQS to run the task: it must neither wait for it nor copy.
func TestRedriveStartDoesNotWait(t *testing.T) {
	f := &redriveSQS{dlq: dlqMessages(4), tasks: []types.ListMessageMoveTasksResultEntry{task(StatusRunning, 0, 4)}}
	r := &Redriver{Client: f, DLQURL: testDLQURL, QueueURL: testQueueURL, Rate: 10}
	got, err := r.Start(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := RedriveProgress{Method: MethodMoveTask, Status: StatusRunning, Total: 4}
	if got != want || len(f.started) != 1 || f.lists != 0 {
		t.Errorf("Start = %+v with %d tasks started and %d lists, want %+v, 1 started, no list", got, len(f.started), f.lists, want)
	}
	if len(f.Sent()) != 0 {
		t.Errorf("Start copied %d messages itself", len(f.Sent()))
	}
}

func TestRedriveRunning(t *testing.T) {
	tests := []struct {
		name  string
		tasks []types.ListMessageMoveTasksResultEntry
		want  bool
	}{
		{"running", []types.ListMessageMoveTasksResultEntry{task(StatusRunning, 1, 4)}, true},
		{"completed", []types.ListMessageMoveTasksResultEntry{task(StatusCompleted, 4, 4)}, false},
		{"cancelled", []types.ListMessageMoveTasksResultEntry{task(StatusCancelled, 0, 4)}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &Redriver{Client: &redriveSQS{dlq: dlqMessages(4), tasks: tt.tasks}, DLQURL: testDLQURL, QueueURL: testQueueURL}
			got, err := r.Running(context.Background())
			if err != nil || got != tt.want {
				t.Errorf("Running = %v, %v; want %v", got, err, tt.want)
			}
		})
	}
}
