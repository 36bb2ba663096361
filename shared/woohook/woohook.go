// Package woohook is WooCommerce's webhook delivery protocol: the headers a
// delivery carries, its HMAC signature, the unsigned ping sent when a webhook
// is saved, and a peek at the little the webhook function needs from an
// order without parsing it (its kind and id: OrderID also serves the ledger
// and the REST client, so that neither binary links the other's package).
// The shop's REST API client is package wooapi.
package woohook

// Webhook delivery headers, lower-cased as API Gateway HTTP APIs deliver them.
const (
	HeaderSignature  = "x-wc-webhook-signature"
	HeaderTopic      = "x-wc-webhook-topic"
	HeaderSource     = "x-wc-webhook-source"
	HeaderResource   = "x-wc-webhook-resource"
	HeaderEvent      = "x-wc-webhook-event"
	HeaderWebhookID  = "x-wc-webhook-id"
	HeaderDeliveryID = "x-wc-webhook-delivery-id"
)

// TopicOrderCreated is the topic the webhook is registered for by default.
const TopicOrderCreated = "order.created"

// TopicOrderUpdated is the topic of an order changed (refunds included);
// forwarded when FORWARD_TOPICS names it.
const TopicOrderUpdated = "order.updated"
