package reconciliation

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/logistos-sync/logistos-sync/local/esm"
	"github.com/logistos-sync/logistos-sync/local/fakewoo"
	"github.com/logistos-sync/logistos-sync/shared/logging"
	"github.com/logistos-sync/logistos-sync/shared/reconcile"
	"github.com/logistos-sync/logistos-sync/shared/shops"
)

// UpdateItem and Scan make countingDB a shops store's client too.
func (c *countingDB) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, o ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	c.calls.Add(1)
	c.writes.Add(1)
	return c.db.UpdateItem(ctx, in, o...)
}

func (c *countingDB) Scan(ctx context.Context, in *dynamodb.ScanInput, o ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error) {
	c.calls.Add(1)
	return c.db.Scan(ctx, in, o...)
}

// countingKMS counts the shops store's KMS calls.
type countingKMS struct {
	c     *kms.Client
	calls atomic.Int64
}

func (k *countingKMS) GenerateDataKey(ctx context.Context, in *kms.GenerateDataKeyInput, o ...func(*kms.Options)) (*kms.GenerateDataKeyOutput, error) {
	k.calls.Add(1)
	return k.c.GenerateDataKey(ctx, in, o...)
}

func (k *countingKMS) Decrypt(ctx context.Context, in *kms.DecryptInput, o ...func(*kms.Options)) (*kms.DecryptOutput, error) {
	k.calls.Add(1)
	return k.c.Decrypt(ctx, in, o...)
}

// countingSweeps counts the fan-out's SendMessageBatch calls.
type countingSweeps struct {
	c     *sqs.Client
	calls *atomic.Int64
}

func (s countingSweeps) SendMessageBatch(ctx context.Context, in *sqs.SendMessageBatchInput, o ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error) {
	s.calls.Add(1)
	return s.c.SendMessageBatch(ctx, in, o...)
}

// countingSQS counts the event source's receives and deletes.
type countingSQS struct {
	esm.SQSAPI
	calls *atomic.Int64
}

func (c countingSQS) ReceiveMessage(ctx context.Context, in *sqs.ReceiveMessageInput, o ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error) {
	c.calls.Add(1)
	return c.SQSAPI.ReceiveMessage(ctx, in, o...)
}

func (c countingSQS) DeleteMessageBatch(ctx context.Context, in *sqs.DeleteMessageBatchInput, o ...func(*sqs.Options)) (*sqs.DeleteMessageBatchOutput, error) {
	c.calls.Add(1)
	return c.SQSAPI.DeleteMessageBatch(ctx, in, o...)
}

// Prices (us-east-1, as docs/performance-and-cost.md's cost section).
const (
	priceReadUnit    = 0.125 / 1e6 // DynamoDB on demand, per read unit
	priceWriteUnit   = 0.625 / 1e6 // per write unit
	priceKMS         = 0.03 / 1e4  // per KMS request
	priceSQS         = 0.40 / 1e6  // per SQS request
	priceLambdaGBs   = 0.0000133334
	priceLambdaCall  = 0.20 / 1e6
	reconcileGB      = 0.25 // ReconcileFunction's MemorySize
	projectedShops   = 10_000
	fleetShops       = 200
	fleetShopLatency = 250 * time.Millisecond
)

// BenchmarkFleetSweep is one scheduled run of a hub of 200 connected shops:
// the fan-out ({} through Invoke: one job a shop on the sweep queue, 10 a
// SendMessageBatch), then the jobs consumed as the event source mapping
// does at the default concurrency: reconcile.DefaultSweepConcurrency local
// pollers (local/esm), each receiving up to reconcile.SweepBatchSize jobs,
// invoking Invoke with them and deleting those not reported failed. The shops are
// stand-ins served by one process under their own path prefixes, each
// answering every REST call after 250 ms (a WooCommerce page build on
// ordinary hosting), each a quiet shop in the steady state: 20 orders in
// the window, all in the ledger, its webhook in shape. kumo provides SQS,
// DynamoDB (the shops table, the state table, the hub's ledger) and KMS;
// each run starts with a cold secrets cache, as a run every 15 minutes
// does in AWS (shops.SecretsTTL is 5 minutes).
//
// It reports the shops swept a minute; the REST, DynamoDB, KMS and SQS
// calls per shop; the mean time of an invocation (a batch of 10 sweeps at
// once); the wall time projected for 10,000 shops at the default
// concurrency, (10,000 / N) x the fan-out's time plus ceil(10,000 / (5 x
// 10)) waves x the mean batch time; and the cost per shop per sweep from
// the counted calls and the prices above.
func BenchmarkFleetSweep(b *testing.B) {
	ctx := context.Background()
	e := newHub(b)
	e.h.Log = logging.New(io.Discard, "warn")
	m := newMux(fleetShops, fakewoo.Options{Orders: 20})
	defer m.Close()
	m.latency = fleetShopLatency
	for i, s := range m.shops {
		e.connect(fmt.Sprintf("s%d", i), s, 20, true, nil)
	}

	db, km, sqsCalls := e.counted()

	var (
		wall, fanOut, batchTime          time.Duration
		batches, swept                   int64
		rest, calls, reads, writes, kmsN int64
		sqsN                             int64
		restBefore, callsBefore, rBefore int64
		wBefore, kmsBefore, sqsBefore    int64
		batchMu                          sync.Mutex
	)
	for b.Loop() {
		b.StopTimer()
		// A cold secrets cache: a new container's store.
		e.h.Shops = shops.New(db, km, e.st.ShopsTable, e.st.ShopsKeyID)
		// Each run's jobs are queued after the shops' last sweeps, as the
		// schedule's are.
		time.Sleep(1100 * time.Millisecond)
		restBefore, callsBefore, rBefore, wBefore = m.requests.Load(), db.calls.Load(), db.readHalves.Load(), db.writes.Load()
		kmsBefore, sqsBefore = km.calls.Load(), sqsCalls.Load()
		b.StartTimer()

		start := time.Now()
		out, err := e.h.Invoke(ctx, json.RawMessage(`{}`))
		if err != nil || out.(reconcile.Report).FanOut.Queued != fleetShops {
			b.Fatalf("fan-out: %v %+v", err, out)
		}
		fanOut += time.Since(start)
		timed := func(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
			t0 := time.Now()
			resp, err := e.invokeJobs(ctx, ev)
			batchMu.Lock()
			batches++
			swept += int64(len(ev.Records))
			batchTime += time.Since(t0)
			batchMu.Unlock()
			return resp, err
		}
		failed := e.consume(b, sqsCalls, timed)
		wall += time.Since(start)
		b.StopTimer()
		if failed != 0 {
			b.Fatalf("%d sweeps failed:\n%s", failed, tail(e.logs.String(), 4000))
		}
		rest += m.requests.Load() - restBefore
		calls += db.calls.Load() - callsBefore
		reads += db.readHalves.Load() - rBefore
		writes += db.writes.Load() - wBefore
		kmsN += km.calls.Load() - kmsBefore
		sqsN += sqsCalls.Load() - sqsBefore
		b.StartTimer()
	}
	n := float64(b.N)
	shopsSwept := n * fleetShops
	if swept != int64(shopsSwept) {
		b.Fatalf("swept %d jobs, want %v", swept, shopsSwept)
	}
	meanBatch := batchTime.Seconds() / float64(batches)
	waves := math.Ceil(projectedShops / float64(reconcile.DefaultSweepConcurrency*reconcile.SweepBatchSize))
	projected := fanOut.Seconds()/n*projectedShops/fleetShops + waves*meanBatch
	// Per shop: its reads and writes, KMS and SQS requests, and a tenth of
	// an invocation (request and 256 MB for the batch's time).
	cost := float64(reads)/2/shopsSwept*priceReadUnit + float64(writes)/shopsSwept*priceWriteUnit +
		float64(kmsN)/shopsSwept*priceKMS + float64(sqsN)/shopsSwept*priceSQS +
		(priceLambdaCall+reconcileGB*meanBatch*priceLambdaGBs)/reconcile.SweepBatchSize
	b.ReportMetric(shopsSwept/wall.Seconds()*60, "shops/min")
	b.ReportMetric(float64(rest)/shopsSwept, "rest-calls/shop")
	b.ReportMetric(float64(calls)/shopsSwept, "ddb-calls/shop")
	b.ReportMetric(float64(kmsN)/shopsSwept, "kms-calls/shop")
	b.ReportMetric(float64(sqsN)/shopsSwept, "sqs-calls/shop")
	b.ReportMetric(meanBatch, "s/batch")
	// A quiet shop's REST calls are one after the other (the window's
	// stubs, then the webhooks): the shops' latency alone is their number
	// times fleetShopLatency.
	b.ReportMetric(meanBatch/(float64(rest)/shopsSwept*fleetShopLatency.Seconds()), "x-bound")
	b.ReportMetric(projected/60, "min/10k-shops")
	b.ReportMetric(cost*1e6, "µ$/shop-sweep")
}
