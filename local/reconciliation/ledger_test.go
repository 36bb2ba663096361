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
