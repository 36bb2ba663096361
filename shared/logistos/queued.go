package logistos

import (
	"errors"
	"fmt"
	"strings"

	"github.com/logistos-sync/logistos-sync/shared/queue"
	"github.com/logistos-sync/logistos-sync/shared/shop"
)

// Queued reads an order as a queue carries it: the message body, decoded
// as its content-encoding attribute says, and the event its origin and
// topic attributes name (EventFor). attrs are the message's String
// attributes. An error means no number of retries will make the message
// readable.
func Queued(body string, attrs map[string]string) (event string, o Order, err error) {
	event = EventFor(attrs[queue.AttrOrigin], attrs[queue.AttrTopic])
	raw, err := queue.Decode(body, attrs[queue.AttrContentEncoding])
	if err != nil {
		return event, o, fmt.Errorf("undecodable message: %w", err)
	}
	o, err = ParseOrder(raw)
	return event, o, err
}

// ShopOf is the store URL a queued order is sent for: home, in a
// single-shop stack (every order on its queues is that shop's, whatever a
// message says), or in a hub (home empty) the message's wc-source, which
// only this stack's functions set, from the shop's registered URL and
// never from a request header. A hub message without a usable one has no
// shop, and no retry will give it one.
func ShopOf(attrs map[string]string, home string) (string, error) {
	if home != "" {
		return home, nil
	}
	src := attrs[queue.AttrSource]
	if src == "" {
		return "", errors.New("no wc-source attribute: the order's shop is unknown")
	}
	u, err := shop.Normalize(src)
	if err != nil || !strings.Contains(src, "://") {
		return "", fmt.Errorf("wc-source %q is not a shop's URL", src)
	}
	return StoreURL(u), nil
}

// OrderPayload is the payload that sends one order: every POST carries
// exactly one, so that its Idempotency-Key is the order's own.
func OrderPayload(storeURL, event string, o Order) *Payload {
	return &Payload{Source: Source, StoreURL: storeURL, Event: event, Orders: []Order{o}}
}

// Refusal is how an order Logistos refused, or that could not be read, is
// described on the dead-letter queue: its reason, and what Logistos said.
func Refusal(reason error) queue.Failure {
	f := queue.Failure{Class: queue.FailurePermanent, Reason: reason.Error()}
	var le *Error
	if errors.As(reason, &le) {
		f.Detail = le.Detail
	}
	return f
}
