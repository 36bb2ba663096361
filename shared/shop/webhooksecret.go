package shop

import (
	"context"
	"errors"
)

// ErrNoWebhookSecret means a shop has no webhook secret: its activation has
// not stored one yet.
var ErrNoWebhookSecret = errors.New("the shop has no webhook secret yet")

// WebhookSecret is one shop's webhook secret read from its store, in the
// shape the webhook and activation take secrets in (secret.Source): the
// current value, then the one a reconnect replaced while activation has
// not yet given the shop the new one.
type WebhookSecret struct {
	Store Store
	ID    string
}

// Values returns the shop's webhook secret, then the previous one if kept.
func (w WebhookSecret) Values(ctx context.Context) ([][]byte, error) {
	sec, err := w.Store.Secrets(ctx, w.ID)
	if err != nil {
		return nil, err
	}
	if sec.WebhookSecret == "" {
		return nil, ErrNoWebhookSecret
	}
	if sec.PreviousWebhookSecret != "" {
		return [][]byte{[]byte(sec.WebhookSecret), []byte(sec.PreviousWebhookSecret)}, nil
	}
	return [][]byte{[]byte(sec.WebhookSecret)}, nil
}

// Refresh asks a store that caches secrets (Refresher) to read the shop's
// again; the store bounds how often.
func (w WebhookSecret) Refresh(context.Context) bool {
	if r, ok := w.Store.(Refresher); ok {
		return r.Refresh(w.ID)
	}
	return false
}
