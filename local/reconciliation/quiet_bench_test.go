package reconciliation

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/logistos-sync/logistos-sync/local/esm"
	"github.com/logistos-sync/logistos-sync/local/fakewoo"
	"github.com/logistos-sync/logistos-sync/shared/ledger"
	"github.com/logistos-sync/logistos-sync/shared/logging"
	"github.com/logistos-sync/logistos-sync/shared/reconcile"
	"github.com/logistos-sync/logistos-sync/shared/shop"
	"github.com/logistos-sync/logistos-sync/shared/shops"
	"github.com/logistos-sync/logistos-sync/shared/state"
)

// counted makes reconcile's DynamoDB, KMS and SQS calls counted: the
// state table, the ledger, the sweep queue, and the shops store each run
// builds on db and km.
func (e *hubEnv) counted() (*countingDB, *countingKMS, *atomic.Int64) {
	db := &countingDB{db: e.st.DynamoDB}
	km := &countingKMS{c: e.st.KMS}
	sqsCalls := &atomic.Int64{}
	l := ledger.Open(db, e.st.LedgerTable)
	e.h.State, e.h.Ledger = &state.DynamoDB{Client: db, Table: e.st.StateTable}, l
	e.h.Queue.(*ledger.RecordingSender).Recorder.Store = l
	e.h.Sweeps = countingSweeps{c: e.st.SQS, calls: sqsCalls}
	return db, km, sqsCalls
}

// consume runs the sweep queue's jobs as the event source mapping does at
// the default concurrency (reconcile.DefaultSweepConcurrency pollers, each
// taking up to reconcile.SweepBatchSize jobs an invocation) until the
// queue is empty, and returns how many jobs were reported failed.
func (e *hubEnv) consume(b *testing.B, sqsCalls *atomic.Int64, handler esm.Func) int64 {
	ctx := context.Background()
	var wg sync.WaitGroup
	var failed atomic.Int64
	for range reconcile.DefaultSweepConcurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p := e.poller(countingSQS{SQSAPI: e.st.SQS, calls: sqsCalls}, handler)
			for {
				r, err := p.Poll(ctx)
				if err != nil || r.Err != nil {
					b.Errorf("sweep jobs: %v %v", err, r.Err)
					return
				}
				if r.Received == 0 {
					return
				}
				failed.Add(int64(len(r.Kept)))
			}
		}()
	}
	wg.Wait()
	return failed.Load()
}

// BenchmarkQuietFleet is an hour of a hub of 200 quiet shops (connected
// more than a day ago, no order for two days): four scheduled runs, of
// which the first sweeps every shop (its last sweep written an hour back
// before each hour) and the other three read each shop's document and
// leave it (reconcile.QuietEvery). The runs follow each other at once:
// what an hour costs does not depend on the 15 minutes between them. It reports the calls per shop per
// hour and what a quiet shop costs a month (720 hours) from the counted
// calls, the invocations' measured time and the prices above.
func BenchmarkQuietFleet(b *testing.B) {
	ctx := context.Background()
	e := newHub(b)
	e.h.Log = logging.New(io.Discard, "warn")
	// One order each, two days old: nothing in any window since.
	m := newMux(fleetShops, fakewoo.Options{Orders: 1, Spacing: 48 * time.Hour})
	defer m.Close()
	m.latency = fleetShopLatency
	var ids []string
	for i, s := range m.shops {
		ids = append(ids, e.connect(fmt.Sprintf("s%d", i), s, 1, true, nil).id)
	}
	// Connected more than a day ago.
	for _, id := range ids {
		s, err := e.shops.Get(ctx, id)
		if err != nil {
			b.Fatal(err)
		}
		s.ConnectedAt = time.Now().Add(-reconcile.QuietAfter - time.Hour).UTC()
		if err := e.shops.Put(ctx, s); err != nil {
			b.Fatal(err)
		}
	}
	// An hour has passed since each shop's last sweep: written straight to
	// the table, uncounted, before each hour.
	uncounted := &state.DynamoDB{Client: e.st.DynamoDB, Table: e.st.StateTable}
	anHourLater := func() {
		now := time.Now().UTC()
		for _, id := range ids {
			st := state.ForShop(uncounted, id)
			_, v, err := st.Get(ctx, reconcile.StateID)
			if err == nil {
				d, _ := json.Marshal(map[string]any{"mark": now.Add(-15 * time.Minute), "last_run": now.Add(-reconcile.QuietEvery)})
				_, err = st.Put(ctx, reconcile.StateID, d, v)
			}
			if err != nil {
				b.Fatal(err)
			}
		}
	}
	db, km, sqsCalls := e.counted()

	var (
		mu                                                  sync.Mutex
		swept, invocations, rest, calls, reads, writes, kms int64
		sqsN                                                int64
		busy                                                time.Duration
	)
	invoked := func(d time.Duration, shops int) {
		mu.Lock()
		defer mu.Unlock()
		invocations++
		swept += int64(shops)
		busy += d
	}
	for b.Loop() {
		b.StopTimer()
		anHourLater()
		// Each run's jobs are queued after the shops' last sweeps.
		time.Sleep(1100 * time.Millisecond)
		b.StartTimer()
		r0, c0, rd0, w0, k0, q0 := m.requests.Load(), db.calls.Load(), db.readHalves.Load(), db.writes.Load(), km.calls.Load(), sqsCalls.Load()
		for run := range 4 {
			// A cold secrets cache each run, as a run every 15 minutes has.
			e.h.Shops = shops.New(db, km, e.st.ShopsTable, e.st.ShopsKeyID)
			t0 := time.Now()
			out, err := e.h.Invoke(ctx, json.RawMessage(`{}`))
			if err != nil {
				b.Fatalf("run %d: %v", run, err)
			}
			invoked(time.Since(t0), 0)
			fo := out.(reconcile.Report).FanOut
			if want := map[bool]int{true: fleetShops, false: 0}[run == 0]; fo.Queued != want || fo.Quiet != fleetShops-want {
				b.Fatalf("run %d queued %d sweeps (%d quiet), want %d", run, fo.Queued, fo.Quiet, want)
			}
			failed := e.consume(b, sqsCalls, func(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
				t := time.Now()
				resp, err := e.invokeJobs(ctx, ev)
				invoked(time.Since(t), len(ev.Records))
				return resp, err
			})
			if failed != 0 {
				b.Fatalf("%d sweeps failed:\n%s", failed, tail(e.logs.String(), 4000))
			}
		}
		rest += m.requests.Load() - r0
		calls += db.calls.Load() - c0
		reads += db.readHalves.Load() - rd0
		writes += db.writes.Load() - w0
		kms += km.calls.Load() - k0
		sqsN += sqsCalls.Load() - q0
	}
	shopHours := float64(b.N) * fleetShops
	if swept != int64(shopHours) {
		b.Fatalf("swept %d shops in %d hours, want each once an hour", swept, b.N)
	}
	if s, _ := e.h.Shops.Get(ctx, ids[0]); s.Status != shop.Connected {
		b.Fatalf("a quiet shop is %s", s.Status)
	}
	perHour := (float64(reads)/2*priceReadUnit + float64(writes)*priceWriteUnit + float64(kms)*priceKMS + float64(sqsN)*priceSQS +
		float64(invocations)*priceLambdaCall + busy.Seconds()*reconcileGB*priceLambdaGBs) / shopHours
	b.ReportMetric(float64(rest)/shopHours, "rest-calls/shop-hour")
	b.ReportMetric(float64(calls)/shopHours, "ddb-calls/shop-hour")
	b.ReportMetric(float64(kms)/shopHours, "kms-calls/shop-hour")
	b.ReportMetric(float64(sqsN)/shopHours, "sqs-calls/shop-hour")
	b.ReportMetric(perHour*720*1000, "m$/shop-month")
}
