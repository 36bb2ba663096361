package integration

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/logistos-sync/logistos-sync/local/delivery"
	"github.com/logistos-sync/logistos-sync/local/fakelogistos"
	"github.com/logistos-sync/logistos-sync/shared/logistos"
	"github.com/logistos-sync/logistos-sync/shared/queue"
	"github.com/logistos-sync/logistos-sync/shared/woohook"
)

// sampleOrder returns the repository's sample order with another id, still
// encoded exactly as WooCommerce encodes it.
func sampleOrder(t *testing.T, id int) []byte {
	t.Helper()
	body, err := delivery.SampleOrderAs(int64(id))
	if err != nil {
		t.Fatal(err)
	}
	return body
}

// payloadIDs returns the order ids of a Logistos payload.
func payloadIDs(t *testing.T, body []byte) []int64 {
	t.Helper()
	var ids []int64
	for _, o := range decodePayload(t, body).Orders {
		ids = append(ids, orderID(t, o))
	}
	return ids
}

// rejectOrder answers 422 to any payload holding order id bad, 200 otherwise.
func rejectOrder(t *testing.T, bad int64) fakelogistos.Responder {
	return func(r *fakelogistos.Request) fakelogistos.Response {
		if slices.Contains(payloadIDs(t, r.Body), bad) {
			return fakelogistos.Invalid
		}
		return fakelogistos.OK
	}
}

// One bad order among ten, webhook and backfill mixed: the nine reach
// Logistos, only the bad one is dead-lettered.
func TestOneBadOrderInABatch(t *testing.T) {
	cases := []struct {
		name string
		bad  int64
	}{
		{"bad backfill order", 5008},
		{"bad webhook order", 5002},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, envOptions{respond: rejectOrder(t, tc.bad)})
			var backfill []*queue.Message
			for id := 5001; id <= 5010; id++ {
				body := sampleOrder(t, id)
				if id <= 5005 {
					if status, b := e.send(delivery.Delivery{}.NewRequest(context.Background(), e.url, body, stackSecret)); status != 200 {
						t.Fatalf("webhook answered %d %s", status, b)
					}
					continue
				}
				backfill = append(backfill, &queue.Message{Body: string(body), Source: storeURL, Origin: queue.OriginBackfill, ReceivedAt: time.Now()})
			}
			if err := (&queue.Sender{Client: e.st.SQS, QueueURL: e.st.QueueURL}).SendBatch(context.Background(), backfill); err != nil {
				t.Fatal(err)
			}
			e.start()
			e.waitDepth("DLQ", e.st.DLQURL, 1, 0)
			e.waitSettled()

			if inv := e.recorded(); len(inv[0].ev.Records) != 10 {
				t.Errorf("first batch had %d records, want all 10", len(inv[0].ev.Records))
			}
			var delivered []int64
			for _, r := range e.logistos.Delivered() {
				delivered = append(delivered, payloadIDs(t, r.Body)...)
			}
			slices.Sort(delivered)
			var want []int64
			for id := int64(5001); id <= 5010; id++ {
				if id != tc.bad {
					want = append(want, id)
				}
			}
			if !slices.Equal(delivered, want) {
				t.Errorf("Logistos accepted orders %v, want each of %v once", delivered, want)
			}
			// One order per POST, keyed by that order alone, so a retry in
			// another batch would carry the same Idempotency-Key.
			for _, r := range e.logistos.Requests() {
				p := decodePayload(t, r.Body)
				if len(p.Orders) != 1 {
					t.Fatalf("a payload of %d orders", len(p.Orders))
				}
				o, err := logistos.ParseOrder(p.Orders[0])
				if err != nil {
					t.Fatal(err)
				}
				if want := o.IdempotencyKey(storeURL); r.Header.Get("Idempotency-Key") != want {
					t.Errorf("order %s: Idempotency-Key %q, want its own key %q", o.ID.Text(), r.Header.Get("Idempotency-Key"), want)
				}
			}
			dead := e.drain(e.st.DLQURL)
			if len(dead) != 1 || !strings.HasPrefix(*dead[0].Body, fmt.Sprintf(`{"id":%d,`, tc.bad)) || attr(dead[0], queue.AttrFailureClass) != "permanent" {
				t.Fatalf("DLQ content: %d messages", len(dead))
			}
		})
	}
}

// bigOrder returns the sample order with n line items.
func bigOrder(t *testing.T, n int) []byte {
	t.Helper()
	body := sampleOrder(t, 7001)
	start := bytes.Index(body, []byte(`"line_items":[`)) + len(`"line_items":[`)
	end := bytes.Index(body, []byte(`],"tax_lines"`))
	first := body[start : bytes.Index(body[start:], []byte(`"parent_name":"Cotton Kurta"}`))+start+len(`"parent_name":"Cotton Kurta"}`)]
	var items bytes.Buffer
	for i := range n {
		if i > 0 {
			items.WriteByte(',')
		}
		items.Write(bytes.Replace(first, []byte(`{"id":311,`), fmt.Appendf(nil, `{"id":%d,`, 100000+i), 1))
	}
	out := append([]byte{}, body[:start]...)
	out = append(out, items.Bytes()...)
	return append(out, body[end:]...)
}

func TestLargeOrders(t *testing.T) {
	t.Run("over 1 MiB is compressed and forwarded intact", func(t *testing.T) {
		t.Parallel()
		const items = 3000
		body := bigOrder(t, items)
		if len(body) <= queue.MaxMessageBytes || !json.Valid(body) {
			t.Fatalf("test order is %d bytes (valid JSON: %v); want over %d", len(body), json.Valid(body), queue.MaxMessageBytes)
		}
		e := newEnv(t, envOptions{})
		if status, b := e.send(delivery.Delivery{}.NewRequest(context.Background(), e.url, body, stackSecret)); status != 200 {
			t.Fatalf("webhook answered %d %s", status, b)
		}
		e.start()
		sent := e.waitDelivered(1)
		e.waitSettled()
		rec := e.recorded()[0].ev.Records[0]
		if enc := rec.MessageAttributes[queue.AttrContentEncoding].StringValue; enc == nil || *enc != queue.EncodingGzip {
			t.Fatalf("content-encoding attribute %v", enc)
		}
		if len(rec.Body) > queue.MaxMessageBytes {
			t.Errorf("queued body is %d bytes", len(rec.Body))
		}
		if raw, err := queue.Decode(rec.Body, queue.EncodingGzip); err != nil || !bytes.Equal(raw, body) {
			t.Errorf("queued body does not decode to the delivery (err %v)", err)
		}
		var p struct {
			Orders []struct {
				LineItems []struct {
					ID    int64           `json:"id"`
					Price json.RawMessage `json:"price"`
				} `json:"line_items"`
			} `json:"orders"`
		}
		if err := json.Unmarshal(sent[0].Body, &p); err != nil || len(p.Orders) != 1 {
			t.Fatalf("payload: %v", err)
		}
		li := p.Orders[0].LineItems
		if len(li) != items || li[0].ID != 100000 || li[items-1].ID != 100000+items-1 || string(li[items-1].Price) != "593.22" {
			t.Errorf("payload has %d line items (first %d, last %d)", len(li), li[0].ID, li[len(li)-1].ID)
		}
	})
	t.Run("too large even compressed is 413", func(t *testing.T) {
		t.Parallel()
		noise := make([]byte, 1200<<10)
		_, _ = rand.Read(noise)
		body := bytes.Replace(sampleOrder(t, 7002), []byte(`"customer_note":"Please call before delivery \u2014 gate code 4471"`),
			[]byte(`"customer_note":"`+base64.StdEncoding.EncodeToString(noise)+`"`), 1)
		e := newEnv(t, envOptions{})
		if status, b := e.send(delivery.Delivery{}.NewRequest(context.Background(), e.url, body, stackSecret)); status != http.StatusRequestEntityTooLarge {
			t.Fatalf("webhook answered %d %s, want 413", status, b)
		}
		if v, f := e.depth(e.st.QueueURL); v+f != 0 {
			t.Errorf("queue holds %d messages", v+f)
		}
		if !strings.Contains(e.logs.String(), "too large") {
			t.Error("no log line says why the order was refused")
		}
	})
}

// During a rotation both AWSCURRENT and AWSPREVIOUS verify; a container
// that cached the old value picks up the new one on its first mismatch.
func TestWebhookSecretRotation(t *testing.T) {
	t.Parallel()
	const v1, v2, v3 = "rotation-secret-one", "rotation-secret-two", "rotation-secret-three"
	e := newEnv(t, envOptions{secret: v1})
	deliver := func(secret string, id int) int {
		status, _ := e.send(delivery.Delivery{}.NewRequest(context.Background(), e.url, sampleOrder(t, id), secret))
		return status
	}
	if s := deliver(v1, 1); s != 200 {
		t.Fatalf("before rotation: %d", s)
	}
	if _, err := e.st.Secrets.PutSecretValue(context.Background(), &secretsmanager.PutSecretValueInput{
		SecretId: aws.String(e.st.WebhookSecretARN), SecretString: aws.String(v2),
	}); err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		name   string
		secret string
		want   int
	}{
		{"new value (AWSCURRENT), through a refresh", v2, 200},
		{"old value (AWSPREVIOUS)", v1, 200},
		{"new value again, from the cache", v2, 200},
		{"a value never set", v3, 401},
	}
	for i, s := range steps {
		if got := deliver(s.secret, 10+i); got != s.want {
			t.Errorf("%s: %d, want %d", s.name, got, s.want)
		}
	}
	if v, _ := e.depth(e.st.QueueURL); v != 4 {
		t.Errorf("queue holds %d orders, want 4", v)
	}
}

// Without SQS the webhook answers 503 (WooCommerce logs the failure; a
// backfill recovers the order), says why in the log, and never hangs.
func TestQueueUnavailable(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + ln.Addr().String()
	ln.Close()
	e.webhook.Queue = &queue.Sender{
		Client:   sqs.NewFromConfig(e.st.AWS, func(o *sqs.Options) { o.BaseEndpoint = aws.String(dead) }),
		QueueURL: e.st.QueueURL,
	}
	start := time.Now()
	status, body := e.send(delivery.Delivery{}.NewRequest(context.Background(), e.url, sampleOrder(t, 1), stackSecret))
	if status != http.StatusServiceUnavailable || !strings.Contains(body, "retry later") {
		t.Errorf("webhook answered %d %s, want 503", status, body)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("answer took %v", took)
	}
	if !strings.Contains(e.logs.String(), `"msg":"webhook enqueue failed"`) {
		t.Error("no log line for the failed enqueue")
	}
}

// Nothing personal, secret or payment-related reaches the logs, whatever
// happens to the order.
func TestLogsCarryNoPersonalData(t *testing.T) {
	t.Parallel()
	const good, bad = 4821, 4822
	e := newEnv(t, envOptions{respond: func(r *fakelogistos.Request) fakelogistos.Response {
		if slices.Contains(payloadIDs(t, r.Body), bad) {
			// An API that echoes the order in its error must not leak it either.
			return fakelogistos.Response{Status: 422, Body: `{"error":"invalid email priya.sharma+orders@example.in, phone +91 98765 43210"}`}
		}
		return fakelogistos.OK
	}})
	goodBody, badBody := sampleOrder(t, good), sampleOrder(t, bad)
	for _, body := range [][]byte{goodBody, badBody} {
		if status, b := e.send(delivery.Delivery{}.NewRequest(context.Background(), e.url, body, stackSecret)); status != 200 {
			t.Fatalf("webhook answered %d %s", status, b)
		}
	}
	if status, _ := e.send(delivery.Delivery{Signature: woohook.Sign(goodBody, []byte("wrong"))}.NewRequest(context.Background(), e.url, goodBody, stackSecret)); status != 401 {
		t.Fatalf("bad signature answered %d", status)
	}
	if status, _ := e.send(delivery.NewPing(context.Background(), e.url, 1)); status != 200 {
		t.Fatalf("ping answered %d", status)
	}
	e.start()
	e.waitDelivered(1)
	e.waitDepth("DLQ", e.st.DLQURL, 1, 0)
	e.waitSettled()

	logs := e.logs.String()
	for _, want := range []string{`"order_id":"4821"`, `"outcome":"forwarded"`, `"outcome":"permanent_failure"`, `"msg":"webhook rejected"`, `"msg":"webhook ping"`, `"Metrics"`} {
		if !strings.Contains(logs, want) {
			t.Fatalf("logs lack %s; the capture is not working:\n%s", want, logs)
		}
	}
	secrets := []string{
		stackSecret, woohook.Sign(goodBody, []byte(stackSecret)), woohook.Sign(badBody, []byte(stackSecret)), woohook.Sign(goodBody, []byte("wrong")),
	}
	personal := []string{
		"प्रिया", `\u092a\u094d\u0930`, "Sharma", "priya.sharma", "example.in", "+91 98765 43210", "98765",
		"Flat 12B", "Sai Krupa", "Lane 4", "Ganesh", "Pune", "411038", "gate code", "203.0.113.77", "Android 14",
		"4111 1111 1111 1111", "src_1Nq8ExampleToken", "_billing_card_number", "_wc_razorpay_card_last4", "wc_order_Xk3pQ9vR2mTzA",
	}
	for _, s := range append(secrets, personal...) {
		if strings.Contains(logs, s) {
			t.Errorf("logs contain %q", s)
		}
	}
}
