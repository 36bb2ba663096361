package forwarder

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/logistos-sync/logistos-sync/shared/queue"
)

// In a hub (no home shop) each order goes to Logistos as its own shop's:
// the store_url and the Idempotency-Key come from the message's wc-source,
// which the stack's own functions set from the shop's registered URL. Two
// shops' orders with the same id never share a key.
func TestHubSendsEachOrderAsItsShops(t *testing.T) {
	hs := newHarness()
	hs.h.StoreURL = ""
	a, b := record(7, queue.OriginWebhook, ""), record(7, queue.OriginWebhook, "")
	b.MessageId = "msg-b"
	a.MessageAttributes[queue.AttrSource] = str("https://a.example")
	b.MessageAttributes[queue.AttrSource] = str("https://b.example/shop/")
	resp, err := hs.h.Handle(context.Background(), events.SQSEvent{Records: []events.SQSMessage{a, b}})
	if err != nil || len(resp.BatchItemFailures) != 0 {
		t.Fatalf("err %v, failures %v", err, resp.BatchItemFailures)
	}
	shops := map[string]string{}
	for _, p := range hs.lg.payloads {
		shops[p.StoreURL] = p.IdempotencyKey()
	}
	if len(shops) != 2 || shops["https://a.example"] == "" || shops["https://b.example/shop"] == "" ||
		shops["https://a.example"] == shops["https://b.example/shop"] {
		t.Fatalf("payloads by shop %v; want a.example's and b.example/shop's, each with its own key", shops)
	}
}

// A hub message without a usable wc-source has no shop: no retry gives it
// one, so it goes to the DLQ with the reason, and nothing is sent.
func TestHubOrderWithoutAShopIsRefused(t *testing.T) {
	for name, src := range map[string]*string{"missing": nil, "empty": new(string), "not a shop": ptr("ftp://x")} {
		t.Run(name, func(t *testing.T) {
			hs := newHarness()
			hs.h.StoreURL = ""
			rec := record(1, queue.OriginWebhook, "")
			delete(rec.MessageAttributes, queue.AttrSource)
			if src != nil {
				rec.MessageAttributes[queue.AttrSource] = str(*src)
			}
			resp, _ := hs.h.Handle(context.Background(), events.SQSEvent{Records: []events.SQSMessage{rec}})
			sent := hs.sqs.Sent()
			if len(resp.BatchItemFailures) != 0 || len(hs.lg.payloads) != 0 || len(sent) != 1 ||
				!strings.Contains(*sent[0].MessageAttributes[queue.AttrFailureReason].StringValue, "wc-source") {
				t.Fatalf("failures %v, posts %d, dlq %d", resp.BatchItemFailures, len(hs.lg.payloads), len(sent))
			}
		})
	}
}

// A single-shop stack sends every order as its home shop's, whatever the
// message says: as before hubs.
func TestHomeShopIgnoresTheMessagesSource(t *testing.T) {
	hs := newHarness()
	rec := record(1, queue.OriginWebhook, "")
	rec.MessageAttributes[queue.AttrSource] = str("https://other.example")
	hs.h.Handle(context.Background(), events.SQSEvent{Records: []events.SQSMessage{rec}})
	if len(hs.lg.payloads) != 1 || hs.lg.payloads[0].StoreURL != "https://shop.example.in" {
		t.Fatalf("payloads %+v; want one, for the home shop", hs.lg.payloads)
	}
}

func ptr(s string) *string { return &s }
