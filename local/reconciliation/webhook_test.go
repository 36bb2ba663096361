package reconciliation

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/logistos-sync/logistos-sync/local/fakewoo"
	"github.com/logistos-sync/logistos-sync/shared/config"
	"github.com/logistos-sync/logistos-sync/shared/queue"
	"github.com/logistos-sync/logistos-sync/shared/reconcile"
	"github.com/logistos-sync/logistos-sync/shared/wooapi"
)

// bothTopics forwards order.updated too: a webhook is kept for each topic.
var bothTopics = map[string]string{config.ForwardTopics: "order.created,order.updated"}

// ours returns the webhooks delivering to WEBHOOK_URL, by topic.
func (e *env) ours() map[string][]fakewoo.Webhook {
	out := map[string][]fakewoo.Webhook{}
	for _, w := range e.shop.Webhooks() {
		if strings.TrimRight(w.DeliveryURL, "/") == e.vars[config.WebhookURL] {
			out[w.Topic] = append(out[w.Topic], w)
		}
	}
	return out
}

// inShape fails the test unless exactly one active webhook per topic
// delivers to WEBHOOK_URL with the deployment's secret; it returns them.
func (e *env) inShape(when string, topics ...string) map[string]fakewoo.Webhook {
	e.t.Helper()
	got, out := e.ours(), map[string]fakewoo.Webhook{}
	for _, topic := range topics {
		hs := got[topic]
		if len(hs) != 1 || hs[0].Status != "active" || hs[0].Secret != e.st.WebhookSecret {
			e.t.Fatalf("%s: %s webhooks at WEBHOOK_URL %+v; want one, active, with the deployment's secret", when, topic, hs)
		}
		out[topic] = hs[0]
	}
	return out
}

// event makes one order event of topic: a new order, or an edit of order
// 1; its delivery fails while the endpoint is down.
func (e *env) event(topic string) int64 {
	e.clock.Advance(time.Second) // each edit its own date_modified_gmt
	if topic == "order.created" {
		return e.shop.PlaceOrders(1)[0]
	}
	e.shop.Modify(1)
	return 1
}

// WooCommerce keeps a webhook's failure count when it is set back to
// active, so a re-activated webhook is disabled again by its very next
// failed delivery. A repair leaves one that survives it: after the sweep,
// one more failed delivery and the webhook of each topic is still active,
// the webhook of the other topic was not touched, and once the endpoint is
// back the next event arrives live.
func TestRepairedWebhookSurvivesTheNextFailure(t *testing.T) {
	for _, c := range []struct {
		name         string
		vars         map[string]string
		topic, other string // other: "" when only topic is forwarded
	}{
		{"order.created alone", nil, "order.created", ""},
		{"order.created beside order.updated", bothTopics, "order.created", "order.updated"},
		{"order.updated beside order.created", bothTopics, "order.updated", "order.created"},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t, 3, c.vars)
			topics := []string{c.topic}
			if c.other != "" {
				topics = append(topics, c.other)
			}
			e.activate()
			before := e.inShape("after activation", topics...)

			e.down.Store(true)
			for range fakewoo.MaxDeliveryFailures + 2 {
				e.event(c.topic)
			}
			e.down.Store(false)
			if hs := e.ours()[c.topic]; len(hs) != 1 || hs[0].Status != "disabled" {
				t.Fatalf("after %d failed deliveries: %+v, want the shop to have disabled it", fakewoo.MaxDeliveryFailures+2, hs)
			}

			e.clock.Advance(grace + time.Minute)
			rep := e.sweep(reconcile.Event{})
			if rep.Outcome != reconcile.OutcomeDone || rep.Webhook.Outcome != reconcile.WebhookRepairedOut || rep.OrdersQueued == 0 {
				t.Fatalf("sweep: %+v, webhook %+v", rep, rep.Webhook)
			}
			after := e.inShape("after the repair", topics...)
			if c.other != "" && after[c.other].ID != before[c.other].ID {
				t.Errorf("the %s webhook, in shape, was replaced: #%d → #%d", c.other, before[c.other].ID, after[c.other].ID)
			}

			e.down.Store(true)
			e.event(c.topic)
			e.down.Store(false)
			e.inShape("after one more failed delivery", c.topic)

			// The webhook records the order in the ledger before it answers,
			// so a delivery that worked shows there at once.
			id := e.event(c.topic)
			got, err := e.ledger.Get(context.Background(), []int64{id})
			if want := e.clock.Now().UTC().Format(wooapi.DateLayout); err != nil || got[id].Origin != queue.OriginWebhook || got[id].Modified != want {
				t.Fatalf("ledger after the next %s of order %d: %+v %v; want it from the webhook, modified %s", c.topic, id, got[id], err, want)
			}
			e.waitAtLogistos([]int64{id})
		})
	}
}

// With order.updated forwarded, activation registers a webhook for it too,
// so an edit reaches Logistos live, not a sweep later; the sweep then finds
// nothing missing and writes nothing to the shop.
func TestUpdatesArriveLive(t *testing.T) {
	e := newEnv(t, 0, bothTopics)
	e.activate()
	e.inShape("after activation", "order.created", "order.updated")
	placed := e.shop.PlaceOrders(2)
	e.waitAtLogistos(placed)
	e.clock.Advance(time.Minute)
	e.shop.Modify(placed[0])
	testwaitEvents(t, e, placed[0], []string{"order.created", "order.updated"})

	writes := e.shop.Stats().WebhookWrites
	e.clock.Advance(grace + time.Minute)
	rep := e.sweep(reconcile.Event{})
	if rep.OrdersMissing != 0 || rep.Webhook.Outcome != reconcile.WebhookInShape || e.shop.Stats().WebhookWrites != writes {
		t.Fatalf("sweep: %+v, webhook %+v, %d writes to the shop", rep, rep.Webhook, e.shop.Stats().WebhookWrites-writes)
	}
}
