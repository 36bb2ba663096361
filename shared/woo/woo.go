// Package woo speaks WooCommerce: it verifies signed webhook deliveries,
// recognises the unsigned ping, and reads the little the webhook needs from
// an order without parsing it.
package woo

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
