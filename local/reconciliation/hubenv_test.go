package reconciliation

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/logistos-sync/logistos-sync/local/esm"
	"github.com/logistos-sync/logistos-sync/local/fakewoo"
	"github.com/logistos-sync/logistos-sync/local/stack"
	"github.com/logistos-sync/logistos-sync/local/stacktest"
	"github.com/logistos-sync/logistos-sync/local/syncbuf"
	"github.com/logistos-sync/logistos-sync/shared/config"
	"github.com/logistos-sync/logistos-sync/shared/ledger"
	"github.com/logistos-sync/logistos-sync/shared/logging"
	"github.com/logistos-sync/logistos-sync/shared/metrics"
	"github.com/logistos-sync/logistos-sync/shared/queue"
	"github.com/logistos-sync/logistos-sync/shared/reconcile"
	"github.com/logistos-sync/logistos-sync/shared/shop"
	"github.com/logistos-sync/logistos-sync/shared/state"
	"github.com/logistos-sync/logistos-sync/shared/wooapi"
	"github.com/logistos-sync/logistos-sync/shared/woohook"
)

// hubHookURL is a hub's WEBHOOK_URL in these tests: a shop's webhook is at
// it plus "/" plus the shop's id.
const hubHookURL = "http://127.0.0.1:9/woocommerce/webhook"

// hubEnv is a hub deployment (STORE_URL empty) on kumo, as the local
// stack makes it: the shops table sealed under a KMS key, the hub's ledger
// keyed by shop, the sweep queue, and reconcile as New wires it from the
// stack's environment, with stand-in shops added by addShop.
type hubEnv struct {
	t        testing.TB
	st       *stack.Stack
	h        *reconcile.Handler
	shops    shop.Store
	ledger   ledger.Store
	sweepURL string
	logs     *syncbuf.Buffer
	emf      *syncbuf.Buffer
}

// hubShop is one stand-in shop of a hub and what the hub holds for it.
type hubShop struct {
	*fakewoo.Shop
	id, url string
	sec     shop.Secrets
}

func newHub(t testing.TB) *hubEnv {
	t.Helper()
	e := &hubEnv{t: t, st: stacktest.ForTest(t, stack.Options{Tables: true, Hub: true}), logs: &syncbuf.Buffer{}, emf: &syncbuf.Buffer{}}
	e.sweepURL = e.st.SweepQueueURL
	vars := map[string]string{config.WebhookURL: hubHookURL, config.ReconcileGrace: "0s"}
	cfg, err := config.LoadReconcile(config.FromMap(e.st.FunctionEnv(stack.Reconcile, vars)))
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.Hub() || cfg.Shops.Table == "" {
		t.Fatalf("a hub's reconcile: %+v", cfg)
	}
	if e.h, err = reconcile.New(cfg, e.st.AWS, logging.New(e.logs, "info"), metrics.New(e.emf, "reconcile")); err != nil {
		t.Fatal(err)
	}
	e.shops = e.h.Shops
	e.ledger = e.h.Ledger
	if tt, ok := t.(*testing.T); ok {
		tt.Cleanup(func() {
			if tt.Failed() {
				tt.Logf("logs:\n%s", tail(e.logs.String(), 8000))
			}
		})
	}
	return e
}

// addShop connects a stand-in shop of n orders to the hub, as activation
// leaves it: connected, its own REST key (the only one the shop accepts)
// and webhook secret, its backfill's cut-off before its first order, and
// in its part of the ledger every order but those missing says. With
// hooked, its webhook is registered at its own URL.
func (e *hubEnv) addShop(name string, n int, hooked bool, missing func(int64) bool) *hubShop {
	e.t.Helper()
	// The shop's clock is behind reconcile's, so that an order placed just
	// now is inside the window (it ends at the second reconcile starts).
	s := fakewoo.Start(fakewoo.Options{Orders: n, Now: func() time.Time { return time.Now().Add(-2 * time.Second) }})
	e.t.Cleanup(s.Close)
	return e.connect(name, s, n, hooked, missing)
}

func (e *hubEnv) connect(name string, s *fakewoo.Shop, n int, hooked bool, missing func(int64) bool) *hubShop {
	e.t.Helper()
	ctx := context.Background()
	u, err := shop.Normalize(s.URL)
	if err != nil {
		e.t.Fatal(err)
	}
	hs := &hubShop{Shop: s, id: shop.ID(u), url: u,
		sec: shop.Secrets{WebhookSecret: "whsec-" + name, ConsumerKey: "ck_" + name, ConsumerSecret: "cs_" + name}}
	s.AddKey(hs.sec.ConsumerKey, hs.sec.ConsumerSecret, fakewoo.ReadWrite)
	s.RemoveKey(fakewoo.Key)
	now := time.Now().UTC()
	if err := e.shops.Put(ctx, shop.Shop{ID: hs.id, URL: u, Status: shop.Connected, ConnectedAt: now, UpdatedAt: now}); err != nil {
		e.t.Fatal(err)
	}
	if err := e.shops.SetSecrets(ctx, hs.id, hs.sec); err != nil {
		e.t.Fatal(err)
	}
	cut, _ := json.Marshal(map[string]any{"cutoff": s.Created(1).Add(-time.Second)})
	if _, err := e.h.State.Put(ctx, shop.Scoped(hs.id, state.BackfillID), cut, 0); err != nil {
		e.t.Fatal(err)
	}
	var known []ledger.Entry
	for id := int64(1); id <= int64(n); id++ {
		c := s.Created(id)
		if missing == nil || !missing(id) {
			known = append(known, ledger.Entry{OrderID: id, Origin: queue.OriginWebhook, ReceivedAt: now, Modified: c.Format(wooapi.DateLayout)})
		}
	}
	if err := ledger.For(e.ledger, hs.id).Put(ctx, known); err != nil {
		e.t.Fatal(err)
	}
	if hooked {
		s.AddWebhook(fakewoo.Webhook{Status: "active", Topic: woohook.TopicOrderCreated, DeliveryURL: hubHookURL + "/" + hs.id, Secret: hs.sec.WebhookSecret})
	}
	return hs
}

// round is one scheduled run and the sweeps it queued, as Lambda runs
// them: the schedule's {} through Invoke, then the sweep queue's jobs
// through Invoke by the local event source mapping (esm), in batches of
// reconcile.SweepBatchSize. It returns the fan-out's report and how many
// jobs were reported failed.
func (e *hubEnv) round() (reconcile.Report, int) {
	e.t.Helper()
	out, err := e.h.Invoke(context.Background(), json.RawMessage(`{}`))
	if err != nil {
		e.t.Fatalf("fan-out: %v", err)
	}
	return out.(reconcile.Report), e.drain()
}

// poller is the sweep queue's event source mapping, invoking reconcile's
// one handler as Lambda does (the SQS event as JSON). Its receives do not
// wait: an empty answer means the queue is drained. A failed job stays
// invisible for the queue's visibility timeout, as in AWS.
func (e *hubEnv) poller(client esm.SQSAPI, handler esm.Func) *esm.Poller {
	if handler == nil {
		handler = e.invokeJobs
	}
	return &esm.Poller{Client: client, QueueURL: e.sweepURL, QueueARN: e.st.SweepQueueARN, Region: stack.Region,
		Handler: handler, BatchSize: reconcile.SweepBatchSize, Wait: -1, FunctionTimeout: 15 * time.Minute}
}

// invokeJobs hands an SQS event to Invoke as Lambda's runtime would: JSON.
func (e *hubEnv) invokeJobs(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
	raw, err := json.Marshal(ev)
	if err != nil {
		return events.SQSEventResponse{}, err
	}
	out, err := e.h.Invoke(ctx, raw)
	if err != nil {
		return events.SQSEventResponse{}, err
	}
	return out.(events.SQSEventResponse), nil
}

// drain runs the sweep queue's jobs until it is empty, one batch at a
// time; it returns how many jobs were reported failed.
func (e *hubEnv) drain() int {
	e.t.Helper()
	p, failed := e.poller(e.st.SQS, nil), 0
	for {
		r, err := p.Poll(context.Background())
		if err != nil || r.Err != nil {
			e.t.Fatalf("sweep jobs: %v %v", err, r.Err)
		}
		if r.Received == 0 {
			return failed
		}
		failed += len(r.Kept)
	}
}

// queued is an order on the orders queue: its shop (wc-source) and id.
type queued struct {
	source string
	id     int64
	body   string
}

// takeQueued receives and deletes everything on the orders queue.
func (e *hubEnv) takeQueued() []queued {
	e.t.Helper()
	ctx := context.Background()
	var out []queued
	for {
		got, err := e.st.SQS.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: &e.st.QueueURL, MaxNumberOfMessages: 10,
			MessageAttributeNames: []string{"All"}})
		if err != nil {
			e.t.Fatal(err)
		}
		if len(got.Messages) == 0 {
			return out
		}
		for _, m := range got.Messages {
			id, err := woohook.OrderID([]byte(aws.ToString(m.Body)))
			if err != nil {
				e.t.Fatalf("queued message: %v", err)
			}
			src := m.MessageAttributes[queue.AttrSource]
			out = append(out, queued{source: aws.ToString(src.StringValue), id: id, body: aws.ToString(m.Body)})
			if _, err := e.st.SQS.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: &e.st.QueueURL, ReceiptHandle: m.ReceiptHandle}); err != nil {
				e.t.Fatal(err)
			}
		}
	}
}

// sweep invokes reconcile directly for one shop.
func (e *hubEnv) sweep(s *hubShop) (reconcile.Report, error) {
	raw, _ := json.Marshal(map[string]string{"store_url": s.url})
	out, err := e.h.Invoke(context.Background(), raw)
	rep, _ := out.(reconcile.Report)
	return rep, err
}

// status is the shop's status in the shops table.
func (e *hubEnv) status(s *hubShop) shop.Status {
	e.t.Helper()
	got, err := e.shops.Get(context.Background(), s.id)
	if err != nil {
		e.t.Fatal(err)
	}
	return got.Status
}

// mux serves many stand-in shops from one server, each under its own path
// prefix (/s/<n>), for a fleet.
type mux struct {
	srv   *httptest.Server
	shops []*fakewoo.Shop
	// latency holds every answer back (set before the first request);
	// requests counts them.
	latency  time.Duration
	requests atomic.Int64
}

func newMux(n int, o fakewoo.Options) *mux {
	m := &mux{}
	m.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var i int
		rest, ok := strings.CutPrefix(r.URL.Path, "/s/")
		if !ok {
			http.NotFound(w, r)
			return
		}
		num, path, _ := strings.Cut(rest, "/")
		if _, err := fmt.Sscanf(num, "%d", &i); err != nil || i < 0 || i >= len(m.shops) {
			http.NotFound(w, r)
			return
		}
		m.requests.Add(1)
		time.Sleep(m.latency)
		r2 := r.Clone(r.Context())
		r2.URL.Path = "/" + path
		m.shops[i].ServeHTTP(w, r2)
	}))
	for i := range n {
		s := fakewoo.New(o)
		s.URL = fmt.Sprintf("%s/s/%d", m.srv.URL, i)
		m.shops = append(m.shops, s)
	}
	return m
}

func (m *mux) Close() { m.srv.Close() }
