package esm

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go"

	"github.com/logistos-sync/logistos-sync/internal/testwait"
	"github.com/logistos-sync/logistos-sync/local/stack"
	"github.com/logistos-sync/logistos-sync/local/stacktest"
	"github.com/logistos-sync/logistos-sync/local/syncbuf"
)

func TestMain(m *testing.M) { os.Exit(stacktest.RunTests(m)) }

// newStack gives a test queues of its own whose messages come back one
// second after a failure.
func newStack(t *testing.T) *stack.Stack {
	t.Helper()
	return stacktest.ForTest(t, stack.Options{VisibilityTimeout: 1, MaxReceiveCount: 100})
}

func send(t *testing.T, s *stack.Stack, bodies ...string) []string {
	t.Helper()
	var ids []string
	for _, b := range bodies {
		out, err := s.SQS.SendMessage(context.Background(), &sqs.SendMessageInput{
			QueueUrl: aws.String(s.QueueURL), MessageBody: aws.String(b),
			MessageAttributes: map[string]types.MessageAttributeValue{
				"wc-topic": {DataType: aws.String("String"), StringValue: aws.String("order.created")},
				"origin":   {DataType: aws.String("String"), StringValue: aws.String("webhook")},
			},
		})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, aws.ToString(out.MessageId))
	}
	return ids
}

func poller(s *stack.Stack, h Func) *Poller {
	return &Poller{
		Client: s.SQS, QueueURL: s.QueueURL, QueueARN: s.QueueARN, Region: stack.Region, Handler: h,
		Wait: -1, FunctionTimeout: 2 * time.Second, Log: slog.New(slog.NewTextHandler(os.Stderr, nil)),
	}
}

func depth(t *testing.T, s *stack.Stack) (int, int) {
	t.Helper()
	v, f, err := s.Depth(context.Background(), s.QueueURL)
	if err != nil {
		t.Fatal(err)
	}
	return v, f
}

func TestRecordShape(t *testing.T) {
	s := newStack(t)
	body := `{"id":313,"note":"\u092a \/"}`
	ids := send(t, s, body)
	var got events.SQSEvent
	res, err := poller(s, func(_ context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
		got = ev
		return events.SQSEventResponse{}, nil
	}).Poll(context.Background())
	if err != nil || res.Received != 1 || res.Deleted != 1 || len(res.Kept) != 0 {
		t.Fatalf("poll: %+v, %v", res, err)
	}
	r := got.Records[0]
	sum := md5.Sum([]byte(body))
	checks := []struct{ name, got, want string }{
		{"messageId", r.MessageId, ids[0]},
		{"body", r.Body, body},
		{"md5OfBody", r.Md5OfBody, hex.EncodeToString(sum[:])},
		{"eventSource", r.EventSource, "aws:sqs"},
		{"eventSourceARN", r.EventSourceARN, s.QueueARN},
		{"awsRegion", r.AWSRegion, stack.Region},
		{"ApproximateReceiveCount", r.Attributes["ApproximateReceiveCount"], "1"},
		{"wc-topic", aws.ToString(r.MessageAttributes["wc-topic"].StringValue), "order.created"},
		{"wc-topic type", r.MessageAttributes["wc-topic"].DataType, "String"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.name, c.got, c.want)
		}
	}
	if r.ReceiptHandle == "" || r.Attributes["SentTimestamp"] == "" {
		t.Errorf("receiptHandle %q, SentTimestamp %q", r.ReceiptHandle, r.Attributes["SentTimestamp"])
	}
	// Lambda's JSON: lists are [] and the string value is "stringValue".
	b, _ := json.Marshal(r)
	for _, want := range []string{`"stringValue":"order.created"`, `"stringListValues":[]`, `"dataType":"String"`, `"eventSource":"aws:sqs"`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("record JSON lacks %s: %s", want, b)
		}
	}
	if v, f := depth(t, s); v+f != 0 {
		t.Errorf("queue holds %d visible, %d in flight; want empty", v, f)
	}
}

func TestBatchOutcomes(t *testing.T) {
	// The timed-out handler is stuck until the test ends, so that it is
	// still running at the function timeout however slow the machine.
	stuck := make(chan struct{})
	t.Cleanup(func() { close(stuck) })
	cases := []struct {
		name     string
		handler  func(ev events.SQSEvent) (events.SQSEventResponse, error)
		wantKept int // of 3
	}{
		{"all done", func(events.SQSEvent) (events.SQSEventResponse, error) { return events.SQSEventResponse{}, nil }, 0},
		{"one reported", func(ev events.SQSEvent) (events.SQSEventResponse, error) {
			return events.SQSEventResponse{BatchItemFailures: []events.SQSBatchItemFailure{{ItemIdentifier: ev.Records[1].MessageId}}}, nil
		}, 1},
		{"handler error", func(events.SQSEvent) (events.SQSEventResponse, error) {
			return events.SQSEventResponse{}, errors.New("boom")
		}, 3},
		{"handler panic", func(events.SQSEvent) (events.SQSEventResponse, error) { panic("bug") }, 3},
		{"unknown item identifier", func(events.SQSEvent) (events.SQSEventResponse, error) {
			return events.SQSEventResponse{BatchItemFailures: []events.SQSBatchItemFailure{{ItemIdentifier: "nope"}}}, nil
		}, 3},
		{"empty item identifier", func(events.SQSEvent) (events.SQSEventResponse, error) {
			return events.SQSEventResponse{BatchItemFailures: []events.SQSBatchItemFailure{{}}}, nil
		}, 3},
		{"timeout", func(events.SQSEvent) (events.SQSEventResponse, error) {
			<-stuck
			return events.SQSEventResponse{}, nil
		}, 3},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := newStack(t)
			send(t, s, `{"id":1}`, `{"id":2}`, `{"id":3}`)
			p := poller(s, func(_ context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) { return tc.handler(ev) })
			p.BatchSize = 3
			res, err := p.Poll(context.Background())
			if err != nil || res.Received != 3 {
				t.Fatalf("poll: %+v, %v", res, err)
			}
			if len(res.Kept) != tc.wantKept || res.Deleted != 3-tc.wantKept {
				t.Fatalf("kept %d, deleted %d; want %d kept", len(res.Kept), res.Deleted, tc.wantKept)
			}
			// The queue holds exactly what was kept (in flight, or visible
			// again once the visibility timeout ended): what was deleted
			// cannot come back.
			if v, f := depth(t, s); v+f != tc.wantKept {
				t.Errorf("queue holds %d visible, %d in flight; want %d in all", v, f, tc.wantKept)
			}
			// What was kept comes back after the visibility timeout, once.
			var redelivered, again int
			second := poller(s, func(_ context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
				for _, r := range ev.Records {
					if r.Attributes["ApproximateReceiveCount"] == "2" {
						again++
					}
				}
				return events.SQSEventResponse{}, nil
			})
			testwait.Eventually(t, 30*time.Second, func() error {
				res, err := second.Poll(context.Background())
				if err != nil {
					return err
				}
				if redelivered += res.Received; redelivered < tc.wantKept {
					return fmt.Errorf("%d of %d kept messages redelivered", redelivered, tc.wantKept)
				}
				return nil
			})
			if again != tc.wantKept || redelivered != tc.wantKept {
				t.Errorf("redelivered %d (receive count 2: %d), want %d", redelivered, again, tc.wantKept)
			}
			if v, f := depth(t, s); v+f != 0 {
				t.Errorf("queue holds %d visible, %d in flight after the redelivery; want it empty", v, f)
			}
		})
	}
}

func TestBatchSize(t *testing.T) {
	s := newStack(t)
	for i := range 12 {
		send(t, s, fmt.Sprintf(`{"id":%d}`, i))
	}
	var sizes []int
	p := poller(s, func(_ context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
		sizes = append(sizes, len(ev.Records))
		return events.SQSEventResponse{}, nil
	})
	for range 2 {
		if _, err := p.Poll(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if len(sizes) != 2 || sizes[0] != MaxBatchSize || sizes[1] != 2 {
		t.Errorf("batch sizes %v, want [10 2]", sizes)
	}
}

func TestRunFinishesBatchOnCancel(t *testing.T) {
	s := newStack(t)
	send(t, s, `{"id":1}`)
	ctx, cancel := context.WithCancel(context.Background())
	started, cancelled := make(chan struct{}), make(chan struct{})
	var finished atomic.Bool
	p := poller(s, func(hctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
		close(started)
		<-cancelled // still working when Run is cancelled
		if hctx.Err() != nil {
			return events.SQSEventResponse{}, hctx.Err()
		}
		finished.Store(true)
		return events.SQSEventResponse{}, nil
	})
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	<-started
	cancel()
	close(cancelled)
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	if !finished.Load() {
		t.Error("the batch in flight was cut short")
	}
	if v, f := depth(t, s); v+f != 0 {
		t.Errorf("queue holds %d visible, %d in flight; the finished batch was not deleted", v, f)
	}
}

func TestRunSurvivesReceiveErrors(t *testing.T) {
	s := newStack(t)
	p := poller(s, func(context.Context, events.SQSEvent) (events.SQSEventResponse, error) {
		return events.SQSEventResponse{}, nil
	})
	p.QueueURL = s.QueueURL + "-missing"
	logs := &syncbuf.Buffer{}
	p.Log = slog.New(slog.NewTextHandler(logs, nil))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	// Run keeps polling after a failed receive: a second one fails too.
	testwait.Eventually(t, 30*time.Second, func() error {
		if n := strings.Count(logs.String(), "sqs receive failed"); n < 2 {
			select {
			case err := <-done:
				t.Fatalf("Run returned %v after %d failed receives", err, n)
			default:
			}
			return fmt.Errorf("%d failed receives logged, want 2", n)
		}
		return nil
	})
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if _, err := p.Poll(context.Background()); err == nil {
		t.Error("Poll of a missing queue: no error")
	}
}

// flakyReceiver fails receives as told, then cancels the run.
type flakyReceiver struct {
	errs   []error // the answer to each receive, in turn; nil = empty
	calls  int
	cancel context.CancelFunc
}

func (f *flakyReceiver) ReceiveMessage(context.Context, *sqs.ReceiveMessageInput, ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error) {
	f.calls++
	if f.calls >= len(f.errs) {
		f.cancel()
	}
	if f.calls > len(f.errs) {
		return &sqs.ReceiveMessageOutput{}, nil
	}
	if err := f.errs[f.calls-1]; err != nil {
		return nil, err
	}
	return &sqs.ReceiveMessageOutput{}, nil
}

func (f *flakyReceiver) DeleteMessageBatch(context.Context, *sqs.DeleteMessageBatchInput, ...func(*sqs.Options)) (*sqs.DeleteMessageBatchOutput, error) {
	return &sqs.DeleteMessageBatchOutput{}, nil
}

// A receive cut short once (a client of the emulator went away) is
// retried without a warning; a failure that repeats, or a refusal, warns.
func TestRunRetriesACutShortReceiveQuietly(t *testing.T) {
	eof := &smithy.OperationError{ServiceID: "SQS", OperationName: "ReceiveMessage",
		Err: &smithy.DeserializationError{Err: io.ErrUnexpectedEOF}}
	refused := errors.New("AWS.SimpleQueueService.NonExistentQueue")
	for _, tc := range []struct {
		name  string
		errs  []error
		warns int
	}{
		{"cut short once", []error{eof, nil}, 0},
		{"cut short between good receives", []error{nil, eof, nil, eof, nil}, 0},
		{"cut short twice in a row", []error{eof, eof, nil}, 1},
		{"refused", []error{refused, nil}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			logs := &syncbuf.Buffer{}
			f := &flakyReceiver{errs: tc.errs, cancel: cancel}
			p := &Poller{Client: f, QueueURL: "q", Wait: time.Second, Handler: func(context.Context, events.SQSEvent) (events.SQSEventResponse, error) {
				return events.SQSEventResponse{}, nil
			}, Log: slog.New(slog.NewTextHandler(logs, nil))}
			if err := p.Run(ctx); err != nil {
				t.Fatal(err)
			}
			if n := strings.Count(logs.String(), "sqs receive failed"); n != tc.warns || f.calls != len(tc.errs) {
				t.Errorf("%d receives, %d warnings, want %d, %d:\n%s", f.calls, n, len(tc.errs), tc.warns, logs.String())
			}
		})
	}
}
