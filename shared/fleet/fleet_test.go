package fleet

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/logistos-sync/logistos-sync/shared/hookreg"
	"github.com/logistos-sync/logistos-sync/shared/shop"
	"github.com/logistos-sync/logistos-sync/shared/wooapi"
)

const hub = "https://hub.example/woocommerce/webhook"

// fakeShop is a shop's webhooks, as its REST API lists and deletes them.
type fakeShop struct {
	hooks   []wooapi.Webhook
	deleted []int64
	err     error
}

func (f *fakeShop) ListWebhooks(context.Context) ([]wooapi.Webhook, error) { return f.hooks, f.err }
func (f *fakeShop) CreateWebhook(context.Context, wooapi.WebhookChange) (wooapi.Webhook, error) {
	return wooapi.Webhook{}, errors.New("not here")
}
func (f *fakeShop) UpdateWebhook(context.Context, int64, wooapi.WebhookChange) (wooapi.Webhook, error) {
	return wooapi.Webhook{}, errors.New("not here")
}
func (f *fakeShop) DeleteWebhook(_ context.Context, id int64) error {
	f.deleted = append(f.deleted, id)
	return nil
}

type harness struct {
	f     *Fleet
	store *shop.Memory
	shops map[string]*fakeShop // by URL
	keys  []wooapi.Key         // the keys the REST clients were made with
}

func newHarness(t *testing.T, urls ...string) *harness {
	t.Helper()
	h := &harness{store: shop.NewMemory(), shops: map[string]*fakeShop{}}
	ctx := context.Background()
	for i, u := range urls {
		s := shop.Shop{ID: shop.ID(u), URL: u, Status: shop.Connected, ConnectedAt: time.Date(2026, 12, 1, 0, 0, i, 0, time.UTC)}
		if err := h.store.Put(ctx, s); err != nil {
			t.Fatal(err)
		}
		_ = h.store.SetSecrets(ctx, s.ID, shop.Secrets{WebhookSecret: "whsec", ConsumerKey: "ck_" + s.ID, ConsumerSecret: "cs_x"})
		h.shops[u] = &fakeShop{}
	}
	h.f = &Fleet{
		Shops: h.store, WebhookURL: hub,
		LastOrder: func(_ context.Context, id string) (int64, time.Time, error) {
			return int64(len(id)), time.Date(2026, 12, 4, 0, 0, 0, 0, time.UTC), nil
		},
		LastSweep: func(context.Context, string) (Sweep, error) {
			return Sweep{At: time.Date(2026, 12, 4, 1, 0, 0, 0, time.UTC)}, nil
		},
		Shop: func(u string, k wooapi.Key) (hookreg.Shop, error) {
			h.keys = append(h.keys, k)
			return h.shops[u], nil
		},
	}
	return h
}

func TestListAndFind(t *testing.T) {
	h := newHarness(t, "https://b.example", "https://a.example")
	ctx := context.Background()
	l, err := h.f.List(ctx)
	if err != nil || len(l) != 2 || l[0].URL != "https://a.example" || l[0].LastOrderID != 16 || l[0].Sweep.At.IsZero() {
		t.Fatalf("List = %+v, %v", l, err)
	}
	for _, ref := range []string{"A.example/", "https://a.example", shop.ID("https://a.example")} {
		if s, err := h.f.Find(ctx, ref); err != nil || s.URL != "https://a.example" {
			t.Errorf("Find(%q) = %+v, %v", ref, s, err)
		}
	}
	if _, err := h.f.Find(ctx, "https://c.example"); err == nil || !strings.Contains(err.Error(), "shops list") {
		t.Errorf("Find of a stranger: %v", err)
	}
}

// Disconnecting removes the shop's webhooks to this hub, and only those,
// with its own key, before forgetting its keys; its deliveries and sweeps
// stop with the status.
func TestDisconnect(t *testing.T) {
	h := newHarness(t, "https://a.example", "https://b.example")
	a, b := shop.ID("https://a.example"), shop.ID("https://b.example")
	h.shops["https://a.example"].hooks = []wooapi.Webhook{
		{ID: 1, DeliveryURL: hub + "/" + a},
		{ID: 2, DeliveryURL: hub + "/" + b},             // another shop's URL, in A's shop (a mistake, not ours to touch)
		{ID: 3, DeliveryURL: "https://other.example/x"}, // someone else's
		{ID: 4, DeliveryURL: strings.ToUpper("https://hub.example") + "/woocommerce/webhook/" + a + "/"},
	}
	ctx := context.Background()
	d, err := h.f.Disconnect(ctx, "a.example")
	if err != nil || d.WebhookError != "" {
		t.Fatalf("Disconnect: %+v, %v", d, err)
	}
	if got := h.shops["https://a.example"].deleted; len(got) != 2 || got[0] != 1 || got[1] != 4 {
		t.Fatalf("deleted %v; want A's webhooks 1 and 4 only", got)
	}
	if len(h.keys) != 1 || h.keys[0].ConsumerKey != "ck_"+a {
		t.Fatalf("REST clients made with %v; want A's key", h.keys)
	}
	if s, _ := h.store.Get(ctx, a); s.Status != shop.Disconnected {
		t.Fatalf("A is %s", s.Status)
	}
	if sec, _ := h.store.Secrets(ctx, a); sec != (shop.Secrets{}) {
		t.Fatal("A's keys are still kept")
	}
	if s, _ := h.store.Get(ctx, b); s.Status != shop.Connected {
		t.Fatalf("B is %s", s.Status)
	}
	if sec, _ := h.store.Secrets(ctx, b); sec.ConsumerKey == "" {
		t.Fatal("B's keys are gone")
	}
}

// A shop that cannot be reached (or whose key is revoked) is disconnected
// all the same: the report says what the owner must remove by hand.
func TestDisconnectUnreachableShop(t *testing.T) {
	h := newHarness(t, "https://a.example")
	h.shops["https://a.example"].err = errors.New("dial tcp: connection refused")
	d, err := h.f.Disconnect(context.Background(), "https://a.example")
	if err != nil || !strings.Contains(d.WebhookError, "connection refused") || d.Shop.Status != shop.Disconnected {
		t.Fatalf("Disconnect: %+v, %v", d, err)
	}
	// Again: nothing left to remove with, and nothing breaks.
	d, err = h.f.Disconnect(context.Background(), "https://a.example")
	if err != nil || !strings.Contains(d.WebhookError, "forgotten") {
		t.Fatalf("Disconnect again: %+v, %v", d, err)
	}
}

func TestWebhooks(t *testing.T) {
	h := newHarness(t, "https://a.example")
	a := shop.ID("https://a.example")
	h.shops["https://a.example"].hooks = []wooapi.Webhook{
		{ID: 1, Topic: "order.created", Status: "disabled", DeliveryURL: hub + "/" + a},
		{ID: 3, Topic: "order.created", Status: "active", DeliveryURL: "https://other.example/x"},
	}
	s, _ := h.store.Get(context.Background(), a)
	if got := h.f.Webhooks(context.Background(), s); got != "order.created disabled" {
		t.Fatalf("Webhooks = %q", got)
	}
	h.shops["https://a.example"].hooks = nil
	if got := h.f.Webhooks(context.Background(), s); got != "none" {
		t.Fatalf("Webhooks of a shop without ours = %q", got)
	}
}
