package waiting

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/logistos-sync/logistos-sync/internal/sqstest"
	"github.com/logistos-sync/logistos-sync/shared/logistos"
	"github.com/logistos-sync/logistos-sync/shared/metrics"
	"github.com/logistos-sync/logistos-sync/shared/queue"
)

const (
	waitingURL = "https://sqs.ap-south-1.amazonaws.com/123456789012/waiting"
	waitingARN = "arn:aws:sqs:ap-south-1:123456789012:waiting"
	ordersURL  = "https://sqs.ap-south-1.amazonaws.com/123456789012/orders"
	ordersARN  = "arn:aws:sqs:ap-south-1:123456789012:orders"
	dlqURL     = "https://sqs.ap-south-1.amazonaws.com/123456789012/dlq"
)

// fakeSQS is the waiting queue with move tasks; what is sent (to the DLQ)
// is recorded by the embedded Sender.
type fakeSQS struct {
	sqstest.Sender
	mu       sync.Mutex
	waiting  []types.Message
	received []string // receipt handles, in order
	deleted  []string
	started  []*sqs.StartMessageMoveTaskInput
	running  bool
	err      error // fails GetQueueAttributes
	attrs    int   // GetQueueAttributes calls
}

func (f *fakeSQS) GetQueueAttributes(_ context.Context, in *sqs.GetQueueAttributesInput, _ ...func(*sqs.Options)) (*sqs.GetQueueAttributesOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.attrs++
	if f.err != nil {
		return nil, f.err
	}
	arn := map[string]string{waitingURL: waitingARN, ordersURL: ordersARN}[aws.ToString(in.QueueUrl)]
	return &sqs.GetQueueAttributesOutput{Attributes: map[string]string{
		"QueueArn": arn, "ApproximateNumberOfMessages": strconv.Itoa(len(f.waiting) - len(f.deleted)),
	}}, nil
}

func (f *fakeSQS) ReceiveMessage(_ context.Context, in *sqs.ReceiveMessageInput, _ ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, m := range f.waiting {
		h := aws.ToString(m.ReceiptHandle)
		if !slices.Contains(f.received, h) && !slices.Contains(f.deleted, h) {
			f.received = append(f.received, h)
			return &sqs.ReceiveMessageOutput{Messages: []types.Message{m}}, nil
		}
	}
	return &sqs.ReceiveMessageOutput{}, nil
}

func (f *fakeSQS) DeleteMessage(_ context.Context, in *sqs.DeleteMessageInput, _ ...func(*sqs.Options)) (*sqs.DeleteMessageOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.deleted = append(f.deleted, aws.ToString(in.ReceiptHandle))
	return &sqs.DeleteMessageOutput{}, nil
}

// ChangeMessageVisibility to 0 makes a received message receivable again.
func (f *fakeSQS) ChangeMessageVisibility(_ context.Context, in *sqs.ChangeMessageVisibilityInput, _ ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if in.VisibilityTimeout == 0 {
		f.received = slices.DeleteFunc(f.received, func(h string) bool { return h == aws.ToString(in.ReceiptHandle) })
	}
	return &sqs.ChangeMessageVisibilityOutput{}, nil
}

func (f *fakeSQS) StartMessageMoveTask(_ context.Context, in *sqs.StartMessageMoveTaskInput, _ ...func(*sqs.Options)) (*sqs.StartMessageMoveTaskOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.started = append(f.started, in)
	return &sqs.StartMessageMoveTaskOutput{TaskHandle: aws.String("t")}, nil
}

func (f *fakeSQS) ListMessageMoveTasks(_ context.Context, _ *sqs.ListMessageMoveTasksInput, _ ...func(*sqs.Options)) (*sqs.ListMessageMoveTasksOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.running {
		return &sqs.ListMessageMoveTasksOutput{}, nil
	}
	return &sqs.ListMessageMoveTasksOutput{Results: []types.ListMessageMoveTasksResultEntry{{Status: aws.String(queue.StatusRunning)}}}, nil
}

// poster answers every POST with err and records the payloads.
type poster struct {
	err  error
	sent []*logistos.Payload
}

func (p *poster) PostOrders(_ context.Context, pl *logistos.Payload) error {
	p.sent = append(p.sent, pl)
	return p.err
}

func order(t *testing.T) string {
	t.Helper()
	body, err := os.ReadFile("../../testdata/woocommerce/order-wc9-inr-cod.json")
	if err != nil {
		t.Fatal(err)
	}
	return string(body)
}

func message(n int, body string) types.Message {
	s := strconv.Itoa(n)
	return types.Message{
		MessageId: aws.String("m" + s), ReceiptHandle: aws.String("r" + s), Body: aws.String(body),
		MessageAttributes: map[string]types.MessageAttributeValue{
			queue.AttrOrigin: {DataType: aws.String("String"), StringValue: aws.String(queue.OriginWebhook)},
			queue.AttrTopic:  {DataType: aws.String("String"), StringValue: aws.String("order.created")},
		},
	}
}

func waitingOrders(t *testing.T, n int) []types.Message {
	ms := make([]types.Message, n)
	for i := range ms {
		ms[i] = message(i, order(t))
	}
	return ms
}

func releaser(f *fakeSQS, p Poster, logs io.Writer, m io.Writer) *Releaser {
	return &Releaser{
		SQS: f, WaitingURL: waitingURL, QueueURL: ordersURL, DLQURL: dlqURL, Logistos: p,
		StoreURL: "https://shop.example", Rate: 10,
		Log: slog.New(slog.NewJSONHandler(logs, nil)), Metrics: metrics.New(m, "reconcile"),
	}
}

var (
	down    = &logistos.Error{Op: "post orders", StatusCode: 503, Transient: true}
	refused = &logistos.Error{Op: "post orders", StatusCode: 422, Detail: "bad pincode"}
)

// While Logistos fails, a run costs it one POST and moves nothing.
func TestReleaseWhileDown(t *testing.T) {
	f := &fakeSQS{waiting: waitingOrders(t, 5)}
	p := &poster{err: down}
	var logs, emf bytes.Buffer
	rep, err := releaser(f, p, &logs, &emf).Release(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if rep.Outcome != OutcomeStillFailed || rep.Waiting != 5 || rep.Canary != "4821" {
		t.Errorf("report %+v, want still_failing with 5 waiting, canary 4821", rep)
	}
	if len(p.sent) != 1 || len(f.started) != 0 || len(f.deleted) != 0 || len(f.Sent()) != 0 {
		t.Errorf("%d POSTs, %d move tasks, %d deleted, %d dead-lettered; want 1, 0, 0, 0", len(p.sent), len(f.started), len(f.deleted), len(f.Sent()))
	}
	if emf.Len() != 0 {
		t.Errorf("metrics written while nothing moved: %s", emf.String())
	}
	// The failed canary is visible again, so a move task started before
	// it would have reappeared still takes it.
	if len(f.received) != 0 {
		t.Errorf("the failed canary stays hidden: %v", f.received)
	}
	if !strings.Contains(logs.String(), `"outcome":"still_failing"`) {
		t.Errorf("no warning logged: %s", logs.String())
	}
}

// Once the canary goes through, the others go back at the rate, to the
// orders queue, and the canary is not sent twice.
func TestReleaseWhenBack(t *testing.T) {
	f := &fakeSQS{waiting: waitingOrders(t, 5)}
	p := &poster{}
	var emf bytes.Buffer
	rep, err := releaser(f, p, io.Discard, &emf).Release(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if rep.Outcome != OutcomeReleased || rep.Moved != 4 {
		t.Errorf("report %+v, want released, 4 moved", rep)
	}
	if len(p.sent) != 1 || p.sent[0].Event != "order.created" || p.sent[0].StoreURL != "https://shop.example" {
		t.Fatalf("canary POSTs %+v, want one order.created for the shop", p.sent)
	}
	if len(f.deleted) != 1 || f.deleted[0] != "r0" {
		t.Errorf("deleted %v, want the canary r0", f.deleted)
	}
	if len(f.started) != 1 {
		t.Fatalf("%d move tasks, want 1", len(f.started))
	}
	in := f.started[0]
	if aws.ToString(in.SourceArn) != waitingARN || aws.ToString(in.DestinationArn) != ordersARN || aws.ToInt32(in.MaxNumberOfMessagesPerSecond) != 10 {
		t.Errorf("move task %s -> %s at %d/s, want %s -> %s at 10/s", aws.ToString(in.SourceArn), aws.ToString(in.DestinationArn),
			aws.ToInt32(in.MaxNumberOfMessagesPerSecond), waitingARN, ordersARN)
	}
	if !strings.Contains(emf.String(), `"OrdersReleased":4`) {
		t.Errorf("OrdersReleased not counted: %s", emf.String())
	}
}

// A refusal is an answer: Logistos is up. The refused canary goes to the
// DLQ (never re-sent by itself) and the others come back.
func TestReleaseCanaryRefused(t *testing.T) {
	f := &fakeSQS{waiting: waitingOrders(t, 3)}
	p := &poster{err: refused}
	rep, err := releaser(f, p, io.Discard, io.Discard).Release(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if rep.Outcome != OutcomeReleased || len(f.started) != 1 {
		t.Errorf("report %+v with %d move tasks, want released with 1", rep, len(f.started))
	}
	sent := f.Sent()
	if len(sent) != 1 || aws.ToString(sent[0].QueueUrl) != dlqURL {
		t.Fatalf("dead-lettered %d, want the canary on the DLQ", len(sent))
	}
	if got := aws.ToString(sent[0].MessageAttributes["failure-detail"].StringValue); got != "bad pincode" {
		t.Errorf("failure-detail %q, want Logistos's answer", got)
	}
	if len(f.deleted) != 1 {
		t.Errorf("deleted %v, want the canary", f.deleted)
	}
}

// An unreadable message says nothing of Logistos: it goes to the DLQ and
// the next one is the canary.
func TestReleaseSkipsUnreadable(t *testing.T) {
	f := &fakeSQS{waiting: append([]types.Message{message(9, "not json")}, waitingOrders(t, 2)...)}
	p := &poster{err: down}
	rep, err := releaser(f, p, io.Discard, io.Discard).Release(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if rep.Outcome != OutcomeStillFailed || len(p.sent) != 1 {
		t.Errorf("report %+v after %d POSTs, want still_failing after 1", rep, len(p.sent))
	}
	if len(f.Sent()) != 1 || !slices.Equal(f.deleted, []string{"r9"}) {
		t.Errorf("dead-lettered %d, deleted %v; want the unreadable r9 only", len(f.Sent()), f.deleted)
	}
}

func TestReleaseNothingToDo(t *testing.T) {
	tests := []struct {
		name    string
		f       *fakeSQS
		outcome string
		err     bool
	}{
		{"empty", &fakeSQS{}, OutcomeNone, false},
		{"a move task runs", &fakeSQS{waiting: waitingOrders(t, 2), running: true}, OutcomeMoving, false},
		{"SQS fails", &fakeSQS{waiting: waitingOrders(t, 2), err: errors.New("connection refused")}, OutcomeFailed, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &poster{}
			var logs bytes.Buffer
			rep, err := releaser(tt.f, p, &logs, io.Discard).Release(context.Background())
			if (err != nil) != tt.err || rep.Outcome != tt.outcome {
				t.Errorf("Release = %+v, %v; want %s (error %v)", rep, err, tt.outcome, tt.err)
			}
			if len(p.sent) != 0 || len(tt.f.started) != 0 {
				t.Errorf("%d POSTs and %d move tasks, want none", len(p.sent), len(tt.f.started))
			}
			if tt.outcome == OutcomeNone && logs.Len() != 0 {
				t.Errorf("a healthy run logged: %s", logs.String())
			}
		})
	}
}

// The queues' ARNs never change, so a warm container looks them up once:
// a run that finds orders waiting and Logistos back reads the waiting
// queue's count twice (how many wait, how many to move), and a later run
// while Logistos is down reads it once more, not the ARNs again.
func TestReleaseLooksUpTheARNsOnce(t *testing.T) {
	f := &fakeSQS{waiting: waitingOrders(t, 5)}
	p := &poster{}
	r := releaser(f, p, io.Discard, io.Discard)
	if rep, err := r.Release(context.Background()); err != nil || rep.Outcome != OutcomeReleased {
		t.Fatalf("%+v %v", rep, err)
	}
	if f.attrs != 3 {
		t.Errorf("first run: %d GetQueueAttributes, want 3 (the count, the orders queue's ARN, the count to move)", f.attrs)
	}
	f.attrs, f.waiting, f.deleted, p.err = 0, waitingOrders(t, 5), nil, down
	if rep, err := r.Release(context.Background()); err != nil || rep.Outcome != OutcomeStillFailed {
		t.Fatalf("%+v %v", rep, err)
	}
	if f.attrs != 1 {
		t.Errorf("second run: %d GetQueueAttributes, want the count alone", f.attrs)
	}
}
