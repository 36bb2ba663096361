package state

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestMemoryOnce(t *testing.T) {
	now := time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)
	m := &MemoryOnce{Now: func() time.Time { return now }}
	ctx := context.Background()
	if err := m.Issue(ctx, "a", now.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := m.Issue(ctx, "a", now.Add(time.Minute)); !errors.Is(err, ErrConflict) {
		t.Errorf("issued twice: %v", err)
	}
	var ok atomic.Int32
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if m.Spend(ctx, "a") == nil {
				ok.Add(1)
			}
		}()
	}
	wg.Wait()
	if ok.Load() != 1 {
		t.Errorf("spent %d times", ok.Load())
	}
	_ = m.Issue(ctx, "b", now.Add(time.Minute))
	now = now.Add(time.Minute)
	if err := m.Spend(ctx, "b"); !errors.Is(err, ErrSpent) {
		t.Errorf("spent at its expiry: %v", err)
	}
	if err := m.Spend(ctx, "never"); !errors.Is(err, ErrSpent) {
		t.Errorf("spent an unknown id: %v", err)
	}
}
