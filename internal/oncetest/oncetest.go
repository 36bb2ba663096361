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
	// a is bound (a hub's shop), b and c are not (a single-shop stack's).
	const shopA = "https://a.example"
	for id, bound := range map[string]string{"a": shopA, "b": "", "c": ""} {
		if err := once.Issue(ctx, id, bound, now.Add(ttl)); err != nil {
			t.Fatalf("issue %s: %v", id, err)
		}
	}
	if err := once.Issue(ctx, "a", "https://b.example", now.Add(ttl)); !errors.Is(err, state.ErrConflict) {
		t.Errorf("issued the same id twice: %v", err)
	}
	if _, _, err := once.Held(ctx, "a"); !errors.Is(err, state.ErrNotHeld) {
		t.Errorf("an unspent id holds something: %v", err)
	}

	// Of concurrent spends, exactly one passes and its document is kept.
	// The winner learns what the id was bound to at Issue.
	var ok atomic.Int32
	var wg sync.WaitGroup
	for i := range 6 {
		wg.Go(func() {
			bound, err := once.Spend(ctx, "a", []byte{'0' + byte(i)}, now.Add(keep))
			if err == nil {
				ok.Add(1)
				if bound != shopA {
					t.Errorf("spend returned bound %q, want %q", bound, shopA)
				}
			}
		})
	}
	wg.Wait()
	if ok.Load() != 1 {
		t.Fatalf("spent %d times, want once", ok.Load())
	}
	held, bound, err := once.Held(ctx, "a")
	if err != nil || len(held) != 1 || held[0] < '0' || held[0] > '5' || bound != shopA {
		t.Errorf("held %q bound %q, %v; want the winning spend's document, bound to %s", held, bound, err, shopA)
	}
	if _, err := once.Spend(ctx, "a", []byte("later"), now.Add(keep)); !errors.Is(err, state.ErrSpent) {
		t.Errorf("spent a spent id: %v", err)
	}
	if again, _, _ := once.Held(ctx, "a"); string(again) != string(held) {
		t.Errorf("a refused spend replaced the held document: %q", again)
	}
	if _, err := once.Spend(ctx, "never", []byte("x"), now.Add(keep)); !errors.Is(err, state.ErrSpent) {
		t.Errorf("spent an unknown id: %v", err)
	}

	// Discarded: nothing held, and the id cannot be spent again.
	if err := once.Discard(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := once.Held(ctx, "a"); !errors.Is(err, state.ErrNotHeld) {
		t.Errorf("a discarded id still holds: %v", err)
	}
	if _, err := once.Spend(ctx, "a", []byte("x"), now.Add(keep)); !errors.Is(err, state.ErrSpent) {
		t.Errorf("spent a discarded id: %v", err)
	}
	if err := once.Discard(ctx, "never"); err != nil {
		t.Errorf("discarding nothing: %v", err)
	}

	// b is spent in time and held until keep; c expires unspent.
	if bound, err := once.Spend(ctx, "b", []byte("kept"), now.Add(keep)); err != nil || bound != "" {
		t.Fatalf("bound %q, %v; want nothing", bound, err)
	}
	*now = now.Add(ttl)
	if _, err := once.Spend(ctx, "c", []byte("x"), now.Add(keep)); !errors.Is(err, state.ErrSpent) {
		t.Errorf("spent at its expiry: %v", err)
	}
	if held, bound, err := once.Held(ctx, "b"); err != nil || string(held) != "kept" || bound != "" {
		t.Errorf("held %q bound %q, %v after the state's own expiry; want it kept until its own, bound to nothing", held, bound, err)
	}
	*now = now.Add(keep)
	if _, _, err := once.Held(ctx, "b"); !errors.Is(err, state.ErrNotHeld) {
		t.Errorf("still held after its time: %v", err)
	}
}
