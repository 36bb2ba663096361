// Package delivery makes WooCommerce webhook deliveries as WooCommerce
// sends them (headers, signature over the exact body bytes, the unsigned
// ping), and reads the repository's captured deliveries, for the local
// runner, the demo and the tests.
package delivery

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/logistos-sync/logistos-sync/local/fakewoo"
	"github.com/logistos-sync/logistos-sync/local/repo"
	"github.com/logistos-sync/logistos-sync/shared/woohook"
	"github.com/logistos-sync/logistos-sync/shared/woohook/woohooktest"
)

// Fixture paths, relative to the repository root.
const (
	// SampleOrder is a WooCommerce 9 order encoded exactly as a webhook
	// body (escaped slashes and unicode, COD, GST, card-like meta_data).
	SampleOrder = "testdata/woocommerce/order-wc9-inr-cod.json"
	// RealCaptures holds byte-exact deliveries from WooCommerce 8.9.1.
	RealCaptures = "testdata/woocommerce/real-wc-8.9.1"
	// RealSecret is the webhook secret the real captures were signed with.
	RealSecret = "realwoo-webhook-secret"
)

// UserAgent is what WooCommerce's delivery requests carry.
const UserAgent = "WooCommerce/9.4.2 Hookshot (WordPress/6.7.1)"

// Delivery describes a webhook delivery's headers; the zero value is an
// order.created delivery from webhook 1 of DefaultSource.
type Delivery struct {
	Source    string // X-WC-Webhook-Source, the shop's home URL with its trailing slash
	Topic     string // X-WC-Webhook-Topic
	WebhookID int
	// Signature overrides the computed one (e.g. to send a bad one).
	Signature string
}

// DefaultSource is the shop of deliveries that name none: make run's
// stand-in shop, http://127.0.0.1:8089/.
var DefaultSource = "http://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(fakewoo.Port)) + "/"

// Header returns the headers WooCommerce sends with body signed by secret.
func (d Delivery) Header(body []byte, secret string) http.Header {
	source, topic, id := d.Source, d.Topic, d.WebhookID
	if source == "" {
		source = DefaultSource
	}
	if topic == "" {
		topic = woohook.TopicOrderCreated
	}
	if id == 0 {
		id = 1
	}
	sig := d.Signature
	if sig == "" {
		sig = woohook.Sign(body, []byte(secret))
	}
	resource, event, _ := strings.Cut(topic, ".")
	h := http.Header{}
	h.Set("User-Agent", UserAgent)
	h.Set("Content-Type", "application/json")
	h.Set("X-WC-Webhook-Source", source)
	h.Set("X-WC-Webhook-Topic", topic)
	h.Set("X-WC-Webhook-Resource", resource)
	h.Set("X-WC-Webhook-Event", event)
	h.Set("X-WC-Webhook-Signature", sig)
	h.Set("X-WC-Webhook-ID", strconv.Itoa(id))
	h.Set("X-WC-Webhook-Delivery-ID", deliveryID(id, time.Now()))
	return h
}

// deliveryID is what WooCommerce uses: a hash of the webhook id and the
// current second (so it repeats within a second: not an event id).
func deliveryID(webhookID int, now time.Time) string {
	sum := sha256.Sum256([]byte(strconv.Itoa(webhookID) + strconv.FormatInt(now.Unix(), 10)))
	return hex.EncodeToString(sum[:16])
}

// NewRequest returns a signed delivery of body to url.
func (d Delivery) NewRequest(ctx context.Context, url string, body []byte, secret string) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("delivery request: %w", err)
	}
	req.Header = d.Header(body, secret)
	return req, nil
}

// NewPing returns WooCommerce's ping to url: form-encoded webhook_id,
// unsigned, without X-WC-Webhook-* headers.
func NewPing(ctx context.Context, url string, webhookID int) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader("webhook_id="+strconv.Itoa(webhookID)))
	if err != nil {
		return nil, fmt.Errorf("ping request: %w", err)
	}
	req.Header.Set("User-Agent", UserAgent)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return req, nil
}

// Curl returns a shell command that sends the file at bodyPath to url as a
// delivery signed by secret.
func (d Delivery) Curl(url, bodyPath string, body []byte, secret string) string {
	h := d.Header(body, secret)
	var b strings.Builder
	fmt.Fprintf(&b, "curl -sS -w '\\n%%{http_code}\\n' %s \\\n", quote(url))
	for _, k := range []string{"Content-Type", "User-Agent", "X-WC-Webhook-Source", "X-WC-Webhook-Topic", "X-WC-Webhook-Resource",
		"X-WC-Webhook-Event", "X-WC-Webhook-ID", "X-WC-Webhook-Delivery-ID", "X-WC-Webhook-Signature"} {
		fmt.Fprintf(&b, "  -H %s \\\n", quote(k+": "+h.Get(k)))
	}
	fmt.Fprintf(&b, "  --data-binary @%s", quote(bodyPath))
	return b.String()
}

// quote makes s one shell word.
func quote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// ReadFixture returns a file of the repository by its root-relative path
// and its absolute path.
func ReadFixture(rel string) (body []byte, path string, err error) {
	if path, err = repo.Path(rel); err != nil {
		return nil, "", err
	}
	body, err = os.ReadFile(path)
	if err != nil {
		return nil, "", fmt.Errorf("read fixture: %w", err)
	}
	return body, path, nil
}

// SampleOrderAs returns SampleOrder's bytes with the order id id in place
// of its own (4821), the rest byte for byte: many distinct orders of one
// real shape.
func SampleOrderAs(id int64) ([]byte, error) {
	body, _, err := ReadFixture(SampleOrder)
	if err != nil {
		return nil, err
	}
	const prefix = `{"id":4821,`
	if !bytes.HasPrefix(body, []byte(prefix)) {
		return nil, fmt.Errorf("sample order does not start with %s", prefix)
	}
	return append(fmt.Appendf(nil, `{"id":%d,`, id), body[len(prefix):]...), nil
}

// Capture is a delivery captured from a real shop.
type Capture struct {
	Header http.Header
	Body   []byte
}

// ReadCapture reads the real capture name (woohooktest reads it), less the
// headers the transport sets.
func ReadCapture(name string) (Capture, error) {
	dir, err := repo.Path(RealCaptures)
	if err != nil {
		return Capture{}, err
	}
	c, err := woohooktest.ReadCapture(dir, name)
	if err != nil {
		return Capture{}, err
	}
	h := c.Header.Clone()
	for _, k := range []string{"Host", "Content-Length", "Connection", "Accept-Encoding"} {
		h.Del(k) // hop-by-hop or set by the transport
	}
	return Capture{Header: h, Body: c.Body}, nil
}

// NewRequest returns the captured delivery, sent to url.
func (c Capture) NewRequest(ctx context.Context, url string) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(c.Body))
	if err != nil {
		return nil, fmt.Errorf("capture request: %w", err)
	}
	req.Header = c.Header.Clone()
	return req, nil
}
