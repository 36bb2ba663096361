// Package webhook receives WooCommerce webhook deliveries through an API
// Gateway HTTP API and puts each order on the orders queue.
//
// A single-shop stack takes its shop's deliveries on the home route (RouteHome)
// and nothing else. A hub takes each shop's on the shop's own route
// (RouteShop, the shop's id in the path) and nothing on the home route: the
// shop is resolved first (its secret, its registered URL, its part of the
// ledger) and the same checks then run for every delivery, whichever route
// it came by.
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
	"net/http"
	"strings"
	"time"
	"unsafe"

	"github.com/aws/aws-lambda-go/events"

	"github.com/logistos-sync/logistos-sync/shared/ledger"
	"github.com/logistos-sync/logistos-sync/shared/metrics"
	"github.com/logistos-sync/logistos-sync/shared/queue"
	"github.com/logistos-sync/logistos-sync/shared/secret"
	"github.com/logistos-sync/logistos-sync/shared/shop"
	"github.com/logistos-sync/logistos-sync/shared/woohook"
)

// The webhook's routes, as API Gateway names them in an event's RouteKey.
const (
	// RouteHome is a single-shop stack's webhook URL (WEBHOOK_URL).
	RouteHome = "POST " + PathHome
	// RouteShop is a hub shop's webhook URL: WEBHOOK_URL, a slash and the
	// shop's id.
	RouteShop = "POST " + PathHome + "/{" + PathParamShop + "}"
	// PathHome is the home route's path.
	PathHome = "/woocommerce/webhook"
	// PathParamShop is the path parameter holding the shop's id.
	PathParamShop = "shop"
)

const (
	// MaxBodyBytes bounds what is read and hashed: Lambda refuses larger
	// synchronous payloads (6 MB) anyway, and checking first keeps a flood
	// of huge unsigned bodies from costing HMAC time.
	MaxBodyBytes = 6 << 20
	// EnqueueTimeout bounds the SQS call with the SDK's retries, well inside
	// WooCommerce's 60 s delivery timeout and API Gateway's 30 s.
	EnqueueTimeout = 8 * time.Second
	// LedgerTimeout bounds the ledger write that follows a send: one
	// PutItem takes milliseconds, and a slow ledger must not hold the answer
	// (a missing entry costs at most one duplicate from reconcile).
	LedgerTimeout = 1 * time.Second
	// MaxLoggedHeaderBytes bounds a header value written to a log line.
	// Headers are not signed, so a stranger chooses them; a WooCommerce
	// topic is under 30 bytes.
	MaxLoggedHeaderBytes = 64
)

// Enqueuer puts a message on the orders queue and returns its id.
type Enqueuer interface {
	Send(ctx context.Context, m queue.Message) (string, error)
}

// Handler answers webhook deliveries. Build it once per cold start.
type Handler struct {
	Secrets secret.Source
	Queue   Enqueuer
	// Ledger records each order SQS accepted, after the send (never
	// beside it: an entry for an order not queued would hide it from
	// reconcile for ever). Nil records nothing.
	Ledger   *ledger.Recorder
	Topics   map[string]bool // topics forwarded; others are answered 200 and dropped
	StoreURL string          // wc-source when the delivery names none
	// Shops are a hub's shops; nil in a single-shop stack. A hub answers
	// deliveries on RouteShop only, each verified with its shop's secret
	// and queued with its shop's registered URL; Secrets and StoreURL are
	// not used.
	Shops   shop.Store
	Log     *slog.Logger
	Metrics *metrics.Emitter

	verifier woohook.Verifier
}

// An outcome is one way a delivery ends: the answer WooCommerce gets, the
// metric that counts it and the log line that says why. WooCommerce never
// retries and disables a webhook after a few non-2xx answers, so anything
// authentic is answered 200 unless the order could not be kept (503; reconcile
// recovers it) or can never fit (413). Bodies are fixed, so nothing about a
// request is echoed back.
type outcome struct {
	name   string // "outcome" in the log line
	status int
	metric string
	level  slog.Level
	msg    string // the log message
	reason string // why, when it is not the plain path
	body   string
}

// Answer bodies.
const (
	bodyQueued    = `{"status":"queued"}`
	bodyPing      = `{"status":"ok"}`
	bodyIgnored   = `{"status":"ignored"}`
	bodyBadBody   = `{"error":"body is not valid base64"}`
	bodyBadSig    = `{"error":"invalid or missing X-WC-Webhook-Signature"}`
	bodyTooLarge  = `{"error":"body too large"}`
	bodyNoSecret  = `{"error":"webhook secret unavailable; retry later"}`
	bodyQueueDown = `{"error":"could not queue the order; retry later"}`
	bodyNoShop    = `{"error":"no such webhook"}`
)

// The webhook's outcomes: the plain path, what is answered 200 but dropped,
// the rejections, and the two failures on our side.
var (
	outQueued = outcome{name: "enqueued", status: http.StatusOK, body: bodyQueued,
		metric: metrics.OrdersEnqueued, level: slog.LevelInfo, msg: "order enqueued"}
	outPing = outcome{name: "ping", status: http.StatusOK, body: bodyPing,
		level: slog.LevelInfo, msg: "webhook ping"}

	outTopicDropped = outcome{name: "dropped", status: http.StatusOK, body: bodyIgnored,
		metric: metrics.OrdersDropped, level: slog.LevelWarn, msg: "webhook dropped",
		reason: "topic not forwarded"}
	outRESTError = outcome{name: "dropped", status: http.StatusOK, body: bodyIgnored,
		metric: metrics.OrdersDropped, level: slog.LevelWarn, msg: "webhook dropped",
		reason: "body is a WooCommerce REST error, not an order (check the webhook user's permissions)"}

	outBadBase64 = outcome{name: "rejected", status: http.StatusBadRequest, body: bodyBadBody,
		metric: metrics.BodyMalformed, level: slog.LevelWarn, msg: "webhook rejected",
		reason: "body is not valid base64"}
	outUnsigned = outcome{name: "rejected", status: http.StatusUnauthorized, body: bodyBadSig,
		metric: metrics.SignatureMissing, level: slog.LevelWarn, msg: "webhook rejected",
		reason: "missing X-WC-Webhook-Signature"}
	outBadSignature = outcome{name: "rejected", status: http.StatusUnauthorized, body: bodyBadSig,
		metric: metrics.SignatureRejected, level: slog.LevelWarn, msg: "webhook rejected",
		reason: "signature does not match the webhook secret"}
	outTooLarge = outcome{name: "rejected", status: http.StatusRequestEntityTooLarge, body: bodyTooLarge,
		metric: metrics.BodyTooLarge, level: slog.LevelWarn, msg: "webhook rejected",
		reason: "body too large"}
	outTooLargeQueue = outcome{name: "rejected", status: http.StatusRequestEntityTooLarge, body: bodyTooLarge,
		metric: metrics.BodyTooLarge, level: slog.LevelWarn, msg: "webhook rejected",
		reason: "order too large for one SQS message even gzip-compressed"}

	outNoSecret = outcome{name: "secret_unavailable", status: http.StatusServiceUnavailable, body: bodyNoSecret,
		metric: metrics.SecretUnavailable, level: slog.LevelError, msg: "webhook secret unavailable",
		reason: "the webhook secret could not be read, so nothing can be verified"}
	outNoShop = outcome{name: "rejected", status: http.StatusNotFound, body: bodyNoShop,
		level: slog.LevelWarn, msg: "webhook rejected",
		reason: "no connected shop has this webhook URL"}
	outShopUnavailable = outcome{name: "secret_unavailable", status: http.StatusServiceUnavailable, body: bodyNoSecret,
		metric: metrics.SecretUnavailable, level: slog.LevelError, msg: "webhook secret unavailable",
		reason: "the shops table could not be read, so nothing can be verified"}
	outEnqueueFailed = outcome{name: "enqueue_failed", status: http.StatusServiceUnavailable, body: bodyQueueDown,
		metric: metrics.EnqueueFailed, level: slog.LevelError, msg: "webhook enqueue failed",
		reason: "the orders queue did not accept the order"}
)

var jsonHeaders = map[string]string{"content-type": "application/json"}

// Handle answers one delivery. It never returns an error: every outcome is an
// HTTP status, since a Lambda error would reach WooCommerce as a 500.
func (h *Handler) Handle(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	d := delivery{start: time.Now(), size: len(req.Body)}
	t, refused := h.resolve(ctx, req, &d)
	if refused != nil {
		return h.end(ctx, &d, *refused), nil
	}
	return h.end(ctx, &d, h.handle(ctx, req, &d, &t)), nil
}

// delivery is what the log line of a delivery's outcome tells.
type delivery struct {
	start   time.Time
	size    int
	shop    string // a hub shop's id, "" on the home route
	topic   string
	orderID int64
	err     error
}

// target is whose a delivery is: the secret it must be signed with, where
// its order is recorded and, for a hub's shop, its registered URL.
type target struct {
	secrets secret.Source
	ledger  *ledger.Recorder
	// source is a hub shop's registered URL, the message's wc-source
	// whatever the request's headers say; "" on the home route, whose
	// wc-source is the delivery's header, else StoreURL, as it always was.
	source string
}

// resolve finds whose a delivery is from its route, or the outcome that
// refuses it: a hub's shop must be connected, and each kind of stack has
// only its own routes.
func (h *Handler) resolve(ctx context.Context, req events.APIGatewayV2HTTPRequest, d *delivery) (target, *outcome) {
	id, perShop := req.PathParameters[PathParamShop]
	if !perShop {
		if h.Shops != nil {
			return target{}, &outNoShop // a hub has no home shop
		}
		return target{secrets: h.Secrets, ledger: h.Ledger}, nil
	}
	if h.Shops == nil || !shop.ValidID(id) {
		return target{}, &outNoShop
	}
	d.shop = id
	s, err := h.Shops.Get(ctx, id)
	switch {
	case errors.Is(err, shop.ErrNotFound):
		return target{}, &outNoShop
	case err != nil:
		d.err = err
		return target{}, &outShopUnavailable
	case s.Status != shop.Connected:
		// Pending: its key is not proven, its webhook not registered by us.
		// Disconnected: whatever still sends is not taken.
		return target{}, &outNoShop
	}
	t := target{secrets: shop.WebhookSecret{Store: h.Shops, ID: id}, source: s.URL}
	if h.Ledger != nil {
		rec := *h.Ledger
		rec.Store = ledger.For(rec.Store, id)
		t.ledger = &rec
	}
	return t, nil
}

func (h *Handler) handle(ctx context.Context, req events.APIGatewayV2HTTPRequest, d *delivery, t *target) outcome {
	raw := req.Body
	if req.IsBase64Encoded {
		if base64.StdEncoding.DecodedLen(len(raw)) > MaxBodyBytes {
			return outTooLarge
		}
		b, err := base64.StdEncoding.DecodeString(raw)
		if err != nil {
			return outBadBase64
		}
		raw = string(b)
	}
	sig := header(req.Headers, woohook.HeaderSignature)
	d.topic = header(req.Headers, woohook.HeaderTopic)
	body := readOnlyBytes(raw)
	d.size = len(body)

	if woohook.IsPing(sig, d.topic, body) {
		return outPing
	}
	if len(body) > MaxBodyBytes {
		return outTooLarge
	}
	secrets, err := t.secrets.Values(ctx)
	if err != nil {
		d.err = err
		return outNoSecret
	}
	if !h.verifier.Verify(body, sig, secrets) {
		if sig == "" {
			return outUnsigned
		}
		// Maybe the secret was rotated after this container cached it.
		if !t.secrets.Refresh(ctx) {
			return outBadSignature
		}
		if secrets, err = t.secrets.Values(ctx); err != nil || !h.verifier.Verify(body, sig, secrets) {
			return outBadSignature
		}
	}
	var kind woohook.Kind
	kind, d.orderID = woohook.Peek(body)
	switch {
	case kind == woohook.KindError:
		return outRESTError
	case !h.Topics[d.topic]:
		return outTopicDropped
	}

	msg := queue.Message{
		Body:       raw,
		Topic:      d.topic,
		Source:     h.source(t, req.Headers),
		Origin:     queue.OriginWebhook,
		WebhookID:  unsignedID(header(req.Headers, woohook.HeaderWebhookID)),
		DeliveryID: unsignedID(header(req.Headers, woohook.HeaderDeliveryID)),
		ReceivedAt: receivedAt(req, d.start),
	}
	sendCtx, cancel := context.WithTimeout(ctx, EnqueueTimeout)
	defer cancel()
	if _, err := h.Queue.Send(sendCtx, msg); err != nil {
		if errors.Is(err, queue.ErrTooLarge) {
			return outTooLargeQueue
		}
		d.err = err
		return outEnqueueFailed
	}
	if t.ledger != nil {
		record(ctx, t.ledger, msg)
	}
	return outQueued
}

// record writes the ledger entry of a queued order. It takes m by value so
// that the message escapes to the heap only when there is a ledger to
// write, not on every delivery.
func record(ctx context.Context, l *ledger.Recorder, m queue.Message) {
	ctx, cancel := context.WithTimeout(ctx, LedgerTimeout)
	defer cancel()
	l.Record(ctx, &m)
}

// end counts, logs and answers an outcome. The log line holds ids, sizes,
// statuses, errors and the topic only: never the body, another header value
// or the secret. Only a forwarded topic reaches the plain path's line; on
// the others it is whatever was sent, so it is made loggable.
func (h *Handler) end(ctx context.Context, d *delivery, o outcome) events.APIGatewayV2HTTPResponse {
	// One count per outcome: the deliveries received are their sum (metric
	// math), not a metric of their own billed for every hour with an order.
	if o.metric != "" {
		h.Metrics.Count(o.metric, 1)
	}
	if o == outQueued && d.shop == "" {
		// Five attributes at most: slog keeps them in the record without
		// allocating, on the path every order takes.
		h.Log.LogAttrs(ctx, o.level, o.msg, slog.Int64("order_id", d.orderID), slog.String("topic", d.topic),
			slog.String("origin", queue.OriginWebhook), slog.String("outcome", o.name),
			slog.Float64("latency_ms", float64(time.Since(d.start).Microseconds())/1000))
	} else if o == outQueued {
		// A hub's line also names the shop (its id: no personal data).
		h.Log.LogAttrs(ctx, o.level, o.msg, slog.Int64("order_id", d.orderID), slog.String("topic", d.topic),
			slog.String("origin", queue.OriginWebhook), slog.String("outcome", o.name),
			slog.Float64("latency_ms", float64(time.Since(d.start).Microseconds())/1000), slog.String("shop", d.shop))
	} else if h.Log.Enabled(ctx, o.level) {
		attrs := []slog.Attr{slog.String("outcome", o.name), slog.Int("status", o.status), slog.Int("bytes", d.size)}
		if d.shop != "" {
			attrs = append(attrs, slog.String("shop", d.shop))
		}
		if d.orderID != 0 {
			attrs = append(attrs, slog.Int64("order_id", d.orderID))
		}
		if d.topic != "" {
			attrs = append(attrs, slog.String("topic", loggable(d.topic)))
		}
		if o.reason != "" {
			attrs = append(attrs, slog.String("reason", o.reason))
		}
		if d.err != nil {
			attrs = append(attrs, slog.String("error", d.err.Error()))
		}
		h.Log.LogAttrs(ctx, o.level, o.msg, attrs...)
	}
	return events.APIGatewayV2HTTPResponse{StatusCode: o.status, Headers: jsonHeaders, Body: o.body}
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

// source is the message's wc-source: a hub shop's registered URL, never a
// header a stranger chooses; on the home route the delivery's header, else
// StoreURL, as it always was.
func (h *Handler) source(t *target, headers map[string]string) string {
	if t.source != "" {
		return t.source
	}
	if v := header(headers, woohook.HeaderSource); v != "" {
		return v
	}
	return h.StoreURL
}

func receivedAt(req events.APIGatewayV2HTTPRequest, now time.Time) time.Time {
	if ms := req.RequestContext.TimeEpoch; ms > 0 {
		return time.UnixMilli(ms)
	}
	return now
}
