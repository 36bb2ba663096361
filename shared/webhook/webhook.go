// Package webhook receives WooCommerce webhook deliveries through an API
// Gateway HTTP API and puts each order on the orders queue.
//
// Its answers are chosen for WooCommerce, which never retries a delivery and
// silently disables a webhook after a few non-2xx answers: anything authentic
// gets 200 unless the order could not be kept (503) or can never fit (413).
package webhook

import (
	"context"
	"encoding/base64"
	"errors"
	"log/slog"
	"strings"
	"time"
	"unsafe"

	"github.com/aws/aws-lambda-go/events"

	"github.com/logistos-sync/logistos-sync/shared/metrics"
	"github.com/logistos-sync/logistos-sync/shared/queue"
	"github.com/logistos-sync/logistos-sync/shared/secret"
	"github.com/logistos-sync/logistos-sync/shared/woohook"
)

const (
	// MaxBodyBytes bounds what is read and hashed: Lambda refuses larger
	// synchronous payloads (6 MB) anyway, and checking first keeps a flood
	// of huge unsigned bodies from costing HMAC time.
	MaxBodyBytes = 6 << 20
	// EnqueueTimeout bounds the SQS call with the SDK's retries, well inside
	// WooCommerce's 60 s delivery timeout and API Gateway's 30 s.
	EnqueueTimeout = 8 * time.Second
)

// Enqueuer puts a message on the orders queue and returns its id.
type Enqueuer interface {
	Send(ctx context.Context, m queue.Message) (string, error)
}

// Handler answers webhook deliveries. Build it once per cold start.
type Handler struct {
	Secrets  secret.Source
	Queue    Enqueuer
	Topics   map[string]bool // topics forwarded; others are answered 200 and dropped
	StoreURL string          // wc-source when the delivery names none
	Log      *slog.Logger
	Metrics  *metrics.Emitter

	verifier woohook.Verifier
}

// Response bodies: fixed, so nothing about a request is echoed back.
const (
	bodyQueued    = `{"status":"queued"}`
	bodyPing      = `{"status":"ok"}`
	bodyIgnored   = `{"status":"ignored"}`
	bodyBadSig    = `{"error":"invalid or missing X-WC-Webhook-Signature"}`
	bodyTooLarge  = `{"error":"body too large"}`
	bodyBadBody   = `{"error":"body is not valid base64"}`
	bodyQueueDown = `{"error":"could not queue the order; retry later"}`
	bodyNoSecret  = `{"error":"webhook secret unavailable; retry later"}`
)

var jsonHeaders = map[string]string{"content-type": "application/json"}

func respond(status int, body string) events.APIGatewayV2HTTPResponse {
	return events.APIGatewayV2HTTPResponse{StatusCode: status, Headers: jsonHeaders, Body: body}
}

// Handle answers one delivery. It never returns an error: every outcome is an
// HTTP status, since a Lambda error would reach WooCommerce as a 500.
func (h *Handler) Handle(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	start := time.Now()
	raw := req.Body
	if req.IsBase64Encoded {
		if base64.StdEncoding.DecodedLen(len(raw)) > MaxBodyBytes {
			return h.reject(ctx, 413, metrics.BodyTooLarge, "body too large", bodyTooLarge, len(raw)), nil
		}
		b, err := base64.StdEncoding.DecodeString(raw)
		if err != nil {
			h.Log.LogAttrs(ctx, slog.LevelWarn, "webhook rejected", slog.String("reason", "body is not valid base64"), slog.Int("status", 400))
			return respond(400, bodyBadBody), nil
		}
		raw = string(b)
	}
	sig := header(req.Headers, woohook.HeaderSignature)
	topic := header(req.Headers, woohook.HeaderTopic)
	body := readOnlyBytes(raw)

	if woohook.IsPing(sig, topic, body) {
		h.Log.LogAttrs(ctx, slog.LevelInfo, "webhook ping", slog.String("outcome", "ping"), slog.Int("status", 200))
		return respond(200, bodyPing), nil
	}
	if len(body) > MaxBodyBytes {
		return h.reject(ctx, 413, metrics.BodyTooLarge, "body too large", bodyTooLarge, len(body)), nil
	}

	secrets, err := h.Secrets.Values(ctx)
	if err != nil {
		// Without the secret nothing can be verified; a 503 is honest, and the
		// order is recovered by a later backfill run.
		h.Log.LogAttrs(ctx, slog.LevelError, "webhook secret unavailable", slog.String("error", err.Error()), slog.Int("status", 503))
		h.Metrics.Count(metrics.EnqueueFailed, 1)
		return respond(503, bodyNoSecret), nil
	}
	if !h.verifier.Verify(body, sig, secrets) {
		// Maybe the secret was rotated after this container cached it.
		if sig == "" {
			return h.reject(ctx, 401, metrics.SignatureMissing, "missing X-WC-Webhook-Signature", bodyBadSig, len(body)), nil
		}
		if !h.Secrets.Refresh(ctx) {
			return h.reject(ctx, 401, metrics.SignatureRejected, "signature does not match the webhook secret", bodyBadSig, len(body)), nil
		}
		if secrets, err = h.Secrets.Values(ctx); err != nil || !h.verifier.Verify(body, sig, secrets) {
			return h.reject(ctx, 401, metrics.SignatureRejected, "signature does not match the webhook secret", bodyBadSig, len(body)), nil
		}
	}
	kind, id := woohook.Peek(body)
	if !h.Topics[topic] || kind == woohook.KindError {
		// Authentic but nothing to forward. 200, because WooCommerce counts
		// any other answer toward disabling the webhook.
		reason := "topic not forwarded"
		if kind == woohook.KindError {
			reason = "body is a WooCommerce REST error, not an order (check the webhook user's permissions)"
		}
		h.Log.LogAttrs(ctx, slog.LevelWarn, "webhook dropped", slog.String("reason", reason),
			slog.String("topic", topic), slog.Int64("order_id", id), slog.String("outcome", "dropped"), slog.Int("status", 200))
		h.Metrics.Emit(metrics.One(metrics.OrdersReceived), metrics.One(metrics.OrdersDropped))
		return respond(200, bodyIgnored), nil
	}

	msg := queue.Message{
		Body:       raw,
		Topic:      topic,
		Source:     h.source(header(req.Headers, woohook.HeaderSource)),
		Origin:     queue.OriginWebhook,
		WebhookID:  header(req.Headers, woohook.HeaderWebhookID),
		DeliveryID: header(req.Headers, woohook.HeaderDeliveryID),
		ReceivedAt: receivedAt(req, start),
	}
	sendCtx, cancel := context.WithTimeout(ctx, EnqueueTimeout)
	defer cancel()
	if _, err := h.Queue.Send(sendCtx, msg); err != nil {
		if errors.Is(err, queue.ErrTooLarge) {
			h.Metrics.Count(metrics.OrdersReceived, 1)
			return h.reject(ctx, 413, metrics.BodyTooLarge, err.Error(), bodyTooLarge, len(body)), nil
		}
		h.Log.LogAttrs(ctx, slog.LevelError, "webhook enqueue failed", slog.String("error", err.Error()),
			slog.Int64("order_id", id), slog.String("topic", topic), slog.String("outcome", "enqueue_failed"), slog.Int("status", 503))
		h.Metrics.Emit(metrics.One(metrics.OrdersReceived), metrics.One(metrics.EnqueueFailed))
		return respond(503, bodyQueueDown), nil
	}
	h.Metrics.Emit(metrics.One(metrics.OrdersReceived), metrics.One(metrics.OrdersEnqueued))
	// Five attributes at most: slog stores them in the record without allocating.
	h.Log.LogAttrs(ctx, slog.LevelInfo, "order enqueued", slog.Int64("order_id", id), slog.String("topic", topic),
		slog.String("origin", queue.OriginWebhook), slog.String("outcome", "enqueued"),
		slog.Float64("latency_ms", float64(time.Since(start).Microseconds())/1000))
	return respond(200, bodyQueued), nil
}

// header returns the named header. API Gateway lower-cases names, so that
// is tried first; events built by other tools may keep WooCommerce's casing.
func header(h map[string]string, lower string) string {
	if v, ok := h[lower]; ok {
		return v
	}
	for k, v := range h {
		if strings.EqualFold(k, lower) {
			return v
		}
	}
	return ""
}

// readOnlyBytes views s as bytes without copying a body that can be
// megabytes long. Everything it is passed to (HMAC, ping and peek checks)
// only reads it and keeps nothing.
func readOnlyBytes(s string) []byte {
	return unsafe.Slice(unsafe.StringData(s), len(s))
}

func (h *Handler) reject(ctx context.Context, status int, metric, reason, body string, size int) events.APIGatewayV2HTTPResponse {
	h.Log.LogAttrs(ctx, slog.LevelWarn, "webhook rejected", slog.String("reason", reason), slog.Int("status", status), slog.Int("bytes", size))
	h.Metrics.Count(metric, 1)
	return respond(status, body)
}

func (h *Handler) source(header string) string {
	if header != "" {
		return header
	}
	return h.StoreURL
}

func receivedAt(req events.APIGatewayV2HTTPRequest, now time.Time) time.Time {
	if ms := req.RequestContext.TimeEpoch; ms > 0 {
		return time.UnixMilli(ms)
	}
	return now
}
