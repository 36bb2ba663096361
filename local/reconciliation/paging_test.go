package reconciliation

import (
	"context"
	"encoding/json"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/logistos-sync/logistos-sync/local/fakewoo"
	"github.com/logistos-sync/logistos-sync/shared/reconcile"
)

// maxSweepAlloc bounds what a sweep refused at its first page may
// allocate: the reconcile function has 256 MB, and trusting X-WP-Total
// of 3,000,000 once allocated 352 MB.
const maxSweepAlloc = 64 << 20

// A shop whose pages or paging headers lie fails the sweep with an error
// naming the page and the cause, never "done": nothing is queued, the
// high-water mark stays where it was, and once the shop answers honestly
// the next sweep queues every missed order. A hostile header costs a
// handful of requests and little memory, not what it claims.
func TestSweepRefusesPagesThatLie(t *testing.T) {
	const missed = 250
	cases := []struct {
		name   string
		faults []fakewoo.Fault
		want   []string // in the error
		// maxLists bounds the orders listings answered during the sweep.
		maxLists int
	}{
		{
			// Page 1 is full and agrees with a total of 100: only the page
			// after a full last page, which must be empty, tells.
			name:     "totals a page and a half short",
			faults:   []fakewoo.Fault{{Route: fakewoo.RouteOrders, Times: -1, TotalSkew: -(missed - 100)}},
			want:     []string{"page 2", "X-WP-Total says 100"},
			maxLists: 6,
		},
		{
			name:     "ignores page",
			faults:   []fakewoo.Fault{fakewoo.IgnoresPage},
			want:     []string{"page 2", "ignores ?page="},
			maxLists: 6,
		},
		{
			// The lie holds for 20 answers, then the shop refuses: code that
			// plans by the header would otherwise ask for a billion pages.
			name: "a billion pages",
			faults: []fakewoo.Fault{
				{Route: fakewoo.RouteOrders, Times: 20, TotalPages: 1_000_000_000},
				{Route: fakewoo.RouteOrders, Times: -1, Status: 400},
			},
			want:     []string{"page 1", "X-WP-TotalPages 1000000000"},
			maxLists: 2,
		},
		{
			name:     "three million orders",
			faults:   []fakewoo.Fault{{Route: fakewoo.RouteOrders, Times: -1, Total: 3_000_000}},
			want:     []string{"3000000 orders", "200000"},
			maxLists: 1,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, 0)
			e.activate()
			e.down.Store(true)
			placed := e.shop.PlaceOrders(missed)
			e.down.Store(false)
			e.clock.Advance(grace + time.Minute)

			mark := e.mark()
			lists := e.shop.Stats().ListRequests
			e.shop.Inject(tc.faults...)
			var mem runtime.MemStats
			runtime.ReadMemStats(&mem)
			allocated := mem.TotalAlloc
			rep, err := e.rec.Handle(context.Background(), reconcile.Event{})
			runtime.ReadMemStats(&mem)
			allocated = mem.TotalAlloc - allocated
			t.Log(err)
			if err == nil || rep.Outcome != reconcile.OutcomeFailed || rep.OrdersQueued != 0 {
				t.Fatalf("sweep of a shop whose paging lies: %v %+v; want it failed, nothing queued", err, rep)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			if n := e.shop.Stats().ListRequests - lists; n > tc.maxLists {
				t.Errorf("%d orders listings, want at most %d", n, tc.maxLists)
			}
			if allocated > maxSweepAlloc {
				t.Errorf("the sweep allocated %d MB, want at most %d", allocated>>20, maxSweepAlloc>>20)
			}
			if got := e.mark(); !got.Equal(mark) {
				t.Errorf("the failed sweep moved the high-water mark from %v to %v", mark, got)
			}

			e.shop.ClearFaults()
			if rep := e.sweep(reconcile.Event{}); rep.Outcome != reconcile.OutcomeDone || rep.OrdersQueued != missed {
				t.Fatalf("the honest sweep after it: %+v", rep)
			}
			e.waitAtLogistos(placed)
		})
	}
}

// mark is reconcile's high-water mark; zero before a sweep stored one.
func (e *env) mark() time.Time {
	e.t.Helper()
	raw, _, err := e.rec.State.Get(context.Background(), reconcile.StateID)
	if err != nil {
		e.t.Fatal(err)
	}
	var doc struct {
		Mark time.Time `json:"mark"`
	}
	if raw != nil {
		if err := json.Unmarshal(raw, &doc); err != nil {
			e.t.Fatal(err)
		}
	}
	return doc.Mark
}
