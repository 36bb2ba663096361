package shop

import (
	"context"
	"errors"
	"testing"
)

func TestNormalize(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"https://Shop.Example/", "https://shop.example"},
		{"shop.example", "https://shop.example"},
		{"  https://shop.example:443/store//  ", "https://shop.example/store"},
		{"https://SHOP.example.:8443/Store/", "https://shop.example:8443/Store"},
		{"http://127.0.0.1:8080/", "http://127.0.0.1:8080"},
		{"http://localhost:80", "http://localhost"},
		{"https://[2001:DB8::1]/", "https://[2001:db8::1]"},
		{"https://[2001:db8::1]:8443", "https://[2001:db8::1]:8443"},
	} {
		got, err := Normalize(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("Normalize(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

func TestNormalizeRefuses(t *testing.T) {
	for _, in := range []string{
		"",
		"http://shop.example",               // plain http off this machine
		"ftp://shop.example",                // not the web
		"https://owner:pw@shop.example",     // user info
		"https://good.example@evil.example", // user info hiding the real host
		"https://shop.example/?p=1",         // query
		"https://shop.example/#top",         // fragment
		"https://shop.example/?",            // empty query
		"https://",                          // no host
		"javascript:alert(1)",               // no host at all
		"https://shop.example/%zz",          // not a URL
	} {
		if got, err := Normalize(in); err == nil {
			t.Errorf("Normalize(%q) = %q, want an error", in, got)
		}
	}
}

func TestID(t *testing.T) {
	a, _ := Normalize("https://Shop.Example/")
	b, _ := Normalize("shop.example")
	if ID(a) != ID(b) {
		t.Fatalf("one shop, two ids: %s %s", ID(a), ID(b))
	}
	if ID(a) == ID("https://other.example") {
		t.Fatal("two shops, one id")
	}
	// Stable for ever: the id is in registered webhook URLs and every key.
	if got := ID("https://shop.example"); got != "6yl2jw2oonj5nngm" {
		t.Fatalf("the id of https://shop.example changed: %s", got)
	}
	if !ValidID(ID(a)) {
		t.Fatalf("ID %q is not ValidID", ID(a))
	}
	for _, bad := range []string{"", "UADZLZKB2WD4YRPC", "uadzlzkb2wd4yrp", "6yl2jw2oonj5nngm0", "../../etc/passwd", "uadzlzkb2wd4yr1c"} {
		if ValidID(bad) {
			t.Errorf("ValidID(%q) = true", bad)
		}
	}
}

func TestMemory(t *testing.T) {
	ctx := context.Background()
	m := NewMemory()
	if _, err := m.Get(ctx, "x"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get of nothing: %v", err)
	}
	if err := m.SetSecrets(ctx, "x", Secrets{WebhookSecret: "s"}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("SetSecrets of no shop: %v", err)
	}
	s := Shop{ID: ID("https://a.example"), URL: "https://a.example", Status: Connected}
	if err := m.Put(ctx, s); err != nil {
		t.Fatal(err)
	}
	if err := m.SetSecrets(ctx, s.ID, Secrets{WebhookSecret: "s"}); err != nil {
		t.Fatal(err)
	}
	s.Status = Disconnected
	_ = m.Put(ctx, s)
	if sec, _ := m.Secrets(ctx, s.ID); sec.WebhookSecret != "s" {
		t.Fatalf("Put dropped the secrets: %+v", sec)
	}
	if got, _ := m.Get(ctx, s.ID); got.Status != Disconnected {
		t.Fatalf("Get = %+v", got)
	}
	if l, _ := m.List(ctx); len(l) != 1 {
		t.Fatalf("List = %v", l)
	}
}

func TestScoped(t *testing.T) {
	if got := Scoped("", "reconcile"); got != "reconcile" {
		t.Errorf("the home shop's document moved: %q", got)
	}
	if got := Scoped("6yl2jw2oonj5nngm", "reconcile"); got != "6yl2jw2oonj5nngm/reconcile" {
		t.Errorf("Scoped = %q", got)
	}
}

func TestWebhookSecret(t *testing.T) {
	ctx := context.Background()
	m := NewMemory()
	s := Shop{ID: ID("https://a.example"), URL: "https://a.example", Status: Connected}
	_ = m.Put(ctx, s)
	w := WebhookSecret{Store: m, ID: s.ID}
	if _, err := w.Values(ctx); !errors.Is(err, ErrNoWebhookSecret) {
		t.Fatalf("no secret yet: %v", err)
	}
	_ = m.SetSecrets(ctx, s.ID, Secrets{WebhookSecret: "new", PreviousWebhookSecret: "old"})
	if v, err := w.Values(ctx); err != nil || len(v) != 2 || string(v[0]) != "new" || string(v[1]) != "old" {
		t.Fatalf("Values = %q, %v; want the current, then the previous", v, err)
	}
	if w.Refresh(ctx) {
		t.Error("a store that does not cache refreshed")
	}
}
