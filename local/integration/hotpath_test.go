package integration

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/logistos-sync/logistos-sync/local/delivery"
	"github.com/logistos-sync/logistos-sync/local/fakelogistos"
	"github.com/logistos-sync/logistos-sync/shared/queue"
	"github.com/logistos-sync/logistos-sync/shared/version"
)

// sentPayload is the part of a Logistos payload the tests read.
type sentPayload struct {
	Source   string            `json:"source"`
	StoreURL string            `json:"store_url"`
	Event    string            `json:"event"`
	Orders   []json.RawMessage `json:"orders"`
}

func decodePayload(t *testing.T, body []byte) sentPayload {
	t.Helper()
	var p sentPayload
	if err := json.Unmarshal(body, &p); err != nil {
		t.Fatalf("Logistos got a payload that is not JSON: %v\n%s", err, body)
	}
	return p
}

func orderID(t *testing.T, order json.RawMessage) int64 {
	t.Helper()
	var o struct {
		ID int64 `json:"id"`
	}
	if err := json.Unmarshal(order, &o); err != nil {
		t.Fatal(err)
	}
	return o.ID
}

func TestRealDeliveryReachesLogistos(t *testing.T) {
	t.Parallel()
	c, err := delivery.ReadCapture("order-created-313")
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, envOptions{secret: delivery.RealSecret})
	status, body := e.send(c.NewRequest(context.Background(), e.url))
	if status != 200 {
		t.Fatalf("webhook answered %d %s", status, body)
	}
	if v, f := e.depth(e.st.QueueURL); v != 1 || f != 0 {
		t.Fatalf("orders queue holds %d visible, %d in flight; want exactly 1 message", v, f)
	}

	e.start()
	sent := e.waitDelivered(1)
	e.waitSettled()

	// The message as the forwarder received it: the contract.
	inv := e.recorded()
	rec := inv[0].ev.Records[0]
	if rec.Body != string(c.Body) {
		t.Error("queued body is not byte-identical to the delivery")
	}
	wantAttrs := map[string]string{
		queue.AttrTopic: "order.created", queue.AttrSource: "http://127.0.0.1:8088/", queue.AttrOrigin: queue.OriginWebhook,
		queue.AttrWebhookID: "1", queue.AttrDeliveryID: "f7bb2b08fb1ad30520bc1b464e404ba8",
	}
	for k, want := range wantAttrs {
		if got := rec.MessageAttributes[k]; got.StringValue == nil || *got.StringValue != want || got.DataType != "String" {
			t.Errorf("attribute %s = %+v, want String %q", k, got, want)
		}
	}
	if at := rec.MessageAttributes[queue.AttrReceivedAt].StringValue; at == nil {
		t.Error("no received-at attribute")
	} else if ts, err := time.Parse(time.RFC3339, *at); err != nil || time.Since(ts) > time.Minute {
		t.Errorf("received-at %q is not a recent RFC 3339 time: %v", *at, err)
	}
	if _, ok := rec.MessageAttributes[queue.AttrContentEncoding]; ok {
		t.Error("a small order was encoded")
	}

	// What Logistos received.
	if len(sent) != 1 || len(e.logistos.Requests()) != 1 {
		t.Fatalf("Logistos got %d requests, accepted %d; want exactly 1", len(e.logistos.Requests()), len(sent))
	}
	r := sent[0]
	p := decodePayload(t, r.Body)
	if p.Source != "woocommerce" || p.StoreURL != storeURL || p.Event != "order.created" || len(p.Orders) != 1 {
		t.Errorf("payload envelope %+v", p)
	}
	for _, want := range []string{`"id":313`, `"total":"33.99"`, `"shipping_total":"5.00"`, `"price":12.5`, `"price":3.99`,
		`"date_modified_gmt":"2026-11-28T02:06:16"`, `"email":"ada1001@example.com"`, `"name":"127 Sticker Pack"`} {
		if !bytes.Contains(r.Body, []byte(want)) {
			t.Errorf("payload lacks %s", want)
		}
	}
	for _, banned := range []string{"meta_data", "order_key", "wc_order_zWbHPhrtgYtmc", "customer_ip_address", "payment_url", "_links", "cart_hash", "realwoo_seq"} {
		if bytes.Contains(r.Body, []byte(banned)) {
			t.Errorf("payload carries %s", banned)
		}
	}
	sum := sha256.Sum256([]byte(storeURL + "|313|2026-11-28T02:06:16"))
	if got, want := r.IdempotencyKey(), hex.EncodeToString(sum[:]); got != want {
		t.Errorf("Idempotency-Key %q, want %q", got, want)
	}
	if got := r.Header.Get("User-Agent"); got != version.UserAgent() {
		t.Errorf("User-Agent %q, want %q", got, version.UserAgent())
	}
	if v, f := e.depth(e.st.DLQURL); v+f != 0 {
		t.Errorf("DLQ holds %d messages", v+f)
	}
}

// A transient failure is reported to SQS, retried after the backoff (not
// the queue's 30 s visibility timeout), and forwarded once.
func TestTransientFailuresAreRetried(t *testing.T) {
	cases := []struct {
		name  string
		fault fakelogistos.Response
	}{
		{"500", fakelogistos.ServerError},
		{"503", fakelogistos.Unavailable},
		{"429", fakelogistos.TooMany},
		{"slower than the post timeout", fakelogistos.Slow(3 * testPostTimeout)},
		{"connection reset", fakelogistos.Reset},
		{"malformed response", fakelogistos.Malformed},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, envOptions{respond: fakelogistos.Sequence(tc.fault)})
			body, _, err := delivery.ReadFixture(delivery.SampleOrder)
			if err != nil {
				t.Fatal(err)
			}
			if status, b := e.send(delivery.Delivery{}.NewRequest(context.Background(), e.url, body, stackSecret)); status != 200 {
				t.Fatalf("webhook answered %d %s", status, b)
			}
			start := time.Now()
			e.start()
			sent := e.waitDelivered(1)
			e.waitSettled()
			// Without the backoff the message would come back only after
			// the visibility timeout: that, not a guess at the machine's
			// speed, is the bound.
			if took := time.Since(start); took >= visibilityTimeout {
				t.Errorf("retry took %v, not less than the visibility timeout %v: the backoff did not shorten it", took, visibilityTimeout)
			}
			inv := e.recorded()
			if len(inv) < 2 || len(inv[0].resp.BatchItemFailures) != 1 || inv[0].resp.BatchItemFailures[0].ItemIdentifier != inv[0].ev.Records[0].MessageId {
				t.Fatalf("first invocation did not report its record as a batch item failure: %+v", inv)
			}
			last := inv[len(inv)-1].ev.Records[0]
			if last.Attributes["ApproximateReceiveCount"] != "2" || last.MessageId != inv[0].ev.Records[0].MessageId {
				t.Errorf("forwarded on receive %s of message %s; want the same message's 2nd receive", last.Attributes["ApproximateReceiveCount"], last.MessageId)
			}
			reqs := e.logistos.Requests()
			if len(sent) != 1 || reqs[0].Status == 200 || reqs[0].IdempotencyKey() != sent[0].IdempotencyKey() {
				t.Errorf("Logistos requests %d, accepted %d; keys %q vs %q", len(reqs), len(sent), reqs[0].IdempotencyKey(), sent[0].IdempotencyKey())
			}
			if v, f := e.depth(e.st.DLQURL); v+f != 0 {
				t.Errorf("DLQ holds %d messages", v+f)
			}
		})
	}
}

// Permanent answers send the order to the DLQ at once, reason attached,
// original body and attributes kept, and acknowledge it.
func TestPermanentFailureGoesToDLQ(t *testing.T) {
	for _, fault := range []fakelogistos.Response{fakelogistos.Invalid, fakelogistos.BadRequest} {
		t.Run(fmt.Sprint(fault.Status), func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, envOptions{respond: fakelogistos.Always(fault)})
			body, _, err := delivery.ReadFixture(delivery.SampleOrder)
			if err != nil {
				t.Fatal(err)
			}
			if status, b := e.send(delivery.Delivery{WebhookID: 9}.NewRequest(context.Background(), e.url, body, stackSecret)); status != 200 {
				t.Fatalf("webhook answered %d %s", status, b)
			}
			e.start()
			e.waitDepth("DLQ", e.st.DLQURL, 1, 0)
			e.waitSettled()
			dead := e.drain(e.st.DLQURL)
			if len(dead) != 1 {
				t.Fatalf("DLQ holds %d messages", len(dead))
			}
			m := dead[0]
			if *m.Body != string(body) {
				t.Error("dead-lettered body differs from the delivery")
			}
			if attr(m, queue.AttrFailureClass) != "permanent" || !strings.Contains(attr(m, queue.AttrFailureReason), fmt.Sprint(fault.Status)) {
				t.Errorf("failure attributes %q / %q", attr(m, queue.AttrFailureClass), attr(m, queue.AttrFailureReason))
			}
			if attr(m, queue.AttrFailureDetail) != fault.Body {
				t.Errorf("failure-detail %q, want Logistos's answer %q", attr(m, queue.AttrFailureDetail), fault.Body)
			}
			if attr(m, queue.AttrTopic) != "order.created" || attr(m, queue.AttrOrigin) != "webhook" || attr(m, queue.AttrWebhookID) != "9" || attr(m, queue.AttrReceivedAt) == "" {
				t.Errorf("original attributes lost: %v", m.MessageAttributes)
			}
			if n := len(e.logistos.Requests()); n != 1 {
				t.Errorf("Logistos got %d requests; a permanent failure must not be retried", n)
			}
		})
	}
}

// With Logistos down for good, SQS's own redrive takes the order to the
// waiting queue after maxReceiveCount receives: not to the DLQ, which holds
// only what needs a human (reconcile brings waiting orders back).
func TestExhaustedRetriesWait(t *testing.T) {
	t.Parallel()
	const maxReceives = 3
	e := newEnv(t, envOptions{maxReceiveCount: maxReceives, respond: fakelogistos.Always(fakelogistos.Unavailable)})
	body, _, err := delivery.ReadFixture(delivery.SampleOrder)
	if err != nil {
		t.Fatal(err)
	}
	if status, b := e.send(delivery.Delivery{}.NewRequest(context.Background(), e.url, body, stackSecret)); status != 200 {
		t.Fatalf("webhook answered %d %s", status, b)
	}
	e.start()
	e.waitDepth("waiting queue", e.st.WaitingQueueURL, 1, 0)
	e.waitSettled()
	if n := len(e.logistos.Requests()); n != maxReceives {
		t.Errorf("Logistos got %d attempts, want %d (one per receive)", n, maxReceives)
	}
	if v, f, _ := e.st.Depth(context.Background(), e.st.DLQURL); v+f != 0 {
		t.Errorf("%d orders on the DLQ: an outage is not a refusal", v+f)
	}
	dead := e.drain(e.st.WaitingQueueURL)
	if len(dead) != 1 || *dead[0].Body != string(body) || attr(dead[0], queue.AttrTopic) != "order.created" {
		t.Fatalf("waiting queue content %+v", dead)
	}
	if attr(dead[0], queue.AttrFailureClass) != "" {
		t.Error("SQS's redrive does not add failure attributes; the forwarder must not have dead-lettered it itself")
	}
}

// A message that is not an order is dead-lettered with the reason, and
// acknowledged.
func TestUnreadableMessageGoesToDLQ(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	s := &queue.Sender{Client: e.st.SQS, QueueURL: e.st.QueueURL}
	if _, err := s.Send(context.Background(), queue.Message{Body: "this is not json", Topic: "order.created", Origin: queue.OriginWebhook}); err != nil {
		t.Fatal(err)
	}
	e.start()
	e.waitDepth("DLQ", e.st.DLQURL, 1, 0)
	e.waitSettled()
	dead := e.drain(e.st.DLQURL)
	if len(dead) != 1 || *dead[0].Body != "this is not json" {
		t.Fatalf("DLQ content %+v", dead)
	}
	if reason := attr(dead[0], queue.AttrFailureReason); !strings.Contains(reason, "not a WooCommerce order") {
		t.Errorf("failure-reason %q", reason)
	}
	if n := len(e.logistos.Requests()); n != 0 {
		t.Errorf("Logistos got %d requests", n)
	}
}
