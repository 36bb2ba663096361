package activation

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/lambda"

	"github.com/logistos-sync/logistos-sync/internal/testwait"
	"github.com/logistos-sync/logistos-sync/local/fakewoo"
	"github.com/logistos-sync/logistos-sync/local/stacktest"
	"github.com/logistos-sync/logistos-sync/shared/activate"
	"github.com/logistos-sync/logistos-sync/shared/queue"
	"github.com/logistos-sync/logistos-sync/shared/state"
)

var tables atomic.Int64

// sliceDeadline is the Lambda deadline the continuation tests give each
// invocation: short, so a backfill needs several, long enough for a page
// on a slow machine (and longer under the race detector).
const sliceDeadline = 2 * time.Second * raceSlowdown

// sliceLatency is how long the continuation tests' shop takes per page. It
// grows with the slices, so that a slice holds as many pages under the race
// detector as without it: the same shop then needs the same several slices,
// and the race detector's CPU is not spent on orders no test needs.
const sliceLatency = 100 * time.Millisecond * raceSlowdown

// tableEnv is an env whose checkpoint is a fresh DynamoDB table in kumo.
func tableEnv(t *testing.T, o fakewoo.Options, vars map[string]string) (*env, string) {
	t.Helper()
	table := fmt.Sprintf("checkpoints-%d", tables.Add(1))
	createTable(t, table)
	if vars == nil {
		vars = map[string]string{}
	}
	vars["STATE_TABLE"] = table
	return newEnv(t, o, vars), table
}

// invokerQueue is a continuation Invoker that keeps the events for the test
// to run, as Lambda would run them later.
type invokerQueue struct {
	mu     sync.Mutex
	events []activate.Event
}

func (q *invokerQueue) Continue(_ context.Context, ev activate.Event) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.events = append(q.events, ev)
	return nil
}

func (q *invokerQueue) pop() (activate.Event, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.events) == 0 {
		return activate.Event{}, false
	}
	ev := q.events[0]
	q.events = q.events[1:]
	return ev, true
}

// slice invokes h with ev under a Lambda deadline of sliceDeadline.
func slice(h *activate.Handler, ev activate.Event) (activate.Report, error) {
	ctx, cancel := context.WithTimeout(context.Background(), sliceDeadline)
	defer cancel()
	return h.Handle(ctx, ev)
}

// continueToEnd runs ev on h, then each continuation h hands inv, until a
// slice completes the backfill, and returns every slice's report. Each
// slice that does not complete must hand over a continuation of its run.
// Slices run as long as the run moves on, however many a slow machine
// needs: the test fails on maxIdleSlices slices in a row that did no page,
// a backfill that never would complete.
func (e *env) continueToEnd(h *activate.Handler, inv *invokerQueue, ev activate.Event) []activate.Report {
	e.t.Helper()
	const maxIdleSlices = 5
	var reps []activate.Report
	done, idle := -1, 0
	for {
		rep, err := slice(h, ev)
		reps = append(reps, rep)
		if err != nil {
			e.t.Fatalf("invocation %d: %v", len(reps), err)
		}
		if rep.Backfill.Outcome == activate.OutcomeComplete {
			return reps
		}
		next, ok := inv.pop()
		if rep.Backfill.Outcome != activate.OutcomeContinuing || !ok || rep.Next == nil || next.RunID != rep.RunID || !next.Continuation {
			e.t.Fatalf("invocation %d: outcome %s, continuation %+v (report next %+v)", len(reps), rep.Backfill.Outcome, next, rep.Next)
		}
		if idle = idle + 1; rep.Backfill.PagesDone > done {
			done, idle = rep.Backfill.PagesDone, 0
		}
		if idle == maxIdleSlices {
			e.t.Fatalf("%d invocations in a row did no page (after %d pages)", idle, done)
		}
		ev = next
	}
}

// A backfill longer than one invocation continues itself with the same
// cut-off until it completes; every order arrives.
func TestContinuationAcrossShortDeadlines(t *testing.T) {
	t.Parallel() // its slices wait on the shop and their deadlines: others run meanwhile
	const n = 10_000
	e, _ := tableEnv(t, fakewoo.Options{Orders: n, Latency: sliceLatency}, nil)
	inv := &invokerQueue{}
	e.h.Invoker = inv
	e.h.CheckpointEvery = 100 * time.Millisecond
	reps := e.continueToEnd(e.h, inv, backfillOnly)
	invocations := len(reps)
	var cutoffs []time.Time
	for _, rep := range reps {
		cutoffs = append(cutoffs, rep.Backfill.Cutoff)
	}
	if invocations < 2 {
		t.Fatalf("%d invocations: the deadline did not cut the run short", invocations)
	}
	for _, c := range cutoffs {
		if !c.Equal(cutoffs[0]) {
			t.Errorf("cut-off moved: %v", cutoffs)
		}
	}
	q := e.drain()
	dups, most := q.atLeastOnce(t, n, nil)
	// Pages cut off at a deadline are read again, once.
	if most > 2 || dups > invocations*16*100 {
		t.Errorf("%d ids repeated, one %d times", dups, most)
	}
	t.Logf("%d invocations, %d orders repeated", invocations, dups)
}

// The same through kumo's Lambda API: the function (this test's handler
// behind an HTTP endpoint, as kumo's InvokeEndpoint calls it) invokes
// itself asynchronously with the SDK until the backfill completes.
func TestContinuationThroughLambdaInvoke(t *testing.T) {
	t.Parallel() // its slices wait on the shop and their deadlines: others run meanwhile
	const n = 10_000
	e, _ := tableEnv(t, fakewoo.Options{Orders: n, Latency: sliceLatency}, nil)
	name := fmt.Sprintf("activate-cont-%d", tables.Add(1))
	var invocations atomic.Int32
	var lastReport atomic.Pointer[activate.Report]
	fn := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var ev activate.Event
		body, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(body, &ev); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		invocations.Add(1)
		ctx, cancel := context.WithTimeout(context.Background(), sliceDeadline)
		defer cancel()
		rep, err := e.h.Handle(ctx, ev)
		lastReport.Store(&rep)
		if err != nil {
			w.WriteHeader(500)
			fmt.Fprintf(w, `{"errorMessage":%q}`, err.Error())
			return
		}
		_ = json.NewEncoder(w).Encode(rep)
	}))
	defer fn.Close()
	stacktest.RegisterFunction(t, name, fn.URL)
	client := lambda.NewFromConfig(stacktest.Shared.AWS)
	e.h.Invoker = &activate.LambdaInvoker{Client: client, FunctionName: name}

	out, err := client.Invoke(context.Background(), &lambda.InvokeInput{FunctionName: &name, Payload: []byte(`{"steps":["backfill"]}`)})
	if err != nil || out.FunctionError != nil {
		t.Fatalf("invoke: %v %s", err, out.Payload)
	}
	var first activate.Report
	_ = json.Unmarshal(out.Payload, &first)
	if first.Backfill == nil || first.Backfill.Outcome != activate.OutcomeContinuing {
		t.Fatalf("first invocation: %s", out.Payload)
	}
	testwait.Eventually(t, 2*time.Minute, func() error {
		r := lastReport.Load()
		if r == nil || r.Backfill == nil {
			return fmt.Errorf("no backfill report after %d invocations", invocations.Load())
		}
		if r.Backfill.Outcome != activate.OutcomeComplete {
			return fmt.Errorf("backfill %s after %d invocations, want %s", r.Backfill.Outcome, invocations.Load(), activate.OutcomeComplete)
		}
		return nil
	})
	if invocations.Load() < 2 {
		t.Errorf("%d invocations", invocations.Load())
	}
	e.drain().atLeastOnce(t, n, nil)
}

// crashableStore stops writing when the process "dies".
type crashableStore struct {
	state.Store
	dead atomic.Bool
}

func (s *crashableStore) Put(ctx context.Context, id string, doc []byte, v int64) (int64, error) {
	if s.dead.Load() {
		return 0, errors.New("process killed")
	}
	return s.Store.Put(ctx, id, doc, v)
}

// failingQueue fails every send after the first `after`.
type failingQueue struct {
	queue.BatchSender
	calls, after atomic.Int64
}

func (q *failingQueue) SendBatch(ctx context.Context, ms []*queue.Message) error {
	if q.calls.Add(1) > q.after.Load() {
		return errors.New("sqs: service unavailable")
	}
	return q.BatchSender.SendBatch(ctx, ms)
}

// A run that dies mid-way (killed, or its queue failing) is resumed by the
// next run from the checkpoint: pages before it are not sent again, pages
// after it at most once more, and every order arrives.
func TestCrashAndResume(t *testing.T) {
	t.Parallel() // its shops of thousands of orders overlap other tests' waits
	const n = 6_000
	t.Run("killed", func(t *testing.T) {
		var e *env
		var kill func()
		e, _ = tableEnv(t, fakewoo.Options{Orders: n, Latency: 20 * time.Millisecond, OnList: func(page int) {
			if page == 35 && kill != nil {
				kill()
			}
		}}, nil)
		store := &crashableStore{Store: e.h.State}
		e.h.State, e.h.CheckpointEvery = store, 50*time.Millisecond
		ctx, cancel := context.WithCancel(context.Background())
		kill = func() { store.dead.Store(true); cancel() }
		if _, err := e.h.Handle(ctx, backfillOnly); err == nil {
			t.Fatal("the killed run reported success")
		}
		saved := backfillState(t, store.Store)
		savedPage := int64(saved["next_page"].(float64))
		if savedPage < 2 || saved["owner"] == "" {
			t.Fatalf("checkpoint after the crash: %v", saved)
		}
		// A new cold start: the dead run's lease holds until it expires.
		e2 := newEnvSharing(t, e, nil)
		rep, err := e2.run(backfillOnly)
		if err != nil || rep.Backfill.Outcome != activate.OutcomeAlreadyRunning || rep.Backfill.LeaseUntil == nil {
			t.Fatalf("re-run while the lease holds: %+v %v", rep.Backfill, err)
		}
		e2.h.Now = func() time.Time { return time.Now().Add(state.LeaseTTL + time.Minute) }
		rep, err = e2.run(backfillOnly)
		if err != nil || rep.Backfill.Outcome != activate.OutcomeComplete {
			t.Fatalf("resumed run: %+v %v", rep.Backfill, err)
		}
		checkResumed(t, e, rep, savedPage, n)
	})
	t.Run("queue fails", func(t *testing.T) {
		e, _ := tableEnv(t, fakewoo.Options{Orders: n}, nil)
		fq := &failingQueue{BatchSender: e.h.Queue}
		fq.after.Store(25) // pages
		e.h.Queue = fq
		_, err := e.run(backfillOnly)
		if err == nil || !bytes.Contains([]byte(err.Error()), []byte("run again to resume from page")) {
			t.Fatalf("err %v", err)
		}
		savedPage := int64(backfillState(t, e.h.State)["next_page"].(float64))
		fq.after.Store(1 << 40)
		rep, err := e.run(backfillOnly) // at once: the failed run released its lease
		if err != nil || rep.Backfill.Outcome != activate.OutcomeComplete {
			t.Fatalf("resumed run: %+v %v", rep.Backfill, err)
		}
		checkResumed(t, e, rep, savedPage, n)
	})
}

// checkResumed: orders on pages before the checkpoint came once, the rest
// at least once and at most twice.
func checkResumed(t *testing.T, e *env, rep activate.Report, savedPage int64, n int64) {
	t.Helper()
	q := e.drain()
	_, most := q.atLeastOnce(t, n, nil)
	before := (savedPage - 1) * 100
	q.exactlyOnce(t, before, nil)
	if most > 2 {
		t.Errorf("an order came %d times", most)
	}
	if rep.Backfill.Invocations != 2 || rep.Backfill.PagesDone != int(n/100) {
		t.Errorf("report %+v", rep.Backfill)
	}
	if lines := logLines(e.logs.String(), "backfill started"); len(lines) < 2 || lines[len(lines)-1]["resumed"] != true || lines[len(lines)-1]["page"] != float64(savedPage) {
		t.Errorf("the second run did not resume at page %d: %v", savedPage, lines)
	}
	t.Logf("checkpoint at page %d; %d messages for %d orders", savedPage, q.msgs, n)
}

// Two runs started at once (Test clicked twice): one takes the lease and
// backfills, the other says it is already running.
func TestConcurrentRunsOneLeases(t *testing.T) {
	t.Parallel() // it mostly waits on the shop
	e, _ := tableEnv(t, fakewoo.Options{Orders: 2_000, Latency: 20 * time.Millisecond}, nil)
	e2 := newEnvSharing(t, e, nil)
	var wg sync.WaitGroup
	reps := make([]activate.Report, 2)
	errs := make([]error, 2)
	for i, h := range []*activate.Handler{e.h, e2.h} {
		wg.Go(func() { reps[i], errs[i] = h.Handle(context.Background(), backfillOnly) })
	}
	wg.Wait()
	outcomes := map[string]int{}
	for i := range reps {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		outcomes[reps[i].Backfill.Outcome]++
	}
	if outcomes[activate.OutcomeComplete] != 1 || outcomes[activate.OutcomeAlreadyRunning] != 1 {
		t.Fatalf("outcomes %v", outcomes)
	}
	e.drain().exactlyOnce(t, 2_000, nil)
}

// The DynamoDB store and the in-memory one keep the same promises.
func TestCheckpointStores(t *testing.T) {
	table := fmt.Sprintf("checkpoint-store-%d", tables.Add(1))
	stores := map[string]state.Store{
		"memory":   &state.Memory{},
		"dynamodb": &state.DynamoDB{Client: createTable(t, table), Table: table},
	}
	for name, s := range stores {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			if doc, v, err := s.Get(ctx, "x"); doc != nil || v != 0 || err != nil {
				t.Fatalf("empty get: %s %d %v", doc, v, err)
			}
			if v, err := s.Put(ctx, "x", []byte(`{"a":1}`), 0); v != 1 || err != nil {
				t.Fatalf("first put: %d %v", v, err)
			}
			if _, err := s.Put(ctx, "x", []byte(`{"a":2}`), 0); !errors.Is(err, state.ErrConflict) {
				t.Fatalf("create over an existing document: %v", err)
			}
			if v, err := s.Put(ctx, "x", []byte(`{"a":3}`), 1); v != 2 || err != nil {
				t.Fatalf("update: %d %v", v, err)
			}
			if doc, v, err := s.Get(ctx, "x"); string(doc) != `{"a":3}` || v != 2 || err != nil {
				t.Fatalf("get: %s %d %v", doc, v, err)
			}
			var won atomic.Int32
			var wg sync.WaitGroup
			for i := range 8 {
				wg.Go(func() {
					if _, err := s.Put(ctx, "x", []byte(fmt.Sprintf(`{"w":%d}`, i)), 2); err == nil {
						won.Add(1)
					} else if !errors.Is(err, state.ErrConflict) {
						t.Error(err)
					}
				})
			}
			wg.Wait()
			if won.Load() != 1 {
				t.Errorf("%d writers won the same version", won.Load())
			}
		})
	}
}

// Continuations and the lease: a continuation whose run was taken over
// stops (superseded); one retried by Lambda after its slice failed finds
// the lease free and resumes.
func TestContinuationLease(t *testing.T) {
	t.Parallel() // its slices wait on the shop and their deadlines: others run meanwhile
	const n = 16_000
	e, _ := tableEnv(t, fakewoo.Options{Orders: n, Latency: sliceLatency}, nil)
	inv := &invokerQueue{}
	e.h.Invoker = inv
	// Run A: one slice, its continuation waits.
	repA, err := slice(e.h, backfillOnly)
	contA, ok := inv.pop()
	if err != nil || repA.Backfill.Outcome != activate.OutcomeContinuing || !ok {
		t.Fatalf("run A: %+v %v", repA.Backfill, err)
	}
	// Run B, started by hand while A's continuation is pending: refused,
	// then, once A's lease has expired, it takes over.
	e2 := newEnvSharing(t, e, nil)
	e2.h.Invoker = inv
	if rep, err := slice(e2.h, backfillOnly); err != nil || rep.Backfill.Outcome != activate.OutcomeAlreadyRunning {
		t.Fatalf("run B during A's lease: %+v %v", rep.Backfill, err)
	}
	e2.h.Now = func() time.Time { return time.Now().Add(activate.ContinuationLease + time.Minute) }
	repB, err := slice(e2.h, backfillOnly)
	contB, ok := inv.pop()
	if err != nil || repB.Backfill.Outcome != activate.OutcomeContinuing || !ok || repB.Backfill.PagesDone <= repA.Backfill.PagesDone {
		t.Fatalf("run B after A's lease: %+v %v", repB.Backfill, err)
	}
	// A's late continuation: superseded, does nothing.
	if rep, err := slice(e.h, contA); err != nil || rep.Backfill.Outcome != activate.OutcomeSuperseded {
		t.Fatalf("A's continuation: %+v %v", rep.Backfill, err)
	}
	// B's continuation fails (SQS down), then Lambda retries it.
	fq := &failingQueue{BatchSender: e2.h.Queue}
	e2.h.Queue = fq
	if _, err := slice(e2.h, contB); err == nil {
		t.Fatal("the failing slice reported success")
	}
	fq.after.Store(1 << 40)
	e.continueToEnd(e2.h, inv, contB) // Lambda's retry of the failed slice
	e.drain().atLeastOnce(t, n, nil)
}
