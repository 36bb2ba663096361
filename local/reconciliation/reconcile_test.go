package reconciliation

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/logistos-sync/logistos-sync/internal/testwait"
	"github.com/logistos-sync/logistos-sync/local/fakewoo"
	"github.com/logistos-sync/logistos-sync/shared/queue"
	"github.com/logistos-sync/logistos-sync/shared/reconcile"
	"github.com/logistos-sync/logistos-sync/shared/state"
)

// The endpoint is down while 50 orders are placed and the shop disables the
// webhook; the endpoint comes back; one sweep later all 50 are at Logistos,
// the webhook is active again with the right secret, and the next order
// arrives through the webhook.
func TestNothingLostWhileTheEndpointIsDown(t *testing.T) {
	e := newEnv(t, 5)
	e.activate()
	e.waitAtLogistos(span(1, 5))

	e.down.Store(true)
	placed := e.shop.PlaceOrders(50)
	if h := e.shop.Webhooks(); len(h) != 1 || h[0].Status != "disabled" {
		t.Fatalf("after 50 failed deliveries the shop should have disabled the webhook: %+v", h)
	}
	if d := e.shop.Deliveries(); d.Delivered != 0 || d.Failed != 7 {
		t.Fatalf("deliveries %+v: want 7 failures, then none (disabled)", d)
	}
	e.down.Store(false)

	e.clock.Advance(grace + time.Minute)
	rep := e.sweep(reconcile.Event{})
	if rep.Outcome != reconcile.OutcomeDone || rep.OrdersMissing != 50 || rep.OrdersQueued != 50 ||
		rep.Webhook.Outcome != reconcile.WebhookRepairedOut {
		t.Fatalf("sweep: %+v, webhook %+v", rep, rep.Webhook)
	}
	got := e.waitAtLogistos(placed)
	for _, id := range placed {
		if got[id][0] != "order.created" {
			t.Errorf("order %d reached Logistos as %v, want order.created", id, got[id])
		}
	}
	h := e.shop.Webhooks()
	if len(h) != 1 || h[0].Status != "active" || h[0].Secret != e.st.WebhookSecret || h[0].DeliveryURL != e.vars["WEBHOOK_URL"] {
		t.Fatalf("webhook after the sweep: %+v", h)
	}
	if !strings.Contains(e.emf.String(), `"OrdersRecovered":50`) || !strings.Contains(e.emf.String(), `"WebhookRepaired":1`) {
		t.Errorf("metrics:\n%s", e.emf.String())
	}

	next := e.shop.PlaceOrders(1)
	if d := e.shop.Deliveries(); d.Delivered != 1 {
		t.Fatalf("the next order was not delivered by the webhook: %+v", d)
	}
	e.waitAtLogistos(next)
	entries, err := e.ledger.Get(context.Background(), next)
	if err != nil || entries[next[0]].Origin != queue.OriginWebhook {
		t.Fatalf("ledger of order %d: %+v %v; want origin webhook", next[0], entries, err)
	}
}

// Orders that arrived by webhook are not queued again; orders younger than
// the grace are left alone; a second sweep queues nothing and writes
// nothing to the shop.
func TestSweepQueuesOnlyWhatWasMissed(t *testing.T) {
	e := newEnv(t, 3)
	e.activate()
	delivered := e.shop.PlaceOrders(4)
	e.waitAtLogistos(delivered)

	e.clock.Advance(grace + time.Minute)
	e.down.Store(true)
	young := e.shop.PlaceOrders(2) // failed deliveries, but within the grace
	e.down.Store(false)

	writes := e.shop.Stats().WebhookWrites
	rep := e.sweep(reconcile.Event{})
	if rep.OrdersSeen != 4+3 || rep.OrdersMissing != 0 || rep.OrdersQueued != 0 || rep.Webhook.Outcome != reconcile.WebhookInShape {
		t.Fatalf("first sweep: %+v %+v", rep, rep.Webhook)
	}
	rep = e.sweep(reconcile.Event{})
	if rep.OrdersQueued != 0 || e.shop.Stats().WebhookWrites != writes {
		t.Fatalf("second sweep queued %d, wrote %d times to the shop", rep.OrdersQueued, e.shop.Stats().WebhookWrites-writes)
	}

	// Past the grace, the two are missing and recovered, once.
	e.clock.Advance(grace + time.Minute)
	if rep = e.sweep(reconcile.Event{}); rep.OrdersQueued != 2 {
		t.Fatalf("past the grace: %+v", rep)
	}
	got := e.waitAtLogistos(young)
	if rep = e.sweep(reconcile.Event{}); rep.OrdersQueued != 0 {
		t.Fatalf("again: %+v", rep)
	}
	for _, id := range append(delivered, young...) {
		if len(got[id]) != 1 {
			t.Errorf("order %d reached Logistos %d times", id, len(got[id]))
		}
	}
}

// A dry run reports what it would queue and writes nothing.
func TestDryRunWritesNothing(t *testing.T) {
	e := newEnv(t, 2)
	e.activate()
	e.down.Store(true)
	e.shop.PlaceOrders(8) // disabled at the 7th
	e.down.Store(false)
	e.clock.Advance(grace + time.Minute)
	writes := e.shop.Stats().WebhookWrites
	rep := e.sweep(reconcile.Event{DryRun: true})
	if rep.Outcome != reconcile.OutcomeWouldDo || rep.OrdersMissing != 8 || rep.OrdersQueued != 0 ||
		rep.Webhook.Outcome != reconcile.WebhookWouldRepair || e.shop.Stats().WebhookWrites != writes {
		t.Fatalf("dry run: %+v %+v", rep, rep.Webhook)
	}
	if rep = e.sweep(reconcile.Event{}); rep.OrdersQueued != 8 {
		t.Fatalf("the dry run moved the mark: %+v", rep)
	}
}

// Wrong or revoked credentials: a clear report and metric, nothing queued.
func TestRevokedKey(t *testing.T) {
	e := newEnv(t, 2)
	e.activate()
	e.down.Store(true)
	missed := e.shop.PlaceOrders(3)
	e.down.Store(false)
	e.clock.Advance(grace + time.Minute)

	good := e.vars["WOO_CONSUMER_SECRET"]
	e.vars["WOO_CONSUMER_SECRET"] = "cs_wrong"
	wrong := e.newReconcile()
	e.vars["WOO_CONSUMER_SECRET"] = good
	rep, err := wrong.Handle(context.Background(), reconcile.Event{})
	if err == nil || rep.Outcome != reconcile.OutcomeFailed || rep.OrdersQueued != 0 || !strings.Contains(rep.Detail, "REST API key") {
		t.Fatalf("wrong secret: %v %+v", err, rep)
	}

	e.shop.RemoveKey(fakewoo.Key)
	rep, err = e.rec.Handle(context.Background(), reconcile.Event{})
	if err == nil || rep.Outcome != reconcile.OutcomeFailed || rep.OrdersQueued != 0 || !strings.Contains(rep.Detail, "REST API key") {
		t.Fatalf("revoked key: %v %+v", err, rep)
	}
	if strings.Count(e.emf.String(), `"ReconcileFailed":1`) != 2 {
		t.Errorf("no ReconcileFailed metric:\n%s", e.emf.String())
	}
	if got, err := e.ledger.Get(context.Background(), missed); err != nil || len(got) != 0 {
		t.Errorf("the ledger records %v (%v): something was queued", got, err)
	}

	// A new key fixes it; the failed sweep left the window for this one.
	e.shop.AddKey(fakewoo.Key, fakewoo.Secret, fakewoo.ReadWrite)
	if rep = e.sweep(reconcile.Event{}); rep.OrdersQueued != 3 {
		t.Fatalf("after the key is restored: %+v", rep)
	}
}

// A sweep that crashed (its lease still held, its mark not moved) is
// covered by the next sweep once the lease expires.
func TestCrashedSweepIsCovered(t *testing.T) {
	e := newEnv(t, 2)
	e.activate()
	e.down.Store(true)
	missed := e.shop.PlaceOrders(4)
	e.down.Store(false)
	e.clock.Advance(grace + time.Minute)

	// A sweep died after taking the lease, before queueing anything.
	doc, _ := json.Marshal(map[string]any{"owner": "crashed-run", "lease_until": e.clock.Now().Add(state.LeaseTTL)})
	_, version, err := e.rec.State.Get(context.Background(), reconcile.StateID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.rec.State.Put(context.Background(), reconcile.StateID, doc, version); err != nil {
		t.Fatal(err)
	}
	if rep := e.sweep(reconcile.Event{}); rep.Outcome != reconcile.OutcomeAlreadyRunning || rep.OrdersQueued != 0 {
		t.Fatalf("while the crashed sweep's lease holds: %+v", rep)
	}
	e.clock.Advance(state.LeaseTTL + time.Second)
	if rep := e.sweep(reconcile.Event{}); rep.Outcome != reconcile.OutcomeDone || rep.OrdersQueued != 4 {
		t.Fatalf("after the lease expired: %+v", rep)
	}
	e.waitAtLogistos(missed)
}

// Two sweeps at once: one works, the orders are queued once.
func TestConcurrentSweeps(t *testing.T) {
	e := newEnv(t, 2)
	e.activate()
	e.down.Store(true)
	e.shop.PlaceOrders(10)
	e.down.Store(false)
	e.clock.Advance(grace + time.Minute)

	hs := []*reconcile.Handler{e.rec, e.newReconcile()}
	reps := make([]reconcile.Report, len(hs))
	var wg sync.WaitGroup
	for i, h := range hs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var err error
			if reps[i], err = h.Handle(context.Background(), reconcile.Event{}); err != nil {
				t.Errorf("sweep %d: %v", i, err)
			}
		}()
	}
	wg.Wait()
	if queued := reps[0].OrdersQueued + reps[1].OrdersQueued; queued != 10 {
		t.Fatalf("two sweeps queued %d orders in all, want 10 once: %+v / %+v", queued, reps[0], reps[1])
	}
	if reps[0].Outcome != reconcile.OutcomeAlreadyRunning && reps[1].Outcome != reconcile.OutcomeAlreadyRunning &&
		reps[0].OrdersQueued != 0 && reps[1].OrdersQueued != 0 {
		t.Fatalf("both sweeps worked: %+v / %+v", reps[0], reps[1])
	}
}

// Before activation, a sweep succeeds and says so.
func TestNeedsActivation(t *testing.T) {
	e := newEnv(t, 2)
	rep := e.sweep(reconcile.Event{})
	if rep.Outcome != reconcile.OutcomeNeedsActivation || rep.OrdersQueued != 0 {
		t.Fatalf("%+v", rep)
	}
}

// With order.updated forwarded, an order modified after what the ledger
// holds (its order.updated delivery failed) is queued again as
// order.updated; an order not modified is left alone.
func TestModifiedOrdersWithOrderUpdated(t *testing.T) {
	e := newEnv(t, 0, bothTopics)
	e.activate()
	placed := e.shop.PlaceOrders(3) // delivered by webhook
	e.waitAtLogistos(placed)
	e.clock.Advance(time.Minute)
	e.down.Store(true)
	e.shop.Modify(placed[1])
	e.down.Store(false)
	e.clock.Advance(grace + time.Minute)
	rep := e.sweep(reconcile.Event{})
	if rep.OrdersMissing != 1 || rep.OrdersQueued != 1 || rep.MissingIDs[0] != placed[1] {
		t.Fatalf("sweep: %+v", rep)
	}
	testwaitEvents(t, e, placed[1], []string{"order.created", "order.updated"})
	if rep = e.sweep(reconcile.Event{}); rep.OrdersQueued != 0 {
		t.Fatalf("again: %+v", rep)
	}
}

// testwaitEvents waits until order id reached Logistos with these events.
func testwaitEvents(t *testing.T, e *env, id int64, want []string) {
	t.Helper()
	testwait.Eventually(t, 60*time.Second, func() error {
		if got := e.atLogistos()[id]; strings.Join(got, ",") != strings.Join(want, ",") {
			return fmt.Errorf("order %d reached Logistos as %v, want %v", id, got, want)
		}
		return nil
	})
}

// After backfilling five hours of orders (one a minute), the ledger holds
// only the last hour's: the first sweep's window starts an hour before the
// cut-off and no sweep looks further back. That sweep finds every order in
// its window recorded and queues nothing.
func TestBackfillRecordsOnlyWhatSweepsLookUp(t *testing.T) {
	const orders = 300
	e := newEnv(t, orders)
	e.activate()
	got, err := e.ledger.Get(context.Background(), span(1, orders))
	if err != nil {
		t.Fatal(err)
	}
	// Order id was created orders+1-id minutes before activation, whose
	// cut-off is a second later: 242..300 are within the hour before it.
	for id := int64(1); id <= orders; id++ {
		age := time.Duration(orders+1-id) * time.Minute
		if _, ok := got[id]; ok != (age < time.Hour) {
			t.Errorf("order %d, created %v before activation: recorded %v", id, age, ok)
		}
	}
	e.waitAtLogistos(span(1, orders))

	e.clock.Advance(grace + time.Minute)
	rep := e.sweep(reconcile.Event{})
	if rep.Outcome != reconcile.OutcomeDone || rep.OrdersSeen != 59 || rep.OrdersMissing != 0 || rep.OrdersQueued != 0 {
		t.Fatalf("first sweep after the backfill: %+v", rep)
	}
}
