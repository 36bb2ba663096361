package logistos

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/logistos-sync/logistos-sync/shared/outbound"
	"github.com/logistos-sync/logistos-sync/shared/version"
)

// Timeouts of one POST to Logistos. A POST that takes longer is abandoned and
// retried later through SQS, rather than holding a batch hostage.
const (
	RequestTimeout = 10 * time.Second
	DialTimeout    = 3 * time.Second
	// maxErrorBody is how much of an error response is kept as detail.
	maxErrorBody = 512
)

// Client posts to Logistos.
type Client struct {
	HTTP           *http.Client
	OrdersURL      string
	CredentialsURL string
}

// NewHTTPClient returns the HTTP client Logistos calls share for the life of
// the process: bounded timeouts, kept-alive connections, and redirects
// reported instead of followed (Go would turn a redirected POST into a GET
// and lose the body).
func NewHTTPClient() *http.Client {
	return outbound.NewHTTPClient(outbound.Limits{Request: RequestTimeout, Dial: DialTimeout, IdlePerHost: 16})
}

// PostOrders sends a payload. The Idempotency-Key header lets Logistos drop
// a payload it already has, and tells Go's transport the POST may be retried
// on a kept-alive connection that the server closed. Errors are *Error.
func (c *Client) PostOrders(ctx context.Context, p *Payload) error {
	if len(p.Orders) != 1 {
		return &Error{Op: "post orders", Err: fmt.Errorf("a payload carries one order, not %d (its Idempotency-Key is the order's)", len(p.Orders))}
	}
	body, err := p.Marshal()
	if err != nil {
		return &Error{Op: "encode payload", Err: err}
	}
	return c.post(ctx, "post orders", c.OrdersURL, body, p.IdempotencyKey())
}

// Credentials is the payload that hands Logistos a shop's REST API key.
type Credentials struct {
	StoreURL       string `json:"store_url"`
	ConsumerKey    string `json:"consumer_key"`
	ConsumerSecret string `json:"consumer_secret"`
}

// PostCredentials sends the shop's REST API key to Logistos. Errors are *Error.
func (c *Client) PostCredentials(ctx context.Context, cred Credentials) error {
	body, err := json.Marshal(cred)
	if err != nil {
		return &Error{Op: "encode credentials", Err: err}
	}
	return c.post(ctx, "post credentials", c.CredentialsURL, body, "")
}

func (c *Client) post(ctx context.Context, op, url string, body []byte, key string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return &Error{Op: op, Err: err}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", version.UserAgent())
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return &Error{Op: op, Transient: true, Err: err}
	}
	defer resp.Body.Close()
	detail, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	// Drain a little more so the connection can be reused.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return nil
	}
	return &Error{Op: op, StatusCode: resp.StatusCode, Transient: TransientStatus(resp.StatusCode), Detail: string(detail)}
}

// TransientStatus reports whether an HTTP status may succeed if sent again
// later: 408, 429 and 5xx. Every other non-2xx status is permanent.
func TransientStatus(code int) bool {
	return code == http.StatusRequestTimeout || code == http.StatusTooManyRequests || code >= 500
}

// Error is a failed call to Logistos, classified once: Transient errors
// (network, timeouts, 408, 429, 5xx) may succeed later; the rest never will.
type Error struct {
	Op         string
	StatusCode int // 0 when no response arrived
	Transient  bool
	// Detail is the start of the response body. It may echo order data, so
	// it goes to the DLQ with the message, never to logs.
	Detail string
	Err    error
}

func (e *Error) Error() string {
	switch {
	case e.StatusCode != 0:
		return fmt.Sprintf("%s: logistos answered %d %s", e.Op, e.StatusCode, http.StatusText(e.StatusCode))
	case e.Err != nil:
		return fmt.Sprintf("%s: %v", e.Op, e.Err)
	}
	return e.Op + ": failed"
}

func (e *Error) Unwrap() error { return e.Err }

// IsTransient reports whether err is worth retrying: a transient *Error, or
// a context deadline (the call was cut short, not refused).
func IsTransient(err error) bool {
	var le *Error
	if errors.As(err, &le) {
		return le.Transient
	}
	return errors.Is(err, context.DeadlineExceeded)
}
