// Package outage tests a Logistos outage of hours end to end: orders that
// arrive while Logistos is down wait, and go on by themselves once it is
// back. Everything is real but AWS and Logistos: the webhook and forwarder
// handlers (pipeline.New) behind HTTP and emulated event source mappings,
// reconcile as its function builds it (reconcile.New), kumo's SQS with the
// template's redrive policies, and a stand-in Logistos switched down and up.
// Time is compressed: the forwarder's retries are a second apart instead of
// minutes, and a reconcile run is one call where it would be every
// ReconcileInterval.
package outage

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/logistos-sync/logistos-sync/internal/testwait"
	"github.com/logistos-sync/logistos-sync/local/delivery"
	"github.com/logistos-sync/logistos-sync/local/fakelogistos"
	"github.com/logistos-sync/logistos-sync/local/pipeline"
	"github.com/logistos-sync/logistos-sync/local/stack"
	"github.com/logistos-sync/logistos-sync/local/stacktest"
	"github.com/logistos-sync/logistos-sync/local/syncbuf"
	"github.com/logistos-sync/logistos-sync/shared/config"
	"github.com/logistos-sync/logistos-sync/shared/logging"
	"github.com/logistos-sync/logistos-sync/shared/metrics"
	"github.com/logistos-sync/logistos-sync/shared/reconcile"
	"github.com/logistos-sync/logistos-sync/shared/waiting"
)

func TestMain(m *testing.M) { os.Exit(stacktest.RunTests(m)) }

const (
	// maxReceiveCount is template.yaml's (and the local stack's default):
	// the most POSTs the forwarder makes for one order.
	maxReceiveCount = 5
	// runs is 3 hours of reconcile runs every 15 minutes.
	runs = 12
	// ordersDuringOutage arrive while Logistos is down, runs/… of them
	// between two runs.
	ordersDuringOutage = 200
	// refusedFirst are refused by Logistos before the outage.
	refusedFirst = 10
)

// logistos is the stand-in, down or up, refusing some orders for good; it
// records every POST by order id.
type logistos struct {
	down    atomic.Bool
	refused map[int64]bool

	mu    sync.Mutex
	posts map[int64][]post
	total int
}

type post struct {
	key    string
	status int
}

func (l *logistos) respond(r *fakelogistos.Request) fakelogistos.Response {
	if r.Path != fakelogistos.OrdersPath {
		return fakelogistos.OK
	}
	var p struct {
		Orders []struct {
			ID int64 `json:"id"`
		} `json:"orders"`
	}
	if err := json.Unmarshal(r.Body, &p); err != nil || len(p.Orders) != 1 {
		return fakelogistos.BadRequest
	}
	id := p.Orders[0].ID
	resp := fakelogistos.OK
	switch {
	case l.down.Load():
		resp = fakelogistos.Response{Status: http.StatusServiceUnavailable}
	case l.refused[id]:
		resp = fakelogistos.Response{Status: http.StatusUnprocessableEntity, Body: `{"error":"pincode not serviceable"}`}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.posts[id] = append(l.posts[id], post{key: r.IdempotencyKey(), status: max(resp.Status, 200)})
	l.total++
	return resp
}

func (l *logistos) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.total
}

// delivered are the ids Logistos answered 2xx.
func (l *logistos) delivered() map[int64]int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := map[int64]int{}
	for id, ps := range l.posts {
		for _, p := range ps {
			if p.status < 300 {
				n[id]++
			}
		}
	}
	return n
}

func order(t *testing.T, id int64) []byte {
	t.Helper()
	body, err := delivery.SampleOrderAs(id)
	if err != nil {
		t.Fatal(err)
	}
	return body
}

func depth(t *testing.T, st *stack.Stack, url string) int {
	t.Helper()
	visible, hidden, err := st.Depth(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	return visible + hidden
}

// Logistos is down for three hours (12 reconcile runs) while 200 orders
// arrive. Then it is back, and the next run is all it takes: every order
// reaches Logistos, each under one Idempotency-Key; the orders Logistos
// refused before the outage stay on the DLQ; and Logistos saw at most
// maxReceiveCount POSTs per order and one per run during the outage.
func TestOrdersWaitOutAnOutage(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	st := stacktest.ForTest(t, stack.Options{VisibilityTimeout: 5, MaxReceiveCount: maxReceiveCount})
	logs := &syncbuf.Buffer{}
	log := logging.New(logs, "info")
	defer func() {
		if t.Failed() {
			s := logs.String()
			t.Logf("logs:\n%s", s[max(0, len(s)-8000):])
		}
	}()

	l := &logistos{refused: map[int64]bool{}, posts: map[int64][]post{}}
	for id := range int64(refusedFirst) {
		l.refused[9000+id] = true
	}
	lsrv := httptest.NewServer(&fakelogistos.Server{Respond: l.respond})
	defer lsrv.Close()
	vars := pipeline.StandInSettings(strings.TrimSuffix(delivery.DefaultSource, "/"), "https://hooks.example"+pipeline.WebhookPath, lsrv.URL)
	fns, err := pipeline.New(st, vars, log, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Compressed time: a retry a second after a failure, not minutes.
	fns.Forwarder.Backoff = func(int) time.Duration { return time.Second }
	webhook := httptest.NewServer(pipeline.Serve(fns.Webhook, log))
	defer webhook.Close()
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	for _, p := range fns.Pollers(st, log) {
		wg.Go(func() { _ = p.Run(ctx) })
	}
	rcfg, err := config.LoadReconcile(config.FromMap(st.FunctionEnv(stack.Reconcile, vars)))
	if err != nil {
		t.Fatal(err)
	}
	rec, err := reconcile.New(rcfg, st.AWS, log, metrics.New(io.Discard, "reconcile"))
	if err != nil {
		t.Fatal(err)
	}
	run := func() waiting.Report {
		t.Helper()
		rep, _ := rec.Handle(ctx, reconcile.Event{})
		if rep.Waiting == nil {
			t.Fatalf("reconcile report without the waiting orders: %+v", rep)
		}
		return *rep.Waiting
	}
	send := func(id int64) {
		t.Helper()
		req, err := delivery.Delivery{}.NewRequest(ctx, webhook.URL+pipeline.WebhookPath, order(t, id), st.WebhookSecret)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("delivery of order %d: %d", id, resp.StatusCode)
		}
	}

	// Before the outage: Logistos refuses some orders, which need a human.
	for id := range int64(refusedFirst) {
		send(9000 + id)
	}
	testwait.Eventually(t, 30*time.Second, func() error {
		if n := depth(t, st, st.DLQURL); n != refusedFirst {
			return fmt.Errorf("%d refused orders on the DLQ, want %d", n, refusedFirst)
		}
		return nil
	})

	l.down.Store(true)
	before := l.count()
	for r := range runs {
		for i := range ordersDuringOutage / runs {
			send(int64(1 + r*(ordersDuringOutage/runs) + i))
		}
		if rep := run(); rep.Outcome != waiting.OutcomeNone && rep.Outcome != waiting.OutcomeStillFailed {
			t.Fatalf("run %d while Logistos is down: %+v", r, rep)
		}
	}
	for id := int64(runs*(ordersDuringOutage/runs) + 1); id <= ordersDuringOutage; id++ {
		send(id)
	}
	// Every order has run out of tries and waits.
	testwait.Eventually(t, 90*time.Second, func() error {
		if n := depth(t, st, st.WaitingQueueURL); n != ordersDuringOutage {
			return fmt.Errorf("%d orders waiting, want %d", n, ordersDuringOutage)
		}
		return nil
	})
	// Now a run costs Logistos one POST and moves nothing.
	posts := l.count()
	rep := run()
	if rep.Outcome != waiting.OutcomeStillFailed || rep.Waiting != ordersDuringOutage || l.count() != posts+1 {
		t.Errorf("a run while down: %+v after %d POSTs; want still_failing, %d waiting, one POST", rep, l.count()-posts, ordersDuringOutage)
	}
	duringOutage := l.count() - before
	bound := ordersDuringOutage*maxReceiveCount + runs + 1
	t.Logf("POSTs during the outage: %d (bound: %d orders × %d tries + %d runs = %d)", duringOutage, ordersDuringOutage, maxReceiveCount, runs+1, bound)
	if duringOutage > bound {
		t.Errorf("%d POSTs during the outage, want at most %d", duringOutage, bound)
	}
	if n := depth(t, st, st.QueueURL); n != 0 {
		t.Errorf("%d orders still on the orders queue", n)
	}

	// Logistos is back: one run, no human.
	l.down.Store(false)
	if rep := run(); rep.Outcome != waiting.OutcomeReleased || rep.Moved != ordersDuringOutage-1 {
		t.Fatalf("the first run after the outage: %+v, want released with %d moved (the canary went itself)", rep, ordersDuringOutage-1)
	}
	testwait.Eventually(t, 60*time.Second, func() error {
		if n := len(l.delivered()); n != ordersDuringOutage {
			return fmt.Errorf("%d of %d orders delivered", n, ordersDuringOutage)
		}
		return nil
	})

	delivered := slices.Sorted(maps.Keys(l.delivered()))
	if len(delivered) != ordersDuringOutage || delivered[0] != 1 || delivered[len(delivered)-1] != ordersDuringOutage {
		t.Errorf("delivered ids %v..., want 1 to %d", delivered[:min(5, len(delivered))], ordersDuringOutage)
	}
	if n := depth(t, st, st.DLQURL); n != refusedFirst {
		t.Errorf("%d orders on the DLQ, want the %d refused", n, refusedFirst)
	}
	if n := depth(t, st, st.WaitingQueueURL); n != 0 {
		t.Errorf("%d orders still waiting", n)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for id, ps := range l.posts {
		keys := map[string]bool{}
		for _, p := range ps {
			keys[p.key] = true
		}
		if len(keys) != 1 {
			t.Errorf("order %d was sent under %d Idempotency-Keys", id, len(keys))
		}
		if l.refused[id] && len(ps) != 1 {
			t.Errorf("refused order %d was sent %d times, want once: never again without a human", id, len(ps))
		}
	}
}
