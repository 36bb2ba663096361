package activate

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/logistos-sync/logistos-sync/internal/shoptest"
	"github.com/logistos-sync/logistos-sync/shared/config"
	"github.com/logistos-sync/logistos-sync/shared/metrics"
	"github.com/logistos-sync/logistos-sync/shared/shop"
	"github.com/logistos-sync/logistos-sync/shared/state"
	"github.com/logistos-sync/logistos-sync/shared/wooapi"
	"github.com/logistos-sync/logistos-sync/shared/wookey"
)

// countingShop is keyShop counting the requests it receives.
func countingShop(t *testing.T) (string, *atomic.Int64) {
	t.Helper()
	inner, _ := url.Parse(keyShop(t))
	proxy := httputil.NewSingleHostReverseProxy(inner)
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL, &n
}

// hubHandler is a hub's handler (STORE_URL empty) with its shops in memory.
func hubHandler(t *testing.T) (*Handler, *shop.Memory, *poster) {
	t.Helper()
	h, _ := handler(t, 0, 0)
	h.StoreURL = ""
	h.Shop = &wooapi.Client{HTTP: wooapi.NewHTTPClient(true), RetryDelay: func(int, time.Duration) time.Duration { return 0 }}
	h.Keys = nil
	shops, lg := shop.NewMemory(), &poster{}
	h.Shops, h.Logistos, h.Metrics = shops, lg, metrics.New(io.Discard, "test")
	h.Pending = wookey.Pending{States: &state.MemoryOnce{}}
	h.WebhookURL = "https://hooks.example/woocommerce/webhook"
	h.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	return h, shops, lg
}

// connected leaves a key pending for the shop at boundTo, as connect does.
func connected(t *testing.T, h *Handler, st, key, boundTo string) string {
	t.Helper()
	ctx := context.Background()
	if err := h.Pending.Await(ctx, st, boundTo, time.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	ref, _, err := h.Pending.Arrive(ctx, st, wookey.PendingKey{Key: wooapi.Key{ConsumerKey: key, ConsumerSecret: "cs_" + key[3:]},
		ArrivedAt: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	return ref
}

// TestHubPendingKeyActivatesOnlyItsShop: a key pending for shop A never
// activates shop B, whatever the event says: it is not read for B (B, not
// connected, stays so), neither shop is called, nothing is recorded or
// handed over, and the key stays pending for A, whose own activation then
// proves it.
func TestHubPendingKeyActivatesOnlyItsShop(t *testing.T) {
	urlA, callsA := countingShop(t)
	urlB, callsB := countingShop(t)
	a, _ := shop.Normalize(urlA)
	b, _ := shop.Normalize(urlB)
	cases := []struct {
		name    string
		boundTo string
	}{
		{"bound to another shop", a},
		{"bound to no shop", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h, shops, lg := hubHandler(t)
			ctx := context.Background()
			ref := connected(t, h, "state-"+c.name, "ck_good", c.boundTo)
			beforeA, beforeB := callsA.Load(), callsB.Load()
			rep, err := h.Handle(ctx, Event{StoreURL: b, PendingKey: ref})
			if err != nil || rep.Outcome != OutcomeNotConnected || rep.Key == nil || rep.Key.Outcome != KeyNotPending {
				t.Fatalf("a key pending for %q, run for %s: %v, outcome %q, key %+v", c.boundTo, b, err, rep.Outcome, rep.Key)
			}
			if callsA.Load() != beforeA || callsB.Load() != beforeB {
				t.Errorf("the shops were called (%d, %d requests)", callsA.Load()-beforeA, callsB.Load()-beforeB)
			}
			if list, _ := shops.List(ctx); len(list) != 0 || len(lg.sent) != 0 || rep.Handoff != nil || rep.Webhook != nil || rep.Backfill != nil {
				t.Errorf("shops recorded %+v, handed over %+v, report %+v", list, lg.sent, rep)
			}
			if _, err := h.Pending.Get(ctx, ref, c.boundTo); err != nil {
				t.Errorf("the key no longer pending: %v", err)
			}
			if c.boundTo == "" {
				return
			}
			// Its own shop's activation proves it.
			rep, err = h.Handle(ctx, Event{StoreURL: a, PendingKey: ref, Steps: []string{StepHandoff}})
			if err != nil || rep.Key.Outcome != KeyProven || len(lg.sent) != 1 || lg.sent[0].StoreURL != a {
				t.Fatalf("A's activation: %v %+v, handed over %+v", err, rep.Key, lg.sent)
			}
		})
	}
}

// TestHubAdoptsTheKeyForItsShop: a proven key is the shop's, in the shops
// store with a fresh webhook secret of letters and digits; the shop is
// connected; a reconnect rotates the secret.
func TestHubAdoptsTheKeyForItsShop(t *testing.T) {
	h, shops, lg := hubHandler(t)
	ctx := context.Background()
	raw := keyShop(t)
	u, _ := shop.Normalize(raw)
	id := shop.ID(u)
	ref := connected(t, h, "s1", "ck_good", u)
	rep, err := h.Handle(ctx, Event{StoreURL: raw + "/", PendingKey: ref, Steps: []string{StepHandoff}})
	if err != nil || rep.Key.Outcome != KeyProven {
		t.Fatalf("%v %+v", err, rep.Key)
	}
	rec, err := shops.Get(ctx, id)
	if err != nil || rec.URL != u || rec.Status != shop.Connected || rec.ConnectedAt.IsZero() {
		t.Fatalf("shop record %+v %v", rec, err)
	}
	sec, _ := shops.Secrets(ctx, id)
	if sec.ConsumerKey != "ck_good" || sec.ConsumerSecret != "cs_good" || len(sec.WebhookSecret) != WebhookSecretLength ||
		strings.Trim(sec.WebhookSecret, secretAlphabet) != "" {
		t.Fatalf("secrets: key %q, webhook secret of %d characters", sec.ConsumerKey, len(sec.WebhookSecret))
	}
	if len(lg.sent) != 1 || lg.sent[0].StoreURL != u {
		t.Errorf("handed over %+v", lg.sent)
	}
	// Later runs use the stored key; a reconnect rotates the secret.
	if rep, err := h.Handle(ctx, Event{StoreURL: u, Steps: []string{StepHandoff}}); err != nil || rep.Handoff.Outcome != OutcomeAlreadyDone {
		t.Fatalf("re-run: %v %+v", err, rep.Handoff)
	}
	ref = connected(t, h, "s2", "ck_good", u)
	if _, err := h.Handle(ctx, Event{StoreURL: u, PendingKey: ref, Steps: []string{StepHandoff}}); err != nil {
		t.Fatal(err)
	}
	again, _ := shops.Secrets(ctx, id)
	if again.WebhookSecret == sec.WebhookSecret || len(again.WebhookSecret) != WebhookSecretLength {
		t.Error("a reconnect kept the webhook secret")
	}
	// Until the webhook step gives the shop the new secret, the old one
	// still signs its deliveries: kept as the previous.
	if again.PreviousWebhookSecret != sec.WebhookSecret {
		t.Error("a reconnect dropped the secret the shop still signs with")
	}
}

// TestHubShopNotConnected: a hub shop without a key is not connected (no
// error), and the detail names the connect URL for that shop.
func TestHubShopNotConnected(t *testing.T) {
	h, _, _ := hubHandler(t)
	rep, err := h.Handle(context.Background(), Event{StoreURL: "https://shop.example"})
	if err != nil || rep.Outcome != OutcomeNotConnected ||
		!strings.Contains(rep.Detail, "https://hooks.example/woocommerce/connect?store_url=https%3A%2F%2Fshop.example") {
		t.Fatalf("%v %q %q", err, rep.Outcome, rep.Detail)
	}
}

// TestEventShop: which shop an event is for. A hub requires a valid
// store_url; a home-shop stack takes none or its own, and refuses others.
// A refused event does nothing.
func TestEventShop(t *testing.T) {
	const home = "https://home.example/shop"
	cases := []struct {
		hub      bool
		storeURL string
		wantErr  string // "" accepted
		wantURL  string
	}{
		{hub: true, storeURL: "", wantErr: `must name the shop to activate in "store_url"`},
		{hub: true, storeURL: "ftp://shop.example", wantErr: "store_url: "},
		{hub: true, storeURL: "http://shop.example", wantErr: "store_url: "},
		{hub: true, storeURL: "https://shop.example/?x=1", wantErr: "store_url: "},
		{hub: true, storeURL: "https://user:pw@shop.example", wantErr: "store_url: "},
		{hub: true, storeURL: "https://user:pw@shop.example/%zz", wantErr: "store_url: the shop's address is not a URL"},
		{hub: false, storeURL: "https://user:pw@other.example", wantErr: "serves only its home shop"},
		{hub: true, storeURL: "HTTPS://Shop.Example:443/", wantURL: "https://shop.example"},
		{hub: true, storeURL: "shop.example", wantURL: "https://shop.example"},
		{hub: false, storeURL: "", wantURL: home},
		{hub: false, storeURL: home, wantURL: home},
		{hub: false, storeURL: "https://HOME.example/shop/", wantURL: home},
		{hub: false, storeURL: "https://other.example", wantErr: "serves only its home shop"},
		{hub: false, storeURL: "https://home.example/other", wantErr: "serves only its home shop"},
		{hub: false, storeURL: "not a url at all", wantErr: "serves only its home shop"},
	}
	for _, c := range cases {
		h, _, lg := hubHandler(t)
		if !c.hub {
			h.StoreURL, h.Keys = home, wookey.Static{ConsumerKey: "ck_good", ConsumerSecret: "cs_good"}
		}
		got, err := h.forShop(Event{StoreURL: c.storeURL})
		switch {
		case c.wantErr == "" && (err != nil || got.StoreURL != c.wantURL):
			t.Errorf("hub %v, %q: %v, serves %q; want %q", c.hub, c.storeURL, err, got.StoreURL, c.wantURL)
		case c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr) || strings.Contains(err.Error(), "pw@")):
			t.Errorf("hub %v, %q: %v; want an error with %q", c.hub, c.storeURL, err, c.wantErr)
		case c.wantErr != "":
			rep, err := h.Handle(context.Background(), Event{StoreURL: c.storeURL})
			if err == nil || !strings.Contains(err.Error(), "bad event") || rep.Key != nil || rep.Handoff != nil || len(lg.sent) != 0 {
				t.Errorf("hub %v, %q: ran: %v %+v", c.hub, c.storeURL, err, rep)
			}
		}
		if c.hub && c.wantErr == "" && (got.shopID != shop.ID(c.wantURL) || got.WebhookURL != h.WebhookURL+"/"+shop.ID(c.wantURL)) {
			t.Errorf("%q: shop %q, webhook URL %q", c.storeURL, got.shopID, got.WebhookURL)
		}
	}
}

// TestHubStateIsPerShop: a hub shop's documents are its own
// (shop.Scoped), the home shop's keep their names.
func TestHubStateIsPerShop(t *testing.T) {
	h, _, _ := hubHandler(t)
	mem := h.State
	a, _ := h.forShop(Event{StoreURL: "https://a.example"})
	b, _ := h.forShop(Event{StoreURL: "https://b.example"})
	ctx := context.Background()
	if _, err := a.State.Put(ctx, state.BackfillID, []byte(`{"a":1}`), 0); err != nil {
		t.Fatal(err)
	}
	if doc, _, _ := b.State.Get(ctx, state.BackfillID); doc != nil {
		t.Errorf("b reads a's checkpoint: %s", doc)
	}
	if doc, _, _ := mem.Get(ctx, shop.Scoped(shop.ID("https://a.example"), state.BackfillID)); doc == nil {
		t.Error("a's checkpoint is not under its scoped name")
	}
	if doc, _, _ := mem.Get(ctx, state.BackfillID); doc != nil {
		t.Error("a's checkpoint took the home shop's name")
	}
	if _, err := NewSecret(); err != nil {
		t.Fatal(err)
	}
	if !errors.Is(func() error { _, err := (shopKeys{shops: shop.NewMemory(), id: "x"}).Key(ctx, false); return err }(), wookey.ErrNoKey) {
		t.Error("an unknown shop has a key")
	}
}

// A hub's shop clients are guarded as the home shop's: a shop on loopback
// is refused at dial time unless private shops are allowed.
func TestNewGuardsAHubsShops(t *testing.T) {
	srv := shoptest.Start(t)
	for _, allow := range []bool{false, true} {
		cfg := config.Activate{WebhookSecret: config.Secret{Literal: "s"}, WebhookURL: "https://hooks.example/woocommerce/webhook", AllowPrivateShops: allow}
		h, err := New(cfg, aws.Config{Region: "eu-west-1"}, slog.New(slog.DiscardHandler), metrics.New(io.Discard, ""))
		if err != nil {
			t.Fatal(err)
		}
		if h.Shops == nil {
			t.Fatal("a hub without its shops store")
		}
		sh, err := h.forShop(Event{StoreURL: srv.URL})
		if err != nil {
			t.Fatal(err)
		}
		srv.Guarded(t, allow, sh.Shop.CheckKey)
	}
}

// TestHubDryRun: a dry run for a shop connecting through a hub proves the
// key and plans every step, but records no shop, stores no secret, hands
// nothing over and leaves the key pending.
func TestHubDryRun(t *testing.T) {
	h, shops, lg := hubHandler(t)
	ctx := context.Background()
	u, _ := shop.Normalize(keyShop(t))
	ref := connected(t, h, "dry", "ck_good", u)
	rep, err := h.Handle(ctx, Event{StoreURL: u, PendingKey: ref, DryRun: true})
	if err != nil || rep.Key.Outcome != KeyWouldAdopt || rep.Handoff.Outcome != OutcomeWouldDo || rep.Webhook.Outcome != OutcomeWouldDo ||
		rep.Backfill.Outcome != OutcomeWouldDo || rep.Webhook.DeliveryURL != h.WebhookURL+"/"+shop.ID(u) {
		t.Fatalf("%v key %+v handoff %+v webhook %+v backfill %+v", err, rep.Key, rep.Handoff, rep.Webhook, rep.Backfill)
	}
	if list, _ := shops.List(ctx); len(list) != 0 || len(lg.sent) != 0 {
		t.Errorf("a dry run recorded %+v, handed over %+v", list, lg.sent)
	}
	if _, err := h.Pending.Get(ctx, ref, u); err != nil {
		t.Errorf("a dry run took the key: %v", err)
	}
}

// TestHubContinuationNamesItsShop: a hub's continuation carries its
// shop; one without is refused like any hub event without store_url.
func TestHubContinuationNamesItsShop(t *testing.T) {
	h, _, _ := hubHandler(t)
	_, err := h.Handle(context.Background(), Event{Steps: []string{StepBackfill}, RunID: "r", Continuation: true})
	if err == nil || !strings.Contains(err.Error(), "store_url") {
		t.Errorf("a hub continuation without store_url: %v", err)
	}
	sh, err := h.forShop(Event{StoreURL: "https://a.example"})
	if err != nil || sh.continuationShop() != "https://a.example" {
		t.Errorf("%v %q", err, sh.continuationShop())
	}
	home, _ := handler(t, 0, 0)
	if home.continuationShop() != "" {
		t.Error("a home-shop continuation names a shop")
	}
}
