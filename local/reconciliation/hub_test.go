package reconciliation

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/logistos-sync/logistos-sync/internal/testwait"
	"github.com/logistos-sync/logistos-sync/local/fakewoo"
	"github.com/logistos-sync/logistos-sync/shared/ledger"
	"github.com/logistos-sync/logistos-sync/shared/queue"
	"github.com/logistos-sync/logistos-sync/shared/reconcile"
	"github.com/logistos-sync/logistos-sync/shared/shop"
)

// Two shops of one hub with the same order ids: A has every order in its
// part of the ledger, B misses 11..20. One scheduled run queues a job for
// each; A's sweep queues nothing, B's queues exactly B's 10 orders, fetched
// from B and named as B's (wc-source); each sweep records in its own part
// of the ledger and repairs its own webhook, at its own URL with its own
// secret. Nothing of one shop reaches the other's sweep.
func TestHubSweepKeepsShopsApart(t *testing.T) {
	e := newHub(t)
	a := e.addShop("a", 20, true, nil)
	b := e.addShop("b", 20, false, func(id int64) bool { return id > 10 })

	fo, failed := e.round()
	if failed != 0 || fo.Outcome != reconcile.OutcomeQueued || fo.FanOut.Connected != 2 || fo.FanOut.Queued != 2 {
		t.Fatalf("fan-out %+v %+v, %d jobs failed", fo, fo.FanOut, failed)
	}
	got := e.takeQueued()
	var ids []int64
	for _, q := range got {
		// The order's links name the shop it came from (slashes escaped, as
		// WordPress writes JSON).
		fromB := strings.Contains(q.body, strings.ReplaceAll(b.URL, "/", `\/`))
		if q.source != b.url || !fromB {
			t.Errorf("order %d queued as %q (fetched from B: %v), want B's %q", q.id, q.source, fromB, b.url)
		}
		ids = append(ids, q.id)
	}
	slices.Sort(ids)
	if !slices.Equal(ids, span(11, 20)) {
		t.Fatalf("queued %v, want B's 11..20 and nothing of A's", ids)
	}
	// B's recovered orders are in B's part of the ledger, as reconcile
	// recorded them.
	bl, err := ledger.For(e.ledger, b.id).Get(context.Background(), span(11, 20))
	if err != nil || len(bl) != 10 || bl[11].Origin != queue.OriginReconcile {
		t.Fatalf("B's ledger has %d of 11..20 (%v): %+v", len(bl), err, bl[11])
	}
	hooks := b.Webhooks()
	if len(hooks) != 1 || hooks[0].DeliveryURL != hubHookURL+"/"+b.id || hooks[0].Secret != b.sec.WebhookSecret || hooks[0].Status != "active" {
		t.Fatalf("B's webhook after its sweep: %+v; want one at %s with B's secret", hooks, hubHookURL+"/"+b.id)
	}
	if h := a.Webhooks(); len(h) != 1 || h[0].DeliveryURL != hubHookURL+"/"+a.id || h[0].Secret != a.sec.WebhookSecret {
		t.Fatalf("A's webhook: %+v", h)
	}
	// A second run finds nothing missing anywhere.
	if _, failed := e.round(); failed != 0 {
		t.Fatalf("%d jobs failed", failed)
	}
	if again := e.takeQueued(); len(again) != 0 {
		t.Fatalf("second run queued %v", again)
	}
}

// A revokes the hub's key: each run its sweep gets 401 and fails alone,
// while B, swept in the same runs, recovers its missed orders every time.
// After the third refused sweep in a row A is disconnected (a metric, a
// log line with its id) and no longer queued; B stays connected. Connecting
// A again (activation sets it connected, with a new key) restores its
// sweeps.
func TestHubRevokedKeyStopsOnlyThatShop(t *testing.T) {
	e := newHub(t)
	a := e.addShop("a", 5, true, nil)
	b := e.addShop("b", 5, true, nil)
	a.RemoveKey(a.sec.ConsumerKey)

	for run := 1; run <= reconcile.DisconnectAfter; run++ {
		placed := b.AddOrders(2)
		fo, failed := e.round()
		if fo.FanOut.Queued != 2 || failed != 1 {
			t.Fatalf("run %d: fan-out %+v, %d jobs failed; want both queued and A's alone failed", run, fo.FanOut, failed)
		}
		if fo.Waiting == nil {
			t.Errorf("run %d: the scheduled run did not release the waiting orders", run)
		}
		var ids []int64
		for _, q := range e.takeQueued() {
			if q.source != b.url {
				t.Fatalf("run %d: queued %+v from %s", run, q.id, q.source)
			}
			ids = append(ids, q.id)
		}
		slices.Sort(ids)
		if !slices.Equal(ids, placed) {
			t.Fatalf("run %d: B's sweep queued %v, want %v", run, ids, placed)
		}
		want := shop.Connected
		if run == reconcile.DisconnectAfter {
			want = shop.Disconnected
		}
		if st := e.status(a); st != want {
			t.Fatalf("run %d: A is %s, want %s", run, st, want)
		}
		if st := e.status(b); st != shop.Connected {
			t.Fatalf("run %d: B is %s", run, st)
		}
		// What the operator sees: A's refusals counted (until the
		// disconnect starts the count again), B's none.
		la, err := reconcile.ReadLastSweep(context.Background(), e.h.State, a.id)
		lb, _ := reconcile.ReadLastSweep(context.Background(), e.h.State, b.id)
		if want := run % reconcile.DisconnectAfter; err != nil || la.Unauthorized != want || la.At.IsZero() || lb.Unauthorized != 0 || lb.At.IsZero() {
			t.Fatalf("run %d: last sweeps A %+v (%v), B %+v; want A's count %d", run, la, err, lb, want)
		}
	}
	if !strings.Contains(e.emf.String(), `"ShopsDisconnected":1`) {
		t.Errorf("no ShopsDisconnected metric:\n%s", tail(e.emf.String(), 2000))
	}
	if logs := e.logs.String(); !strings.Contains(logs, `"msg":"shop disconnected"`) || !strings.Contains(logs, a.id) || strings.Contains(logs, a.sec.ConsumerSecret) {
		t.Errorf("the disconnect's log line names the shop's id and why, and no secret:\n%s", tail(logs, 3000))
	}

	// Disconnected: not queued; B still is, and still swept.
	placed := b.AddOrders(1)
	fo, failed := e.round()
	if fo.FanOut.Connected != 1 || fo.FanOut.Queued != 1 || failed != 0 {
		t.Fatalf("after the disconnect: %+v, %d failed", fo.FanOut, failed)
	}
	if q := e.takeQueued(); len(q) != 1 || q[0].id != placed[0] || q[0].source != b.url {
		t.Fatalf("after the disconnect queued %+v", q)
	}
	if rep, err := e.sweep(a); err != nil || rep.Outcome != reconcile.OutcomeNotConnected {
		t.Fatalf("direct sweep of disconnected A: %v %+v", err, rep)
	}

	// Connecting again: a new key, the shop connected.
	ctx := context.Background()
	a.AddKey("ck_a2", "cs_a2", fakewoo.ReadWrite)
	sec := a.sec
	sec.ConsumerKey, sec.ConsumerSecret = "ck_a2", "cs_a2"
	if err := e.shops.SetSecrets(ctx, a.id, sec); err != nil {
		t.Fatal(err)
	}
	s, _ := e.shops.Get(ctx, a.id)
	s.Status, s.UpdatedAt = shop.Connected, time.Now().UTC()
	if err := e.shops.Put(ctx, s); err != nil {
		t.Fatal(err)
	}
	missed := a.AddOrders(1)
	fo, failed = e.round()
	if fo.FanOut.Queued != 2 || failed != 0 {
		t.Fatalf("after connecting again: %+v, %d failed", fo.FanOut, failed)
	}
	var fromA []int64
	for _, q := range e.takeQueued() {
		if q.source == a.url {
			fromA = append(fromA, q.id)
		}
	}
	if !slices.Equal(fromA, missed) {
		t.Fatalf("A swept again queued %v, want %v", fromA, missed)
	}
}

// A's sweep holds A's lease (its shop is slow); B's sweep, meanwhile,
// takes B's own and finishes. A second sweep of A finds A's lease held.
func TestHubLeaseIsPerShop(t *testing.T) {
	e := newHub(t)
	a := e.addShop("a", 5, true, nil)
	b := e.addShop("b", 5, true, nil)
	a.Inject(fakewoo.Fault{Route: fakewoo.RouteOrders, Delay: 3 * time.Second})
	var wg sync.WaitGroup
	wg.Add(1)
	var aRep reconcile.Report
	go func() {
		defer wg.Done()
		aRep, _ = e.sweep(a)
	}()
	// A sweep lists the shop's orders only once it holds its lease.
	testwait.Eventually(t, 10*time.Second, func() error {
		if a.Stats().Requests == 0 {
			return errors.New("A's sweep has not taken its lease yet")
		}
		return nil
	})
	rep, err := e.sweep(b)
	if err != nil || rep.Outcome != reconcile.OutcomeDone {
		t.Fatalf("B's sweep while A's runs: %v %+v", err, rep)
	}
	rep, err = e.sweep(a)
	if err != nil || rep.Outcome != reconcile.OutcomeAlreadyRunning {
		t.Fatalf("A's second sweep while its first runs: %v %+v", err, rep)
	}
	wg.Wait()
	if aRep.Outcome != reconcile.OutcomeDone {
		t.Fatalf("A's first sweep: %+v", aRep)
	}
}
