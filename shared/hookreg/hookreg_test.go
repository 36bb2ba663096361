package hookreg

import (
	"context"
	"testing"

	"github.com/logistos-sync/logistos-sync/shared/wooapi"
)

func TestSameURL(t *testing.T) {
	if !SameURL("https://API.example/woocommerce/webhook/", "https://api.example/woocommerce/webhook") {
		t.Error("host case and trailing slash should not matter")
	}
	if SameURL("https://api.example/Woocommerce/webhook", "https://api.example/woocommerce/webhook") {
		t.Error("the path is case-sensitive")
	}
}

type fakeShop struct {
	hooks  []wooapi.Webhook
	writes []string
}

func (f *fakeShop) ListWebhooks(context.Context) ([]wooapi.Webhook, error) { return f.hooks, nil }
func (f *fakeShop) CreateWebhook(_ context.Context, w wooapi.WebhookChange) (wooapi.Webhook, error) {
	f.writes = append(f.writes, "create "+w.Secret)
	return wooapi.Webhook{ID: 9}, nil
}
func (f *fakeShop) UpdateWebhook(_ context.Context, id int64, w wooapi.WebhookChange) (wooapi.Webhook, error) {
	f.writes = append(f.writes, "update "+w.Status+" "+w.Secret)
	return wooapi.Webhook{ID: id}, nil
}
func (f *fakeShop) DeleteWebhook(context.Context, int64) error {
	f.writes = append(f.writes, "delete")
	return nil
}

// In shape, a repair (no RefreshSecret) writes nothing; activate's refresh
// writes the secret once; a disabled webhook is re-activated with the secret.
func TestPlans(t *testing.T) {
	const url = "https://api.example/woocommerce/webhook"
	active := []wooapi.Webhook{{ID: 3, Status: "active", Topic: "order.created", DeliveryURL: url},
		{ID: 4, Status: "active", Topic: "order.created", DeliveryURL: "https://elsewhere.example/"}}
	for name, c := range map[string]struct {
		hooks   []wooapi.Webhook
		refresh bool
		inShape bool
		writes  int
	}{
		"in shape, repair":  {active, false, true, 0},
		"in shape, refresh": {active, true, true, 1},
		"none":              {nil, false, false, 1},
		"disabled":          {[]wooapi.Webhook{{ID: 3, Status: "disabled", Topic: "order.created", DeliveryURL: url}}, false, false, 1},
		"duplicate":         {append([]wooapi.Webhook{{ID: 5, Status: "paused", Topic: "order.created", DeliveryURL: url + "/"}}, active...), false, false, 1},
	} {
		p, err := Inspect(context.Background(), &fakeShop{hooks: c.hooks}, Want{URL: url, Secret: "s", RefreshSecret: c.refresh})
		if err != nil || p.InShape != c.inShape || len(p.Writes) != c.writes {
			t.Errorf("%s: in shape %v, writes %v, err %v; want %v and %d writes", name, p.InShape, p.Actions(), err, c.inShape, c.writes)
		}
	}
}
