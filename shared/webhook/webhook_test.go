package webhook

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"

	"github.com/logistos-sync/logistos-sync/shared/ledger"
	"github.com/logistos-sync/logistos-sync/shared/logging"
	"github.com/logistos-sync/logistos-sync/shared/metrics"
	"github.com/logistos-sync/logistos-sync/shared/queue"
	"github.com/logistos-sync/logistos-sync/shared/secret"
	"github.com/logistos-sync/logistos-sync/shared/woohook"
	"github.com/logistos-sync/logistos-sync/shared/woohook/woohooktest"
)

const (
	fixtures   = "../../testdata/woocommerce/real-wc-8.9.1"
	realSecret = "realwoo-webhook-secret"
)

// fakeQueue records messages, or fails with err.
type fakeQueue struct {
	mu   sync.Mutex
	msgs []queue.Message
	err  error
}

func (q *fakeQueue) Send(_ context.Context, m queue.Message) (string, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.err != nil {
		return "", q.err
	}
	// Encode as the real sender does, so size limits apply here too.
	if _, _, err := queue.Encode(&m, queue.MaxMessageBytes); err != nil {
		return "", err
	}
	q.msgs = append(q.msgs, m)
	return fmt.Sprint(len(q.msgs)), nil
}

// rotatingSecret serves stale values until Refresh, like a cached secret
// read before a rotation.
type rotatingSecret struct {
	cached, fresh [][]byte
	refreshes     int
	err           error
}

func (s *rotatingSecret) Values(context.Context) ([][]byte, error) { return s.cached, s.err }
func (s *rotatingSecret) Refresh(context.Context) bool {
	s.refreshes++
	s.cached = s.fresh
	return true
}

type harness struct {
	h    *Handler
	q    *fakeQueue
	l    *ledger.Memory
	logs *bytes.Buffer
	emf  *bytes.Buffer
}

func newHarness(src secret.Source) *harness {
	logs, emf := &bytes.Buffer{}, &bytes.Buffer{}
	q, l := &fakeQueue{}, &ledger.Memory{}
	log, m := logging.New(logs, "debug"), metrics.New(emf, "webhook-test")
	return &harness{
		h: &Handler{
			Secrets: src, Queue: q, Topics: map[string]bool{"order.created": true}, StoreURL: "https://shop.example",
			Ledger: &ledger.Recorder{Store: l, Log: log, Metrics: m}, Log: log, Metrics: m,
		},
		q: q, l: l, logs: logs, emf: emf,
	}
}

// capture reads a captured delivery as API Gateway would pass it.
func capture(t testing.TB, name string) events.APIGatewayV2HTTPRequest {
	t.Helper()
	c, err := woohooktest.ReadCapture(fixtures, name)
	if err != nil {
		t.Fatal(err)
	}
	body := c.Body
	req := events.APIGatewayV2HTTPRequest{Headers: c.Headers, Body: string(body)}
	req.RequestContext.TimeEpoch = time.Date(2026, 11, 28, 2, 6, 17, 0, time.UTC).UnixMilli()
	if !strings.HasPrefix(req.Headers["content-type"], "application/json") {
		req.Body, req.IsBase64Encoded = base64.StdEncoding.EncodeToString(body), true
	}
	return req
}

func (hs *harness) do(t *testing.T, req events.APIGatewayV2HTTPRequest) events.APIGatewayV2HTTPResponse {
	t.Helper()
	resp, err := hs.h.Handle(context.Background(), req)
	if err != nil {
		t.Fatalf("Handle returned an error (API Gateway would answer 500): %v", err)
	}
	return resp
}

func TestDeliveryEnqueued(t *testing.T) {
	hs := newHarness(secret.Literal(realSecret))
	req := capture(t, "order-created-313")
	resp := hs.do(t, req)
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, resp.Body)
	}
	if len(hs.q.msgs) != 1 {
		t.Fatalf("%d messages enqueued, want 1", len(hs.q.msgs))
	}
	m := hs.q.msgs[0]
	if m.Body != req.Body {
		t.Error("body not enqueued byte for byte")
	}
	want := queue.Message{Body: m.Body, Topic: "order.created", Source: "http://127.0.0.1:8088/", Origin: "webhook",
		WebhookID: "1", DeliveryID: "f7bb2b08fb1ad30520bc1b464e404ba8", ReceivedAt: time.Date(2026, 11, 28, 2, 6, 17, 0, time.UTC)}
	if !m.ReceivedAt.Equal(want.ReceivedAt) {
		t.Errorf("received-at %v, want %v", m.ReceivedAt, want.ReceivedAt)
	}
	m.ReceivedAt = want.ReceivedAt
	if m != want {
		t.Errorf("message\n got %+v\nwant %+v", m, want)
	}
	if !strings.Contains(hs.logs.String(), `"order_id":313`) || !strings.Contains(hs.emf.String(), `"OrdersEnqueued":1`) {
		t.Errorf("log or metric missing:\n%s\n%s", hs.logs, hs.emf)
	}
	// Each custom metric written with every order is billed for every hour
	// with an order: the plain path writes only the one NoWebhookAlarm reads.
	if strings.Contains(hs.emf.String(), `"OrdersReceived"`) || strings.Count(hs.emf.String(), `"Name":`) != 1 {
		t.Errorf("the plain path writes more than OrdersEnqueued: %s", hs.emf)
	}
}

// The ledger holds an order only once SQS accepted it: an entry for an
// order that is not queued would hide it from reconcile for ever.
func TestLedgerRecordsOnlyQueuedOrders(t *testing.T) {
	hs := newHarness(secret.Literal(realSecret))
	hs.q.err = errors.New("sqs unavailable")
	if resp := hs.do(t, capture(t, "order-created-313")); resp.StatusCode != 503 || hs.l.Len() != 0 {
		t.Fatalf("queue down: status %d, %d ledger entries; want 503 and none", resp.StatusCode, hs.l.Len())
	}
	hs.q.err = nil
	if resp := hs.do(t, capture(t, "order-created-313")); resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	got, _ := hs.l.Get(context.Background(), []int64{313})
	if e := got[313]; e.Origin != queue.OriginWebhook || e.Modified != "2026-11-28T02:06:16" {
		t.Fatalf("ledger entry %+v", e)
	}
}

// A failed ledger write does not fail the delivery: the order is queued.
func TestLedgerFailureStillAnswers200(t *testing.T) {
	hs := newHarness(secret.Literal(realSecret))
	hs.h.Ledger.Store = brokenLedger{}
	if resp := hs.do(t, capture(t, "order-created-313")); resp.StatusCode != 200 || len(hs.q.msgs) != 1 {
		t.Fatalf("status %d, %d queued; want 200 and 1", resp.StatusCode, len(hs.q.msgs))
	}
	if !strings.Contains(hs.emf.String(), `"LedgerWriteFailed":1`) || !strings.Contains(hs.logs.String(), "ledger write failed") {
		t.Fatalf("want a LedgerWriteFailed metric and a warning:\n%s\n%s", hs.emf, hs.logs)
	}
}

type brokenLedger struct{}

func (brokenLedger) Put(context.Context, []ledger.Entry) error { return errors.New("throttled") }
func (brokenLedger) Get(context.Context, []int64) (map[int64]ledger.Entry, error) {
	return nil, errors.New("throttled")
}

func TestStatusCodes(t *testing.T) {
	real := capture(t, "order-created-313")
	with := func(mut func(r *events.APIGatewayV2HTTPRequest)) events.APIGatewayV2HTTPRequest {
		r := real
		r.Headers = map[string]string{}
		for k, v := range real.Headers {
			r.Headers[k] = v
		}
		mut(&r)
		return r
	}
	signed := func(body string, topic string) events.APIGatewayV2HTTPRequest {
		return with(func(r *events.APIGatewayV2HTTPRequest) {
			r.Body = body
			r.Headers[woohook.HeaderTopic] = topic
			r.Headers[woohook.HeaderSignature] = woohook.Sign([]byte(body), []byte(realSecret))
		})
	}
	restError, _ := os.ReadFile(filepath.Join(fixtures, "error-401-unknown-key.json"))
	ping := capture(t, "ping")
	if !ping.IsBase64Encoded {
		t.Fatal("the form-encoded ping should arrive base64-encoded, as API Gateway passes it")
	}
	huge := `{"id":9,"x":"` + strings.Repeat("a", MaxBodyBytes) + `"}`

	cases := []struct {
		name     string
		req      events.APIGatewayV2HTTPRequest
		queueErr error
		status   int
		enqueued int
		metric   string
	}{
		{"real delivery", real, nil, 200, 1, metrics.OrdersEnqueued},
		{"captured ping, base64-encoded", ping, nil, 200, 0, ""},
		{"missing signature", with(func(r *events.APIGatewayV2HTTPRequest) { delete(r.Headers, woohook.HeaderSignature) }), nil, 401, 0, metrics.SignatureMissing},
		{"wrong signature", with(func(r *events.APIGatewayV2HTTPRequest) {
			r.Headers[woohook.HeaderSignature] = woohook.Sign([]byte(r.Body), []byte("x"))
		}), nil, 401, 0, metrics.SignatureRejected},
		{"body altered", with(func(r *events.APIGatewayV2HTTPRequest) { r.Body = strings.Replace(r.Body, "33.99", "3.99", 1) }), nil, 401, 0, metrics.SignatureRejected},
		{"unsigned order", with(func(r *events.APIGatewayV2HTTPRequest) {
			delete(r.Headers, woohook.HeaderSignature)
			delete(r.Headers, woohook.HeaderTopic)
		}), nil, 401, 0, metrics.SignatureMissing},
		{"ping with a signature header", with(func(r *events.APIGatewayV2HTTPRequest) { r.Body = "webhook_id=1" }), nil, 401, 0, metrics.SignatureRejected},
		{"too large", signed(huge, "order.created"), nil, 413, 0, metrics.BodyTooLarge},
		{"REST error body", signed(string(restError), "order.created"), nil, 200, 0, metrics.OrdersDropped},
		{"topic not forwarded", signed(real.Body, "order.updated"), nil, 200, 0, metrics.OrdersDropped},
		{"unrecognised body is kept", signed(`{"status":"processing","id":5}`, "order.created"), nil, 200, 1, metrics.OrdersEnqueued},
		{"SQS down", real, errors.New("connection refused"), 503, 0, metrics.EnqueueFailed},
		{"queue says too large", real, queue.ErrTooLarge, 413, 0, metrics.BodyTooLarge},
		{"bad base64", with(func(r *events.APIGatewayV2HTTPRequest) { r.Body, r.IsBase64Encoded = "%%%", true }), nil, 400, 0, metrics.BodyMalformed},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			hs := newHarness(secret.Literal(realSecret))
			hs.q.err = c.queueErr
			resp := hs.do(t, c.req)
			if resp.StatusCode != c.status {
				t.Fatalf("status %d, want %d (%s)\nlogs: %s", resp.StatusCode, c.status, resp.Body, hs.logs)
			}
			if len(hs.q.msgs) != c.enqueued {
				t.Fatalf("%d enqueued, want %d", len(hs.q.msgs), c.enqueued)
			}
			if c.metric != "" && !strings.Contains(hs.emf.String(), `"`+c.metric+`":1`) {
				t.Errorf("metric %s not emitted: %s", c.metric, hs.emf)
			}
			if resp.Headers["content-type"] != "application/json" {
				t.Error("response is not JSON")
			}
			if c.status != 200 && !strings.Contains(hs.logs.String(), `"status":`+fmt.Sprint(c.status)) {
				t.Errorf("no log line with the status: %s", hs.logs)
			}
		})
	}
}

func TestHeaderCaseInsensitive(t *testing.T) {
	hs := newHarness(secret.Literal(realSecret))
	req := capture(t, "order-created-313")
	mixed := map[string]string{}
	for k, v := range req.Headers {
		mixed[strings.ToUpper(k[:1])+k[1:]] = v // "X-wc-webhook-signature"
	}
	req.Headers = mixed
	if resp := hs.do(t, req); resp.StatusCode != 200 || len(hs.q.msgs) != 1 || hs.q.msgs[0].DeliveryID == "" {
		t.Fatalf("status %d, %d enqueued", resp.StatusCode, len(hs.q.msgs))
	}
}

func TestRotationPickedUpOnMismatch(t *testing.T) {
	// The container cached the old secret; WooCommerce already signs with the new one.
	src := &rotatingSecret{cached: [][]byte{[]byte("old")}, fresh: [][]byte{[]byte(realSecret), []byte("old")}}
	hs := newHarness(src)
	if resp := hs.do(t, capture(t, "order-created-313")); resp.StatusCode != 200 {
		t.Fatalf("status %d after rotation", resp.StatusCode)
	}
	if src.refreshes != 1 {
		t.Fatalf("%d refreshes, want 1", src.refreshes)
	}
	// A bad signature never triggers more than the source allows; a missing one none at all.
	req := capture(t, "order-created-313")
	delete(req.Headers, woohook.HeaderSignature)
	delete(req.Headers, woohook.HeaderTopic)
	hs.do(t, req)
	if src.refreshes != 1 {
		t.Fatal("a request without a signature refreshed the secret")
	}
}

func TestSecretUnavailable(t *testing.T) {
	hs := newHarness(&rotatingSecret{err: errors.New("AccessDenied")})
	if resp := hs.do(t, capture(t, "order-created-313")); resp.StatusCode != 503 {
		t.Fatalf("status %d, want 503", resp.StatusCode)
	}
	// Its own metric: the queue is fine, the secret is not.
	if emf := hs.emf.String(); !strings.Contains(emf, `"`+metrics.SecretUnavailable+`":1`) || strings.Contains(emf, metrics.EnqueueFailed) {
		t.Errorf("metrics %s, want %s only", emf, metrics.SecretUnavailable)
	}
	if len(hs.q.msgs) != 0 {
		t.Errorf("%d enqueued without a verified signature", len(hs.q.msgs))
	}
}

func TestLogsHoldNoSecrets(t *testing.T) {
	hs := newHarness(secret.Literal(realSecret))
	good := capture(t, "order-created-313")
	bad := capture(t, "order-created-314")
	bad.Headers[woohook.HeaderSignature] = woohook.Sign([]byte(bad.Body), []byte("wrong"))
	hs.do(t, good)
	hs.do(t, bad)
	hs.h.Queue.(*fakeQueue).err = errors.New("down")
	hs.do(t, good)
	out := hs.logs.String() + hs.emf.String()
	for _, s := range []string{realSecret, good.Headers[woohook.HeaderSignature], bad.Headers[woohook.HeaderSignature],
		"Ada", "Lovelace", "ada1001@example.com", "555-0100", "Loopback Road", "latency@example.com", "Probe"} {
		if strings.Contains(out, s) {
			t.Errorf("logs contain %q", s)
		}
	}
}

// Keep the handler's logger quiet in benchmarks and fuzzing.
var quiet = slog.New(slog.NewJSONHandler(io.Discard, nil))

// X-WC-Webhook-Topic is not signed: anyone can send any value, and the log
// line of a rejected or dropped request names it. What reaches the log is
// bounded and holds no control character, whatever was sent.
func TestStrangersTopicIsBoundedInLogs(t *testing.T) {
	real := capture(t, "order-created-313")
	topics := map[string]string{
		"long":          strings.Repeat("order.created", 1000),
		"escape":        "order.created\x1b[2J\x1b[31mHACKED",
		"newline":       "order.created\n{\"level\":\"ERROR\",\"msg\":\"forged\"}",
		"NUL and DEL":   "a\x00b\x7fc",
		"invalid UTF-8": "order.\xff\xfecreated",
		"long UTF-8":    strings.Repeat("✨", 100),
	}
	for name, topic := range topics {
		for reqName, mut := range map[string]func(r *events.APIGatewayV2HTTPRequest){
			"unsigned":      func(r *events.APIGatewayV2HTTPRequest) { delete(r.Headers, woohook.HeaderSignature) },
			"bad signature": func(r *events.APIGatewayV2HTTPRequest) { r.Headers[woohook.HeaderSignature] = "AAAA" },
			"signed body":   func(*events.APIGatewayV2HTTPRequest) {}, // a replayed delivery, topic changed
		} {
			t.Run(name+"/"+reqName, func(t *testing.T) {
				req := real
				req.Headers = maps.Clone(real.Headers)
				req.Headers[woohook.HeaderTopic] = topic
				mut(&req)
				hs := newHarness(secret.Literal(realSecret))
				hs.do(t, req)
				if len(hs.q.msgs) != 0 {
					t.Fatalf("a request with topic %.40q was queued", topic)
				}
				lines := strings.Split(strings.TrimSpace(hs.logs.String()), "\n")
				for _, line := range lines {
					var rec map[string]any
					if err := json.Unmarshal([]byte(line), &rec); err != nil {
						t.Fatalf("log line %.80q is not JSON: %v", line, err)
					}
					got, _ := rec["topic"].(string)
					if len(got) > MaxLoggedHeaderBytes {
						t.Errorf("logged topic is %d bytes, more than %d", len(got), MaxLoggedHeaderBytes)
					}
					if i := strings.IndexFunc(got, func(r rune) bool { return unicode.IsControl(r) || r == utf8.RuneError }); i >= 0 {
						t.Errorf("logged topic %q holds %q", got, got[i:])
					}
				}
				if !strings.Contains(hs.logs.String(), `"topic":`) {
					t.Errorf("the log does not name the topic at all:\n%s", hs.logs)
				}
			})
		}
	}
}

// TestUnsignedIDsReachTheQueueOnlyAsIDs: X-WC-Webhook-ID and
// X-WC-Webhook-Delivery-ID are not covered by the signature, and become
// message attributes. A replayed signed delivery with anything else in them
// (a NUL, which SQS refuses: the send would fail and answer 503; or a
// megabyte) still queues the order, without them.
func TestUnsignedIDsReachTheQueueOnlyAsIDs(t *testing.T) {
	for name, c := range map[string]struct{ webhookID, deliveryID, wantWebhook, wantDelivery string }{
		"as WooCommerce sends them": {"1", "f7bb2b08fb1ad30520bc1b464e404ba8", "1", "f7bb2b08fb1ad30520bc1b464e404ba8"},
		"NUL":                       {"1\x00", "f7bb\x1b", "", ""},
		"long":                      {strings.Repeat("9", 1000), strings.Repeat("a", 1000), "", ""},
		"not an id":                 {"1 OR 1=1", "<script>", "", ""},
	} {
		t.Run(name, func(t *testing.T) {
			hs := newHarness(secret.Literal(realSecret))
			req := capture(t, "order-created-313")
			req.Headers[woohook.HeaderWebhookID] = c.webhookID
			req.Headers[woohook.HeaderDeliveryID] = c.deliveryID
			if resp := hs.do(t, req); resp.StatusCode != 200 || len(hs.q.msgs) != 1 {
				t.Fatalf("status %d, %d enqueued", resp.StatusCode, len(hs.q.msgs))
			}
			if m := hs.q.msgs[0]; m.WebhookID != c.wantWebhook || m.DeliveryID != c.wantDelivery {
				t.Errorf("attributes %q %q, want %q %q", m.WebhookID, m.DeliveryID, c.wantWebhook, c.wantDelivery)
			}
		})
	}
}
