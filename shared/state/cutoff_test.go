package state

import (
	"context"
	"testing"
	"time"
)

// The cut-off is read from the backfill's document as activate writes it;
// a document without one (a backfill not yet started) is no cut-off.
func TestActivationCutoff(t *testing.T) {
	ctx := context.Background()
	s := &Memory{}
	if _, ok, err := ActivationCutoff(ctx, s); ok || err != nil {
		t.Fatalf("no document: ok %v, err %v", ok, err)
	}
	v, err := s.Put(ctx, BackfillID, []byte(`{"next_page":1}`), 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok, err := ActivationCutoff(ctx, s); ok || err != nil {
		t.Fatalf("no cut-off in the document: ok %v, err %v", ok, err)
	}
	if v, err = s.Put(ctx, BackfillID, []byte(`{"cutoff":"2026-11-28T10:00:01Z","next_page":3,"owner":"r1"}`), v); err != nil {
		t.Fatal(err)
	}
	cut, ok, err := ActivationCutoff(ctx, s)
	if !ok || err != nil || !cut.Equal(time.Date(2026, 11, 28, 10, 0, 1, 0, time.UTC)) {
		t.Fatalf("cut-off %s, ok %v, err %v", cut, ok, err)
	}
	if _, err := s.Put(ctx, BackfillID, []byte(`{"cutoff":`), v); err != nil {
		t.Fatal(err)
	}
	if _, _, err := ActivationCutoff(ctx, s); err == nil {
		t.Error("an unreadable document must be an error, not a missing cut-off")
	}
}
