// Package queue is the SQS envelope that carries an order from the webhook
// and the backfill to the forwarder, and the client that sends it.
package queue

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"sync/atomic"
	"time"
	"unicode/utf8"
)

// Message attribute names: the contract between producers and the forwarder.
const (
	AttrTopic           = "wc-topic"
	AttrSource          = "wc-source"
	AttrOrigin          = "origin"
	AttrWebhookID       = "wc-webhook-id"
	AttrDeliveryID      = "wc-delivery-id"
	AttrReceivedAt      = "received-at"
	AttrContentEncoding = "content-encoding"
)

// Origins of a message.
const (
	OriginWebhook  = "webhook"
	OriginBackfill = "backfill"
	// OriginReconcile marks an order the webhook missed, found and queued by
	// reconcile; the forwarder sends it with its topic, as a webhook's.
	OriginReconcile = "reconcile"
)

// EncodingGzip marks a body that is gzip-compressed, then base64-encoded.
const EncodingGzip = "gzip"

// Limits of SQS that shape messages and batches.
const (
	// MaxMessageBytes is the orders and backfill queues' MaximumMessageSize
	// (the SQS maximum, set in template.yaml). Body and attributes count
	// against it.
	MaxMessageBytes = 1 << 20
	// MaxBatchEntries is SendMessageBatch's entry limit.
	MaxBatchEntries = 10
	// MaxBatchBytes is SendMessageBatch's limit on the sum of its entries.
	MaxBatchBytes = 1 << 20
	// maxDecodedBytes bounds what a gzip body may inflate to, so a hostile
	// message cannot exhaust the forwarder's memory.
	maxDecodedBytes = 32 << 20
)

// ErrTooLarge means an order does not fit in a message even compressed.
var ErrTooLarge = errors.New("order too large for one SQS message even gzip-compressed")

// Message is one order on its way to Logistos.
type Message struct {
	// Body is the WooCommerce REST v3 order JSON, byte for byte as received
	// or listed: the forwarder and anyone redriving the DLQ see what
	// WooCommerce sent.
	Body string
	// Topic is the WooCommerce topic the order came with (order.created,
	// order.updated): a webhook delivery's, or the change reconcile found.
	// Empty for the backfill's orders, which Origin marks. The forwarder
	// maps the two to the Logistos event (logistos.EventFor).
	Topic string
	// Source is the shop's URL.
	Source string
	// Origin is who queued the order: OriginWebhook, OriginBackfill or
	// OriginReconcile.
	Origin string
	// WebhookID and DeliveryID are a webhook delivery's, for tracing it in
	// the shop's webhook logs.
	WebhookID  string
	DeliveryID string
	// ReceivedAt is when the order arrived (was listed, for the backfill).
	ReceivedAt time.Time
}

// receivedAt formats ReceivedAt as the attribute carries it.
func (m *Message) receivedAt() string {
	if m.ReceivedAt.IsZero() {
		return ""
	}
	return formatSecond(m.ReceivedAt)
}

// lastSecond caches the formatting of the latest second seen: deliveries
// arrive many per second, and formatting allocates.
var lastSecond atomic.Pointer[struct {
	unix int64
	text string
}]

func formatSecond(t time.Time) string {
	u := t.Unix()
	if c := lastSecond.Load(); c != nil && c.unix == u {
		return c.text
	}
	c := &struct {
		unix int64
		text string
	}{u, t.UTC().Format(time.RFC3339)}
	lastSecond.Store(c)
	return c.text
}

// attributeSize is what the attributes count against SQS's limits: each
// one's name, data type ("String") and value.
func (m *Message) attributeSize(encoding string) int {
	n := 0
	add := func(name, v string) {
		if v != "" {
			n += len(name) + len("String") + len(v)
		}
	}
	add(AttrTopic, m.Topic)
	add(AttrSource, m.Source)
	add(AttrOrigin, m.Origin)
	add(AttrWebhookID, m.WebhookID)
	add(AttrDeliveryID, m.DeliveryID)
	add(AttrReceivedAt, "2006-01-02T15:04:05Z")
	add(AttrContentEncoding, encoding)
	return n
}

// Encode returns the body SQS should carry for m and its content encoding.
// The body goes as is when it fits in limit bytes with its attributes, and
// room for the failure attributes a dead-lettering adds (FailureRoom), and
// holds only characters SQS accepts; otherwise it is gzip-compressed and
// base64-encoded (encoding "gzip"). Orders that still do not fit return
// ErrTooLarge.
func Encode(m *Message, limit int) (body, encoding string, err error) {
	limit -= FailureRoom
	if len(m.Body)+m.attributeSize("") <= limit && sqsSafe(m.Body) {
		return m.Body, "", nil
	}
	var buf bytes.Buffer
	b64 := base64.NewEncoder(base64.StdEncoding, &buf)
	zw := gzip.NewWriter(b64)
	if _, err := io.WriteString(zw, m.Body); err != nil {
		return "", "", fmt.Errorf("gzip body: %w", err)
	}
	if err := zw.Close(); err != nil {
		return "", "", fmt.Errorf("gzip body: %w", err)
	}
	if err := b64.Close(); err != nil {
		return "", "", fmt.Errorf("base64 body: %w", err)
	}
	if buf.Len()+m.attributeSize(EncodingGzip) > limit {
		return "", "", fmt.Errorf("%w: %d bytes, %d compressed, limit %d", ErrTooLarge, len(m.Body), buf.Len(), limit+FailureRoom)
	}
	return buf.String(), EncodingGzip, nil
}

// sqsSafe reports whether s holds only the characters SQS accepts in a
// message body (#x9 #xA #xD #x20-#xD7FF #xE000-#xFFFD #x10000-#x10FFFF).
// WooCommerce escapes non-ASCII, so bodies are almost always printable
// ASCII, which this checks eight bytes at a time: it runs on every delivery.
func sqsSafe(s string) bool {
	const lo, hi = 0x2020202020202020, 0x8080808080808080
	i := 0
	for ; i+8 <= len(s); i += 8 {
		w := uint64(s[i]) | uint64(s[i+1])<<8 | uint64(s[i+2])<<16 | uint64(s[i+3])<<24 |
			uint64(s[i+4])<<32 | uint64(s[i+5])<<40 | uint64(s[i+6])<<48 | uint64(s[i+7])<<56
		// A high bit set in (w - 0x20…) | w flags a byte below 0x20 or at
		// or above 0x80 (borrows only add false alarms, checked below).
		if ((w-lo)|w)&hi != 0 {
			break
		}
	}
	for ; i < len(s); i++ {
		c := s[i]
		if c >= 0x80 {
			return sqsSafeUnicode(s[i:])
		}
		if c < 0x20 && c != '\t' && c != '\n' && c != '\r' {
			return false
		}
	}
	return true
}

func sqsSafeUnicode(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if !sqsRune(r) {
			return false
		}
	}
	return true
}

// sqsRune reports whether SQS accepts r, decoded from valid UTF-8, in a
// message body or a String attribute value. Valid UTF-8 never holds a
// surrogate nor a rune past U+10FFFF, so these are all it refuses.
func sqsRune(r rune) bool {
	return r >= 0x20 && r != 0xFFFE && r != 0xFFFF || r == '\t' || r == '\n' || r == '\r'
}

// Decode returns the order JSON carried by an SQS body with the given
// content-encoding attribute.
func Decode(body, encoding string) ([]byte, error) {
	switch encoding {
	case "":
		return []byte(body), nil
	case EncodingGzip:
		zr, err := gzip.NewReader(base64.NewDecoder(base64.StdEncoding, bytes.NewBufferString(body)))
		if err != nil {
			return nil, fmt.Errorf("gzip body: %w", err)
		}
		out, err := io.ReadAll(io.LimitReader(zr, maxDecodedBytes+1))
		if err != nil {
			return nil, fmt.Errorf("gzip body: %w", err)
		}
		if len(out) > maxDecodedBytes {
			return nil, fmt.Errorf("gzip body inflates past %d bytes", maxDecodedBytes)
		}
		return out, nil
	}
	return nil, fmt.Errorf("unknown %s %q", AttrContentEncoding, encoding)
}
