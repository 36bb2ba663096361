package reconciliation

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/logistos-sync/logistos-sync/local/fakewoo"
	"github.com/logistos-sync/logistos-sync/local/stack"
	"github.com/logistos-sync/logistos-sync/local/stacktest"
	"github.com/logistos-sync/logistos-sync/shared/config"
	"github.com/logistos-sync/logistos-sync/shared/ledger"
	"github.com/logistos-sync/logistos-sync/shared/logging"
	"github.com/logistos-sync/logistos-sync/shared/metrics"
	"github.com/logistos-sync/logistos-sync/shared/queue"
	"github.com/logistos-sync/logistos-sync/shared/reconcile"
	"github.com/logistos-sync/logistos-sync/shared/state"
	"github.com/logistos-sync/logistos-sync/shared/wooapi"
)

// countingDB counts the DynamoDB calls a sweep makes, and the capacity
// they use: readHalves in half read units (a consistent GetItem is 2, an
// item of a BatchGetItem, eventually consistent, 1), writes in write units
// (items under 1 KB).
type countingDB struct {
	db         *dynamodb.Client
	calls      atomic.Int64
	readHalves atomic.Int64
	writes     atomic.Int64
}

func (c *countingDB) GetItem(ctx context.Context, in *dynamodb.GetItemInput, o ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	c.calls.Add(1)
	c.readHalves.Add(2)
	return c.db.GetItem(ctx, in, o...)
}

func (c *countingDB) PutItem(ctx context.Context, in *dynamodb.PutItemInput, o ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	c.calls.Add(1)
	c.writes.Add(1)
	return c.db.PutItem(ctx, in, o...)
}

func (c *countingDB) BatchWriteItem(ctx context.Context, in *dynamodb.BatchWriteItemInput, o ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error) {
	c.calls.Add(1)
	for _, reqs := range in.RequestItems {
		c.writes.Add(int64(len(reqs)))
	}
	return c.db.BatchWriteItem(ctx, in, o...)
}

func (c *countingDB) BatchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput, o ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error) {
	c.calls.Add(1)
	for _, ka := range in.RequestItems {
		c.readHalves.Add(int64(len(ka.Keys)))
	}
	return c.db.BatchGetItem(ctx, in, o...)
}

// BenchmarkSweep is one sweep over a window of 10,000 orders of which 1%
// never reached us, against the stand-in shop at 50 ms a page, with kumo's
// DynamoDB and SQS. The bound is what the shop's latency alone costs with
// ScanConcurrency pages at once: the first stub page (its X-WP-Total plans
// the rest), ceil(100 more / 4) (the 100th page is full, so the 101st,
// empty, is asked for too), and 1 page of the missing orders in full, 27
// pages at 50 ms (1.35 s); the report gives the wall time against
// it, and the REST and DynamoDB calls per sweep, which the cost section
// prices.
func BenchmarkSweep(b *testing.B) {
	const (
		orders  = 10_000
		missing = orders / 100
		latency = 50 * time.Millisecond
	)
	ctx := context.Background()
	shop := fakewoo.Start(fakewoo.Options{Orders: orders, Spacing: time.Second, Latency: latency})
	defer shop.Close()
	st := stacktest.ForTest(b, stack.Options{Tables: true})
	vars := map[string]string{
		config.StoreURL: shop.URL, config.WooConsumerKey: fakewoo.Key, config.WooConsumerSecret: fakewoo.Secret,
		config.WebhookURL: "http://127.0.0.1:9/woocommerce/webhook", config.ReconcileGrace: "0s",
	}
	cfg, err := config.LoadReconcile(config.FromMap(st.FunctionEnv(stack.Reconcile, vars)))
	if err != nil {
		b.Fatal(err)
	}
	h, err := reconcile.New(cfg, st.AWS, logging.New(io.Discard, "warn"), metrics.New(io.Discard, "bench"))
	if err != nil {
		b.Fatal(err)
	}
	db := &countingDB{db: st.DynamoDB}
	l := &ledger.DynamoDB{Client: db, Table: st.LedgerTable}
	h.Ledger, h.State = l, &state.DynamoDB{Client: db, Table: st.StateTable}
	h.Queue.(*ledger.RecordingSender).Recorder.Store = l

	// Activation's cut-off before the first order; the webhook registered;
	// 99% of the orders in the ledger, every 100th missing.
	first := shop.Created(1)
	doc, _ := json.Marshal(map[string]any{"cutoff": first, "next_page": 1})
	if _, err := h.State.Put(ctx, state.BackfillID, doc, 0); err != nil {
		b.Fatal(err)
	}
	shop.AddWebhook(fakewoo.Webhook{Status: "active", Topic: "order.created", DeliveryURL: vars[config.WebhookURL], Secret: st.WebhookSecret})
	var known, gone []ledger.Entry
	for id := int64(1); id <= orders; id++ {
		e := ledger.Entry{OrderID: id, Origin: queue.OriginWebhook, ReceivedAt: time.Now(), Modified: shop.Created(id).Format(wooapi.DateLayout)}
		if id%100 == 0 {
			gone = append(gone, e)
			continue
		}
		known = append(known, e)
	}
	if err := l.Put(ctx, known); err != nil {
		b.Fatal(err)
	}
	since := first.Add(-time.Second)
	more := orders / wooapi.MaxPerPage // pages after the first, to the first short one
	bound := time.Duration(1+math.Ceil(float64(more)/reconcile.ScanConcurrency)+math.Ceil(float64(missing)/wooapi.MaxPerPage)) * latency

	var wall time.Duration
	var rest, calls int64
	for b.Loop() {
		b.StopTimer()
		forget(b, st, gone)
		restBefore, callsBefore := shop.Stats().Requests, db.calls.Load()
		start := time.Now()
		b.StartTimer()
		rep, err := h.Handle(ctx, reconcile.Event{Since: &since})
		b.StopTimer()
		wall += time.Since(start)
		if err != nil || rep.OrdersSeen != orders || rep.OrdersQueued != missing || rep.Webhook.Outcome != reconcile.WebhookInShape {
			b.Fatalf("sweep: %v %+v", err, rep)
		}
		rest += int64(shop.Stats().Requests - restBefore)
		calls += db.calls.Load() - callsBefore
		purge(b, st)
		b.StartTimer()
	}
	n := float64(b.N)
	b.ReportMetric(wall.Seconds()/n, "s/sweep")
	b.ReportMetric(bound.Seconds(), "bound-s")
	b.ReportMetric(wall.Seconds()/n/bound.Seconds(), "x-bound")
	b.ReportMetric(float64(rest)/n, "rest-calls/sweep")
	b.ReportMetric(float64(calls)/n, "ddb-calls/sweep")
}

// forget deletes the missing orders' ledger entries, so every sweep finds
// them missing again.
func forget(b *testing.B, st *stack.Stack, es []ledger.Entry) {
	b.Helper()
	for start := 0; start < len(es); start += ledger.MaxWriteBatch {
		var reqs []types.WriteRequest
		for _, e := range es[start:min(start+ledger.MaxWriteBatch, len(es))] {
			reqs = append(reqs, types.WriteRequest{DeleteRequest: &types.DeleteRequest{Key: map[string]types.AttributeValue{
				ledger.AttrOrderID: &types.AttributeValueMemberN{Value: strconv.FormatInt(e.OrderID, 10)}}}})
		}
		if _, err := st.DynamoDB.BatchWriteItem(context.Background(), &dynamodb.BatchWriteItemInput{
			RequestItems: map[string][]types.WriteRequest{st.LedgerTable: reqs}}); err != nil {
			b.Fatal(err)
		}
	}
}

// purge empties the orders queue between sweeps (nothing consumes it here).
func purge(b *testing.B, st *stack.Stack) {
	b.Helper()
	if _, err := st.SQS.PurgeQueue(context.Background(), &sqs.PurgeQueueInput{QueueUrl: &st.QueueURL}); err != nil {
		b.Fatal(fmt.Errorf("purge: %w", err))
	}
}
