//go:build linux

package e2e

import (
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/logistos-sync/logistos-sync/local/fakewoo"
	"github.com/logistos-sync/logistos-sync/local/stack"
	"github.com/logistos-sync/logistos-sync/shared/ledger"
	"github.com/logistos-sync/logistos-sync/shared/queue"
	"github.com/logistos-sync/logistos-sync/shared/shop"
	"github.com/logistos-sync/logistos-sync/shared/shops"
	"github.com/logistos-sync/logistos-sync/shared/state"
)

// The shops binary, built from the root module as `make shops` runs it,
// against a local hub: two shops in its shops table (secrets sealed under
// its KMS key), A a stand-in WooCommerce with its webhook to the hub. It
// lists both with their health, shows A with its webhook as the shop
// reports it, and disconnects A: A's webhook removed from the shop, A's
// keys forgotten, B untouched.
func TestShopsBinary(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), redriveTimeout)
	defer cancel()
	bin := filepath.Join(t.TempDir(), "shops")
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/shops")
	build.Dir = rie.Root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/shops: %v\n%s", err, out)
	}
	st := fork(t, stack.Options{Hub: true, Tables: true})
	woo := fakewoo.Start(fakewoo.Options{})
	t.Cleanup(woo.Close)
	const hubURL = "https://hub.example/woocommerce/webhook"
	a, b := shop.Shop{URL: woo.URL, ID: shop.ID(woo.URL)}, shop.Shop{URL: "https://b.example", ID: shop.ID("https://b.example")}
	at := time.Date(2026, 12, 4, 9, 30, 0, 0, time.UTC)
	store := shops.Open(st.DynamoDB, st.KMS, st.ShopsTable, st.ShopsKeyID)
	for _, s := range []shop.Shop{a, b} {
		s.Status, s.ConnectedAt = shop.Connected, at
		if err := store.Put(ctx, s); err != nil {
			t.Fatal(err)
		}
		if err := store.SetSecrets(ctx, s.ID, shop.Secrets{WebhookSecret: "w", ConsumerKey: fakewoo.Key, ConsumerSecret: fakewoo.Secret}); err != nil {
			t.Fatal(err)
		}
	}
	hook := woo.AddWebhook(fakewoo.Webhook{Status: "active", Topic: "order.created", DeliveryURL: hubURL + "/" + a.ID, Secret: "w"})
	woo.AddWebhook(fakewoo.Webhook{Status: "active", Topic: "order.created", DeliveryURL: "https://elsewhere.example/hook"})
	hub := &ledger.DynamoDB{Client: st.DynamoDB, Table: st.LedgerTable}
	if err := ledger.For(hub, a.ID).Put(ctx, []ledger.Entry{{OrderID: 7, Origin: queue.OriginWebhook, ReceivedAt: at}}); err != nil {
		t.Fatal(err)
	}
	if _, err := state.ForShop(state.Open(st.DynamoDB, st.StateTable), a.ID).Put(ctx, "reconcile",
		[]byte(`{"mark":"2026-12-04T09:45:00Z","owner":"","lease_until":"0001-01-01T00:00:00Z","last_run":"2026-12-04T10:00:00Z","unauthorized":1,"last_outcome":"failed"}`), 0); err != nil {
		t.Fatal(err)
	}

	env := []string{"HOME=" + t.TempDir(), "AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null", "ALLOW_PRIVATE_SHOPS=true",
		"SHOPS_TABLE=" + st.ShopsTable, "SHOPS_KEY_ID=" + st.ShopsKeyID, "STATE_TABLE=" + st.StateTable,
		"LEDGER_TABLE=" + st.LedgerTable, "WEBHOOK_URL=" + hubURL}
	for k, v := range st.Env() {
		env = append(env, k+"="+v)
	}
	shopsCmd := func(args ...string) string {
		t.Helper()
		cmd := exec.CommandContext(ctx, bin, args...)
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("shops %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	lineOf := func(out, url string) string {
		for _, l := range strings.Split(out, "\n") {
			if strings.HasPrefix(l, url+" ") {
				return l
			}
		}
		t.Fatalf("no line for %s in:\n%s", url, out)
		return ""
	}

	out := shopsCmd("-waiting-queue-url", st.WaitingQueueURL, "list")
	if !strings.Contains(out, "0 orders wait for Logistos") {
		t.Errorf("list does not say how many orders wait:\n%s", out)
	}
	if l := lineOf(out, a.URL); !strings.Contains(l, "connected") || !strings.Contains(l, "#7 at 2026-12-04 09:30Z") ||
		!strings.Contains(l, "2026-12-04 10:00Z failed (key refused 1 in a row)") {
		t.Errorf("A's line: %q", l)
	}
	if l := lineOf(out, b.URL); !strings.Contains(l, "connected") || !strings.Contains(l, "none kept") || !strings.Contains(l, "never") {
		t.Errorf("B's line: %q", l)
	}
	if out := shopsCmd("show", a.ID); !strings.Contains(out, "order.created active") || strings.Contains(out, fakewoo.Secret) {
		t.Errorf("show A:\n%s", out)
	}
	out = shopsCmd("-yes", "disconnect", a.URL)
	if !strings.Contains(out, "is disconnected") || !strings.Contains(out, "Removed its webhooks to this hub: [1]") {
		t.Errorf("disconnect A:\n%s", out)
	}
	for _, w := range woo.Webhooks() {
		if w.ID == hook {
			t.Errorf("A's webhook to the hub is still at the shop: %+v", w)
		}
	}
	if len(woo.Webhooks()) != 1 {
		t.Errorf("the shop's other webhook was removed too: %+v", woo.Webhooks())
	}
	if l := lineOf(shopsCmd("list"), a.URL); !strings.Contains(l, "disconnected") {
		t.Errorf("A after disconnecting: %q", l)
	}
	// A fresh store: this one caches the secrets it sealed.
	if sec, err := shops.Open(st.DynamoDB, st.KMS, st.ShopsTable, st.ShopsKeyID).Secrets(ctx, a.ID); err != nil || sec != (shop.Secrets{}) {
		t.Errorf("A's secrets after disconnecting: kept=%v err=%v", sec != (shop.Secrets{}), err)
	}
	if s, _ := store.Get(ctx, b.ID); s.Status != shop.Connected {
		t.Errorf("B is %s", s.Status)
	}
}
