package fakewoo

import (
	"bytes"
	"cmp"
	"context"
	"crypto/md5"
	"encoding/hex"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/logistos-sync/logistos-sync/shared/woohook"
)

// WooCommerce's delivery behaviour (class-wc-webhook.php), as
// docs/woocommerce.md describes it.
const (
	// MaxDeliveryFailures is woocommerce_max_webhook_delivery_failures'
	// default. failed_delivery() disables the webhook when the count it
	// finds is above this, and otherwise increments it: so the 7th
	// consecutive failure disables it.
	MaxDeliveryFailures = 5
	// DefaultDeliveryTimeout is WooCommerce's delivery timeout.
	DefaultDeliveryTimeout = 60 * time.Second
	// userAgent is what a real shop sends.
	userAgent = "WooCommerce/8.9.1 Hookshot (WordPress/6.5.3)"
)

// DeliveryStats counts webhook deliveries.
type DeliveryStats struct {
	Delivered int // answered 200-302
	Failed    int // anything else, or no answer
}

// PlaceOrders creates n orders now, as checkouts would, and then delivers
// order.created for each to every active order.created webhook, in order.
// Delivery here runs before PlaceOrders returns (WooCommerce runs it from
// Action Scheduler a moment later), so tests need not wait for it.
func (s *Shop) PlaceOrders(n int) []int64 {
	ids := s.AddOrders(n)
	for _, id := range ids {
		s.deliver(woohook.TopicOrderCreated, id)
	}
	return ids
}

// FailDeliveries makes every delivery fail without reaching the delivery
// URL, as when the endpoint is unreachable from the shop (DNS, network),
// until called with false.
func (s *Shop) FailDeliveries(fail bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failDeliveries = fail
}

// RemoveKey revokes a REST API key: the shop then answers 401 to it.
func (s *Shop) RemoveKey(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.keys, key)
}

// Deliveries returns the delivery counts so far.
func (s *Shop) Deliveries() DeliveryStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.deliveries
}

// deliver sends order id to each active webhook of topic, oldest first. No
// retries: a failed delivery is counted and never re-sent, as in
// WooCommerce.
func (s *Shop) deliver(topic string, id int64) {
	s.mu.Lock()
	unreachable := s.failDeliveries
	var hooks []Webhook
	for _, w := range s.webhooks {
		if w.Status == "active" && w.Topic == topic {
			hooks = append(hooks, *w)
		}
	}
	s.mu.Unlock()
	slices.SortFunc(hooks, func(a, b Webhook) int { return cmp.Compare(a.ID, b.ID) })
	for _, w := range hooks {
		// The body is built when the delivery runs, as WooCommerce does.
		body, ok := s.OrderJSON(s.URL, id)
		if !ok {
			continue
		}
		s.record(w.ID, !unreachable && s.post(w, body))
	}
}

// post makes one delivery and reports whether it succeeded.
func (s *Shop) post(w Webhook, body []byte) bool {
	timeout := s.opts.DeliveryTimeout
	if timeout <= 0 {
		timeout = DefaultDeliveryTimeout
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.DeliveryURL, bytes.NewReader(body))
	if err != nil {
		return false
	}
	sum := md5.Sum([]byte(strconv.FormatInt(w.ID, 10) + strconv.FormatInt(s.now().Unix(), 10)))
	resource, event, _ := strings.Cut(w.Topic, ".")
	for k, v := range map[string]string{
		"Content-Type":           "application/json",
		"User-Agent":             userAgent,
		woohook.HeaderSource:     strings.TrimRight(s.URL, "/") + "/",
		woohook.HeaderTopic:      w.Topic,
		woohook.HeaderResource:   resource,
		woohook.HeaderEvent:      event,
		woohook.HeaderSignature:  woohook.Sign(body, []byte(w.Secret)),
		woohook.HeaderWebhookID:  strconv.FormatInt(w.ID, 10),
		woohook.HeaderDeliveryID: hex.EncodeToString(sum[:]),
	} {
		req.Header.Set(k, v)
	}
	resp, err := deliveryClient.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode >= 200 && resp.StatusCode <= 302
}

// deliveryClient follows no redirects, as wp_safe_remote_request is called.
var deliveryClient = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// record applies a delivery's outcome to webhook id as WooCommerce does:
// success resets the failure count; a failure with the count already above
// MaxDeliveryFailures disables the webhook, otherwise increments the count.
func (s *Shop) record(id int64, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	w := s.webhooks[id]
	if ok {
		s.deliveries.Delivered++
		if w != nil {
			w.Failures = 0
		}
		return
	}
	s.deliveries.Failed++
	if w == nil {
		return
	}
	if w.Failures > MaxDeliveryFailures {
		w.Status = "disabled"
		return
	}
	w.Failures++
}
