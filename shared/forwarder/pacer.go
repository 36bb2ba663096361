package forwarder

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// BackfillInvocations is the backfill event source's MaximumConcurrency
// in template.yaml (local/templatecheck pins the two together): the fewest
// SQS allows, so that Logistos sees as few backfill requests at once as
// possible. Each invocation paces its own POSTs at the rate divided by this,
// so that all of them together stay at the backfill rate.
const BackfillInvocations = 2

// BackfillInterval is how far apart one invocation starts the POSTs of the
// backfill queue's records for the backfill to send at most rate POSTs a
// second (config.BackfillRate).
func BackfillInterval(rate int) time.Duration {
	return BackfillInvocations * time.Second / time.Duration(max(rate, 1))
}

// Pacer spaces starts at least Interval apart. One lives as long as its
// Handler, a warm container: consecutive invocations of a container share
// it, so a new batch does not start with a burst. A pacer idle for a while
// saves up no burst either: the next start is due at once, the one after it
// Interval later.
type Pacer struct {
	Interval time.Duration
	// Now and Sleep are the pacer's clock: time.Now and a timer when nil.
	// Tests move a clock of their own, so they check the spacing without
	// waiting through it.
	Now   func() time.Time
	Sleep func(ctx context.Context, d time.Duration) error

	mu   sync.Mutex
	next time.Time // the earliest the next start may be
}

// Wait reserves the next start and blocks until it is due. A start at or
// after latest is not worth making (a whole POST no longer fits before the
// invocation's deadline): then Wait reserves nothing and returns
// errDeadline at once. A zero latest means no limit.
func (p *Pacer) Wait(ctx context.Context, latest time.Time) error {
	p.mu.Lock()
	now := p.now()
	at := now
	if p.next.After(at) {
		at = p.next
	}
	if !latest.IsZero() && !at.Before(latest) {
		p.mu.Unlock()
		return errDeadline
	}
	p.next = at.Add(p.Interval)
	p.mu.Unlock()
	if d := at.Sub(now); d > 0 {
		return p.sleep(ctx, d)
	}
	return nil
}

func (p *Pacer) now() time.Time {
	if p.Now != nil {
		return p.Now()
	}
	return time.Now()
}

func (p *Pacer) sleep(ctx context.Context, d time.Duration) error {
	if p.Sleep != nil {
		return p.Sleep(ctx, d)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return fmt.Errorf("waiting %s for the backfill's next turn: %w", d, ctx.Err())
	case <-t.C:
		return nil
	}
}
