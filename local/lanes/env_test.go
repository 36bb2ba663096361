// Package lanes tests and measures the two ways to Logistos: live orders
// (the webhook's, reconcile's) on the orders queue, sent at once, and the
// backfill's on a queue of its own, sent at BACKFILL_RATE, so that a new
// order never waits behind the shop's history. Everything is real but AWS
// and the two outside services: the webhook and forwarder handlers
// (pipeline.New), activate (activate.New), kumo's SQS polled by emulated
// event source mappings as template.yaml configures them, the stand-in
// shop delivering its new orders by webhook, and the stand-in Logistos
// answering each POST after 100 to 300 ms.
package lanes

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http/httptest"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/logistos-sync/logistos-sync/local/fakelogistos"
	"github.com/logistos-sync/logistos-sync/local/fakewoo"
	"github.com/logistos-sync/logistos-sync/local/pipeline"
	"github.com/logistos-sync/logistos-sync/local/stack"
	"github.com/logistos-sync/logistos-sync/local/stacktest"
	"github.com/logistos-sync/logistos-sync/local/syncbuf"
	"github.com/logistos-sync/logistos-sync/shared/activate"
	"github.com/logistos-sync/logistos-sync/shared/config"
	"github.com/logistos-sync/logistos-sync/shared/forwarder"
	"github.com/logistos-sync/logistos-sync/shared/logging"
	"github.com/logistos-sync/logistos-sync/shared/logistos"
	"github.com/logistos-sync/logistos-sync/shared/metrics"
)

func TestMain(m *testing.M) { os.Exit(stacktest.RunTests(m)) }

// forwarderConcurrency is template.yaml's default ForwarderConcurrency: the
// orders queue's event source runs this many invocations at once.
const forwarderConcurrency = 2

// logistosLatency is how long the stand-in Logistos takes to answer a POST
// for order id: 100 to 300 ms, spread evenly over the ids and the same for
// the same order in every run, so that two runs compared see the same
// Logistos.
func logistosLatency(id int64) time.Duration {
	return 100*time.Millisecond + time.Duration(id*7919%201)*time.Millisecond
}

// arrival is one order reaching Logistos.
type arrival struct {
	id    int64
	event string
	at    time.Time
}

// setup shapes an env.
type setup struct {
	orders int // the shop's existing orders: the backfill
	rate   int // BACKFILL_RATE
	// oneQueue puts the backfill on the orders queue (BACKFILL_QUEUE_URL
	// set to it): the design before the backfill had a queue of its own.
	oneQueue bool
}

// env is one deployment: a shop, the webhook serving, a Logistos, activate.
type env struct {
	tb       testing.TB
	st       *stack.Stack
	shop     *fakewoo.Shop
	logistos *fakelogistos.Server
	fns      *pipeline.Functions
	act      *activate.Handler
	logs     *syncbuf.Buffer
	log      *slog.Logger

	mu       sync.Mutex
	arrivals []arrival
	notify   chan struct{}

	closers []func() // run by close, last first
	closed  bool
}

// newEnv builds a deployment and serves its webhook until close (at the
// latest when the test ends); the forwarder's event sources start with
// startForwarder.
func newEnv(tb testing.TB, s setup) *env {
	tb.Helper()
	e := &env{tb: tb, st: stacktest.ForTest(tb, stack.Options{}), logs: &syncbuf.Buffer{}, notify: make(chan struct{})}
	tb.Cleanup(e.close)
	e.log = logging.New(e.logs, "info")
	e.shop = fakewoo.Start(fakewoo.Options{Orders: s.orders})
	e.closers = append(e.closers, e.shop.Close)
	e.logistos = &fakelogistos.Server{Respond: e.respond}
	lsrv := httptest.NewServer(e.logistos)
	e.closers = append(e.closers, lsrv.Close)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	vars := pipeline.StandInSettings(e.shop.URL, "http://"+ln.Addr().String()+pipeline.WebhookPath, lsrv.URL)
	vars[config.BackfillRate] = strconv.Itoa(s.rate)
	if s.oneQueue {
		vars[config.BackfillQueueURL] = e.st.QueueURL
	}
	if e.fns, err = pipeline.New(e.st, vars, e.log, nil); err != nil {
		tb.Fatal(err)
	}
	acfg, err := config.LoadActivate(config.FromMap(e.st.FunctionEnv(stack.Activate, vars)))
	if err != nil {
		tb.Fatal(err)
	}
	if e.act, err = activate.New(acfg, e.st.AWS, e.log, metrics.New(io.Discard, "activate")); err != nil {
		tb.Fatal(err)
	}
	e.run(func(ctx context.Context) { _ = pipeline.Run(ctx, ln, pipeline.Serve(e.fns.Webhook, e.log), nil, e.log) })
	return e
}

// run runs f until close, then cancels it and waits for it.
func (e *env) run(f func(ctx context.Context)) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); f(ctx) }()
	e.closers = append(e.closers, func() { cancel(); <-done })
}

// close stops everything the env started and empties its queues (kumo
// holds them for the whole process), and shows the logs of a failed test.
func (e *env) close() {
	if e.closed {
		return
	}
	e.closed = true
	for i := len(e.closers) - 1; i >= 0; i-- {
		e.closers[i]()
	}
	for _, q := range []string{e.st.QueueURL, e.st.BackfillQueueURL, e.st.DLQURL} {
		_, _ = e.st.SQS.PurgeQueue(context.Background(), &sqs.PurgeQueueInput{QueueUrl: &q})
	}
	if e.tb.Failed() {
		logs := e.logs.String()
		e.tb.Logf("logs:\n%s", logs[max(0, len(logs)-6000):])
	}
}

// startForwarder starts the forwarder's event sources as template.yaml
// configures them: forwarderConcurrency invocations at once on the orders
// queue, forwarder.BackfillInvocations (each with its own pacer) on the
// backfill queue.
func (e *env) startForwarder() {
	pollers := e.fns.Pollers(e.st, e.log)
	for range forwarderConcurrency - 1 {
		h := forwarder.New(e.fns.ForwarderConfig, e.st.AWS, e.log, metrics.New(io.Discard, "forwarder"))
		pollers = append(pollers, pipeline.Poller(e.st, h, e.log))
	}
	for _, p := range pollers {
		e.run(func(ctx context.Context) { _ = p.Run(ctx) })
	}
}

// activate registers the shop's webhook (so that new orders reach the
// webhook) and backfills every existing order.
func (e *env) activate() activate.Report {
	e.tb.Helper()
	rep, err := e.act.Handle(context.Background(), activate.Event{Steps: []string{activate.StepWebhook, activate.StepBackfill}})
	if err != nil || rep.Backfill == nil || rep.Backfill.Outcome != activate.OutcomeComplete {
		e.tb.Fatalf("activation: %v %+v", err, rep.Backfill)
	}
	return rep
}

// respond records each order's arrival, then answers it 200 after the
// order's latency.
func (e *env) respond(r *fakelogistos.Request) fakelogistos.Response {
	if r.Path != fakelogistos.OrdersPath {
		return fakelogistos.OK
	}
	var p struct {
		Event  string `json:"event"`
		Orders []struct {
			ID int64 `json:"id"`
		} `json:"orders"`
	}
	if err := json.Unmarshal(r.Body, &p); err != nil || len(p.Orders) != 1 {
		return fakelogistos.BadRequest
	}
	e.mu.Lock()
	e.arrivals = append(e.arrivals, arrival{id: p.Orders[0].ID, event: p.Event, at: r.Received})
	close(e.notify)
	e.notify = make(chan struct{})
	e.mu.Unlock()
	return fakelogistos.Slow(logistosLatency(p.Orders[0].ID))
}

// waitFor waits until cond holds for the arrivals so far, or the timeout.
func (e *env) waitFor(timeout time.Duration, cond func([]arrival) bool) []arrival {
	e.tb.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		e.mu.Lock()
		got, ch := e.arrivals, e.notify
		e.mu.Unlock()
		if cond(got) {
			return got
		}
		select {
		case <-ch:
		case <-deadline.C:
			e.tb.Fatalf("after %s: %d orders reached Logistos, and not the ones awaited", timeout, len(got))
		}
	}
}

// events counts arrivals by Logistos event.
func events(as []arrival) map[string]int {
	n := map[string]int{}
	for _, a := range as {
		n[a.event]++
	}
	return n
}

// firstArrival maps each order id to when it first reached Logistos.
func firstArrival(as []arrival) map[int64]time.Time {
	m := make(map[int64]time.Time, len(as))
	for _, a := range as {
		if _, ok := m[a.id]; !ok {
			m[a.id] = a.at
		}
	}
	return m
}

// backfillSpan is the time from the first to the last backfill POST, and
// how many there were.
func backfillSpan(as []arrival) (time.Duration, int) {
	var first, last time.Time
	n := 0
	for _, a := range as {
		if a.event != logistos.EventBackfill {
			continue
		}
		if n == 0 || a.at.Before(first) {
			first = a.at
		}
		if a.at.After(last) {
			last = a.at
		}
		n++
	}
	return last.Sub(first), n
}
