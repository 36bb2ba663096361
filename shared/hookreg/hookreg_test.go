package hookreg

import (
	"context"
	"fmt"
	"slices"
	"strings"
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

func TestTopics(t *testing.T) {
	for _, c := range []struct{ forwarded, want []string }{
		{[]string{"order.created"}, []string{"order.created"}},
		{[]string{"order.updated", "order.created"}, []string{"order.created", "order.updated"}},
		{[]string{"order.created", "order.deleted", "order.restored"}, []string{"order.created"}},
		{[]string{"order.deleted"}, nil},
	} {
		if got := Topics(c.forwarded); !slices.Equal(got, c.want) {
			t.Errorf("Topics(%v) = %v, want %v", c.forwarded, got, c.want)
		}
	}
}

// fakeShop records the writes, in order, as "create order.created s",
// "update 3 s", "delete 3".
type fakeShop struct {
	hooks  []wooapi.Webhook
	writes []string
	fail   string // a write starting so fails
}

func (f *fakeShop) ListWebhooks(context.Context) ([]wooapi.Webhook, error) { return f.hooks, nil }
func (f *fakeShop) write(w string) error {
	if f.fail != "" && strings.HasPrefix(w, f.fail) {
		return fmt.Errorf("%s: shop answered 500", w)
	}
	f.writes = append(f.writes, w)
	return nil
}
func (f *fakeShop) CreateWebhook(_ context.Context, w wooapi.WebhookChange) (wooapi.Webhook, error) {
	if w.Status != wooapi.WebhookActive || w.Name != Name(w.Topic) {
		return wooapi.Webhook{}, fmt.Errorf("created %+v", w)
	}
	return wooapi.Webhook{ID: 90 + int64(len(f.writes))}, f.write("create " + w.Topic + " " + w.Secret)
}
func (f *fakeShop) UpdateWebhook(_ context.Context, id int64, w wooapi.WebhookChange) (wooapi.Webhook, error) {
	return wooapi.Webhook{ID: id}, f.write(fmt.Sprintf("update %d %s%s", id, w.Status, w.Secret))
}
func (f *fakeShop) DeleteWebhook(_ context.Context, id int64) error {
	return f.write(fmt.Sprintf("delete %d", id))
}

// Per topic: in shape, a repair writes nothing and activate's refresh
// writes the secret once; a webhook not active is never re-activated (its
// failure count would disable it at the next failed delivery) but replaced:
// a new one is created, then the old deleted; duplicates of an active one
// are deleted; webhooks delivering elsewhere, or of a topic not registered,
// are never written.
func TestPlans(t *testing.T) {
	const url = "https://api.example/woocommerce/webhook"
	hook := func(id int64, status, topic, to string) wooapi.Webhook {
		return wooapi.Webhook{ID: id, Status: status, Topic: topic, DeliveryURL: to}
	}
	created, updated := "order.created", "order.updated"
	both := []string{created, updated}
	elsewhere := hook(4, "active", created, "https://elsewhere.example/")
	cases := []struct {
		name    string
		hooks   []wooapi.Webhook
		topics  []string
		refresh bool
		inShape bool
		writes  []string
		ids     map[string]int64 // after the writes
		others  int
	}{
		{"in shape, repair", []wooapi.Webhook{hook(3, "active", created, url), elsewhere}, nil, false, true,
			nil, map[string]int64{created: 3}, 1},
		{"in shape, refresh", []wooapi.Webhook{hook(3, "active", created, url), elsewhere}, nil, true, true,
			[]string{"update 3 s"}, map[string]int64{created: 3}, 1},
		{"none", nil, nil, false, false, []string{"create order.created s"}, map[string]int64{created: 90}, 0},
		{"disabled", []wooapi.Webhook{hook(3, "disabled", created, url)}, nil, true, false,
			[]string{"create order.created s", "delete 3"}, map[string]int64{created: 90}, 0},
		{"paused, trailing slash", []wooapi.Webhook{hook(3, "paused", created, url+"/")}, nil, false, false,
			[]string{"create order.created s", "delete 3"}, map[string]int64{created: 90}, 0},
		{"disabled duplicates", []wooapi.Webhook{hook(7, "disabled", created, url), hook(3, "paused", created, url)}, nil, false, false,
			[]string{"create order.created s", "delete 3", "delete 7"}, map[string]int64{created: 90}, 0},
		{"active among duplicates", []wooapi.Webhook{hook(5, "paused", created, url), hook(6, "active", created, url), hook(8, "active", created, url)}, nil, false, false,
			[]string{"delete 8", "delete 5"}, map[string]int64{created: 6}, 0},
		{"order.updated not registered", []wooapi.Webhook{hook(3, "active", created, url), hook(5, "disabled", updated, url)}, nil, false, true,
			nil, map[string]int64{created: 3}, 0},
		{"order.deleted never registered", []wooapi.Webhook{hook(3, "active", created, url), hook(6, "active", "order.deleted", url)}, both, false, false,
			[]string{"create order.updated s"}, map[string]int64{created: 3, updated: 90}, 0},
		{"both in shape", []wooapi.Webhook{hook(3, "active", created, url), hook(5, "active", updated, url), hook(6, "active", updated, "https://x.example")}, both, false, true,
			nil, map[string]int64{created: 3, updated: 5}, 1},
		{"both in shape, refresh", []wooapi.Webhook{hook(3, "active", created, url), hook(5, "active", updated, url)}, both, true, true,
			[]string{"update 3 s", "update 5 s"}, map[string]int64{created: 3, updated: 5}, 0},
		{"order.updated disabled", []wooapi.Webhook{hook(3, "active", created, url), hook(5, "disabled", updated, url)}, both, false, false,
			[]string{"create order.updated s", "delete 5"}, map[string]int64{created: 3, updated: 90}, 0},
		{"both disabled", []wooapi.Webhook{hook(3, "disabled", created, url), hook(5, "disabled", updated, url)}, both, false, false,
			[]string{"create order.created s", "delete 3", "create order.updated s", "delete 5"}, map[string]int64{created: 90, updated: 92}, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			shop := &fakeShop{hooks: c.hooks}
			p, err := Inspect(context.Background(), shop, Want{URL: url, Secret: "s", Topics: c.topics, RefreshSecret: c.refresh})
			if err != nil {
				t.Fatal(err)
			}
			if p.InShape != c.inShape || len(p.Writes) != len(c.writes) || p.Others != c.others {
				t.Fatalf("in shape %v, writes %v, others %d; want %v, %d writes, %d others", p.InShape, p.Actions(), p.Others, c.inShape, len(c.writes), c.others)
			}
			for _, w := range p.Writes {
				if err := w.Do(context.Background()); err != nil {
					t.Fatalf("%s: %v", w.Action, err)
				}
			}
			if !slices.Equal(shop.writes, c.writes) {
				t.Errorf("writes %v (actions %v), want %v", shop.writes, p.Actions(), c.writes)
			}
			if fmt.Sprint(p.IDs) != fmt.Sprint(c.ids) {
				t.Errorf("webhooks kept %v, want %v", p.IDs, c.ids)
			}
			for _, topic := range p.Topics {
				if !strings.Contains(p.Webhooks(), topic) {
					t.Errorf("Webhooks() %q does not name %s", p.Webhooks(), topic)
				}
			}
		})
	}
}

// A failed write says which topic's webhook it was; a create that failed
// leaves the topic without an id.
func TestFailedCreate(t *testing.T) {
	shop := &fakeShop{hooks: []wooapi.Webhook{{ID: 3, Status: "disabled", Topic: "order.created", DeliveryURL: "https://a.example/h"}}, fail: "create"}
	p, err := Inspect(context.Background(), shop, Want{URL: "https://a.example/h", Secret: "s"})
	if err != nil {
		t.Fatal(err)
	}
	err = p.Writes[0].Do(context.Background())
	if err == nil || !strings.HasPrefix(err.Error(), "order.created webhook: create") {
		t.Fatalf("err %v; want the create's error, naming the topic", err)
	}
	if got := p.Webhooks(); got != "order.created (to create)" {
		t.Errorf("Webhooks() = %q", got)
	}
}
