package forwarder

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/logistos-sync/logistos-sync/internal/sqstest"
	"github.com/logistos-sync/logistos-sync/shared/logging"
	"github.com/logistos-sync/logistos-sync/shared/logistos"
	"github.com/logistos-sync/logistos-sync/shared/metrics"
	"github.com/logistos-sync/logistos-sync/shared/queue"
)

const queueARN = "arn:aws:sqs:ap-south-1:123456789012:orders"

// fakeLogistos answers each payload with answer(payload), recording what it got.
type fakeLogistos struct {
	mu       sync.Mutex
	payloads []*logistos.Payload
	answer   func(p *logistos.Payload) error
	inFlight atomic.Int32
	maxSeen  atomic.Int32
	// hold, when set, runs inside each POST before it answers.
	hold func()
	// delay is how long each POST takes (a slow Logistos).
	delay time.Duration
}

func (f *fakeLogistos) PostOrders(ctx context.Context, p *logistos.Payload) error {
	n := f.inFlight.Add(1)
	defer f.inFlight.Add(-1)
	for {
		m := f.maxSeen.Load()
		if n <= m || f.maxSeen.CompareAndSwap(m, n) {
			break
		}
	}
	if f.hold != nil {
		f.hold()
	}
	if f.delay > 0 {
		select {
		case <-time.After(f.delay):
		case <-ctx.Done():
			return &logistos.Error{Op: "post orders", Transient: true, Err: ctx.Err()}
		}
	}
	f.mu.Lock()
	f.payloads = append(f.payloads, p)
	f.mu.Unlock()
	if f.answer == nil {
		return nil
	}
	return f.answer(p)
}

// ids returns the order ids Logistos received, in arrival order.
func (f *fakeLogistos) ids() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var ids []string
	for _, p := range f.payloads {
		for _, o := range p.Orders {
			ids = append(ids, o.ID.Text())
		}
	}
	return ids
}

// fakeSQS records DLQ sends (refusing what SQS refuses) and visibility
// changes.
type fakeSQS struct {
	sqstest.Sender
	mu         sync.Mutex
	visibility map[string]int32
	lookups    int
}

func (f *fakeSQS) ChangeMessageVisibility(_ context.Context, in *sqs.ChangeMessageVisibilityInput, _ ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	// The two queues the forwarder consumes (queueARN, backfillARN).
	if q := *in.QueueUrl; q != "https://sqs.ap-south-1.amazonaws.com/123456789012/orders" && q != "https://sqs.ap-south-1.amazonaws.com/123456789012/backfill" {
		return nil, fmt.Errorf("unknown queue %s", q)
	}
	if f.visibility == nil {
		f.visibility = map[string]int32{}
	}
	f.visibility[*in.ReceiptHandle] = in.VisibilityTimeout
	return &sqs.ChangeMessageVisibilityOutput{}, nil
}

func (f *fakeSQS) GetQueueUrl(_ context.Context, in *sqs.GetQueueUrlInput, _ ...func(*sqs.Options)) (*sqs.GetQueueUrlOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lookups++
	return &sqs.GetQueueUrlOutput{QueueUrl: aws.String("https://sqs.ap-south-1.amazonaws.com/" + *in.QueueOwnerAWSAccountId + "/" + *in.QueueName)}, nil
}

type harness struct {
	h    *Handler
	lg   *fakeLogistos
	sqs  *fakeSQS
	logs *bytes.Buffer
	emf  *bytes.Buffer
}

func newHarness() *harness {
	lg, q, logs, emf := &fakeLogistos{}, &fakeSQS{}, &bytes.Buffer{}, &bytes.Buffer{}
	return &harness{
		h: &Handler{
			Logistos: lg, Queues: &Queues{Client: q, DLQURL: "dlq"}, StoreURL: "https://shop.example.in",
			Topics: map[string]bool{"order.created": true}, Log: logging.New(logs, "debug"), Metrics: metrics.New(emf, "t"),
		},
		lg: lg, sqs: q, logs: logs, emf: emf,
	}
}

func record(id int, origin, body string) events.SQSMessage {
	if body == "" {
		body = fmt.Sprintf(`{"id":%d,"status":"processing","total":"10.00","date_modified_gmt":"2026-11-20T13:12:09","meta_data":[{"key":"_card","value":"4111"}]}`, id)
	}
	attrs := map[string]events.SQSMessageAttribute{queue.AttrOrigin: str(origin), queue.AttrSource: str("https://shop.example.in/")}
	if origin != queue.OriginBackfill { // the backfill's orders have no WooCommerce topic
		attrs[queue.AttrTopic] = str("order.created")
	}
	return events.SQSMessage{
		MessageId: fmt.Sprintf("msg-%d", id), ReceiptHandle: fmt.Sprintf("rh-%d", id), Body: body,
		Attributes:        map[string]string{"ApproximateReceiveCount": "1"},
		MessageAttributes: attrs,
		EventSource:       "aws:sqs", EventSourceARN: queueARN,
	}
}

func str(v string) events.SQSMessageAttribute {
	return events.SQSMessageAttribute{DataType: "String", StringValue: aws.String(v)}
}

func failed(resp events.SQSEventResponse) []string {
	var ids []string
	for _, f := range resp.BatchItemFailures {
		ids = append(ids, f.ItemIdentifier)
	}
	return ids
}

// TestForwardsFixture follows a real order through a batch: the payload
// holds what the transform makes of the queued body (pinned byte for byte by
// logistos's golden tests), with the record's event and the shop.
func TestForwardsFixture(t *testing.T) {
	hs := newHarness()
	body, err := os.ReadFile("../../testdata/woocommerce/order-wc9-inr-cod.json")
	if err != nil {
		t.Fatal(err)
	}
	resp, err := hs.h.Handle(context.Background(), events.SQSEvent{Records: []events.SQSMessage{record(4821, queue.OriginWebhook, string(body))}})
	if err != nil || len(resp.BatchItemFailures) != 0 {
		t.Fatalf("err %v, failures %v", err, resp.BatchItemFailures)
	}
	order, err := logistos.ParseOrder(body)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := (&logistos.Payload{Source: logistos.Source, StoreURL: "https://shop.example.in", Event: logistos.EventOrderCreated,
		Orders: []logistos.Order{order}}).Marshal()
	if len(hs.lg.payloads) != 1 {
		t.Fatalf("%d payloads, want 1", len(hs.lg.payloads))
	}
	if got, _ := hs.lg.payloads[0].Marshal(); !bytes.Equal(got, want) {
		t.Fatalf("payload\n%s\nwant\n%s", got, want)
	}
}

func TestOutcomes(t *testing.T) {
	cases := []struct {
		name      string
		answer    error
		retry     bool
		dlq       bool
		backoffAt int32
	}{
		{"2xx", nil, false, false, 0},
		{"500", &logistos.Error{StatusCode: 500, Transient: true}, true, false, 10},
		{"503", &logistos.Error{StatusCode: 503, Transient: true}, true, false, 10},
		{"429", &logistos.Error{StatusCode: 429, Transient: true}, true, false, 10},
		{"408", &logistos.Error{StatusCode: 408, Transient: true}, true, false, 10},
		{"network", &logistos.Error{Transient: true, Err: errors.New("connection reset by peer")}, true, false, 10},
		{"deadline", context.DeadlineExceeded, true, false, 10},
		{"422", &logistos.Error{StatusCode: 422, Detail: `{"error":"bad pincode"}`}, false, true, 0},
		{"400", &logistos.Error{StatusCode: 400}, false, true, 0},
		{"401", &logistos.Error{StatusCode: 401}, false, true, 0},
		{"301", &logistos.Error{StatusCode: 301}, false, true, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			hs := newHarness()
			hs.lg.answer = func(*logistos.Payload) error { return c.answer }
			resp, _ := hs.h.Handle(context.Background(), events.SQSEvent{Records: []events.SQSMessage{record(7, queue.OriginWebhook, "")}})
			if got := len(resp.BatchItemFailures) == 1; got != c.retry {
				t.Errorf("retry = %v, want %v", got, c.retry)
			}
			if got := len(hs.sqs.Sent()) == 1; got != c.dlq {
				t.Errorf("dead-lettered = %v, want %v", got, c.dlq)
			}
			if v := hs.sqs.visibility["rh-7"]; c.backoffAt > 0 && (v < c.backoffAt*8/10 || v > c.backoffAt*12/10) {
				t.Errorf("visibility %ds, want about %ds", v, c.backoffAt)
			}
			if c.dlq {
				in := hs.sqs.Sent()[0]
				if *in.MessageBody != record(7, queue.OriginWebhook, "").Body {
					t.Error("DLQ body differs from the queued body")
				}
				if aws.ToString(in.MessageAttributes[queue.AttrFailureClass].StringValue) != "permanent" ||
					!strings.Contains(aws.ToString(in.MessageAttributes[queue.AttrFailureReason].StringValue), c.name) ||
					aws.ToString(in.MessageAttributes[queue.AttrOrigin].StringValue) != queue.OriginWebhook {
					t.Errorf("DLQ attributes %v", in.MessageAttributes)
				}
			}
		})
	}
}

// Logistos's answer is put in failure-detail as it came, and it can hold
// bytes SQS refuses in an attribute (NUL, ESC, invalid UTF-8): the order is
// still dead-lettered at once with its reason, not retried until SQS moves
// it without one.
func TestDeadLetterOfAnAnswerSQSWouldRefuse(t *testing.T) {
	for name, detail := range map[string]string{
		"NUL":           "bad\x00pincode",
		"ESC":           "\x1b[31mbad pincode\x1b[0m",
		"invalid UTF-8": "bad pincode \xff\xfe caf\xe9",
	} {
		t.Run(name, func(t *testing.T) {
			hs := newHarness()
			hs.lg.answer = func(*logistos.Payload) error { return &logistos.Error{StatusCode: 400, Detail: detail} }
			resp, _ := hs.h.Handle(context.Background(), events.SQSEvent{Records: []events.SQSMessage{record(7, queue.OriginWebhook, "")}})
			if got := failed(resp); len(got) != 0 || len(hs.sqs.Sent()) != 1 {
				t.Fatalf("failures %v, %d dead-lettered; want the order dead-lettered at once", got, len(hs.sqs.Sent()))
			}
			attrs := hs.sqs.Sent()[0].MessageAttributes
			reason, got := aws.ToString(attrs[queue.AttrFailureReason].StringValue), aws.ToString(attrs[queue.AttrFailureDetail].StringValue)
			if !strings.Contains(reason, "400") || !strings.Contains(got, "bad") || !strings.Contains(got, "pincode") {
				t.Errorf("failure-reason %q, failure-detail %q; want the status and the answer, readable", reason, got)
			}
		})
	}
}

func TestUndecodableGoesToDLQ(t *testing.T) {
	for name, body := range map[string]string{
		"not json": "hello", "rest error": `{"code":"woocommerce_rest_cannot_view","data":{"status":401}}`,
		"no id": `{"status":"processing"}`, "truncated": `{"id":1,"billing":{`,
	} {
		t.Run(name, func(t *testing.T) {
			hs := newHarness()
			resp, _ := hs.h.Handle(context.Background(), events.SQSEvent{Records: []events.SQSMessage{record(1, queue.OriginWebhook, body)}})
			if len(resp.BatchItemFailures) != 0 || len(hs.sqs.Sent()) != 1 || len(hs.lg.payloads) != 0 {
				t.Fatalf("failures %v, dlq %d, posts %d", resp.BatchItemFailures, len(hs.sqs.Sent()), len(hs.lg.payloads))
			}
		})
	}
	hs := newHarness()
	rec := record(2, queue.OriginWebhook, "H4sI-not-gzip")
	rec.MessageAttributes[queue.AttrContentEncoding] = events.SQSMessageAttribute{DataType: "String", StringValue: aws.String("gzip")}
	hs.h.Handle(context.Background(), events.SQSEvent{Records: []events.SQSMessage{rec}})
	if len(hs.sqs.Sent()) != 1 || !strings.Contains(*hs.sqs.Sent()[0].MessageAttributes[queue.AttrFailureReason].StringValue, "undecodable") {
		t.Fatal("bad gzip not dead-lettered as undecodable")
	}
}

func TestDLQFailureKeepsTheMessage(t *testing.T) {
	hs := newHarness()
	hs.sqs.Err = errors.New("AccessDenied")
	resp, _ := hs.h.Handle(context.Background(), events.SQSEvent{Records: []events.SQSMessage{record(1, queue.OriginWebhook, "garbage")}})
	if got := failed(resp); len(got) != 1 || got[0] != "msg-1" {
		t.Fatalf("failures %v: a record that could not be dead-lettered must stay on the queue", got)
	}
}

func TestOneBadOrderInABatchOfTen(t *testing.T) {
	hs := newHarness()
	hs.lg.answer = func(p *logistos.Payload) error {
		for _, o := range p.Orders {
			if o.ID.Text() == "105" {
				return &logistos.Error{StatusCode: 422}
			}
		}
		return nil
	}
	var recs []events.SQSMessage
	for i := range 10 {
		origin := queue.OriginBackfill
		if i%3 == 0 {
			origin = queue.OriginWebhook
		}
		recs = append(recs, record(100+i, origin, ""))
	}
	resp, _ := hs.h.Handle(context.Background(), events.SQSEvent{Records: recs})
	if len(resp.BatchItemFailures) != 0 {
		t.Fatalf("failures %v", resp.BatchItemFailures)
	}
	if len(hs.sqs.Sent()) != 1 || !strings.Contains(*hs.sqs.Sent()[0].MessageBody, `"id":105`) {
		t.Fatalf("DLQ holds %d messages; want only order 105", len(hs.sqs.Sent()))
	}
	for _, m := range []string{`"OrdersForwarded":9`, `"OrdersFailedPermanent":1`} {
		if !strings.Contains(hs.emf.String(), m) {
			t.Errorf("metrics lack %s: %s", m, hs.emf)
		}
	}
	delivered := map[string]int{}
	for _, p := range hs.lg.payloads {
		for _, o := range p.Orders {
			delivered[o.ID.Text()]++
		}
		if len(p.Orders) != 1 {
			t.Errorf("payload of %d orders, want one each", len(p.Orders))
		}
	}
	for i := range 10 {
		id := fmt.Sprint(100 + i)
		if id != "105" && delivered[id] == 0 {
			t.Errorf("order %s never reached Logistos", id)
		}
	}
}

// TestKeysStablePerOrder: an order retried in another batch, with other
// companions, reaches Logistos with the same Idempotency-Key, so Logistos
// can drop the duplicate.
func TestKeysStablePerOrder(t *testing.T) {
	keys := func(recs ...events.SQSMessage) map[string]string {
		hs := newHarness()
		hs.h.Handle(context.Background(), events.SQSEvent{Records: recs})
		out := map[string]string{}
		for _, p := range hs.lg.payloads {
			if len(p.Orders) != 1 {
				t.Fatalf("payload of %d orders, want one each", len(p.Orders))
			}
			out[p.Orders[0].ID.Text()] = p.IdempotencyKey()
		}
		return out
	}
	first := keys(record(7, queue.OriginBackfill, ""), record(8, queue.OriginBackfill, ""), record(9, queue.OriginBackfill, ""))
	retry := keys(record(11, queue.OriginBackfill, ""), record(7, queue.OriginBackfill, ""))
	alone := keys(record(7, queue.OriginBackfill, ""))
	if first["7"] == "" || first["7"] != retry["7"] || first["7"] != alone["7"] {
		t.Fatalf("order 7's key changed with its batch: %q, %q, %q", first["7"], retry["7"], alone["7"])
	}
	if first["7"] == first["8"] {
		t.Fatal("two orders share a key")
	}
}

// In a synctest bubble, where Wait returns once every other goroutine is
// blocked: with each POST held, the handler has exactly Concurrency in
// flight and waits for one to end before it starts another. No timing
// decides it.
func TestConcurrencyBounded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		hs := newHarness()
		hs.h.Concurrency = 3
		release := make(chan struct{})
		hs.lg.hold = func() { <-release }
		var recs []events.SQSMessage
		for i := range 10 {
			recs = append(recs, record(i+1, queue.OriginWebhook, ""))
		}
		done := make(chan struct{})
		go func() {
			defer close(done)
			hs.h.Handle(context.Background(), events.SQSEvent{Records: recs})
		}()
		synctest.Wait()
		if n := hs.lg.inFlight.Load(); n != 3 {
			t.Errorf("%d POSTs in flight while all are held, want exactly Concurrency (3)", n)
		}
		close(release)
		<-done
		if m := hs.lg.maxSeen.Load(); m != 3 {
			t.Errorf("%d POSTs in flight at once, want exactly Concurrency (3)", m)
		}
		if len(hs.lg.ids()) != 10 {
			t.Error("not every order forwarded")
		}
	})
}

func TestDeadlineStopsNewPosts(t *testing.T) {
	hs := newHarness()
	hs.h.Concurrency = 1
	hs.h.PostTimeout = time.Second
	// The handler's clock, apart from the real one: it starts with room for
	// one POST before the deadline, and that POST takes a second, after which
	// a whole POST no longer fits.
	deadline := time.Now().Add(time.Hour)
	var mu sync.Mutex
	now := deadline.Add(-(deadlineMargin + hs.h.PostTimeout + time.Second))
	hs.h.Now = func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	hs.lg.hold = func() { mu.Lock(); defer mu.Unlock(); now = now.Add(time.Second) }
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	var recs []events.SQSMessage
	for i := range 10 {
		recs = append(recs, record(i+1, queue.OriginWebhook, ""))
	}
	resp, _ := hs.h.Handle(ctx, events.SQSEvent{Records: recs})
	if posted := hs.lg.ids(); len(posted) != 1 {
		t.Fatalf("POSTs for %v; want the one that fitted, then a stop before the deadline", posted)
	}
	if len(resp.BatchItemFailures) != 9 {
		t.Fatalf("%d failures reported for 9 unattempted records", len(resp.BatchItemFailures))
	}
	for _, f := range resp.BatchItemFailures {
		if v := hs.sqs.visibility["rh-"+strings.TrimPrefix(f.ItemIdentifier, "msg-")]; v != int32(deadlineRetryDelay/time.Second) {
			t.Errorf("%s visibility %d, want a quick retry", f.ItemIdentifier, v)
		}
	}
}

func TestTopicsAndEvents(t *testing.T) {
	hs := newHarness()
	updated := record(1, queue.OriginWebhook, "")
	updated.MessageAttributes[queue.AttrTopic] = str("order.updated")
	bare := record(2, "", "")
	bare.MessageAttributes = nil
	resp, _ := hs.h.Handle(context.Background(), events.SQSEvent{Records: []events.SQSMessage{updated, bare, record(3, queue.OriginBackfill, "")}})
	if len(resp.BatchItemFailures) != 0 {
		t.Fatal("a skipped topic must be acknowledged, not retried")
	}
	// Skipped is not dropped: the DLQ keeps it, with the reason.
	if len(hs.sqs.Sent()) != 1 || *hs.sqs.Sent()[0].MessageBody != updated.Body ||
		!strings.Contains(aws.ToString(hs.sqs.Sent()[0].MessageAttributes[queue.AttrFailureReason].StringValue), `topic "order.updated" is not forwarded`) {
		t.Fatalf("dead-lettered %d, want the order.updated record with its reason", len(hs.sqs.Sent()))
	}
	if !strings.Contains(hs.emf.String(), `"`+metrics.OrdersSkipped+`":1`) {
		t.Errorf("no %s metric: %s", metrics.OrdersSkipped, hs.emf)
	}
	got := map[string]string{}
	for _, p := range hs.lg.payloads {
		got[p.Orders[0].ID.Text()] = p.Event
	}
	if _, ok := got["1"]; ok {
		t.Error("order.updated forwarded though not configured")
	}
	if got["2"] != "order.created" || got["3"] != "order.backfill" {
		t.Errorf("events %v", got)
	}
	if !strings.Contains(hs.logs.String(), `"outcome":"skipped"`) {
		t.Error("skipped record not logged")
	}
}

// A backfilled order queued by the previous version carries order.backfill
// as its wc-topic; one still on the queue (or redriven from the DLQ) after
// an upgrade is forwarded as order.backfill, as the new ones without a
// topic are, and neither is skipped for a topic this deployment does not
// forward.
func TestBackfillMessagesQueuedBeforeAnUpgrade(t *testing.T) {
	hs := newHarness()
	old := record(1, queue.OriginBackfill, "")
	old.MessageAttributes[queue.AttrTopic] = str("order.backfill")
	resp, _ := hs.h.Handle(context.Background(), events.SQSEvent{Records: []events.SQSMessage{old, record(2, queue.OriginBackfill, "")}})
	if len(resp.BatchItemFailures) != 0 || len(hs.sqs.Sent()) != 0 {
		t.Fatalf("%d retried, %d dead-lettered; want both forwarded", len(resp.BatchItemFailures), len(hs.sqs.Sent()))
	}
	got := map[string]string{}
	for _, p := range hs.lg.payloads {
		got[p.Orders[0].ID.Text()] = p.Event
	}
	if got["1"] != logistos.EventBackfill || got["2"] != logistos.EventBackfill {
		t.Errorf("events %v, want order.backfill for both", got)
	}
}

func TestQueueURLLookedUpOnce(t *testing.T) {
	hs := newHarness()
	hs.lg.answer = func(*logistos.Payload) error { return &logistos.Error{StatusCode: 500, Transient: true} }
	for range 3 {
		hs.h.Handle(context.Background(), events.SQSEvent{Records: []events.SQSMessage{record(1, queue.OriginWebhook, ""), record(2, queue.OriginWebhook, "")}})
	}
	if hs.sqs.lookups != 1 {
		t.Fatalf("%d GetQueueUrl calls, want 1 per cold start", hs.sqs.lookups)
	}
}

func TestLogsHoldNoOrderData(t *testing.T) {
	hs := newHarness()
	body, _ := os.ReadFile("../../testdata/woocommerce/order-wc9-inr-cod.json")
	hs.lg.answer = func(*logistos.Payload) error {
		return &logistos.Error{StatusCode: 422, Detail: `{"error":"invalid phone +91 98765 43210"}`}
	}
	hs.h.Handle(context.Background(), events.SQSEvent{Records: []events.SQSMessage{record(4821, queue.OriginWebhook, string(body))}})
	var lines []map[string]any
	for _, l := range bytes.Split(bytes.TrimSpace(hs.logs.Bytes()), []byte("\n")) {
		var m map[string]any
		if err := json.Unmarshal(l, &m); err != nil {
			t.Fatalf("log line is not JSON: %s", l)
		}
		lines = append(lines, m)
	}
	if len(lines) == 0 || lines[len(lines)-1]["order_id"] != "4821" || lines[len(lines)-1]["status"] != float64(422) {
		t.Fatalf("outcome line lacks order id or status: %v", lines)
	}
	for _, s := range []string{"प्रिया", `\u092a`, "Sharma", "priya", "98765", "Sai Krupa", "4111", "4242", "203.0.113.77"} {
		if strings.Contains(hs.logs.String(), s) {
			t.Errorf("logs contain %q", s)
		}
	}
}

func TestValuesDroppedCountedNotSent(t *testing.T) {
	hs := newHarness()
	body := `{"id":5,"status":"processing","customer_note":{"card":"4111 1111 1111 1111"},"ID":6}`
	hs.h.Handle(context.Background(), events.SQSEvent{Records: []events.SQSMessage{record(5, queue.OriginWebhook, body)}})
	if len(hs.lg.payloads) != 1 {
		t.Fatalf("%d payloads, want the order forwarded without the value", len(hs.lg.payloads))
	}
	out, _ := hs.lg.payloads[0].Marshal()
	if strings.Contains(string(out), "4111") || strings.Contains(string(out), `"ID"`) {
		t.Fatalf("payload carries what the allow-list drops: %s", out)
	}
	if !strings.Contains(hs.emf.String(), `"`+metrics.ValuesDropped+`":1`) || !strings.Contains(hs.logs.String(), `"values_dropped":1`) {
		t.Errorf("dropped value not counted: metrics %s logs %s", hs.emf, hs.logs)
	}
	if strings.Contains(hs.logs.String(), "4111") {
		t.Error("logs hold the dropped value")
	}
}

// TestQuietBatchEmitsOnlyTheAlarmedCounts: a custom metric costs by the
// hour it is written in, so a batch where nothing went wrong writes only
// what it counted (no zeros) and no latency line.
func TestQuietBatchEmitsOnlyTheAlarmedCounts(t *testing.T) {
	hs := newHarness()
	resp, _ := hs.h.Handle(context.Background(), events.SQSEvent{Records: []events.SQSMessage{record(7, queue.OriginWebhook, "")}})
	if len(resp.BatchItemFailures) != 0 {
		t.Fatalf("failures %v", resp.BatchItemFailures)
	}
	emf := hs.emf.String()
	if n := strings.Count(emf, "\n"); n != 1 {
		t.Errorf("%d EMF lines for one order, want 1 (the batch's): %s", n, emf)
	}
	if !strings.Contains(emf, `"OrdersForwarded":1`) {
		t.Errorf("metrics lack OrdersForwarded: %s", emf)
	}
	for _, m := range []string{metrics.OrdersFailedTransient, metrics.OrdersFailedPermanent, metrics.OrdersSkipped, metrics.ValuesDropped, "ForwardLatency"} {
		if strings.Contains(emf, `"`+m+`"`) {
			t.Errorf("a quiet batch writes %s: %s", m, emf)
		}
	}
}

// A record's last try (SQS moves it to the waiting queue on its next
// receive) is not hidden for the schedule's next step: it goes to wait at
// once, where reconcile's canary can bring it back.
func TestLastTryGoesToWaitAtOnce(t *testing.T) {
	for receives, want := range map[int]int32{MaxReceives - 1: 1, MaxReceives: 0, MaxReceives + 1: 0} {
		hs := newHarness()
		hs.lg.answer = func(*logistos.Payload) error { return &logistos.Error{StatusCode: 503, Transient: true} }
		rec := record(7, queue.OriginWebhook, "")
		rec.Attributes["ApproximateReceiveCount"] = strconv.Itoa(receives)
		resp, _ := hs.h.Handle(context.Background(), events.SQSEvent{Records: []events.SQSMessage{rec}})
		v, set := hs.sqs.visibility["rh-7"]
		if len(resp.BatchItemFailures) != 1 || !set || (want == 0) != (v == 0) {
			t.Errorf("receive %d: visibility %d (set %v), want %s", receives, v, set, map[bool]string{true: "0", false: "a backoff"}[want == 0])
		}
	}
}
