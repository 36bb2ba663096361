package forwarder

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/logistos-sync/logistos-sync/shared/queue"
)

const backfillARN = "arn:aws:sqs:ap-south-1:123456789012:backfill"

// fakeClock is the pacer's and the handler's clock: Sleep moves it on at
// once and records how long it was asked to wait.
type fakeClock struct {
	mu    sync.Mutex
	now   time.Time
	slept []time.Duration
}

func newFakeClock() *fakeClock { return &fakeClock{now: time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Sleep(_ context.Context, d time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	c.slept = append(c.slept, d)
	return nil
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func (c *fakeClock) sleeps() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.slept)
}

func TestBackfillInterval(t *testing.T) {
	// Two invocations at once, each a POST every 200 ms: 10 a second.
	if got := BackfillInterval(10); got != 200*time.Millisecond {
		t.Errorf("BackfillInterval(10) = %s, want 200ms", got)
	}
	if got := BackfillInterval(1); got != 2*time.Second {
		t.Errorf("BackfillInterval(1) = %s, want 2s", got)
	}
}

func TestPacerSpacesStarts(t *testing.T) {
	clk := newFakeClock()
	p := &Pacer{Interval: 200 * time.Millisecond, Now: clk.Now, Sleep: clk.Sleep}
	start := clk.Now()
	var starts []time.Duration
	for range 5 {
		if err := p.Wait(context.Background(), time.Time{}); err != nil {
			t.Fatal(err)
		}
		starts = append(starts, clk.Now().Sub(start))
	}
	want := []time.Duration{0, 200 * time.Millisecond, 400 * time.Millisecond, 600 * time.Millisecond, 800 * time.Millisecond}
	if !slices.Equal(starts, want) {
		t.Errorf("starts at %v, want %v", starts, want)
	}
	// Idle for a while, the pacer saves up no burst: one start at once,
	// the next a whole interval later.
	clk.Advance(10 * time.Second)
	before := len(clk.sleeps())
	for range 2 {
		if err := p.Wait(context.Background(), time.Time{}); err != nil {
			t.Fatal(err)
		}
	}
	if got := clk.sleeps()[before:]; !slices.Equal(got, []time.Duration{200 * time.Millisecond}) {
		t.Errorf("after an idle spell the pacer slept %v, want one interval (200ms) between two starts", got)
	}
}

func TestPacerRefusesATurnPastTheLastStart(t *testing.T) {
	clk := newFakeClock()
	p := &Pacer{Interval: time.Second, Now: clk.Now, Sleep: clk.Sleep}
	latest := clk.Now().Add(1500 * time.Millisecond)
	for i, want := range []error{nil, nil, errDeadline, errDeadline} {
		if err := p.Wait(context.Background(), latest); !errors.Is(err, want) {
			t.Fatalf("turn %d: %v, want %v", i, err, want)
		}
	}
	// The refused turns reserved nothing: with a later limit, the next
	// start is the one refused, not two intervals after it.
	if err := p.Wait(context.Background(), clk.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if got := clk.sleeps(); !slices.Equal(got, []time.Duration{time.Second, time.Second}) {
		t.Errorf("slept %v, want [1s 1s]", got)
	}
}

// pacedHarness is a handler whose backfill queue is paced one POST every
// interval, on the real clock: run it in a synctest bubble, where that
// clock is fake and moves only when every goroutine waits. Each POST
// records when it started, from the harness's creation.
func pacedHarness(interval time.Duration) (*harness, func() []time.Duration) {
	hs := newHarness()
	hs.h.BackfillQueueARN = backfillARN
	hs.h.BackfillPacer = &Pacer{Interval: interval}
	start := time.Now()
	var mu sync.Mutex
	var starts []time.Duration
	hs.lg.hold = func() {
		mu.Lock()
		defer mu.Unlock()
		starts = append(starts, time.Since(start))
	}
	return hs, func() []time.Duration {
		mu.Lock()
		defer mu.Unlock()
		s := slices.Clone(starts)
		slices.Sort(s)
		return s
	}
}

func batch(arn string, origin string, ids ...int) events.SQSEvent {
	var ev events.SQSEvent
	for _, id := range ids {
		r := record(id, origin, "")
		r.EventSourceARN = arn
		ev.Records = append(ev.Records, r)
	}
	return ev
}

// The backfill queue's records start their POSTs one interval apart; the
// orders queue's all start at once, whatever their origin: a backfilled
// order redriven to the orders queue is not held up there.
func TestBackfillQueuePacedLiveNot(t *testing.T) {
	const interval = 200 * time.Millisecond
	synctest.Test(t, func(t *testing.T) {
		hs, starts := pacedHarness(interval)
		live := batch(queueARN, queue.OriginWebhook, 1, 2, 3, 4, 5)
		live.Records = append(live.Records, batch(queueARN, queue.OriginBackfill, 6, 7).Records...)
		live.Records = append(live.Records, batch(queueARN, queue.OriginReconcile, 8).Records...)
		if resp, _ := hs.h.Handle(context.Background(), live); len(resp.BatchItemFailures) != 0 {
			t.Fatalf("live batch: failures %v", resp.BatchItemFailures)
		}
		if got := starts(); len(got) != 8 || got[len(got)-1] != 0 {
			t.Fatalf("live POSTs started at %v; want all 8 at once", got)
		}
	})

	synctest.Test(t, func(t *testing.T) {
		hs, starts := pacedHarness(interval)
		ids := []int{11, 12, 13, 14, 15, 16, 17, 18, 19, 20}
		if resp, _ := hs.h.Handle(context.Background(), batch(backfillARN, queue.OriginBackfill, ids...)); len(resp.BatchItemFailures) != 0 {
			t.Fatalf("backfill batch: failures %v", resp.BatchItemFailures)
		}
		got := starts()
		if len(got) != len(ids) {
			t.Fatalf("%d backfill POSTs, want %d", len(got), len(ids))
		}
		for i, s := range got {
			if want := time.Duration(i) * interval; s != want {
				t.Errorf("backfill POST %d started at %s, want %s: one every %s", i, s, want, interval)
			}
		}
		// The next batch in the same container keeps the spacing.
		hs.h.Handle(context.Background(), batch(backfillARN, queue.OriginBackfill, 21))
		if got, want := starts()[len(ids)], time.Duration(len(ids))*interval; got != want {
			t.Errorf("the next batch's first POST started at %s, want %s", got, want)
		}
	})
}

// A turn that comes too late for a whole POST before the invocation's
// deadline is not waited for: the record comes back after the short
// deadline retry, like any record the invocation had no time for.
func TestBackfillTurnPastTheDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		hs, starts := pacedHarness(time.Second)
		hs.h.PostTimeout = 10 * time.Second
		// Room for the turns at 0, 1, 2 and 3 s, not for the one at 4 s.
		ctx, cancel := context.WithTimeout(context.Background(), hs.h.PostTimeout+deadlineMargin+3500*time.Millisecond)
		defer cancel()
		resp, _ := hs.h.Handle(ctx, batch(backfillARN, queue.OriginBackfill, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10))
		if got := starts(); len(got) != 4 {
			t.Fatalf("POSTs started at %v; want the 4 whose turn fitted", got)
		}
		if got := failed(resp); len(got) != 6 {
			t.Fatalf("failures %v, want the 6 records not attempted", got)
		}
		for _, f := range resp.BatchItemFailures {
			if v := hs.sqs.visibility["rh-"+strings.TrimPrefix(f.ItemIdentifier, "msg-")]; v != int32(deadlineRetryDelay/time.Second) {
				t.Errorf("%s visibility %d, want the quick deadline retry", f.ItemIdentifier, v)
			}
		}
		if !strings.Contains(hs.logs.String(), `"outcome":"deadline"`) {
			t.Error("no deadline outcome logged")
		}
	})
}
