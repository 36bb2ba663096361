package webhook

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/logistos-sync/logistos-sync/shared/ledger"
	"github.com/logistos-sync/logistos-sync/shared/secret"
	"github.com/logistos-sync/logistos-sync/shared/shop"
	"github.com/logistos-sync/logistos-sync/shared/woohook"
)

// hubShops are the shops of the hub tests: two connected, one
// disconnected, one pending (its key not yet proven).
type hubShops struct {
	a, b, gone, pending shop.Shop
}

func hubShop(t *testing.T, store shop.Store, raw string, status shop.Status) shop.Shop {
	t.Helper()
	u, err := shop.Normalize(raw)
	if err != nil {
		t.Fatal(err)
	}
	s := shop.Shop{ID: shop.ID(u), URL: u, Status: status}
	ctx := context.Background()
	if err := store.Put(ctx, s); err != nil {
		t.Fatal(err)
	}
	if err := store.SetSecrets(ctx, s.ID, shop.Secrets{WebhookSecret: "whsec-" + s.ID, ConsumerKey: "ck_x", ConsumerSecret: "cs_x"}); err != nil {
		t.Fatal(err)
	}
	return s
}

// newHubHarness is a hub's webhook (no home shop) with its shops in store.
func newHubHarness(t *testing.T, store shop.Store) (*harness, hubShops) {
	t.Helper()
	hs := newHarness(nil)
	hs.h.Secrets, hs.h.StoreURL, hs.h.Shops = nil, "", store
	return hs, hubShops{
		a:       hubShop(t, store, "https://a.example", shop.Connected),
		b:       hubShop(t, store, "https://b.example/shop", shop.Connected),
		gone:    hubShop(t, store, "https://gone.example", shop.Disconnected),
		pending: hubShop(t, store, "https://pending.example", shop.Pending),
	}
}

// toShop is the captured delivery signed with secret and posted to the
// hub route of shop id, as API Gateway passes it.
func toShop(t *testing.T, id, secret string) events.APIGatewayV2HTTPRequest {
	t.Helper()
	req := capture(t, "order-created-313")
	req.Headers = cloneHeaders(req.Headers)
	req.Headers[woohook.HeaderSignature] = woohook.Sign([]byte(req.Body), []byte(secret))
	req.RouteKey = RouteShop
	req.PathParameters = map[string]string{PathParamShop: id}
	return req
}

func cloneHeaders(h map[string]string) map[string]string {
	out := make(map[string]string, len(h))
	for k, v := range h {
		out[k] = v
	}
	return out
}

func secretOf(s shop.Shop) string { return "whsec-" + s.ID }

// ledgerEntries counts every entry in the hub's ledger, every shop's part
// and the home part.
func ledgerEntries(hs *harness, ids ...string) int {
	n := hs.l.Len()
	for _, id := range ids {
		n += ledger.For(hs.l, id).(*ledger.Memory).Len()
	}
	return n
}

// Shop A's signature on B's URL: refused, nothing queued, nothing recorded.
func TestHubDeliveryForAnotherShopIsRefused(t *testing.T) {
	hs, s := newHubHarness(t, shop.NewMemory())
	resp := hs.do(t, toShop(t, s.b.ID, secretOf(s.a)))
	if resp.StatusCode != 401 || len(hs.q.msgs) != 0 || ledgerEntries(hs, s.a.ID, s.b.ID) != 0 {
		t.Fatalf("A's delivery on B's URL: status %d, %d queued, %d ledger entries; want 401, none, none",
			resp.StatusCode, len(hs.q.msgs), ledgerEntries(hs, s.a.ID, s.b.ID))
	}
	if !strings.Contains(hs.emf.String(), `"SignatureRejected":1`) {
		t.Errorf("not counted as a rejected signature: %s", hs.emf)
	}
}

// Only a connected shop's URL takes deliveries: an unknown id, a malformed
// one, a disconnected or pending shop's are 404, nothing queued, even when
// the delivery is signed with that shop's own secret.
func TestHubUnknownOrUnconnectedShopIs404(t *testing.T) {
	hs, s := newHubHarness(t, shop.NewMemory())
	unknown := shop.ID("https://nobody.example")
	for name, req := range map[string]events.APIGatewayV2HTTPRequest{
		"unknown id":        toShop(t, unknown, "whsec-"+unknown),
		"malformed id":      toShop(t, "../"+s.a.ID, secretOf(s.a)),
		"upper-case id":     toShop(t, strings.ToUpper(s.a.ID), secretOf(s.a)),
		"empty id":          toShop(t, "", secretOf(s.a)),
		"disconnected shop": toShop(t, s.gone.ID, secretOf(s.gone)),
		"pending shop":      toShop(t, s.pending.ID, secretOf(s.pending)),
	} {
		if resp := hs.do(t, req); resp.StatusCode != 404 {
			t.Errorf("%s: status %d, want 404", name, resp.StatusCode)
		}
	}
	if len(hs.q.msgs) != 0 || ledgerEntries(hs, s.a.ID, s.gone.ID, s.pending.ID, unknown) != 0 {
		t.Fatalf("%d queued, want none", len(hs.q.msgs))
	}
	if strings.Contains(hs.logs.String(), secretOf(s.a)) {
		t.Error("a secret reached the log")
	}
}

// A's delivery on A's URL is queued as A's: wc-source is A's registered
// URL whatever the request's header says, and the ledger entry is in A's
// part of the ledger.
func TestHubDeliveryIsTheShops(t *testing.T) {
	hs, s := newHubHarness(t, shop.NewMemory())
	req := toShop(t, s.a.ID, secretOf(s.a))
	req.Headers[woohook.HeaderSource] = s.b.URL + "/"
	resp := hs.do(t, req)
	if resp.StatusCode != 200 || len(hs.q.msgs) != 1 {
		t.Fatalf("status %d %s, %d queued; want 200 and 1", resp.StatusCode, resp.Body, len(hs.q.msgs))
	}
	if got := hs.q.msgs[0].Source; got != s.a.URL {
		t.Errorf("wc-source %q, want A's registered URL %q", got, s.a.URL)
	}
	a, _ := ledger.For(hs.l, s.a.ID).Get(context.Background(), []int64{313})
	if len(a) != 1 || ledgerEntries(hs, s.a.ID, s.b.ID) != 1 {
		t.Errorf("ledger: A's part %v, %d entries in all; want order 313 in A's part only", a, ledgerEntries(hs, s.a.ID, s.b.ID))
	}
	if !strings.Contains(hs.logs.String(), `"shop":"`+s.a.ID+`"`) {
		t.Errorf("the log line does not name the shop: %s", hs.logs)
	}
}

// The same checks run per shop as on the home route: a ping is answered,
// an unsigned delivery counted as such, a topic not forwarded dropped.
func TestHubRunsTheSamePipeline(t *testing.T) {
	hs, s := newHubHarness(t, shop.NewMemory())
	ping := capture(t, "ping")
	ping.RouteKey, ping.PathParameters = RouteShop, map[string]string{PathParamShop: s.a.ID}
	if resp := hs.do(t, ping); resp.StatusCode != 200 || resp.Body != bodyPing {
		t.Errorf("ping: %d %s", resp.StatusCode, resp.Body)
	}
	unsigned := toShop(t, s.a.ID, secretOf(s.a))
	delete(unsigned.Headers, woohook.HeaderSignature)
	if resp := hs.do(t, unsigned); resp.StatusCode != 401 || !strings.Contains(hs.emf.String(), `"SignatureMissing":1`) {
		t.Errorf("unsigned: %d, metrics %s", resp.StatusCode, hs.emf)
	}
	other := toShop(t, s.a.ID, secretOf(s.a))
	other.Headers[woohook.HeaderTopic] = "order.deleted"
	if resp := hs.do(t, other); resp.StatusCode != 200 || resp.Body != bodyIgnored {
		t.Errorf("topic not forwarded: %d %s", resp.StatusCode, resp.Body)
	}
	if len(hs.q.msgs) != 0 {
		t.Errorf("%d queued, want none", len(hs.q.msgs))
	}
}

// In a hub the home route has no shop: 404, whatever the signature.
func TestHubHomeRouteIs404(t *testing.T) {
	hs, s := newHubHarness(t, shop.NewMemory())
	req := capture(t, "order-created-313")
	req.RouteKey = RouteHome
	req.Headers = cloneHeaders(req.Headers)
	req.Headers[woohook.HeaderSignature] = woohook.Sign([]byte(req.Body), []byte(secretOf(s.a)))
	if resp := hs.do(t, req); resp.StatusCode != 404 || len(hs.q.msgs) != 0 {
		t.Fatalf("home route in a hub: %d, %d queued; want 404, none", resp.StatusCode, len(hs.q.msgs))
	}
	if resp := hs.do(t, capture(t, "order-created-313")); resp.StatusCode != 404 {
		t.Fatalf("home route in a hub with its real signature: %d, want 404", resp.StatusCode)
	}
}

// A home-shop stack has no shop routes: 404, even signed with its secret.
func TestHomeStackHasNoShopRoute(t *testing.T) {
	hs := newHarness(nil)
	hs.h.Secrets = secret.Literal(realSecret)
	id := shop.ID("https://shop.example")
	if resp := hs.do(t, toShop(t, id, realSecret)); resp.StatusCode != 404 || len(hs.q.msgs) != 0 {
		t.Fatalf("shop route on a home stack: %d, %d queued; want 404, none", resp.StatusCode, len(hs.q.msgs))
	}
}

// cachingShops holds each shop's secrets as first read until Refresh, as
// shops.DynamoDB does, and counts the refreshes.
type cachingShops struct {
	shop.Store
	mu        sync.Mutex
	cached    map[string]shop.Secrets
	refreshes int
}

func (c *cachingShops) Secrets(ctx context.Context, id string) (shop.Secrets, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if s, ok := c.cached[id]; ok {
		return s, nil
	}
	s, err := c.Store.Secrets(ctx, id)
	if err == nil {
		c.cached[id] = s
	}
	return s, err
}

func (c *cachingShops) Refresh(id string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.refreshes++
	delete(c.cached, id)
	return true
}

// A shop that reconnected has a new webhook secret; a container holding
// the old one reads the shop's secrets again once and takes the delivery.
func TestHubPicksUpARotatedSecret(t *testing.T) {
	mem := shop.NewMemory()
	store := &cachingShops{Store: mem, cached: map[string]shop.Secrets{}}
	hs, s := newHubHarness(t, store)
	ctx := context.Background()
	if resp := hs.do(t, toShop(t, s.a.ID, secretOf(s.a))); resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if err := mem.SetSecrets(ctx, s.a.ID, shop.Secrets{WebhookSecret: "whsec-new"}); err != nil {
		t.Fatal(err)
	}
	if resp := hs.do(t, toShop(t, s.a.ID, "whsec-new")); resp.StatusCode != 200 || store.refreshes != 1 {
		t.Fatalf("after the rotation: status %d, %d refreshes; want 200 after 1", resp.StatusCode, store.refreshes)
	}
	// A bad signature asks once per delivery; the store bounds how often
	// that reads (shops.MinRefreshInterval).
	if resp := hs.do(t, toShop(t, s.a.ID, "whsec-wrong")); resp.StatusCode != 401 || store.refreshes != 2 {
		t.Fatalf("bad signature: status %d, %d refreshes", resp.StatusCode, store.refreshes)
	}
}

// A shop whose secrets cannot be read (KMS or the table down) is 503, so
// WooCommerce's failure is counted and reconcile recovers the order; the
// log says why without a secret.
func TestHubSecretsUnavailable(t *testing.T) {
	hs, s := newHubHarness(t, shop.NewMemory())
	hs.h.Shops = brokenShops{hs.h.Shops}
	a := s.a
	if resp := hs.do(t, toShop(t, a.ID, secretOf(a))); resp.StatusCode != 503 || len(hs.q.msgs) != 0 {
		t.Fatalf("status %d, %d queued; want 503, none", resp.StatusCode, len(hs.q.msgs))
	}
	if !strings.Contains(hs.emf.String(), `"SecretUnavailable":1`) || bytes.Contains(hs.logs.Bytes(), []byte("whsec-")) {
		t.Errorf("metrics %s; logs %s", hs.emf, hs.logs)
	}
}

type brokenShops struct{ shop.Store }

func (brokenShops) Secrets(context.Context, string) (shop.Secrets, error) {
	return shop.Secrets{}, errKMS
}

var errKMS = errorString("shops: the secrets of shop x: AccessDeniedException")

type errorString string

func (e errorString) Error() string { return string(e) }

// Between a shop's reconnect (a new secret stored) and its activation's
// webhook step (the shop told the new secret), the shop still signs with
// the old one: that delivery is taken, not refused, while the store keeps
// the previous secret; once activation retires it, it is refused.
func TestHubTakesThePreviousSecretUntilRetired(t *testing.T) {
	mem := shop.NewMemory()
	hs, s := newHubHarness(t, mem)
	ctx := context.Background()
	old := secretOf(s.a)
	if err := mem.SetSecrets(ctx, s.a.ID, shop.Secrets{WebhookSecret: "whsec-new", PreviousWebhookSecret: old}); err != nil {
		t.Fatal(err)
	}
	for _, sig := range []string{old, "whsec-new"} {
		if resp := hs.do(t, toShop(t, s.a.ID, sig)); resp.StatusCode != 200 {
			t.Fatalf("signed with %q during the switch: status %d, want 200", sig, resp.StatusCode)
		}
	}
	if err := mem.SetSecrets(ctx, s.a.ID, shop.Secrets{WebhookSecret: "whsec-new"}); err != nil {
		t.Fatal(err)
	}
	if resp := hs.do(t, toShop(t, s.a.ID, old)); resp.StatusCode != 401 {
		t.Fatalf("signed with the retired secret: status %d, want 401", resp.StatusCode)
	}
}
