package state

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// A lease runs to the invocation's deadline plus LeaseSlack, or LeaseTTL
// without one; another run sees it held until then, its holder never.
func TestLease(t *testing.T) {
	var l Lease
	now := time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)
	if l.HeldByAnother("b", now) {
		t.Fatal("a free lease is held")
	}
	l.Take(context.Background(), "a", now)
	if l.Owner != "a" || !l.LeaseUntil.Equal(now.Add(LeaseTTL)) {
		t.Fatalf("without a deadline: %+v, want a until now+LeaseTTL", l)
	}
	if !l.HeldByAnother("b", now.Add(LeaseTTL-time.Second)) || l.HeldByAnother("b", now.Add(LeaseTTL)) {
		t.Error("another run must see the lease held until LeaseUntil, and free from then on")
	}
	if l.HeldByAnother("a", now) {
		t.Error("the holder sees its own lease as held by another")
	}
	dl := now.Add(15 * time.Minute)
	ctx, cancel := context.WithDeadline(context.Background(), dl)
	defer cancel()
	l.Renew(ctx, now.Add(time.Minute))
	if !l.LeaseUntil.Equal(dl.Add(LeaseSlack)) {
		t.Errorf("with a deadline: until %s, want the deadline plus LeaseSlack", l.LeaseUntil)
	}
	l.Release()
	if l.HeldByAnother("b", now) || l.Owner != "" {
		t.Errorf("released: %+v", l)
	}
}

// The lease's fields keep the names state documents have always had, so
// that a document written before an upgrade is read the same after it.
func TestLeaseInADocument(t *testing.T) {
	var doc struct {
		Mark time.Time `json:"mark"`
		Lease
	}
	if err := json.Unmarshal([]byte(`{"mark":"2026-11-28T09:00:00Z","owner":"r1","lease_until":"2026-11-28T10:00:00Z"}`), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Owner != "r1" || doc.LeaseUntil.IsZero() {
		t.Fatalf("read %+v", doc)
	}
	b, _ := json.Marshal(doc)
	if !strings.Contains(string(b), `"owner":"r1","lease_until":"2026-11-28T10:00:00Z"`) {
		t.Errorf("written %s", b)
	}
}

func TestNewRunID(t *testing.T) {
	at := time.Date(2026, 11, 28, 10, 4, 5, 0, time.FixedZone("IST", 19800))
	a, b := NewRunID(at), NewRunID(at)
	if !strings.HasPrefix(a, "20261128T043405Z-") || len(a) != len("20261128T043405Z-")+8 {
		t.Errorf("run id %q, want the UTC start and 8 hex digits", a)
	}
	if a == b {
		t.Errorf("two runs started in the same second share the id %q", a)
	}
}

// One hub shop's documents are apart from another's and from the home
// shop's, which keep their names.
func TestForShop(t *testing.T) {
	ctx := context.Background()
	st := &Memory{}
	if _, err := ForShop(st, "aaaaaaaaaaaaaaaa").Put(ctx, "reconcile", []byte(`"a"`), 0); err != nil {
		t.Fatal(err)
	}
	if _, err := ForShop(st, "").Put(ctx, "reconcile", []byte(`"home"`), 0); err != nil {
		t.Fatal(err)
	}
	for id, want := range map[string]string{"aaaaaaaaaaaaaaaa": `"a"`, "": `"home"`, "bbbbbbbbbbbbbbbb": ""} {
		if got, _, _ := ForShop(st, id).Get(ctx, "reconcile"); string(got) != want {
			t.Errorf("shop %q reads %q, want %q", id, got, want)
		}
	}
	if got, _, _ := st.Get(ctx, "aaaaaaaaaaaaaaaa/reconcile"); string(got) != `"a"` {
		t.Errorf("the hub shop's document is not at <id>/reconcile: %q", got)
	}
}
