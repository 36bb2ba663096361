package logistos

import "github.com/logistos-sync/logistos-sync/shared/queue"

// Event names: a payload's "event" (EventFor). A webhook's or reconcile's
// order carries its WooCommerce topic (order.created, order.updated).
const (
	EventOrderCreated = "order.created"
	// EventBackfill marks orders listed by a backfill rather than delivered
	// by a webhook.
	EventBackfill = "order.backfill"
)

// EventFor is the event of an order queued by origin (queue.Origin*) with
// the WooCommerce topic topic (queue.Message): EventBackfill for the
// backfill's, whatever their topic (earlier versions queued them with
// order.backfill as their topic, and such messages can still be on a queue
// or its DLQ); the topic for a webhook's or reconcile's; EventOrderCreated
// for one without a topic, queued for the one topic forwarded by default.
func EventFor(origin, topic string) string {
	switch {
	case origin == queue.OriginBackfill:
		return EventBackfill
	case topic == "":
		return EventOrderCreated
	}
	return topic
}
