// Package fleet is the operator's view of a hub's shops: how each one
// stands (connected, its newest order, its last sweep) and disconnecting
// one. cmd/shops is its command line; it reads the stack's tables with
// the operator's own AWS credentials, never through a function.
package fleet

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/logistos-sync/logistos-sync/shared/hookreg"
	"github.com/logistos-sync/logistos-sync/shared/shop"
	"github.com/logistos-sync/logistos-sync/shared/wooapi"
)

// Sweep is what a shop's last reconcile sweep left.
type Sweep struct {
	At time.Time // zero: never swept
	// Outcome is how it ended ("done", "failed"); "" when not recorded.
	Outcome string
	// Unauthorized counts the sweeps in a row the shop refused the key
	// (401); the shop is disconnected at reconcile's limit.
	Unauthorized int
}

// Health is one shop as the operator sees it.
type Health struct {
	shop.Shop
	LastOrderID int64     // 0: no order kept (none yet, or older than the ledger's TTL)
	LastOrderAt time.Time // when the stack received it
	Sweep       Sweep
}

// Fleet reads and changes a hub's shops.
type Fleet struct {
	Shops shop.Store
	// LastOrder returns the newest order the ledger holds for a shop's id.
	LastOrder func(ctx context.Context, id string) (orderID int64, at time.Time, err error)
	// LastSweep returns what the shop's last sweep left.
	LastSweep func(ctx context.Context, id string) (Sweep, error)
	// Shop returns a REST client for a shop's URL and key: disconnecting
	// removes the shop's webhooks with it.
	Shop func(storeURL string, key wooapi.Key) (hookreg.Shop, error)
	// WebhookURL is the hub's webhook URL (the WebhookUrl output); a shop's
	// webhook delivers to WebhookURL/<id>.
	WebhookURL string
}

// Find returns the shop named by ref: its id, or its address as typed.
func (f *Fleet) Find(ctx context.Context, ref string) (shop.Shop, error) {
	id := strings.TrimSpace(ref)
	if !shop.ValidID(id) {
		u, err := shop.Normalize(ref)
		if err != nil {
			return shop.Shop{}, fmt.Errorf("%q is neither a shop's id nor its address: %w", ref, err)
		}
		id = shop.ID(u)
	}
	s, err := f.Shops.Get(ctx, id)
	if errors.Is(err, shop.ErrNotFound) {
		return shop.Shop{}, fmt.Errorf("no shop %q in this hub (shops list shows them)", ref)
	}
	return s, err
}

// List returns every shop's health, by address.
func (f *Fleet) List(ctx context.Context) ([]Health, error) {
	shops, err := f.Shops.List(ctx)
	if err != nil {
		return nil, fmt.Errorf("list shops: %w", err)
	}
	slices.SortFunc(shops, func(a, b shop.Shop) int { return strings.Compare(a.URL, b.URL) })
	out := make([]Health, 0, len(shops))
	for _, s := range shops {
		h, err := f.health(ctx, s)
		if err != nil {
			return nil, err
		}
		out = append(out, h)
	}
	return out, nil
}

// Show returns one shop's health.
func (f *Fleet) Show(ctx context.Context, ref string) (Health, error) {
	s, err := f.Find(ctx, ref)
	if err != nil {
		return Health{}, err
	}
	return f.health(ctx, s)
}

func (f *Fleet) health(ctx context.Context, s shop.Shop) (Health, error) {
	h := Health{Shop: s}
	var err error
	if h.LastOrderID, h.LastOrderAt, err = f.LastOrder(ctx, s.ID); err != nil {
		return h, fmt.Errorf("shop %s: newest order: %w", s.ID, err)
	}
	if h.Sweep, err = f.LastSweep(ctx, s.ID); err != nil {
		return h, fmt.Errorf("shop %s: last sweep: %w", s.ID, err)
	}
	return h, nil
}

// Disconnected is what disconnecting a shop did.
type Disconnected struct {
	Shop shop.Shop
	// WebhooksRemoved are the ids of the shop's webhooks to this hub
	// that were deleted.
	WebhooksRemoved []int64
	// WebhookError says why they could not be (the shop unreachable, the
	// key already revoked): the owner deletes them in WooCommerce → Settings
	// → Advanced → Webhooks; deliveries to a disconnected shop's URL are
	// refused (404) meanwhile.
	WebhookError string
}

// Disconnect stops serving a shop: its webhooks to this hub are removed
// from the shop while its key still works, then the key and the webhook
// secret are forgotten and the shop marked disconnected, so its deliveries
// are refused and it is no longer swept. Connecting again restores it.
// The order matters: once the keys are forgotten, nothing could reach
// the shop to remove the webhooks.
func (f *Fleet) Disconnect(ctx context.Context, ref string) (Disconnected, error) {
	s, err := f.Find(ctx, ref)
	if err != nil {
		return Disconnected{}, err
	}
	d := Disconnected{Shop: s}
	if d.WebhooksRemoved, err = f.removeWebhooks(ctx, s); err != nil {
		d.WebhookError = err.Error()
	}
	if err := f.Shops.SetSecrets(ctx, s.ID, shop.Secrets{}); err != nil {
		return d, fmt.Errorf("forget shop %s's keys: %w", s.ID, err)
	}
	s.Status, s.UpdatedAt = shop.Disconnected, time.Now().UTC()
	if err := f.Shops.Put(ctx, s); err != nil {
		return d, fmt.Errorf("mark shop %s disconnected: %w", s.ID, err)
	}
	d.Shop = s
	return d, nil
}

// removeWebhooks deletes the shop's webhooks that deliver to this hub.
func (f *Fleet) removeWebhooks(ctx context.Context, s shop.Shop) ([]int64, error) {
	c, err := f.client(ctx, s)
	if err != nil {
		return nil, err
	}
	hooks, err := c.ListWebhooks(ctx)
	if err != nil {
		return nil, fmt.Errorf("list the shop's webhooks: %w", err)
	}
	var removed []int64
	for _, w := range hooks {
		if !hookreg.SameURL(w.DeliveryURL, f.hookURL(s)) {
			continue
		}
		if err := c.DeleteWebhook(ctx, w.ID); err != nil {
			return removed, fmt.Errorf("delete webhook %d: %w", w.ID, err)
		}
		removed = append(removed, w.ID)
	}
	return removed, nil
}

// Webhooks says how the shop's webhooks to this hub stand, asked of the
// shop itself with its key: each one's topic and status ("order.created
// active"), "none" when it has none (WooCommerce deleted or never made
// it), or why the shop could not be asked.
func (f *Fleet) Webhooks(ctx context.Context, s shop.Shop) string {
	c, err := f.client(ctx, s)
	if err != nil {
		return "unknown: " + err.Error()
	}
	hooks, err := c.ListWebhooks(ctx)
	if err != nil {
		return "unknown: list the shop's webhooks: " + err.Error()
	}
	var out []string
	for _, w := range hooks {
		if hookreg.SameURL(w.DeliveryURL, f.hookURL(s)) {
			out = append(out, w.Topic+" "+w.Status)
		}
	}
	if len(out) == 0 {
		return "none"
	}
	slices.Sort(out)
	return strings.Join(out, ", ")
}

// hookURL is where the shop's webhooks deliver.
func (f *Fleet) hookURL(s shop.Shop) string { return strings.TrimRight(f.WebhookURL, "/") + "/" + s.ID }

// client is a REST client for the shop with its own key.
func (f *Fleet) client(ctx context.Context, s shop.Shop) (hookreg.Shop, error) {
	sec, err := f.Shops.Secrets(ctx, s.ID)
	if err != nil {
		return nil, fmt.Errorf("read the shop's key: %w", err)
	}
	if sec.ConsumerKey == "" {
		return nil, errors.New("the shop's key is forgotten (disconnected)")
	}
	return f.Shop(s.URL, wooapi.Key{ConsumerKey: sec.ConsumerKey, ConsumerSecret: sec.ConsumerSecret})
}
