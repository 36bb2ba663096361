// Package oncetest is the contract every state.Once keeps, as one test that
// runs against each: the one in memory (shared/state) and the one in
// DynamoDB (local/connecting, on kumo).
//
// It imports testing: only tests may import it, never a Lambda function.
package oncetest

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/logistos-sync/logistos-sync/shared/state"
)

// Run checks once. Its clock is *now, which Run moves forward: the
// implementation must read it on every call.
func Run(t *testing.T, once state.Once, now *time.Time) {
	t.Helper()
	ctx := context.Background()
	const ttl, keep = 30 * time.Minute, 6 * time.Hour
	for _, id := range []string{"a", "b", "c"} {
		if err := once.Issue(ctx, id, now.Add(ttl)); err != nil {
			t.Fatalf("issue %s: %v", id, err)
		}
	}
	if err := once.Issue(ctx, "a", now.Add(ttl)); !errors.Is(err, state.ErrConflict) {
		t.Errorf("issued the same id twice: %v", err)
	}
	if _, err := once.Held(ctx, "a"); !errors.Is(err, state.ErrNotHeld) {
		t.Errorf("an unspent id holds something: %v", err)
	}

	// Of concurrent spends, exactly one passes and its document is kept.
	var ok atomic.Int32
	var wg sync.WaitGroup
	for i := range 6 {
		wg.Go(func() {
			if once.Spend(ctx, "a", []byte{'0' + byte(i)}, now.Add(keep)) == nil {
				ok.Add(1)
			}
		})
	}
	wg.Wait()
	if ok.Load() != 1 {
		t.Fatalf("spent %d times, want once", ok.Load())
	}
	held, err := once.Held(ctx, "a")
	if err != nil || len(held) != 1 || held[0] < '0' || held[0] > '5' {
		t.Errorf("held %q, %v; want the winning spend's document", held, err)
	}
	if err := once.Spend(ctx, "a", []byte("later"), now.Add(keep)); !errors.Is(err, state.ErrSpent) {
		t.Errorf("spent a spent id: %v", err)
	}
	if again, _ := once.Held(ctx, "a"); string(again) != string(held) {
		t.Errorf("a refused spend replaced the held document: %q", again)
	}
	if err := once.Spend(ctx, "never", []byte("x"), now.Add(keep)); !errors.Is(err, state.ErrSpent) {
		t.Errorf("spent an unknown id: %v", err)
	}

	// Discarded: nothing held, and the id cannot be spent again.
	if err := once.Discard(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	if _, err := once.Held(ctx, "a"); !errors.Is(err, state.ErrNotHeld) {
		t.Errorf("a discarded id still holds: %v", err)
	}
	if err := once.Spend(ctx, "a", []byte("x"), now.Add(keep)); !errors.Is(err, state.ErrSpent) {
		t.Errorf("spent a discarded id: %v", err)
	}
	if err := once.Discard(ctx, "never"); err != nil {
		t.Errorf("discarding nothing: %v", err)
	}

	// b is spent in time and held until keep; c expires unspent.
	if err := once.Spend(ctx, "b", []byte("kept"), now.Add(keep)); err != nil {
		t.Fatal(err)
	}
	*now = now.Add(ttl)
	if err := once.Spend(ctx, "c", []byte("x"), now.Add(keep)); !errors.Is(err, state.ErrSpent) {
		t.Errorf("spent at its expiry: %v", err)
	}
	if held, err := once.Held(ctx, "b"); err != nil || string(held) != "kept" {
		t.Errorf("held %q, %v after the state's own expiry; want it kept until its own", held, err)
	}
	*now = now.Add(keep)
	if _, err := once.Held(ctx, "b"); !errors.Is(err, state.ErrNotHeld) {
		t.Errorf("still held after its time: %v", err)
	}
}
