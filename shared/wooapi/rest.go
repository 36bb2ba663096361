package wooapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/logistos-sync/logistos-sync/shared/outbound"
	"github.com/logistos-sync/logistos-sync/shared/version"
)

// RESTPath is the WooCommerce REST API v3 base under the shop's URL.
const RESTPath = "/wp-json/wc/v3"

// Limits of one call to the shop's REST API.
const (
	// RequestTimeout bounds one HTTP attempt. A page of 100 orders from a
	// busy shop on shared hosting can take several seconds to build.
	RequestTimeout = 30 * time.Second
	// DialTimeout bounds connecting and the TLS handshake.
	DialTimeout = 5 * time.Second
	// MaxAttempts is how often a call is tried when the shop answers 429 or
	// 5xx or the network fails.
	MaxAttempts = 5
	// RetryBaseDelay and RetryMaxDelay shape the exponential backoff
	// between attempts when the shop gives no Retry-After.
	RetryBaseDelay = 500 * time.Millisecond
	RetryMaxDelay  = 10 * time.Second
	// MaxRetryAfter caps how long a Retry-After is honoured: a maintenance
	// page asking for 10 minutes would otherwise stall the whole run.
	MaxRetryAfter = 60 * time.Second
	// MaxResponseBytes bounds what one answer may hold (a page of 100 large
	// orders is a few MB).
	MaxResponseBytes = 64 << 20
	// maxIdlePerHost keeps a connection per worker of a backfill alive.
	maxIdlePerHost = 32
	// maxDetail bounds the part of a WooCommerce message kept in errors.
	maxDetail = 200
)

// Key is a WooCommerce REST API key (WooCommerce → Settings → Advanced →
// REST API). It is a credential: never log it.
type Key struct {
	ConsumerKey    string `json:"consumer_key"`
	ConsumerSecret string `json:"consumer_secret"`
}

// Client calls a shop's REST API v3 with HTTP Basic authentication. It
// retries 429, 5xx and network failures with backoff (honouring
// Retry-After, never past the context's deadline), and turns every failure
// into an *Error that says what the shop owner should fix.
type Client struct {
	HTTP     *http.Client
	StoreURL string // the shop's base URL, without a trailing slash
	Key      Key
	// RetryDelay is the wait before attempt+1 given the shop's Retry-After
	// (0 when none); RetryDelay (the function) when nil.
	RetryDelay func(attempt int, retryAfter time.Duration) time.Duration
}

// NewHTTPClient returns the HTTP client shop calls share for the life of the
// process: bounded timeouts, kept-alive connections, and redirects reported
// instead of followed (a redirect to another host would drop the
// credentials, and the shop owner should fix STORE_URL instead). Unless
// allowPrivate, it refuses at every dial a shop whose address is inside a
// network (outbound.Guard): the shop's URL is not the operator's choice.
// allowPrivate is ALLOW_PRIVATE_SHOPS, for local runs and tests against
// stand-in shops on loopback.
func NewHTTPClient(allowPrivate bool) *http.Client {
	l := outbound.Limits{Request: RequestTimeout, Dial: DialTimeout, IdlePerHost: maxIdlePerHost}
	if !allowPrivate {
		l.Guard = &outbound.Guard{}
	}
	return outbound.NewHTTPClient(l)
}

// NewClient returns a client for the shop at storeURL. The key travels in
// every request, so storeURL must be https; plain http is accepted only for
// loopback hosts (local runs against a stand-in shop).
func NewClient(hc *http.Client, storeURL string, key Key) (*Client, error) {
	u, err := url.Parse(storeURL)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return nil, fmt.Errorf("store URL %q is not an absolute https URL", storeURL)
	}
	if u.Scheme == "http" && !outbound.IsLoopback(u.Hostname()) {
		return nil, fmt.Errorf("store URL %q must use https: the API key would travel in clear text", storeURL)
	}
	return &Client{HTTP: hc, StoreURL: strings.TrimRight(storeURL, "/"), Key: key}, nil
}

// WithKey returns a copy of c that authenticates with k.
func (c *Client) WithKey(k Key) *Client {
	cp := *c
	cp.Key = k
	return &cp
}

// response is a successful answer: its JSON body and headers.
type response struct {
	body   []byte
	header http.Header
}

// do sends one call, retrying what may succeed later. op names the call in
// errors ("list orders page 3"). body, when not nil, is sent as JSON.
func (c *Client) do(ctx context.Context, op, method, path string, query url.Values, body any) (*response, error) {
	var payload []byte
	if body != nil {
		var err error
		if payload, err = json.Marshal(body); err != nil {
			return nil, &Error{Op: op, Err: err}
		}
	}
	target := c.StoreURL + RESTPath + path
	if len(query) > 0 {
		target += "?" + query.Encode()
	}
	for attempt := 1; ; attempt++ {
		resp, err := c.once(ctx, op, method, target, payload)
		if err == nil {
			return resp, nil
		}
		var werr *Error
		if !errors.As(err, &werr) {
			return nil, err
		}
		werr.Attempts = attempt
		if !werr.Transient || attempt == MaxAttempts || !retryable(method, werr) {
			return nil, werr
		}
		delay := RetryDelay
		if c.RetryDelay != nil {
			delay = c.RetryDelay
		}
		wait := delay(attempt, werr.RetryAfter)
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < wait {
			// Sleeping would outlive the invocation; let the caller
			// checkpoint and continue instead.
			werr.Err = errors.Join(werr.Err, ErrNoTimeToRetry)
			return nil, werr
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, errors.Join(werr, ctx.Err())
		case <-t.C:
		}
	}
}

// retryable reports whether a failed call may be sent again. Creating a
// webhook is not idempotent: it is retried only when the shop refused it
// outright (429), since a 5xx or a lost answer may mean it was created.
func retryable(method string, err *Error) bool {
	if method != http.MethodPost {
		return true
	}
	return err.StatusCode == http.StatusTooManyRequests
}

// RetryDelay is the wait before attempt+1: the shop's Retry-After when it
// gave one (capped at MaxRetryAfter), otherwise exponential with jitter.
func RetryDelay(attempt int, retryAfter time.Duration) time.Duration {
	if retryAfter > 0 {
		return min(retryAfter, MaxRetryAfter)
	}
	d := min(RetryBaseDelay<<(attempt-1), RetryMaxDelay)
	return d/2 + rand.N(d/2+1)
}

func (c *Client) once(ctx context.Context, op, method, target string, payload []byte) (*response, error) {
	var rd io.Reader
	if payload != nil {
		rd = bytes.NewReader(payload)
	}
	req, err := http.NewRequestWithContext(ctx, method, target, rd)
	if err != nil {
		return nil, &Error{Op: op, Err: err}
	}
	req.SetBasicAuth(c.Key.ConsumerKey, c.Key.ConsumerSecret)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", version.UserAgent())
	if payload != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		if errors.Is(err, outbound.ErrForbiddenAddress) {
			// Not the network failing: the same address is refused
			// again, so the run stops here with what to fix.
			return nil, &Error{Op: op, Err: err, Hint: hintForbiddenAddress}
		}
		if ctx.Err() != nil {
			return nil, &Error{Op: op, Err: err}
		}
		return nil, &Error{Op: op, Transient: true, Err: err, Hint: hintUnreachable}
	}
	defer resp.Body.Close()
	data, err := readBody(resp)
	if err != nil {
		return nil, &Error{Op: op, StatusCode: resp.StatusCode, Transient: ctx.Err() == nil, Err: fmt.Errorf("read answer: %w", err), Hint: hintUnreachable}
	}
	if len(data) > MaxResponseBytes {
		return nil, &Error{Op: op, StatusCode: resp.StatusCode, Err: fmt.Errorf("answer larger than %d bytes", MaxResponseBytes)}
	}
	if e := classify(op, c.secure(), resp, data); e != nil {
		return nil, e
	}
	return &response{body: data, header: resp.Header}, nil
}

// readBody reads at most MaxResponseBytes+1 of an answer, into one buffer
// of the announced size when the shop announced one (a page of orders is
// hundreds of KB: growing a buffer step by step copies it several times).
func readBody(resp *http.Response) ([]byte, error) {
	var buf bytes.Buffer
	if n := resp.ContentLength; n > 0 && n <= MaxResponseBytes {
		buf.Grow(int(n) + bytes.MinRead)
	}
	_, err := buf.ReadFrom(io.LimitReader(resp.Body, MaxResponseBytes+1))
	return buf.Bytes(), err
}

func (c *Client) secure() bool { return strings.HasPrefix(c.StoreURL, "https:") }

// retryAfter reads a Retry-After header: seconds or an HTTP date.
func retryAfter(h http.Header, now time.Time) time.Duration {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil && s >= 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}
