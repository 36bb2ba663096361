// Package connect lets a shop connect itself: the owner opens the connect
// URL, approves our app on WooCommerce's own authorization screen, and
// WooCommerce POSTs a freshly generated REST API key to our callback, which
// keeps it pending and starts activation. No one copies a secret by hand.
//
// WooCommerce deletes the new key unless the callback answers exactly 200,
// and calls it inside the owner's page request, so the callback does the
// least it can (spend the state, keep the key, start activation without
// waiting) and never calls the shop.
//
// The states are public: anyone may open the connect URL and read one from
// the redirect. So a callback proves nothing about who sent its key, and the
// key is only pending (wookey.Pending): activation proves it against the
// shop before it becomes the key in use, and discards it if the shop refuses
// it. A stranger's callback therefore costs one check of a key, never the
// owner's connection.
//
// A single-shop stack (STORE_URL set) connects only its home shop. A hub
// (STORE_URL empty) connects whichever shop the owner names in store_url:
// the state is bound to that shop's normalised URL when it is issued, and
// the key that arrives with it is that shop's pending key, whatever the
// callback says (WooCommerce's callback names no shop; the state is the
// only binding). The browser goes to the shop, never this function, so
// the address is checked for what it is (a normalised https shop URL, no
// inside address), not dialled.
package connect

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/logistos-sync/logistos-sync/shared/metrics"
	"github.com/logistos-sync/logistos-sync/shared/outbound"
	"github.com/logistos-sync/logistos-sync/shared/shop"
	"github.com/logistos-sync/logistos-sync/shared/state"
	"github.com/logistos-sync/logistos-sync/shared/wooapi"
	"github.com/logistos-sync/logistos-sync/shared/wookey"
)

// Routes of the HTTP API that connect serves.
const (
	PathConnect   = wookey.ConnectPath
	PathCallback  = "/woocommerce/auth-callback"
	PathConnected = "/woocommerce/connected"
	// PathAuthorize is WooCommerce's app authorization endpoint on the shop.
	PathAuthorize = "/wc-auth/v1/authorize"
)

const (
	// AppName is what the owner approves, and names the key in WooCommerce
	// ("<AppName> - API (<date>)").
	AppName = "Logistos Sync"
	// Scope is the only permission asked and accepted: activate registers a
	// webhook, which needs write access.
	Scope = "read_write"
	// StateTTL is how long an owner has from opening the connect URL to
	// approving.
	StateTTL = 30 * time.Minute
	// stateBytes of randomness: 256 bits (docs/architecture.md), well above 128.
	stateBytes = 32
	// MaxCallbackBytes bounds the callback body: WooCommerce's is about 200
	// bytes; anything much larger is not WooCommerce.
	MaxCallbackBytes = 4 << 10
	// StoreTimeout bounds the state table calls, well inside WooCommerce's
	// 60 s and API Gateway's 30 s.
	StoreTimeout = 8 * time.Second
	// StartTimeout bounds starting activation: an asynchronous invoke
	// answers in milliseconds.
	StartTimeout = 5 * time.Second
	// maxRouteLog bounds the route in a log line.
	maxRouteLog = 128
	// ParamStoreURL is the connect route's query parameter naming the shop.
	ParamStoreURL = "store_url"
	// MaxStoreURL bounds the shop's address: a URL longer than this is no
	// shop's home page, and is neither kept nor echoed.
	MaxStoreURL = 512
)

// Starter starts activation of the key pending under ref without waiting
// for it. storeURL is the shop the key's state was issued for: "" for a
// single-shop stack's home shop.
type Starter interface {
	Start(ctx context.Context, ref, storeURL string) error
}

// Handler serves connect's three routes. Build it with New, once per cold
// start.
type Handler struct {
	// StoreURL is the home shop, the only one a single-shop stack
	// connects; empty makes the stack a hub.
	StoreURL string
	// AllowPrivateShops lets a hub connect a shop at a loopback or private
	// address (local runs and tests; ALLOW_PRIVATE_SHOPS).
	AllowPrivateShops bool
	// Pending issues the states and keeps the keys that arrive with them.
	Pending  wookey.Pending
	Activate Starter
	Log      *slog.Logger
	Metrics  *metrics.Emitter
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

func (h *Handler) now() time.Time {
	if h.Now != nil {
		return h.Now()
	}
	return time.Now()
}

// An outcome is one way a request ends: the answer, the metric that counts
// it and the log line that says why. Bodies are fixed, so nothing of a
// request is echoed back.
type outcome struct {
	name   string // "outcome" in the log line
	status int
	metric string
	level  slog.Level
	reason string
	body   string // JSON for the callback; pages are rendered
}

const (
	bodyPending     = `{"status":"received"}`
	bodyTooLarge    = `{"error":"body too large"}`
	bodyMalformed   = `{"error":"body is not WooCommerce's key callback"}`
	bodyBadScope    = `{"error":"key_permissions must be read_write"}`
	bodyBadState    = `{"error":"unknown, used or expired state: start again from the connect URL"}`
	bodyUnavailable = `{"error":"could not keep the key; start again from the connect URL"}`
	bodyNotFound    = `{"error":"not found"}`
)

var (
	outRedirect = outcome{name: "redirected", status: http.StatusFound, metric: metrics.ConnectStarted, level: slog.LevelInfo}
	outPending  = outcome{name: "key_pending", status: http.StatusOK, metric: metrics.ConnectKeyReceived, level: slog.LevelInfo, body: bodyPending}
	// The key is kept, so the answer stays 200 (any other answer makes
	// WooCommerce delete it); the alarm on the metric tells the owner to run
	// activation by hand, within the key's PendingTTL.
	outStartFailed = outcome{name: "activation_not_started", status: http.StatusOK, metric: metrics.ConnectActivationFailed,
		level: slog.LevelError, body: bodyPending,
		reason: "the key is pending but activation could not be started: within 6 hours, invoke the activate function " +
			"(stack output ActivateFunctionName) with {\"pending_key\":\"<this line's pending_key>\"}"}

	outHubStartFailed = func() outcome {
		o := outStartFailed
		o.reason = "the key is pending but activation could not be started: within 6 hours, invoke the activate function " +
			"(stack output ActivateFunctionName) with {\"pending_key\":\"<this line's pending_key>\",\"store_url\":\"<this line's store_url>\"}"
		return o
	}()

	outTooLarge  = rejected(http.StatusRequestEntityTooLarge, bodyTooLarge, "body too large")
	outMalformed = rejected(http.StatusBadRequest, bodyMalformed, "body is not a WooCommerce key callback")
	outBadScope  = rejected(http.StatusForbidden, bodyBadScope, "key_permissions is not read_write")
	outBadState  = rejected(http.StatusForbidden, bodyBadState, "state unknown, already used or expired")
	outNotFound  = rejected(http.StatusNotFound, bodyNotFound, "no such route")

	outStateFailed = outcome{name: "failed", status: http.StatusServiceUnavailable, metric: metrics.ConnectFailed,
		level: slog.LevelError, body: bodyUnavailable, reason: "the state table did not answer"}

	outPage = outcome{name: "page", status: http.StatusOK, level: slog.LevelInfo}

	// A hub asks which shop; a single-shop stack refuses any other shop
	// (403: the request is understood, and this stack is not there to
	// connect that shop), an unusable address is the owner's typo (400).
	outForm       = outcome{name: "form", status: http.StatusOK, level: slog.LevelInfo}
	outBadAddress = rejected(http.StatusBadRequest, "", "store_url is not a shop address this hub connects")
	outOtherShop  = rejected(http.StatusForbidden, "", "store_url names another shop than this stack's")
)

func rejected(status int, body, reason string) outcome {
	return outcome{name: "rejected", status: status, metric: metrics.ConnectRejected, level: slog.LevelWarn, body: body, reason: reason}
}

// request is what the log line of a request tells: never the state or key.
type request struct {
	start time.Time
	route string
	err   error
	extra []slog.Attr
}

// Handle answers one request of any of the three routes. It never returns
// an error: every outcome is an HTTP status.
func (h *Handler) Handle(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	// Bounded: an unknown path is the caller's text.
	r := request{start: time.Now(), route: truncate(req.RequestContext.HTTP.Method+" "+req.RawPath, maxRouteLog)}
	var resp events.APIGatewayV2HTTPResponse
	var out outcome
	switch r.route {
	case http.MethodGet + " " + PathConnect:
		out, resp = h.connect(ctx, req, &r)
	case http.MethodPost + " " + PathCallback:
		out = h.callback(ctx, req, &r)
		resp = jsonAnswer(out)
	case http.MethodGet + " " + PathConnected:
		out, resp = h.connected(req)
	default:
		out = outNotFound
		resp = jsonAnswer(out)
	}
	h.end(ctx, &r, out)
	return resp, nil
}

func (h *Handler) end(ctx context.Context, r *request, out outcome) {
	attrs := append([]slog.Attr{
		slog.String("route", r.route),
		slog.String("outcome", out.name),
		slog.Int("status", out.status),
		slog.Int64("latency_ms", time.Since(r.start).Milliseconds()),
	}, r.extra...)
	if out.reason != "" {
		attrs = append(attrs, slog.String("reason", out.reason))
	}
	if r.err != nil {
		attrs = append(attrs, slog.String("error", r.err.Error()))
	}
	h.Log.LogAttrs(ctx, out.level, "connect", attrs...)
	if out.metric != "" {
		h.Metrics.Emit(metrics.One(out.metric))
	}
}

func jsonAnswer(out outcome) events.APIGatewayV2HTTPResponse {
	return events.APIGatewayV2HTTPResponse{
		StatusCode: out.status,
		Headers:    map[string]string{"content-type": "application/json", "cache-control": "no-store"},
		Body:       out.body,
	}
}

// connect issues a fresh state and sends the owner's browser to the shop's
// authorization screen: the home shop's, or in a hub the shop named in
// store_url, to which the state is bound.
func (h *Handler) connect(ctx context.Context, req events.APIGatewayV2HTTPRequest, r *request) (outcome, events.APIGatewayV2HTTPResponse) {
	raw, given := req.QueryStringParameters[ParamStoreURL]
	target, bound := h.StoreURL, ""
	if h.StoreURL != "" {
		if given && !h.isHome(raw) {
			return outOtherShop, page(http.StatusForbidden, PageOtherShop)
		}
	} else {
		if !given {
			return outForm, formPage(http.StatusOK, "", "")
		}
		norm, err := HubShop(raw, h.AllowPrivateShops)
		if err != nil {
			// The page tells the owner what is wrong; the log does not
			// repeat it, as it may quote what was typed (a password in a
			// URL's user info, say).
			return outBadAddress, formPage(http.StatusBadRequest, raw, err.Error())
		}
		target, bound = norm, norm
		// The id, not the address: it names the shop in every other log.
		r.extra = append(r.extra, slog.String("shop", shop.ID(norm)))
	}
	st, err := NewState()
	if err == nil {
		sctx, cancel := context.WithTimeout(ctx, StoreTimeout)
		err = h.Pending.Await(sctx, st, bound, h.now().Add(StateTTL))
		cancel()
	}
	if err != nil {
		r.err = err
		return outStateFailed, page(http.StatusServiceUnavailable, PageUnavailable)
	}
	base := baseURL(req)
	q := url.Values{
		"app_name":     {AppName},
		"scope":        {Scope},
		"user_id":      {st},
		"return_url":   {base + PathConnected},
		"callback_url": {base + PathCallback},
	}
	return outRedirect, events.APIGatewayV2HTTPResponse{
		StatusCode: http.StatusFound,
		Headers: map[string]string{
			"location":      target + PathAuthorize + "?" + q.Encode(),
			"cache-control": "no-store",
			// The location carries the state: no page may pass it on.
			"referrer-policy": "no-referrer",
		},
	}
}

// isHome reports whether raw names the home shop: the same shop once both
// are normalised. A home shop Normalize refuses (plain http elsewhere than
// this machine, which the template's pattern forbids) matches nothing.
func (h *Handler) isHome(raw string) bool {
	if len(raw) > MaxStoreURL {
		return false
	}
	home, err1 := shop.Normalize(h.StoreURL)
	got, err2 := shop.Normalize(raw)
	return err1 == nil && err2 == nil && got == home
}

// hostShape is a DNS name as a browser sends it: ASCII letters, digits and
// hyphens in dot-separated labels (an international name in its xn-- form).
var hostShape = regexp.MustCompile(`^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)

// numericLabel is a last label a browser would read as (part of) an IPv4
// address: decimal, octal or 0x-hex ("2130706433", "0x7f.1" are 127.0.0.1
// to a browser, though not to netip).
var numericLabel = regexp.MustCompile(`^(0x[0-9a-f]*|[0-9]+)$`)

// HubShop returns the shop raw names, normalised (shop.Normalize), if a hub
// may connect it: an https address (plain http only to loopback, which is
// refused unless allowPrivate) whose host is a DNS name or a public IP
// address. The redirect then goes to it and nowhere else, so it must hold
// nothing a browser would read otherwise: no user info, query or fragment
// (Normalize), no odd host characters, no IP address written as a name.
// The error says, in the owner's words, what is wrong.
func HubShop(raw string, allowPrivate bool) (string, error) {
	if len(raw) > MaxStoreURL {
		return "", fmt.Errorf("the address is longer than %d characters: give the address of the shop's home page", MaxStoreURL)
	}
	norm, err := shop.Normalize(raw)
	if err != nil {
		return "", err
	}
	u, err := url.Parse(norm)
	if err != nil {
		return "", fmt.Errorf("the shop's address is not a URL: %w", err)
	}
	host := u.Hostname()
	if ip, err := netip.ParseAddr(host); err == nil {
		if kind := outbound.Classify(ip); kind != "" && !allowPrivate {
			return "", fmt.Errorf("%s is a %s address, not a shop on the internet", host, kind)
		}
		if ip.Zone() != "" {
			return "", errors.New("the shop's address must not name a network interface")
		}
		return norm, nil
	}
	if !hostShape.MatchString(host) {
		return "", errors.New("the shop's host name may hold only letters, digits, hyphens and dots (an international name in its xn-- form)")
	}
	labels := strings.Split(host, ".")
	if numericLabel.MatchString(labels[len(labels)-1]) {
		return "", errors.New("the shop's host name ends in a number: give its name, or an IP address written as four numbers")
	}
	if !allowPrivate && (host == "localhost" || strings.HasSuffix(host, ".localhost")) {
		return "", fmt.Errorf("%s is this machine, not a shop on the internet", host)
	}
	return norm, nil
}

// NewState returns a fresh random state: 256 bits, URL-safe.
func NewState() (string, error) {
	var b [stateBytes]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// stateShape is what NewState makes; anything else is forged and never
// reaches the table.
var stateShape = regexp.MustCompile(`^[A-Za-z0-9_-]{43}$`)

// keyShape is WooCommerce's "ck_"/"cs_" followed by a hex hash; letters
// and digits only, which also keeps the value safe in the secret's JSON and
// in the template's parameter pattern.
var (
	consumerKeyShape    = regexp.MustCompile(`^ck_[A-Za-z0-9]{1,128}$`)
	consumerSecretShape = regexp.MustCompile(`^cs_[A-Za-z0-9]{1,128}$`)
)

// Callback is the body WooCommerce POSTs to the callback URL.
type Callback struct {
	// KeyID is WooCommerce's id of the key (a number); kept raw so that an
	// unexpected type never costs the owner the key.
	KeyID          json.RawMessage `json:"key_id"`
	UserID         string          `json:"user_id"` // our state, echoed
	ConsumerKey    string          `json:"consumer_key"`
	ConsumerSecret string          `json:"consumer_secret"`
	KeyPermissions string          `json:"key_permissions"`
}

// callback validates WooCommerce's body and state, keeps the key pending
// and starts activation. Everything is checked before the state is spent,
// so a bad request spends nothing and keeps nothing.
func (h *Handler) callback(ctx context.Context, req events.APIGatewayV2HTTPRequest, r *request) outcome {
	raw := req.Body
	if req.IsBase64Encoded {
		if base64.StdEncoding.DecodedLen(len(raw)) > MaxCallbackBytes+3 {
			return outTooLarge
		}
		b, err := base64.StdEncoding.DecodeString(raw)
		if err != nil {
			return outMalformed
		}
		raw = string(b)
	}
	if len(raw) > MaxCallbackBytes {
		return outTooLarge
	}
	var cb Callback
	dec := json.NewDecoder(strings.NewReader(raw))
	if err := dec.Decode(&cb); err != nil || dec.More() ||
		!consumerKeyShape.MatchString(cb.ConsumerKey) || !consumerSecretShape.MatchString(cb.ConsumerSecret) {
		return outMalformed
	}
	keyID, err := strconv.ParseInt(string(cb.KeyID), 10, 64)
	if err == nil {
		r.extra = append(r.extra, slog.Int64("key_id", keyID)) // WooCommerce's id, not a secret: where to revoke it
	}
	if cb.KeyPermissions != Scope {
		// The permission names are WooCommerce's own words, not secrets;
		// bounded so a forged body cannot fill the log.
		r.extra = append(r.extra, slog.String("key_permissions", truncate(cb.KeyPermissions, 32)))
		return outBadScope
	}
	if !stateShape.MatchString(cb.UserID) {
		return outBadState
	}
	sctx, cancel := context.WithTimeout(ctx, StoreTimeout)
	defer cancel()
	// The shop is the one the state was issued for (the state table's
	// record), never anything in the body: WooCommerce's callback names no
	// shop, and a stranger could put any in it.
	ref, bound, err := h.Pending.Arrive(sctx, cb.UserID, wookey.PendingKey{
		Key:   wooapi.Key{ConsumerKey: cb.ConsumerKey, ConsumerSecret: cb.ConsumerSecret},
		KeyID: keyID, ArrivedAt: h.now().UTC(),
	})
	if err != nil {
		if errors.Is(err, state.ErrSpent) {
			return outBadState
		}
		r.err = err
		return outStateFailed
	}
	// The reference opens nothing (a hash of a spent state): it is what an
	// operator passes to activate when starting it failed.
	r.extra = append(r.extra, slog.String("pending_key", ref))
	if bound != "" {
		// The operator needs the shop to start activation by hand.
		r.extra = append(r.extra, slog.String("shop", shop.ID(bound)), slog.String(ParamStoreURL, bound))
	}
	actx, cancel2 := context.WithTimeout(ctx, StartTimeout)
	defer cancel2()
	if err := h.Activate.Start(actx, ref, bound); err != nil {
		r.err = err
		if bound != "" {
			return outHubStartFailed
		}
		return outStartFailed
	}
	return outPending
}

// connected shows the owner the end of the journey: WooCommerce redirects
// there with success=1 after the callback, success=0 on Deny. The state in
// the query is not read, so it is never echoed.
func (h *Handler) connected(req events.APIGatewayV2HTTPRequest) (outcome, events.APIGatewayV2HTTPResponse) {
	out := outPage
	switch req.QueryStringParameters["success"] {
	case "1":
		out.reason = "approved"
		return out, page(http.StatusOK, PageConnected)
	case "0":
		out.reason = "denied"
		return out, page(http.StatusOK, PageDenied)
	}
	out = rejected(http.StatusBadRequest, "", "connected page without success=0 or 1")
	return out, page(http.StatusBadRequest, PageUnknown)
}

// baseURL is this API's own URL, from the request's domain: https, as API
// Gateway serves it. Only a loopback host (make run) may be plain http.
func baseURL(req events.APIGatewayV2HTTPRequest) string {
	host := req.RequestContext.DomainName
	if host == "" {
		host = req.Headers["host"]
	}
	scheme := "https"
	h := host
	if hh, _, err := net.SplitHostPort(host); err == nil {
		h = hh
	}
	if outbound.IsLoopback(h) && req.Headers["x-forwarded-proto"] != "https" {
		scheme = "http"
	}
	return scheme + "://" + host
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
