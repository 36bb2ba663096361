package lanes

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/logistos-sync/logistos-sync/shared/config"
	"github.com/logistos-sync/logistos-sync/shared/logistos"
)

// Benchmark conditions: the backfill, and the live orders placed while it
// is on its way, one every liveEvery.
const (
	benchBackfill = 5_000
	liveOrders    = 60
	liveEvery     = 500 * time.Millisecond
)

// BenchmarkLiveDuringBackfill backfills benchBackfill orders and, once
// they are all queued, places liveOrders new orders in the stand-in shop,
// one every liveEvery, each delivered by webhook; it reports how long each
// took from being placed to reaching Logistos (ms-live-p50, ms-live-p99,
// ms-live-max) and the backfill's POSTs a second meanwhile
// (backfill-POST/s). queues=two is the design with the backfill on its own
// queue at the default BACKFILL_RATE; queues=one puts it on the orders
// queue (BACKFILL_QUEUE_URL set to it), the design before. Logistos
// answers each POST after 100 to 300 ms. Run it with -benchtime 1x: one
// iteration takes from half a minute (two queues) to a minute and a half
// (one queue).
func BenchmarkLiveDuringBackfill(b *testing.B) {
	for _, design := range []struct {
		name     string
		oneQueue bool
	}{{"queues=two", false}, {"queues=one", true}} {
		b.Run(design.name, func(b *testing.B) {
			var p50, p99, worst, rate float64
			runs := 0
			for b.Loop() {
				r := liveDuringBackfill(b, setup{orders: benchBackfill, rate: config.DefaultBackfillRate, oneQueue: design.oneQueue})
				p50, p99, worst, rate = p50+r.p50.Seconds(), p99+r.p99.Seconds(), worst+r.max.Seconds(), rate+r.backfillRate
				runs++
			}
			n := float64(runs)
			b.ReportMetric(p50/n*1000, "ms-live-p50")
			b.ReportMetric(p99/n*1000, "ms-live-p99")
			b.ReportMetric(worst/n*1000, "ms-live-max")
			b.ReportMetric(rate/n, "backfill-POST/s")
		})
	}
}

// benchResult is one run's figures.
type benchResult struct {
	p50, p99, max time.Duration
	backfillRate  float64 // backfill POSTs a second while the live orders were measured
}

// liveDuringBackfill is one run of the benchmark.
func liveDuringBackfill(b *testing.B, s setup) benchResult {
	// Setting up and tearing down are not timed; b.Loop wants the timer
	// running when it is called again.
	b.StopTimer()
	defer b.StartTimer()
	e := newEnv(b, s)
	defer e.close()
	e.startForwarder()
	b.StartTimer()

	e.activate()
	var mu sync.Mutex
	placed := map[int64]time.Time{}
	start := time.Now()
	tick := time.NewTicker(liveEvery)
	defer tick.Stop()
	for i := range liveOrders {
		if i > 0 {
			<-tick.C
		}
		// Placing an order delivers its webhook before it returns: each is
		// timed from just before, as the shop's checkout would see it.
		at := time.Now()
		id := e.shop.PlaceOrders(1)[0]
		mu.Lock()
		placed[id] = at
		mu.Unlock()
	}
	got := e.waitFor(10*time.Minute, func(as []arrival) bool {
		at := firstArrival(as)
		mu.Lock()
		defer mu.Unlock()
		for id := range placed {
			if _, ok := at[id]; !ok {
				return false
			}
		}
		return true
	})
	b.StopTimer()

	at := firstArrival(got)
	var delays []time.Duration
	var end time.Time
	for id, p := range placed {
		delays = append(delays, at[id].Sub(p))
		if at[id].After(end) {
			end = at[id]
		}
	}
	slices.Sort(delays)
	backfilled := 0
	for _, a := range got {
		if a.event == logistos.EventBackfill && !a.at.Before(start) && !a.at.After(end) {
			backfilled++
		}
	}
	r := benchResult{p50: rank(delays, 50), p99: rank(delays, 99), max: delays[len(delays)-1],
		backfillRate: float64(backfilled) / end.Sub(start).Seconds()}
	b.Logf("%s: live p50 %s, p99 %s, max %s; %d backfill POSTs in %s (%.1f/s)", designName(s), r.p50, r.p99, r.max,
		backfilled, end.Sub(start).Round(time.Millisecond), r.backfillRate)
	return r
}

// rank is the pth percentile of sorted by the nearest-rank method.
func rank(sorted []time.Duration, p int) time.Duration {
	i := (p*len(sorted)+99)/100 - 1
	return sorted[max(i, 0)]
}

func designName(s setup) string {
	if s.oneQueue {
		return fmt.Sprintf("one queue, %d backfilled", s.orders)
	}
	return fmt.Sprintf("two queues, %d backfilled at %d/s", s.orders, s.rate)
}
