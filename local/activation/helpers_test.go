// Package activation tests the activate function's handler against the
// stand-in WooCommerce (fakewoo), the stand-in Logistos and embedded kumo
// (SQS, DynamoDB, Lambda), and the real activate binary under the Lambda
// runtime interface emulator. BenchmarkBackfill measures the backfill.
package activation

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http/httptest"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	dtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/logistos-sync/logistos-sync/internal/testwait"
	"github.com/logistos-sync/logistos-sync/local/fakelogistos"
	"github.com/logistos-sync/logistos-sync/local/fakewoo"
	"github.com/logistos-sync/logistos-sync/local/stack"
	"github.com/logistos-sync/logistos-sync/local/stacktest"
	"github.com/logistos-sync/logistos-sync/local/syncbuf"
	"github.com/logistos-sync/logistos-sync/shared/activate"
	"github.com/logistos-sync/logistos-sync/shared/config"
	"github.com/logistos-sync/logistos-sync/shared/logging"
	"github.com/logistos-sync/logistos-sync/shared/metrics"
	"github.com/logistos-sync/logistos-sync/shared/queue"
	"github.com/logistos-sync/logistos-sync/shared/state"
	"github.com/logistos-sync/logistos-sync/shared/woohook"
)

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		os.Exit(benchChild())
	}
	if os.Getenv(shopEnv) != "" {
		os.Exit(benchShop())
	}
	os.Exit(stacktest.RunTests(m))
}

const webhookURL = "https://hooks.example/woocommerce/webhook"

// env is one activation setup: a shop, queues, a Logistos, a handler.
type env struct {
	t        *testing.T
	shop     *fakewoo.Shop
	st       *stack.Stack
	logistos *fakelogistos.Server
	h        *activate.Handler
	logs     *syncbuf.Buffer
	base     map[string]string // the settings every handler of this env gets, beside the stack's
}

// newEnv wires a handler as functions/activate does (config.LoadActivate
// and activate.New), with extra settings in vars.
func newEnv(t *testing.T, o fakewoo.Options, vars map[string]string) *env {
	t.Helper()
	e := &env{t: t, shop: fakewoo.Start(o), logistos: &fakelogistos.Server{}, logs: &syncbuf.Buffer{}}
	t.Cleanup(e.shop.Close)
	lsrv := httptest.NewServer(e.logistos)
	t.Cleanup(lsrv.Close)
	e.st = fork(t)
	e.base = map[string]string{
		config.StoreURL:               e.shop.URL,
		config.WooConsumerKey:         fakewoo.Key,
		config.WooConsumerSecret:      fakewoo.Secret,
		config.WebhookURL:             webhookURL,
		config.LogistosCredentialsURL: lsrv.URL + fakelogistos.CredentialsPath,
	}
	for k, v := range vars {
		e.base[k] = v
	}
	e.build(nil)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("logs:\n%s", tail(e.logs.String(), 6000))
		}
	})
	return e
}

// newEnvSharing is another handler (another cold start, other settings)
// on the same shop, queue, Logistos and logs; its checkpoints start empty.
func newEnvSharing(t *testing.T, e *env, vars map[string]string) *env {
	t.Helper()
	cp := *e
	cp.t = t
	cp.build(vars)
	return &cp
}

func (e *env) build(vars map[string]string) {
	e.t.Helper()
	m := map[string]string{}
	for k, v := range e.base {
		m[k] = v
	}
	for k, v := range vars {
		m[k] = v
	}
	cfg, err := config.LoadActivate(config.FromMap(e.st.FunctionEnv(stack.Activate, m)))
	if err != nil {
		e.t.Fatal(err)
	}
	log := logging.New(e.logs, "info")
	if e.h, err = activate.New(cfg, e.st.AWS, log, metrics.New(io.Discard, "test")); err != nil {
		e.t.Fatal(err)
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

func fork(t testing.TB) *stack.Stack {
	t.Helper()
	return stacktest.ForTest(t, stack.Options{})
}

// run invokes the handler with a generous timeout.
func (e *env) run(ev activate.Event) (activate.Report, error) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	return e.h.Handle(ctx, ev)
}

// queued is what the backfill put on the queue.
type queued struct {
	count map[int64]int // order id → messages
	msgs  int
}

// drain receives and deletes every message on the queue, checking each
// one's envelope against the backfill contract. Messages are counted once
// per SQS message id: a receive whose answer is lost in transit leaves its
// messages to come back after the visibility timeout, and they are counted
// when they do.
func (e *env) drain() queued {
	e.t.Helper()
	d := drainer{e: e, q: queued{count: map[int64]int{}}, seen: map[string]bool{}}
	// Done when the queue is empty with nothing in flight: the messages of
	// a lost receive are in flight until their visibility timeout ends.
	testwait.Eventually(e.t, 5*time.Minute, func() error {
		for d.receive() {
		}
		v, inflight, err := e.st.Depth(context.Background(), e.st.BackfillQueueURL)
		if err != nil {
			e.t.Fatal(err)
		}
		if v != 0 || inflight != 0 {
			return fmt.Errorf("after %d messages the queue holds %d visible, %d in flight; want it empty", d.q.msgs, v, inflight)
		}
		return nil
	})
	return d.q
}

// drainer is the state of one drain.
type drainer struct {
	e       *env
	q       queued
	seen    map[string]bool // SQS message ids counted
	checked int             // bodies compared with the shop's
}

// receive takes one batch off the queue, checks and counts it, and
// reports whether there was one.
func (d *drainer) receive() bool {
	e := d.e
	e.t.Helper()
	out, err := e.st.SQS.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{
		QueueUrl: &e.st.BackfillQueueURL, MaxNumberOfMessages: 10, VisibilityTimeout: 2,
		MessageAttributeNames: []string{"All"},
	})
	if err != nil {
		e.t.Fatal(err)
	}
	if len(out.Messages) == 0 {
		return false
	}
	var del []types.DeleteMessageBatchRequestEntry
	for i, m := range out.Messages {
		del = append(del, types.DeleteMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), ReceiptHandle: m.ReceiptHandle})
		if d.seen[aws.ToString(m.MessageId)] {
			continue
		}
		d.seen[aws.ToString(m.MessageId)] = true
		d.q.msgs++
		body := []byte(aws.ToString(m.Body))
		id, err := woohook.OrderID(body)
		if err != nil {
			e.t.Fatalf("message is not an order: %.200s", body)
		}
		d.q.count[id]++
		attr := func(k string) string { return aws.ToString(m.MessageAttributes[k].StringValue) }
		if attr(queue.AttrTopic) != "" || attr(queue.AttrOrigin) != queue.OriginBackfill ||
			attr(queue.AttrSource) != e.shop.URL || attr(queue.AttrReceivedAt) == "" {
			e.t.Fatalf("order %d: attributes %v", id, attrs(m))
		}
		// Byte for byte what the shop listed (a sample: it costs).
		if d.checked < 50 || id%997 == 0 {
			d.checked++
			want, ok := e.shop.OrderJSON(e.shop.URL, id)
			var listed struct{ Status string }
			_ = json.Unmarshal(body, &listed)
			if ok && listed.Status == e.shop.Status(id) && !bytes.Equal(body, want) {
				e.t.Fatalf("order %d body differs from the listed bytes:\n got %.200s\nwant %.200s", id, body, want)
			}
		}
	}
	if _, err := e.st.SQS.DeleteMessageBatch(context.Background(), &sqs.DeleteMessageBatchInput{QueueUrl: &e.st.BackfillQueueURL, Entries: del}); err != nil {
		e.t.Fatal(err)
	}
	return true
}

func attrs(m types.Message) map[string]string {
	out := map[string]string{}
	for k, v := range m.MessageAttributes {
		out[k] = aws.ToString(v.StringValue)
	}
	return out
}

// exactlyOnce reports ids in [1, n] missing or repeated, skipping those in except.
func (q queued) exactlyOnce(t *testing.T, n int64, except func(int64) bool) {
	t.Helper()
	var missing, twice []int64
	for id := int64(1); id <= n; id++ {
		if except != nil && except(id) {
			continue
		}
		switch c := q.count[id]; {
		case c == 0:
			missing = append(missing, id)
		case c > 1:
			twice = append(twice, id)
		}
	}
	if len(missing) > 0 || len(twice) > 0 {
		t.Errorf("%d ids missing (first %v), %d more than once (first %v)", len(missing), first(missing), len(twice), first(twice))
	}
}

// atLeastOnce reports ids in [1, n] missing, and returns how many ids came
// more than once and the most copies of one.
func (q queued) atLeastOnce(t *testing.T, n int64, except func(int64) bool) (dups, most int) {
	t.Helper()
	var missing []int64
	for id := int64(1); id <= n; id++ {
		if except != nil && except(id) {
			continue
		}
		c := q.count[id]
		if c == 0 {
			missing = append(missing, id)
		}
		if c > 1 {
			dups++
		}
		most = max(most, c)
	}
	if len(missing) > 0 {
		t.Errorf("%d ids missing, first %v", len(missing), first(missing))
	}
	return dups, most
}

// most is the most messages one order got.
func (q queued) most() int {
	m := 0
	for _, c := range q.count {
		m = max(m, c)
	}
	return m
}

// receiveAll takes every message off queue url (the DLQ), with attributes.
func (e *env) receiveAll(url string) []types.Message {
	e.t.Helper()
	var out []types.Message
	testwait.Eventually(e.t, time.Minute, func() error {
		for {
			got, err := e.st.SQS.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{
				QueueUrl: &url, MaxNumberOfMessages: 10, MessageAttributeNames: []string{"All"},
			})
			if err != nil {
				e.t.Fatal(err)
			}
			if len(got.Messages) == 0 {
				break
			}
			out = append(out, got.Messages...)
			for _, m := range got.Messages {
				if _, err := e.st.SQS.DeleteMessage(context.Background(), &sqs.DeleteMessageInput{QueueUrl: &url, ReceiptHandle: m.ReceiptHandle}); err != nil {
					e.t.Fatal(err)
				}
			}
		}
		if v, inflight, err := e.st.Depth(context.Background(), url); err != nil || v+inflight != 0 {
			return fmt.Errorf("after %d messages %s holds %d visible, %d in flight (%v)", len(out), url, v, inflight, err)
		}
		return nil
	})
	return out
}

func first(ids []int64) []int64 { return ids[:min(len(ids), 8)] }

// createTable makes a state table in kumo as the template does.
func createTable(t testing.TB, name string) *dynamodb.Client {
	t.Helper()
	db := stacktest.Shared.DynamoDB
	if err := stack.EnsureTable(context.Background(), db, name, state.AttrID, dtypes.ScalarAttributeTypeS); err != nil {
		t.Fatal(err)
	}
	return db
}

// backfillState reads the checkpoint document as JSON.
func backfillState(t *testing.T, s state.Store) map[string]any {
	t.Helper()
	doc, _, err := s.Get(context.Background(), state.BackfillID)
	if err != nil || doc == nil {
		t.Fatalf("no backfill checkpoint: %v", err)
	}
	var m map[string]any
	if err := json.Unmarshal(doc, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// logLines returns the JSON log lines with msg.
func logLines(logs, msg string) []map[string]any {
	var out []map[string]any
	for _, line := range bytes.Split([]byte(logs), []byte("\n")) {
		var m map[string]any
		if json.Unmarshal(line, &m) == nil && m["msg"] == msg {
			out = append(out, m)
		}
	}
	return out
}
