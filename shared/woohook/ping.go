package woohook

// IsPing reports whether a request is WooCommerce's ping: sent when a webhook
// is created or its URL changes, form-encoded "webhook_id=<n>", with no
// signature and no X-WC-Webhook-* headers. WooCommerce needs exactly 200 for
// it, and it carries nothing to forward.
func IsPing(signature, topic string, body []byte) bool {
	if signature != "" || topic != "" {
		return false
	}
	const prefix = "webhook_id="
	if len(body) <= len(prefix) || string(body[:len(prefix)]) != prefix {
		return false
	}
	rest := body[len(prefix):]
	// Tolerate a trailing newline from hand-made pings (curl -d @file).
	for len(rest) > 0 && (rest[len(rest)-1] == '\n' || rest[len(rest)-1] == '\r') {
		rest = rest[:len(rest)-1]
	}
	if len(rest) == 0 || len(rest) > 20 {
		return false
	}
	for _, c := range rest {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
