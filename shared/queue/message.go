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
)

// TopicBackfill is the topic of orders listed by the backfill rather than
// delivered by a webhook; it is also the Logistos event name for them.
const TopicBackfill = "order.backfill"

// EncodingGzip marks a body that is gzip-compressed, then base64-encoded.
const EncodingGzip = "gzip"

// Limits of SQS that shape messages and batches.
const (
	// MaxMessageBytes is the orders queue's MaximumMessageSize (the SQS
	// maximum, set in template.yaml). Body and attributes count against it.
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
	Body       string
	Topic      string
	Source     string
	Origin     string
	WebhookID  string
	DeliveryID string
	ReceivedAt time.Time
}

// receivedAt formats ReceivedAt as the attribute carries it.
func (m *Message) receivedAt() string {
	if m.ReceivedAt.IsZero() {
		return ""
	}
	return m.ReceivedAt.UTC().Format(time.RFC3339)
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
// The body goes as is when it fits in limit bytes with its attributes and
// holds only characters SQS accepts; otherwise it is gzip-compressed and
// base64-encoded (encoding "gzip"). Orders that still do not fit return
// ErrTooLarge.
func Encode(m *Message, limit int) (body, encoding string, err error) {
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
		return "", "", fmt.Errorf("%w: %d bytes, %d compressed, limit %d", ErrTooLarge, len(m.Body), buf.Len(), limit)
	}
	return buf.String(), EncodingGzip, nil
}

// sqsSafe reports whether s holds only the characters SQS accepts in a
// message body (#x9 #xA #xD #x20-#xD7FF #xE000-#xFFFD #x10000-#x10FFFF).
// WooCommerce escapes non-ASCII, so this is the fast path almost always.
func sqsSafe(s string) bool {
	for i := 0; i < len(s); i++ {
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
		switch {
		case r == '\t' || r == '\n' || r == '\r':
		case r < 0x20, r >= 0xD800 && r <= 0xDFFF, r == 0xFFFE, r == 0xFFFF:
			return false
		}
	}
	return true
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
