package reconciliation

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/logistos-sync/logistos-sync/local/fakewoo"
	"github.com/logistos-sync/logistos-sync/shared/activate"
	"github.com/logistos-sync/logistos-sync/shared/config"
	"github.com/logistos-sync/logistos-sync/shared/reconcile"
)

// The documents a single-shop stack kept before a stack could be a hub, as
// that code (commit cd2b682) wrote them: captured by running its activation
// and one sweep against kumo and dumping the state table and the ledger.
// The shop's URL and the times are filled in; names, attributes and JSON
// shapes are as captured.
const (
	oldBackfillDoc = `{"store_url":%q,"statuses":["any"],"cutoff":%q,"started_at":%q,"completed_at":%q,` +
		`"next_page":2,"last_id":30,"last_total":30,"total":30,"total_pages":1,"enqueued":30,"dead_lettered":0,` +
		`"repaired":0,"invocations":1,"owner":"","lease_until":"0001-01-01T00:00:00Z"}`
	oldReconcileDoc = `{"mark":%q,"owner":"","lease_until":"0001-01-01T00:00:00Z","last_run":%q}`
)

// TestSingleShopStateUpgrades runs the state and secrets a single-shop
// stack had before the hub through today's code, with the same settings
// (STORE_URL set, the same webhook secret and key): the next sweep resumes
// from the old mark and finds nothing missing, activation run again sends
// nothing, the webhook registered then still delivers, and Logistos gets
// each new order once and no old order again.
func TestSingleShopStateUpgrades(t *testing.T) {
	e := newEnv(t, 30)
	ctx := context.Background()
	now := e.clock.Now()
	rfc := func(t time.Time) string { return t.UTC().Format(time.RFC3339) }
	cutoff, mark := now.Add(-20*time.Minute), now.Add(-grace)

	// Before the upgrade: 30 orders backfilled, 2 delivered by the webhook,
	// one sweep at now; the webhook WooCommerce delivers to.
	delivered := e.shop.AddOrders(2)
	e.shop.AddWebhook(fakewoo.Webhook{Name: "logistos-sync", Status: "active", Topic: "order.created",
		DeliveryURL: e.vars[config.WebhookURL], Secret: e.st.WebhookSecret})
	putDoc := func(id, doc string) {
		_, err := e.st.DynamoDB.PutItem(ctx, &dynamodb.PutItemInput{TableName: &e.st.StateTable, Item: map[string]types.AttributeValue{
			"id": &types.AttributeValueMemberS{Value: id}, "state": &types.AttributeValueMemberS{Value: doc},
			"updated_at": &types.AttributeValueMemberS{Value: rfc(now)}, "version": &types.AttributeValueMemberN{Value: "2"},
		}})
		if err != nil {
			t.Fatal(err)
		}
	}
	putDoc("backfill", fmt.Sprintf(oldBackfillDoc, e.shop.URL, rfc(cutoff), rfc(cutoff), rfc(cutoff)))
	putDoc("reconcile", fmt.Sprintf(oldReconcileDoc, rfc(mark), rfc(now)))
	for id := int64(1); id <= e.shop.MaxID(); id++ {
		origin := "backfill"
		if id >= delivered[0] {
			origin = "webhook"
		}
		_, err := e.st.DynamoDB.PutItem(ctx, &dynamodb.PutItemInput{TableName: &e.st.LedgerTable, Item: map[string]types.AttributeValue{
			"order_id":    &types.AttributeValueMemberN{Value: strconv.FormatInt(id, 10)},
			"modified":    &types.AttributeValueMemberS{Value: modifiedGMT(t, e.shop, id)},
			"origin":      &types.AttributeValueMemberS{Value: origin},
			"received_at": &types.AttributeValueMemberS{Value: rfc(cutoff)},
			"expires_at":  &types.AttributeValueMemberN{Value: strconv.FormatInt(now.Add(90*24*time.Hour).Unix(), 10)},
		}})
		if err != nil {
			t.Fatal(err)
		}
	}

	// After: today's code, cold.
	e.clock.Advance(20 * time.Minute)
	rep := e.sweep(reconcile.Event{})
	if rep.Outcome != reconcile.OutcomeDone || rep.OrdersMissing != 0 || rep.OrdersQueued != 0 {
		t.Fatalf("first sweep after the upgrade: %+v; want done, nothing missing", rep)
	}
	if want := mark.Add(-time.Hour); rep.Window == nil || !rep.Window.Start.Equal(want) {
		t.Fatalf("first sweep's window %+v; want it to resume from the old mark, starting %s", rep.Window, want)
	}
	if rep.Webhook == nil || rep.Webhook.Outcome != reconcile.WebhookInShape {
		t.Fatalf("the webhook registered before the upgrade: %+v; want in shape", rep.Webhook)
	}
	act, err := e.act.Handle(ctx, activate.Event{Steps: []string{activate.StepWebhook, activate.StepBackfill}})
	if err != nil || act.Backfill == nil || act.Backfill.Outcome != activate.OutcomeComplete {
		t.Fatalf("activation again after the upgrade: %v %+v", err, act.Backfill)
	}
	if hooks := e.ours()["order.created"]; len(hooks) != 1 {
		t.Fatalf("webhooks after activating again: %+v; want the one registered before the upgrade", hooks)
	}

	next := e.shop.PlaceOrders(1)
	e.waitAtLogistos(next)
	e.clock.Advance(20 * time.Minute)
	if rep := e.sweep(reconcile.Event{}); rep.OrdersQueued != 0 {
		t.Fatalf("second sweep: %+v; want nothing queued", rep)
	}
	got := e.atLogistos()
	if len(got) != 1 || len(got[next[0]]) != 1 {
		t.Fatalf("Logistos got %v; want only the new order %d, once", got, next[0])
	}
	res, err := e.st.DynamoDB.Scan(ctx, &dynamodb.ScanInput{TableName: &e.st.StateTable})
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range res.Items {
		if id := it["id"].(*types.AttributeValueMemberS).Value; id != "backfill" && id != "reconcile" {
			t.Errorf("state document %q after the upgrade; want only the old ones, where they were", id)
		}
	}
}

// modifiedGMT is the order's date_modified_gmt as the shop serves it.
func modifiedGMT(t *testing.T, shop *fakewoo.Shop, id int64) string {
	t.Helper()
	body, ok := shop.OrderJSON(shop.URL, id)
	if !ok {
		t.Fatalf("order %d: not in the shop", id)
	}
	var o struct {
		Modified string `json:"date_modified_gmt"`
	}
	if err := json.Unmarshal(body, &o); err != nil || o.Modified == "" {
		t.Fatalf("order %d: date_modified_gmt: %v", id, err)
	}
	return o.Modified
}
