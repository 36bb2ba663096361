package forwarder

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/logistos-sync/logistos-sync/shared/logistos"
	"github.com/logistos-sync/logistos-sync/shared/queue"
)

var (
	errUnavailable = &logistos.Error{Op: "post orders", StatusCode: 503, Transient: true}
	errRefused     = &logistos.Error{Op: "post orders", StatusCode: 422}
	errUnsent      = &logistos.Error{Op: "encode payload", Err: errors.New("bad value")}
)

// failingRetry returns a Retry whose record says Logistos is failing.
func failingRetry() *Retry {
	r := &Retry{}
	for range retryWindow {
		r.Observe(errUnavailable)
	}
	return r
}

func TestRetrySchedule(t *testing.T) {
	cases := []struct {
		failing  bool
		receives int
		want     time.Duration
	}{
		{false, 0, 10 * time.Second},
		{false, 1, 10 * time.Second},
		{false, 2, 30 * time.Second},
		{false, 3, 90 * time.Second},
		{false, 4, 8 * time.Minute},
		{false, 5, 8 * time.Minute},
		{false, 50, 8 * time.Minute},
		{true, 0, time.Minute},
		{true, 1, time.Minute},
		{true, 2, 4 * time.Minute},
		{true, 3, 16 * time.Minute},
		{true, 4, 64 * time.Minute},
		{true, 20, 12 * time.Hour},
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("failing=%v/receives=%d", c.failing, c.receives), func(t *testing.T) {
			r := &Retry{}
			if c.failing {
				r = failingRetry()
			}
			// The jitter's extremes, exactly: -20% and +20%, capped at 12 h.
			r.Rand = func(int64) int64 { return 0 }
			if got, want := r.Delay(c.receives), c.want-c.want/5; got != want {
				t.Errorf("shortest Delay(%d) = %v, want %v", c.receives, got, want)
			}
			r.Rand = func(n int64) int64 { return n - 1 }
			if got, want := r.Delay(c.receives), min(c.want+c.want/5, delayMax); got != want {
				t.Errorf("longest Delay(%d) = %v, want %v", c.receives, got, want)
			}
			r.Rand = nil
			for range 100 {
				if got := r.Delay(c.receives); got < c.want*8/10 || got > c.want*12/10 || got > delayMax {
					t.Fatalf("Delay(%d) = %v, want %v ±20%% and ≤ 12h", c.receives, got, c.want)
				}
			}
		})
	}
}

// TestBlipCostsSeconds is the goal in one line: three transient failures
// in a row, at the jitter's longest, still reach Logistos within three
// minutes of the first attempt.
func TestBlipCostsSeconds(t *testing.T) {
	r := &Retry{Rand: func(n int64) int64 { return n - 1 }}
	var total time.Duration
	for receive := 1; receive <= 3; receive++ {
		r.Observe(errUnavailable)
		total += r.Delay(receive)
	}
	if total >= 3*time.Minute {
		t.Fatalf("three failures cost %v, want under 3 minutes", total)
	}
}

func TestRetryFollowsLogistos(t *testing.T) {
	repeat := func(n int, err error) []error {
		out := make([]error, n)
		for i := range out {
			out[i] = err
		}
		return out
	}
	cat := func(parts ...[]error) []error {
		var out []error
		for _, p := range parts {
			out = append(out, p...)
		}
		return out
	}
	cases := []struct {
		name     string
		outcomes []error
		failing  bool
	}{
		{"cold", nil, false},
		{"healthy", repeat(50, nil), false},
		{"a blip: 1 failure in 20", cat(repeat(19, nil), repeat(1, errUnavailable)), false},
		{"fewer failures than the minimum", repeat(retryMinSamples-1, errUnavailable), false},
		{"a whole first batch failed", repeat(retryMinSamples, errUnavailable), true},
		{"half failed", cat(repeat(10, nil), repeat(10, errUnavailable)), false},
		{"most failed", cat(repeat(9, nil), repeat(11, errUnavailable)), true},
		{"down", repeat(100, errUnavailable), true},
		{"429s are Logistos asking for less", repeat(20, &logistos.Error{StatusCode: 429, Transient: true}), true},
		{"timeouts", repeat(20, context.DeadlineExceeded), true},
		{"recovering: not yet", cat(repeat(40, errUnavailable), repeat(9, nil)), true},
		{"recovered", cat(repeat(40, errUnavailable), repeat(10, nil)), false},
		{"old failures forgotten", cat(repeat(40, errUnavailable), repeat(20, nil), repeat(5, errUnavailable)), false},
		{"refusals are Logistos up", cat(repeat(12, errRefused), repeat(8, errUnavailable)), false},
		{"unsent POSTs are not counted", cat(repeat(9, errUnavailable), repeat(30, errUnsent)), false},
		{"unsent POSTs are not successes", cat(repeat(10, errUnavailable), repeat(30, errUnsent)), true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := &Retry{Rand: func(n int64) int64 { return n / 2 }} // no jitter
			for _, err := range c.outcomes {
				r.Observe(err)
			}
			want := 10 * time.Second
			if c.failing {
				want = time.Minute
			}
			if got := r.Failing(); got != c.failing {
				t.Errorf("Failing() = %v, want %v", got, c.failing)
			}
			if got := r.Delay(1); got != want {
				t.Errorf("Delay(1) = %v, want %v", got, want)
			}
		})
	}
}

// TestRetryThroughTheHandler: the handler records its POSTs' outcomes, so a
// batch that all fails is retried on the slow schedule, a lone failure on
// the fast one, and a batch that succeeds again brings the fast one back.
func TestRetryThroughTheHandler(t *testing.T) {
	batch := func(first int) events.SQSEvent {
		var ev events.SQSEvent
		for i := range DefaultConcurrency {
			ev.Records = append(ev.Records, record(first+i, queue.OriginWebhook, ""))
		}
		return ev
	}
	hs := newHarness()
	down := true
	hs.lg.answer = func(p *logistos.Payload) error {
		if down || p.Orders[0].ID.Text() == "99" {
			return errUnavailable
		}
		return nil
	}
	steps := []struct {
		name    string
		ev      events.SQSEvent
		down    bool
		atLeast int32 // seconds, for every failed record
		atMost  int32
	}{
		{"first batch, Logistos down", batch(1), true, 48, 72},
		{"second batch, still down", batch(11), true, 48, 72},
		{"recovered", batch(30), false, 0, 0},
		{"then one order fails", batch(90), false, 8, 12},
	}
	for _, s := range steps {
		down = s.down
		resp, _ := hs.h.Handle(context.Background(), s.ev)
		if got, want := len(resp.BatchItemFailures) > 0, s.atMost > 0; got != want {
			t.Fatalf("%s: failures %v", s.name, failed(resp))
		}
		for _, f := range resp.BatchItemFailures {
			v := hs.sqs.visibility["rh-"+strings.TrimPrefix(f.ItemIdentifier, "msg-")]
			if v < s.atLeast || v > s.atMost {
				t.Errorf("%s: %s invisible for %ds, want %d to %ds", s.name, f.ItemIdentifier, v, s.atLeast, s.atMost)
			}
		}
	}
}

// TestRetryConcurrentUse runs Observe and Delay from many goroutines, as the
// handler's POSTs do (under -race in make test): the record stays
// consistent, and ends as the last outcomes say.
func TestRetryConcurrentUse(t *testing.T) {
	r := &Retry{}
	var wg sync.WaitGroup
	for g := range 16 {
		wg.Go(func() {
			for i := range 500 {
				if (g+i)%2 == 0 {
					r.Observe(errUnavailable)
				} else {
					r.Observe(nil)
				}
				if d := r.Delay(1 + i%5); d <= 0 {
					t.Errorf("Delay = %v", d)
				}
			}
		})
	}
	wg.Wait()
	r.mu.Lock()
	n, fails := r.n, 0
	for _, f := range r.failed {
		if f {
			fails++
		}
	}
	if n != retryWindow || fails != r.fails {
		t.Errorf("record holds %d outcomes, %d failures counted of %d", n, r.fails, fails)
	}
	r.mu.Unlock()
	for range retryWindow {
		r.Observe(errUnavailable)
	}
	if !r.Failing() {
		t.Error("not failing after a window of failures")
	}
}
