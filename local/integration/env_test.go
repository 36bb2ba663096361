// Package integration runs the hot path (webhook → SQS → forwarder →
// Logistos) in one process: the real handlers and AWS SDK against embedded
// kumo, the webhook behind the API Gateway emulation, the forwarder fed by
// the emulated event source mapping, and a fake Logistos with faults.
package integration

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/logistos-sync/logistos-sync/internal/testwait"
	"github.com/logistos-sync/logistos-sync/local/esm"
	"github.com/logistos-sync/logistos-sync/local/fakelogistos"
	"github.com/logistos-sync/logistos-sync/local/pipeline"
	"github.com/logistos-sync/logistos-sync/local/stack"
	"github.com/logistos-sync/logistos-sync/local/stacktest"
	"github.com/logistos-sync/logistos-sync/local/syncbuf"
	"github.com/logistos-sync/logistos-sync/shared/config"
	"github.com/logistos-sync/logistos-sync/shared/forwarder"
	"github.com/logistos-sync/logistos-sync/shared/logging"
	"github.com/logistos-sync/logistos-sync/shared/webhook"
)

// Test timings: short, so that a retry takes about two seconds.
const (
	testBackoff     = time.Second
	testPostTimeout = 700 * time.Millisecond
	testFuncTimeout = 10 * time.Second
	// visibilityTimeout is the orders queue's: a message the forwarder
	// failed comes back sooner only if its backoff shortened it.
	visibilityTimeout = 30 * time.Second
	// waitLong bounds every wait for a condition. Longer than the
	// visibility timeout, so that a test that waits for a retry fails on
	// what it asserts, not on the wait, however slow the machine.
	waitLong    = time.Minute
	storeURL    = "http://127.0.0.1:8088"
	stackSecret = stack.DefaultWebhookSecret
)

func TestMain(m *testing.M) { os.Exit(stacktest.RunTests(m)) }

// invocation is one forwarder invocation as the event source mapping made it.
type invocation struct {
	ev   events.SQSEvent
	resp events.SQSEventResponse
}

// env is one pipeline with queues, secret and Logistos of its own.
type env struct {
	t         *testing.T
	st        *stack.Stack
	logistos  *fakelogistos.Server
	webhook   *webhook.Handler
	forwarder *forwarder.Handler
	poller    *esm.Poller
	url       string // the webhook's HTTP endpoint
	logs      *syncbuf.Buffer

	mu          sync.Mutex
	invocations []invocation
}

type envOptions struct {
	secret          string
	maxReceiveCount int
	respond         fakelogistos.Responder
}

// newEnv builds a pipeline; the forwarder does not poll until start.
func newEnv(t *testing.T, o envOptions) *env {
	t.Helper()
	if o.maxReceiveCount == 0 {
		o.maxReceiveCount = 5
	}
	st := stacktest.ForTest(t, stack.Options{VisibilityTimeout: int(visibilityTimeout / time.Second), MaxReceiveCount: o.maxReceiveCount, WebhookSecret: o.secret})
	e := &env{t: t, st: st, logs: &syncbuf.Buffer{}, logistos: &fakelogistos.Server{Respond: o.respond}}
	lsrv := httptest.NewServer(e.logistos)
	t.Cleanup(lsrv.Close)

	log := logging.New(e.logs, "debug")
	fns, err := pipeline.New(st, map[string]string{
		config.StoreURL: storeURL, config.ForwardTopics: "order.created", config.LogistosOrdersURL: lsrv.URL + fakelogistos.OrdersPath,
	}, log, e.logs)
	if err != nil {
		t.Fatal(err)
	}
	e.webhook, e.forwarder = fns.Webhook, fns.Forwarder
	e.forwarder.Backoff = func(int) time.Duration { return testBackoff }
	e.forwarder.PostTimeout = testPostTimeout
	e.poller = pipeline.Poller(st, e.forwarder, log)
	e.poller.FunctionTimeout = testFuncTimeout
	e.poller.Handler = e.record(e.forwarder.Handle)

	wsrv := httptest.NewServer(pipeline.Serve(e.webhook, log))
	t.Cleanup(wsrv.Close)
	e.url = wsrv.URL + pipeline.WebhookPath
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("handler logs:\n%s", e.logs.String())
		}
	})
	return e
}

// record wraps the forwarder to keep every event and response.
func (e *env) record(h esm.Func) esm.Func {
	return func(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
		resp, err := h(ctx, ev)
		e.mu.Lock()
		e.invocations = append(e.invocations, invocation{ev, resp})
		e.mu.Unlock()
		return resp, err
	}
}

func (e *env) recorded() []invocation {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]invocation(nil), e.invocations...)
}

// start runs the event source mapping until the test ends.
func (e *env) start() {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = e.poller.Run(ctx) }()
	e.t.Cleanup(func() { cancel(); <-done })
}

// send posts a request to the webhook and returns the status and body.
func (e *env) send(req *http.Request, err error) (int, string) {
	e.t.Helper()
	if err != nil {
		e.t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// depth returns a queue's visible and in-flight counts.
func (e *env) depth(url string) (int, int) {
	e.t.Helper()
	v, f, err := e.st.Depth(context.Background(), url)
	if err != nil {
		e.t.Fatal(err)
	}
	return v, f
}

// waitDepth waits until the queue at url (name says which, for the
// failure message) holds visible messages and inflight in flight.
func (e *env) waitDepth(name, url string, visible, inflight int) {
	e.t.Helper()
	testwait.Eventually(e.t, waitLong, func() error {
		if v, f := e.depth(url); v != visible || f != inflight {
			return fmt.Errorf("the %s holds %d messages visible and %d in flight, want %d and %d", name, v, f, visible, inflight)
		}
		return nil
	})
}

// waitDelivered waits until Logistos has accepted n orders requests.
func (e *env) waitDelivered(n int) []fakelogistos.Request {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLong)
	defer cancel()
	if err := e.logistos.Wait(ctx, func([]fakelogistos.Request) bool { return len(e.logistos.Delivered()) >= n }); err != nil {
		e.t.Fatalf("Logistos accepted %d payloads, want %d: %v", len(e.logistos.Delivered()), n, err)
	}
	return e.logistos.Delivered()
}

// waitSettled waits until the orders queue is empty: every message
// acknowledged, none waiting for a retry.
func (e *env) waitSettled() {
	e.t.Helper()
	e.waitDepth("orders queue", e.st.QueueURL, 0, 0)
}

// drain receives every message on a queue (deleting them) within a short wait.
func (e *env) drain(url string) []types.Message {
	e.t.Helper()
	var out []types.Message
	for {
		r, err := e.st.SQS.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{
			QueueUrl: aws.String(url), MaxNumberOfMessages: 10, WaitTimeSeconds: 0,
			MessageAttributeNames: []string{"All"}, MessageSystemAttributeNames: []types.MessageSystemAttributeName{types.MessageSystemAttributeNameAll},
		})
		if err != nil {
			e.t.Fatal(err)
		}
		if len(r.Messages) == 0 {
			return out
		}
		for _, m := range r.Messages {
			out = append(out, m)
			if _, err := e.st.SQS.DeleteMessage(context.Background(), &sqs.DeleteMessageInput{QueueUrl: aws.String(url), ReceiptHandle: m.ReceiptHandle}); err != nil {
				e.t.Fatal(err)
			}
		}
	}
}

func attr(m types.Message, name string) string {
	return aws.ToString(m.MessageAttributes[name].StringValue)
}
