package wookey

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/logistos-sync/logistos-sync/shared/secret"
	"github.com/logistos-sync/logistos-sync/shared/state"
	"github.com/logistos-sync/logistos-sync/shared/wooapi"
)

func TestSecret(t *testing.T) {
	k, err := Secret{Source: secret.Literal(`{"consumer_key":"ck_a","consumer_secret":"cs_b"}`)}.Key(context.Background(), true)
	if err != nil || k.ConsumerKey != "ck_a" || k.ConsumerSecret != "cs_b" {
		t.Fatalf("%+v %v", k, err)
	}
	// Empty or malformed: not connected yet, and the value is never echoed.
	for _, v := range []string{"", "{}", `cs_leaked`} {
		_, err := Secret{Source: secret.Literal(v)}.Key(context.Background(), false)
		if !errors.Is(err, ErrNoKey) || (v != "" && strings.Contains(err.Error(), v) && v != "{}") {
			t.Errorf("%q: %v", v, err)
		}
	}
}

func TestPendingKey(t *testing.T) {
	now := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	p := Pending{States: &state.MemoryOnce{Now: func() time.Time { return now }}}
	ctx := context.Background()
	if err := p.Await(ctx, "st", "", now.Add(30*time.Minute)); err != nil {
		t.Fatal(err)
	}
	k := PendingKey{Key: wooapi.Key{ConsumerKey: "ck_0123456789abcdef", ConsumerSecret: "cs_secret"}, KeyID: 42, ArrivedAt: now}
	ref, shop, err := p.Arrive(ctx, "st", k)
	if err != nil || ref != Ref("st") || len(ref) != 64 || strings.Contains(ref, "st") || shop != "" {
		t.Fatalf("ref %q shop %q, %v", ref, shop, err)
	}
	if _, _, err := p.Arrive(ctx, "st", k); !errors.Is(err, state.ErrSpent) {
		t.Errorf("a second key arrived with one state: %v", err)
	}
	got, err := p.Get(ctx, ref, "")
	if err != nil || got != k {
		t.Fatalf("%+v %v", got, err)
	}
	if n := got.Name(); n != "key_id 42, consumer key ending in 9abcdef" || strings.Contains(n, "cs_") {
		t.Errorf("name %q", n)
	}
	for _, bad := range []string{"", "st", strings.Repeat("g", 64), "../" + ref} {
		if _, err := p.Get(ctx, bad, ""); !errors.Is(err, ErrNoPendingKey) {
			t.Errorf("ref %q: %v", bad, err)
		}
	}
	now = now.Add(PendingTTL - time.Second)
	if _, err := p.Get(ctx, ref, ""); err != nil {
		t.Errorf("gone before PendingTTL: %v", err)
	}
	if err := p.Discard(ctx, ref); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Get(ctx, ref, ""); !errors.Is(err, ErrNoPendingKey) {
		t.Errorf("discarded key still pending: %v", err)
	}
}

// TestPendingKeyIsTheShopsItsStateWasIssuedFor: in a hub, the key that
// arrives with a state is pending for the shop the state was issued for,
// whatever the arriving key claims, and it is read for that shop only.
func TestPendingKeyIsTheShopsItsStateWasIssuedFor(t *testing.T) {
	const shopA, shopB = "https://a.example", "https://b.example"
	cases := []struct {
		name    string
		issued  string // the shop the state was issued for
		claimed string // what the arriving key says (must be ignored)
		readAs  string // the shop activation reads it for
		ok      bool
	}{
		{"hub shop read for itself", shopA, "", shopA, true},
		{"hub shop read for another shop", shopA, "", shopB, false},
		{"hub shop read as the home shop", shopA, "", "", false},
		{"home shop read for a hub shop", "", "", shopA, false},
		{"home shop read for itself", "", "", "", true},
		{"arriving key claims another shop", shopA, shopB, shopB, false},
		{"arriving key claims another shop, read for the state's", shopA, shopB, shopA, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			now := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
			p := Pending{States: &state.MemoryOnce{Now: func() time.Time { return now }}}
			ctx := context.Background()
			if err := p.Await(ctx, "st", c.issued, now.Add(time.Minute)); err != nil {
				t.Fatal(err)
			}
			k := PendingKey{Key: wooapi.Key{ConsumerKey: "ck_a", ConsumerSecret: "cs_a"}, ArrivedAt: now, StoreURL: c.claimed}
			ref, shop, err := p.Arrive(ctx, "st", k)
			if err != nil || shop != c.issued {
				t.Fatalf("arrived for %q, %v; want the state's shop %q", shop, err, c.issued)
			}
			got, err := p.Get(ctx, ref, c.readAs)
			if c.ok != (err == nil) {
				t.Fatalf("read for %q: %+v, %v", c.readAs, got, err)
			}
			if !c.ok && !errors.Is(err, ErrNoPendingKey) {
				t.Errorf("refused with %v, want ErrNoPendingKey", err)
			}
			if c.ok && got.StoreURL != c.issued {
				t.Errorf("key's shop %q, want %q", got.StoreURL, c.issued)
			}
		})
	}
}
