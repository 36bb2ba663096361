package wooapi

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
)

// Webhook statuses. WooCommerce sets a webhook "disabled" by itself after
// repeated failed deliveries; it stays so until edited.
const (
	WebhookActive   = "active"
	WebhookPaused   = "paused"
	WebhookDisabled = "disabled"
)

// maxListPages bounds listing webhooks (100 per page): a shop with more
// than 5,000 webhooks is broken in a way we should not paper over.
const maxListPages = 50

// Webhook is a webhook as WooCommerce lists it. It never includes the
// secret.
type Webhook struct {
	ID          int64  `json:"id"`
	Name        string `json:"name"`
	Status      string `json:"status"`
	Topic       string `json:"topic"`
	DeliveryURL string `json:"delivery_url"`
}

// WebhookChange is the body of a create or update; empty fields are left
// out, so an update changes only what is set.
type WebhookChange struct {
	Name        string `json:"name,omitempty"`
	Status      string `json:"status,omitempty"`
	Topic       string `json:"topic,omitempty"`
	DeliveryURL string `json:"delivery_url,omitempty"`
	Secret      string `json:"secret,omitempty"`
}

// ListWebhooks returns every webhook of the shop.
func (c *Client) ListWebhooks(ctx context.Context) ([]Webhook, error) {
	var all []Webhook
	for page := 1; page <= maxListPages; page++ {
		q := url.Values{"per_page": {strconv.Itoa(MaxPerPage)}, "page": {strconv.Itoa(page)}}
		op := fmt.Sprintf("list webhooks page %d", page)
		resp, err := c.do(ctx, op, http.MethodGet, "/webhooks", q, nil)
		if err != nil {
			return nil, err
		}
		var hooks []Webhook
		if err := json.Unmarshal(resp.body, &hooks); err != nil {
			return nil, &Error{Op: op, StatusCode: http.StatusOK, Err: fmt.Errorf("answer is not a JSON array of webhooks: %w", err), Hint: hintHTML}
		}
		all = append(all, hooks...)
		pages := headerInt(resp.header, "X-WP-TotalPages")
		if len(hooks) < MaxPerPage || (pages >= 0 && page >= pages) {
			return all, nil
		}
	}
	return nil, fmt.Errorf("list webhooks: more than %d pages", maxListPages)
}

// CreateWebhook creates a webhook; WooCommerce starts it active and pings
// its delivery URL.
func (c *Client) CreateWebhook(ctx context.Context, w WebhookChange) (Webhook, error) {
	return c.webhook(ctx, "create webhook", http.MethodPost, "/webhooks", nil, w)
}

// UpdateWebhook changes the fields set in w.
func (c *Client) UpdateWebhook(ctx context.Context, id int64, w WebhookChange) (Webhook, error) {
	return c.webhook(ctx, fmt.Sprintf("update webhook %d", id), http.MethodPut, "/webhooks/"+strconv.FormatInt(id, 10), nil, w)
}

// DeleteWebhook deletes a webhook for good (webhooks cannot be trashed).
func (c *Client) DeleteWebhook(ctx context.Context, id int64) error {
	_, err := c.webhook(ctx, fmt.Sprintf("delete webhook %d", id), http.MethodDelete, "/webhooks/"+strconv.FormatInt(id, 10), url.Values{"force": {"true"}}, nil)
	return err
}

func (c *Client) webhook(ctx context.Context, op, method, path string, q url.Values, body any) (Webhook, error) {
	resp, err := c.do(ctx, op, method, path, q, body)
	if err != nil {
		return Webhook{}, err
	}
	var w Webhook
	if err := json.Unmarshal(resp.body, &w); err != nil {
		return Webhook{}, &Error{Op: op, StatusCode: http.StatusOK, Err: fmt.Errorf("answer is not a webhook: %w", err), Hint: hintHTML}
	}
	return w, nil
}
