package reconciliation

import (
	"context"
	"testing"
	"time"

	"github.com/logistos-sync/logistos-sync/local/stack"
	"github.com/logistos-sync/logistos-sync/local/stacktest"
	"github.com/logistos-sync/logistos-sync/shared/ledger"
	"github.com/logistos-sync/logistos-sync/shared/queue"
)

// The DynamoDB ledger against kumo: more entries than one BatchWriteItem
// (25) and one BatchGetItem (100) take, a repeated id, and one PutItem.
func TestLedgerInDynamoDB(t *testing.T) {
	st := stacktest.ForTest(t, stack.Options{Tables: true})
	l := &ledger.DynamoDB{Client: st.DynamoDB, Table: st.LedgerTable}
	ctx := context.Background()
	at := time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC)
	var es []ledger.Entry
	for id := int64(1); id <= 260; id++ {
		es = append(es, ledger.Entry{OrderID: id, Modified: "2026-11-29T09:00:00", Origin: queue.OriginBackfill, ReceivedAt: at})
	}
	es = append(es, ledger.Entry{OrderID: 7, Modified: "2026-11-29T09:30:00", Origin: queue.OriginReconcile, ReceivedAt: at})
	if err := l.Put(ctx, es); err != nil {
		t.Fatal(err)
	}
	if err := l.Put(ctx, []ledger.Entry{{OrderID: 500, Origin: queue.OriginWebhook, ReceivedAt: at}}); err != nil {
		t.Fatal(err)
	}
	var ids []int64
	for id := int64(1); id <= 600; id++ {
		ids = append(ids, id)
	}
	got, err := l.Get(ctx, ids)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 261 || got[7].Origin != queue.OriginReconcile || got[7].Modified != "2026-11-29T09:30:00" ||
		got[500].Modified != "" || !got[260].ReceivedAt.Equal(at) {
		t.Fatalf("%d entries; 7: %+v; 500: %+v; 260: %+v", len(got), got[7], got[500], got[260])
	}
}

// A hub's ledger keeps each shop's entries apart: the same order id in two
// shops is two entries, and one shop's entry never answers for the other's
// order (reconcile would skip that order for ever).
func TestHubLedgerKeepsShopsApart(t *testing.T) {
	st := stacktest.ForTest(t, stack.Options{Tables: true})
	ctx := context.Background()
	table := stack.HubLedgerTableName + "-" + t.Name()
	if err := st.EnsureHubLedger(ctx, table); err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC)
	for name, hub := range map[string]ledger.Store{
		"dynamodb": &ledger.DynamoDB{Client: st.DynamoDB, Table: table},
		"memory":   &ledger.Memory{},
	} {
		a, b := ledger.For(hub, "shopaaaaaaaaaaaa"), ledger.For(hub, "shopbbbbbbbbbbbb")
		if err := a.Put(ctx, []ledger.Entry{{OrderID: 7, Modified: "2026-11-29T09:00:00", Origin: queue.OriginWebhook, ReceivedAt: at}}); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var batch []ledger.Entry
		for id := int64(100); id < 130; id++ {
			batch = append(batch, ledger.Entry{OrderID: id, Origin: queue.OriginBackfill, ReceivedAt: at})
		}
		if err := b.Put(ctx, batch); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		gotA, err := a.Get(ctx, []int64{7, 100})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		gotB, err := b.Get(ctx, []int64{7, 100, 129})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(gotA) != 1 || gotA[7].Modified != "2026-11-29T09:00:00" {
			t.Errorf("%s: shop A sees %v, want its order 7 only", name, gotA)
		}
		if len(gotB) != 2 || gotB[7].OrderID != 0 {
			t.Errorf("%s: shop B sees %v, want its orders 100 and 129 only", name, gotB)
		}
	}
}

// The operator's view of a shop reads its newest order from a hub's
// ledger: the highest order id of that shop, never another shop's.
func TestHubLedgerLatest(t *testing.T) {
	st := stacktest.ForTest(t, stack.Options{Tables: true})
	ctx := context.Background()
	table := stack.HubLedgerTableName + "-" + t.Name()
	if err := st.EnsureHubLedger(ctx, table); err != nil {
		t.Fatal(err)
	}
	hub := &ledger.DynamoDB{Client: st.DynamoDB, Table: table}
	at := time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC)
	for shop, ids := range map[string][]int64{"shopaaaaaaaaaaaa": {3, 41, 9}, "shopbbbbbbbbbbbb": {500}} {
		var es []ledger.Entry
		for _, id := range ids {
			es = append(es, ledger.Entry{OrderID: id, Origin: queue.OriginWebhook, ReceivedAt: at.Add(time.Duration(id) * time.Minute)})
		}
		if err := ledger.For(hub, shop).Put(ctx, es); err != nil {
			t.Fatal(err)
		}
	}
	e, ok, err := ledger.Latest(ctx, st.DynamoDB, table, "shopaaaaaaaaaaaa")
	if err != nil || !ok || e.OrderID != 41 || !e.ReceivedAt.Equal(at.Add(41*time.Minute)) {
		t.Fatalf("latest of A: %+v %v %v; want order 41", e, ok, err)
	}
	if _, ok, err := ledger.Latest(ctx, st.DynamoDB, table, "shopcccccccccccc"); ok || err != nil {
		t.Fatalf("latest of a shop without orders: %v %v", ok, err)
	}
}
