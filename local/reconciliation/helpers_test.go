// Package reconciliation proves that no order is lost when WooCommerce's
// delivery fails: the real webhook and forwarder (pipeline.New), activate
// and reconcile (activate.New, reconcile.New), kumo's SQS and DynamoDB, the
// stand-in shop delivering webhooks as WooCommerce does (failures counted,
// the webhook disabled at the 7th) and the stand-in Logistos.
package reconciliation

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/logistos-sync/logistos-sync/internal/testwait"
	"github.com/logistos-sync/logistos-sync/local/fakelogistos"
	"github.com/logistos-sync/logistos-sync/local/fakewoo"
	"github.com/logistos-sync/logistos-sync/local/pipeline"
	"github.com/logistos-sync/logistos-sync/local/stack"
	"github.com/logistos-sync/logistos-sync/local/stacktest"
	"github.com/logistos-sync/logistos-sync/local/syncbuf"
	"github.com/logistos-sync/logistos-sync/shared/activate"
	"github.com/logistos-sync/logistos-sync/shared/config"
	"github.com/logistos-sync/logistos-sync/shared/ledger"
	"github.com/logistos-sync/logistos-sync/shared/logging"
	"github.com/logistos-sync/logistos-sync/shared/metrics"
	"github.com/logistos-sync/logistos-sync/shared/reconcile"
)

func TestMain(m *testing.M) { os.Exit(stacktest.RunTests(m)) }

// grace is RECONCILE_GRACE in these tests.
const grace = 15 * time.Minute

// clock is the shop's and reconcile's clock, moved by the test.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// env is one deployment: a shop, the hot path serving the webhook, a
// Logistos, activate and reconcile, all on one stack with its own tables.
type env struct {
	t        *testing.T
	clock    *clock
	shop     *fakewoo.Shop
	st       *stack.Stack
	logistos *fakelogistos.Server
	down     atomic.Bool       // the webhook endpoint answers 503
	vars     map[string]string // the deployment's settings, beside the stack's
	rec      *reconcile.Handler
	act      *activate.Handler
	ledger   ledger.Store
	logs     *syncbuf.Buffer
	emf      *syncbuf.Buffer
}

// newEnv builds a deployment whose shop has orders to begin with; extra
// settings override the defaults.
func newEnv(t *testing.T, orders int, extra ...map[string]string) *env {
	t.Helper()
	e := &env{t: t, clock: &clock{t: time.Now().UTC().Truncate(time.Second)}, logistos: &fakelogistos.Server{},
		logs: &syncbuf.Buffer{}, emf: &syncbuf.Buffer{}}
	e.shop = fakewoo.Start(fakewoo.Options{Orders: orders, Now: e.clock.Now, DeliveryTimeout: 10 * time.Second})
	t.Cleanup(e.shop.Close)
	lsrv := httptest.NewServer(e.logistos)
	t.Cleanup(lsrv.Close)
	e.st = stacktest.ForTest(t, stack.Options{Tables: true})
	log := logging.New(e.logs, "info")

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e.vars = pipeline.StandInSettings(e.shop.URL, "http://"+ln.Addr().String()+pipeline.WebhookPath, lsrv.URL)
	e.vars[config.ReconcileGrace] = grace.String()
	for _, m := range extra {
		for k, v := range m {
			e.vars[k] = v
		}
	}
	fns, err := pipeline.New(e.st, e.vars, log, e.emf)
	if err != nil {
		t.Fatal(err)
	}
	hook := pipeline.Serve(fns.Webhook, log)
	srv := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if e.down.Load() {
			http.Error(w, "endpoint down", http.StatusServiceUnavailable)
			return
		}
		hook.ServeHTTP(w, r)
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = pipeline.Run(ctx, ln, srv, fns.Pollers(e.st, log), log)
	}()
	t.Cleanup(func() { cancel(); <-done })

	e.rec = e.newReconcile()
	acfg, err := config.LoadActivate(config.FromMap(e.st.FunctionEnv(stack.Activate, e.vars)))
	if err != nil {
		t.Fatal(err)
	}
	if e.act, err = activate.New(acfg, e.st.AWS, log, metrics.New(io.Discard, "activate")); err != nil {
		t.Fatal(err)
	}
	e.ledger = e.rec.Ledger
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("logs:\n%s", tail(e.logs.String(), 8000))
		}
	})
	return e
}

// newReconcile is another cold start of reconcile on the same deployment.
func (e *env) newReconcile() *reconcile.Handler {
	e.t.Helper()
	cfg, err := config.LoadReconcile(config.FromMap(e.st.FunctionEnv(stack.Reconcile, e.vars)))
	if err != nil {
		e.t.Fatal(err)
	}
	h, err := reconcile.New(cfg, e.st.AWS, logging.New(e.logs, "info"), metrics.New(e.emf, "reconcile"))
	if err != nil {
		e.t.Fatal(err)
	}
	h.Now = e.clock.Now
	return h
}

// activate registers the webhook and backfills, as a first activation.
func (e *env) activate() {
	e.t.Helper()
	rep, err := e.act.Handle(context.Background(), activate.Event{Steps: []string{activate.StepWebhook, activate.StepBackfill}})
	if err != nil || rep.Backfill.Outcome != activate.OutcomeComplete {
		e.t.Fatalf("activation: %v %+v", err, rep.Backfill)
	}
}

// sweep runs one reconcile sweep.
func (e *env) sweep(ev reconcile.Event) reconcile.Report {
	e.t.Helper()
	rep, err := e.rec.Handle(context.Background(), ev)
	if err != nil {
		e.t.Fatalf("sweep: %v\n%+v", err, rep)
	}
	return rep
}

// atLogistos returns how often each order id reached Logistos, by event.
func (e *env) atLogistos() map[int64][]string {
	out := map[int64][]string{}
	for _, r := range e.logistos.Delivered() {
		var p struct {
			Event  string `json:"event"`
			Orders []struct {
				ID int64 `json:"id"`
			} `json:"orders"`
		}
		if err := json.Unmarshal(r.Body, &p); err != nil {
			e.t.Fatalf("logistos payload: %v", err)
		}
		for _, o := range p.Orders {
			out[o.ID] = append(out[o.ID], p.Event)
		}
	}
	return out
}

// waitAtLogistos waits until every id reached Logistos.
func (e *env) waitAtLogistos(ids []int64) map[int64][]string {
	e.t.Helper()
	var got map[int64][]string
	testwait.Eventually(e.t, 60*time.Second, func() error {
		got = e.atLogistos()
		for _, id := range ids {
			if len(got[id]) == 0 {
				return fmt.Errorf("order %d has not reached Logistos (%d orders have)", id, len(got))
			}
		}
		return nil
	})
	return got
}

func span(from, to int64) []int64 {
	var out []int64
	for id := from; id <= to; id++ {
		out = append(out, id)
	}
	return out
}

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}
