package lanes

import (
	"context"
	"testing"
	"time"

	"github.com/logistos-sync/logistos-sync/shared/forwarder"
	"github.com/logistos-sync/logistos-sync/shared/logistos"
)

// A backfill goes on its own queue and reaches Logistos at BACKFILL_RATE;
// a new order placed meanwhile goes on the orders queue and reaches
// Logistos before the backfill is through.
//
// The bounds hold whatever the machine's load: a busy machine only slows
// the backfill further below its rate, and the live order has the whole
// paced backfill (about 6 seconds) to overtake it, where it needs well
// under one.
func TestLiveOrdersOvertakeTheBackfill(t *testing.T) {
	const orders, rate = 60, 10
	e := newEnv(t, setup{orders: orders, rate: rate})
	e.activate()
	live := e.shop.PlaceOrders(1)[0]

	// Before anything consumes them: the history on its queue, the new
	// order alone on the live one.
	for _, q := range []struct {
		name, url string
		want      int
	}{{"backfill", e.st.BackfillQueueURL, orders}, {"orders", e.st.QueueURL, 1}} {
		if v, f, err := e.st.Depth(context.Background(), q.url); err != nil || v+f != q.want {
			t.Fatalf("%s queue holds %d (%d in flight), %v; want %d", q.name, v+f, f, err, q.want)
		}
	}

	e.startForwarder()
	got := e.waitFor(time.Minute, func(as []arrival) bool { return events(as)[logistos.EventBackfill] >= orders })
	at := firstArrival(got)
	if _, ok := at[live]; !ok {
		t.Fatalf("the live order %d never reached Logistos", live)
	}
	backfilledBefore := 0
	for _, a := range got {
		if a.event == logistos.EventBackfill && a.at.Before(at[live]) {
			backfilledBefore++
		}
	}
	if backfilledBefore >= orders {
		t.Errorf("the live order arrived after all %d backfilled orders: it waited behind the backfill", orders)
	}

	// At rate POSTs a second, n POSTs span at least (n-burst)/rate, where
	// the burst is each backfill invocation's first POST, all at once.
	span, n := backfillSpan(got)
	if least := time.Duration(n-forwarder.BackfillInvocations) * time.Second / rate; span < least {
		t.Errorf("%d backfill POSTs within %s, want at least %s at %d a second", n, span, least, rate)
	}
	t.Logf("live order after %d of %d backfilled; backfill: %d POSTs in %s", backfilledBefore, orders, n, span)
}

// With BACKFILL_QUEUE_URL set to the orders queue (the design before the
// backfill queue), the backfill travels with the live orders, unpaced: the
// configuration the benchmark compares against does what it says.
func TestOneQueueDesignSharesTheOrdersQueue(t *testing.T) {
	e := newEnv(t, setup{orders: 30, rate: 1, oneQueue: true})
	e.activate()
	if v, _, err := e.st.Depth(context.Background(), e.st.QueueURL); err != nil || v != 30 {
		t.Fatalf("orders queue holds %d, %v; want the 30 backfilled", v, err)
	}
	if v, _, err := e.st.Depth(context.Background(), e.st.BackfillQueueURL); err != nil || v != 0 {
		t.Fatalf("backfill queue holds %d, %v; want none", v, err)
	}
	e.startForwarder()
	got := e.waitFor(time.Minute, func(as []arrival) bool { return events(as)[logistos.EventBackfill] >= 30 })
	// At BACKFILL_RATE 1 they would take 14 s; on the orders queue they
	// are not paced: 30 orders are 2 batches per invocation.
	if span, n := backfillSpan(got); span >= time.Duration(n-forwarder.BackfillInvocations)*time.Second {
		t.Errorf("%d backfill POSTs on the orders queue took %s: paced as on the backfill queue", n, span)
	}
}
