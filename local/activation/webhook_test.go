package activation

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/logistos-sync/logistos-sync/local/fakewoo"
	"github.com/logistos-sync/logistos-sync/shared/activate"
	"github.com/logistos-sync/logistos-sync/shared/config"
)

var webhookOnly = activate.Event{Steps: []string{activate.StepWebhook}}

// Whatever the shop starts with, one run leaves exactly one active
// order.created webhook delivering to WEBHOOK_URL with the deployment's
// secret, and leaves other webhooks alone: one not active is replaced by a
// new one (created first, then the old deleted), never re-activated. Every
// later run makes exactly one write: the secret refresh (WooCommerce never
// shows a secret, so a run cannot tell whether it still matches).
func TestWebhookIdempotent(t *testing.T) {
	other := fakewoo.Webhook{Name: "old plugin", Status: "active", Topic: "order.created", DeliveryURL: "https://elsewhere.example/hook", Secret: "theirs"}
	updated := fakewoo.Webhook{Name: "ours, other topic", Status: "active", Topic: "order.updated", DeliveryURL: webhookURL, Secret: "x"}
	ours := func(status string) fakewoo.Webhook {
		return fakewoo.Webhook{Name: "made by hand", Status: status, Topic: "order.created", DeliveryURL: webhookURL + "/", Secret: "stale"}
	}
	cases := []struct {
		name       string
		start      []fakewoo.Webhook
		wantWrites int
		wantAction string
	}{
		{"none", nil, 1, "create"},
		{"one active", []fakewoo.Webhook{ours("active")}, 1, "refresh secret"},
		{"one disabled", []fakewoo.Webhook{ours("disabled")}, 2, "create order.created webhook in place of #1 (disabled);delete replaced"},
		{"one paused", []fakewoo.Webhook{ours("paused")}, 2, "create order.created webhook in place of #1 (paused);delete replaced"},
		{"two duplicates", []fakewoo.Webhook{ours("disabled"), ours("active")}, 2, "delete duplicate"},
		{"three not active among others", []fakewoo.Webhook{other, ours("disabled"), updated, ours("paused"), ours("disabled")}, 4, "delete replaced"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, fakewoo.Options{}, nil)
			for _, w := range tc.start {
				e.shop.AddWebhook(w)
			}
			rep, err := e.run(webhookOnly)
			if err != nil {
				t.Fatal(err)
			}
			if rep.Webhook.Writes != tc.wantWrites || e.shop.Stats().WebhookWrites != tc.wantWrites ||
				!strings.Contains(strings.Join(rep.Webhook.Actions, ";"), tc.wantAction) {
				t.Errorf("writes %d (shop saw %d), actions %v; want %d writes with %q", rep.Webhook.Writes,
					e.shop.Stats().WebhookWrites, rep.Webhook.Actions, tc.wantWrites, tc.wantAction)
			}
			check := func() {
				t.Helper()
				var mine []fakewoo.Webhook
				for _, w := range e.shop.Webhooks() {
					if w.Topic == "order.created" && strings.TrimRight(w.DeliveryURL, "/") == webhookURL {
						mine = append(mine, w)
					}
				}
				if len(mine) != 1 || mine[0].Status != "active" || mine[0].Secret != e.st.WebhookSecret || mine[0].APIVersion != "wp_api_v3" {
					t.Fatalf("webhooks at our URL: %+v", mine)
				}
				if id := rep.Webhook.WebhookIDs["order.created"]; mine[0].ID != id {
					t.Errorf("report names webhook %d, kept %d", id, mine[0].ID)
				}
				for _, w := range e.shop.Webhooks() {
					if w.DeliveryURL == other.DeliveryURL && (w.Secret != "theirs" || w.Status != "active") {
						t.Errorf("another integration's webhook was changed: %+v", w)
					}
					if w.Topic == "order.updated" && w.Secret != "x" {
						t.Errorf("our URL's order.updated webhook was changed: %+v", w)
					}
				}
			}
			check()
			before := e.shop.Stats().WebhookWrites
			again, err := e.run(webhookOnly)
			if err != nil {
				t.Fatal(err)
			}
			check()
			if n := e.shop.Stats().WebhookWrites - before; n != 1 || again.Webhook.Writes != 1 || !strings.HasPrefix(again.Webhook.Actions[0], "refresh secret") {
				t.Errorf("second run: %d writes, actions %v; want only the secret refresh", n, again.Webhook.Actions)
			}
		})
	}
}

// A rotated secret reaches the webhook on the next run.
func TestWebhookSecretRotation(t *testing.T) {
	e := newEnv(t, fakewoo.Options{}, nil)
	if _, err := e.run(webhookOnly); err != nil {
		t.Fatal(err)
	}
	if _, err := e.st.Secrets.PutSecretValue(context.Background(), &secretsmanager.PutSecretValueInput{
		SecretId: aws.String(e.st.WebhookSecretARN), SecretString: aws.String("rotated-secret"),
	}); err != nil {
		t.Fatal(err)
	}
	e2 := newEnvSharing(t, e, nil)
	if _, err := e2.run(webhookOnly); err != nil {
		t.Fatal(err)
	}
	hooks := e.shop.Webhooks()
	if len(hooks) != 1 || hooks[0].Secret != "rotated-secret" {
		t.Errorf("webhooks %+v", hooks)
	}
}

// A webhook WooCommerce disabled (or one paused) keeps its failure count
// when set back to active, so the webhook step leaves a fresh one in its
// place: after one more failed delivery, the webhook at WEBHOOK_URL is
// still active. With order.updated forwarded, each topic has its webhook.
func TestWebhookStepLeavesAWebhookThatSurvivesAFailure(t *testing.T) {
	for _, c := range []struct {
		name   string
		status string
		vars   map[string]string
		topics []string
	}{
		{"disabled", "disabled", nil, []string{"order.created"}},
		{"paused", "paused", nil, []string{"order.created"}},
		{"disabled, order.updated forwarded", "disabled", map[string]string{config.ForwardTopics: "order.created,order.updated"},
			[]string{"order.created", "order.updated"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t, fakewoo.Options{Orders: 1}, c.vars)
			for _, topic := range c.topics {
				e.shop.AddWebhook(fakewoo.Webhook{Name: "ours", Status: c.status, Topic: topic, DeliveryURL: webhookURL,
					Secret: "stale", Failures: fakewoo.MaxDeliveryFailures + 1})
			}
			rep, err := e.run(webhookOnly)
			if err != nil {
				t.Fatal(err)
			}
			e.shop.FailDeliveries(true)
			e.shop.PlaceOrders(1)
			e.shop.Modify(1)
			for _, topic := range c.topics {
				var mine []fakewoo.Webhook
				for _, w := range e.shop.Webhooks() {
					if w.Topic == topic && w.DeliveryURL == webhookURL {
						mine = append(mine, w)
					}
				}
				if len(mine) != 1 || mine[0].Status != "active" || mine[0].Secret != e.st.WebhookSecret {
					t.Errorf("%s webhooks after the step (actions %v) and one failed delivery: %+v; want one, active",
						topic, rep.Webhook.Actions, mine)
				}
			}
		})
	}
}
