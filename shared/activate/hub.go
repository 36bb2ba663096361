package activate

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net/url"

	"github.com/logistos-sync/logistos-sync/shared/ledger"
	"github.com/logistos-sync/logistos-sync/shared/logistos"
	"github.com/logistos-sync/logistos-sync/shared/metrics"
	"github.com/logistos-sync/logistos-sync/shared/shop"
	"github.com/logistos-sync/logistos-sync/shared/state"
	"github.com/logistos-sync/logistos-sync/shared/wooapi"
	"github.com/logistos-sync/logistos-sync/shared/wookey"
)

// Activation in a hub (STORE_URL empty): the event names the shop
// (Event.StoreURL), and the run works on a copy of the handler scoped to
// that shop (forShop). Its key and webhook secret come from the shops
// store, its state documents are named shop.Scoped(id, ...), its ledger
// entries are ledger.For(..., id), its webhook delivers to WEBHOOK_URL/id,
// and its backfill's messages name it as their source. Every step then
// runs unchanged: nothing in them can reach another shop's key, secret,
// checkpoint or ledger. A home-shop stack runs the handler as built.

// WebhookSecretLength is the length of a hub shop's webhook secret: 64
// letters and digits, as the template's WebhookSecret, because WooCommerce
// sanitises a webhook's secret as text and could alter other characters.
const WebhookSecretLength = 64

const secretAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// NewSecret returns a fresh webhook secret: WebhookSecretLength characters
// drawn uniformly from letters and digits by crypto/rand (about 381 bits).
func NewSecret() (string, error) {
	b := make([]byte, WebhookSecretLength)
	n := big.NewInt(int64(len(secretAlphabet)))
	for i := range b {
		j, err := rand.Int(rand.Reader, n)
		if err != nil {
			return "", fmt.Errorf("generate a webhook secret: %w", err)
		}
		b[i] = secretAlphabet[j.Int64()]
	}
	return string(b), nil
}

// hub reports whether this stack is a hub: no home shop (STORE_URL
// empty), or a copy scoped to one of its shops.
func (h *Handler) hub() bool { return h.StoreURL == "" || h.shopID != "" }

// forShop checks which shop ev is for and returns the handler that serves
// it: h itself for the home shop, a copy scoped to the shop in a hub.
func (h *Handler) forShop(ev Event) (*Handler, error) {
	if h.StoreURL != "" {
		if ev.StoreURL != "" && !sameShop(ev.StoreURL, h.StoreURL) {
			// The address is not quoted: it may carry a password in its
			// user info, and the error is logged with the report.
			return nil, fmt.Errorf("this stack serves only its home shop %s (STORE_URL); the event's store_url names another shop", h.StoreURL)
		}
		return h, nil
	}
	if ev.StoreURL == "" {
		return nil, errors.New(`this stack is a hub (STORE_URL is empty): the event must name the shop to activate in "store_url"`)
	}
	u, err := shop.Normalize(ev.StoreURL)
	if err != nil {
		if ue := (*url.Error)(nil); errors.As(err, &ue) {
			// url.Parse quotes the address, which may carry a password.
			err = fmt.Errorf("the shop's address is not a URL: %w", ue.Err)
		}
		return nil, fmt.Errorf("store_url: %w", err)
	}
	if h.Shops == nil {
		return nil, errors.New("a hub's activation needs the shops store (SHOPS_TABLE)")
	}
	return h.scoped(u, shop.ID(u))
}

// sameShop reports whether a and b are the same shop's URL, compared
// normalised (case of the host, a trailing slash, a default port); two
// URLs that do not normalise are compared as written.
func sameShop(a, b string) bool {
	na, erra := shop.Normalize(a)
	nb, errb := shop.Normalize(b)
	if erra != nil || errb != nil {
		return logistos.StoreURL(a) == logistos.StoreURL(b)
	}
	return na == nb
}

// scoped is a copy of h serving the hub's shop id at the normalised URL u.
func (h *Handler) scoped(u, id string) (*Handler, error) {
	client, err := wooapi.NewClient(h.Shop.HTTP, u, wooapi.Key{})
	if err != nil {
		return nil, fmt.Errorf("store_url: %w", err)
	}
	client.RetryDelay = h.Shop.RetryDelay
	cp := *h
	cp.shopID = id
	cp.StoreURL = u
	cp.Shop = client
	cp.Keys = shopKeys{shops: h.Shops, id: id}
	cp.KeyStore = nil // a hub's proven key goes to the shops store (adoptInHub)
	cp.WebhookSecret = shop.WebhookSecret{Store: h.Shops, ID: id}
	cp.WebhookURL = h.WebhookURL + "/" + id
	cp.State = state.ForShop(h.State, id)
	if h.Ledger != nil {
		rec := *h.Ledger
		rec.Store = ledger.For(h.Ledger.Store, id)
		cp.Ledger = &rec
	}
	return &cp, nil
}

// baseWebhookURL is WEBHOOK_URL as configured: a scoped handler's
// WebhookURL ends in its shop's id.
func (h *Handler) baseWebhookURL() string {
	if h.shopID == "" {
		return h.WebhookURL
	}
	return h.WebhookURL[:len(h.WebhookURL)-len(h.shopID)-1]
}

// notConnected says what to do when the shop has no key yet.
func (h *Handler) notConnected() string {
	if !h.hub() {
		return wookey.NotConnected(h.WebhookURL)
	}
	connect := wookey.ConnectURL(h.baseWebhookURL()) + "?store_url=" + url.QueryEscape(h.StoreURL)
	return "the shop " + h.StoreURL + " is not connected to this hub (no working REST API key): open " + connect +
		" in a browser logged in to the shop's WP admin and click Approve; activation then runs by itself"
}

// boundShop is the shop connect's state must have been bound to for its
// key to be read here (wookey.Pending.Get): the hub's shop, or "" for the
// home shop, whose states are bound to nothing. A key pending for one shop
// is never read, checked, stored or handed over by another's activation.
func (h *Handler) boundShop() string {
	if h.hub() {
		return h.StoreURL
	}
	return ""
}

// adoptInHub makes a proven key the hub shop's key in use: the shop is
// recorded, given a fresh webhook secret (a reconnect rotates it; the
// webhook step then sends it to the shop) and its key, and marked
// connected.
func (h *Handler) adoptInHub(ctx context.Context, pk wookey.PendingKey) error {
	now := h.now().UTC()
	rec, err := h.Shops.Get(ctx, h.shopID)
	switch {
	case errors.Is(err, shop.ErrNotFound):
		// Recorded first as pending: the secrets can only be set on a shop
		// that exists, and it is not connected until they are.
		rec = shop.Shop{ID: h.shopID, URL: h.StoreURL, Status: shop.Pending, UpdatedAt: now}
		if err := h.Shops.Put(ctx, rec); err != nil {
			return fmt.Errorf("record the shop: %w", err)
		}
	case err != nil:
		return fmt.Errorf("read the shop's record: %w", err)
	}
	newSecret := h.NewWebhookSecret
	if newSecret == nil {
		newSecret = NewSecret
	}
	hookSecret, err := newSecret()
	if err != nil {
		return err
	}
	sec := shop.Secrets{WebhookSecret: hookSecret, ConsumerKey: pk.ConsumerKey, ConsumerSecret: pk.ConsumerSecret}
	// A reconnect: the shop signs with the old secret until the webhook
	// step sends it the new one, so the webhook still takes the old one
	// until then (retirePrevious).
	if old, err := h.Shops.Secrets(ctx, h.shopID); err == nil && old.WebhookSecret != "" {
		sec.PreviousWebhookSecret = old.WebhookSecret
	}
	if err := h.Shops.SetSecrets(ctx, h.shopID, sec); err != nil {
		return fmt.Errorf("store the shop's key and webhook secret: %w", err)
	}
	rec.URL, rec.Status, rec.ConnectedAt, rec.UpdatedAt = h.StoreURL, shop.Connected, now, now
	if err := h.Shops.Put(ctx, rec); err != nil {
		return fmt.Errorf("mark the shop connected: %w", err)
	}
	return nil
}

// adopt makes the proven pending key pk (under ref) the key in use.
func (h *Handler) adopt(ctx context.Context, log *slog.Logger, pk wookey.PendingKey, ref string) error {
	if h.hub() {
		if err := h.adoptInHub(ctx, pk); err != nil {
			return fmt.Errorf("make the proven key (%s) the shop's key in use: %w; it stays pending: invoke activate with %s again",
				pk.Name(), err, h.pendingEvent(ref))
		}
	} else {
		if h.KeyStore == nil {
			return errors.New("a key that arrived through connect needs the credentials secret (WOO_CREDENTIALS_SECRET_ARN) to be kept in")
		}
		// The reference as the version: a retried run stores the key once.
		if err := h.KeyStore.Put(ctx, pk.Key, ref); err != nil {
			return fmt.Errorf("make the proven key (%s) the key in use: %w; it stays pending: invoke activate with %s again",
				pk.Name(), err, h.pendingEvent(ref))
		}
	}
	if err := h.Pending.Discard(ctx, ref); err != nil {
		// Stored already; the state table's TTL removes the copy.
		log.LogAttrs(ctx, slog.LevelWarn, "proven key not discarded from the state table", slog.String("error", err.Error()))
	}
	// Fresh in this container's cache too, for the continuations.
	if _, err := h.Keys.Key(ctx, true); err != nil {
		log.LogAttrs(ctx, slog.LevelWarn, "key in use not re-read", slog.String("error", err.Error()))
	}
	h.Metrics.Count(metrics.ShopConnected, 1)
	return nil
}

// continuationShop is the store_url a backfill's continuation carries:
// the hub's shop; none for the home shop, whose events never needed one.
func (h *Handler) continuationShop() string {
	if h.hub() {
		return h.StoreURL
	}
	return ""
}

// pendingEvent is the event that retries the pending key ref.
func (h *Handler) pendingEvent(ref string) string {
	if h.hub() {
		return fmt.Sprintf(`{"pending_key":%q,"store_url":%q}`, ref, h.StoreURL)
	}
	return fmt.Sprintf(`{"pending_key":%q}`, ref)
}

// shopKeys is a hub shop's REST key, from the shops store.
type shopKeys struct {
	shops shop.Store
	id    string
}

// Key reads the shop's key; wookey.ErrNoKey when the shop is unknown, has
// no key, or was disconnected. refresh asks a store that caches secrets
// (shop.Refresher) to read them again: a run that is not a continuation
// then uses the key, and sends the webhook secret, that another container
// may have stored since this one cached them.
func (k shopKeys) Key(ctx context.Context, refresh bool) (wooapi.Key, error) {
	if r, ok := k.shops.(shop.Refresher); ok && refresh {
		r.Refresh(k.id)
	}
	rec, err := k.shops.Get(ctx, k.id)
	if errors.Is(err, shop.ErrNotFound) {
		return wooapi.Key{}, wookey.ErrNoKey
	}
	if err != nil {
		return wooapi.Key{}, fmt.Errorf("read the shop's record: %w", err)
	}
	if rec.Status == shop.Disconnected {
		return wooapi.Key{}, fmt.Errorf("%w: the shop was disconnected", wookey.ErrNoKey)
	}
	sec, err := k.shops.Secrets(ctx, k.id)
	if errors.Is(err, shop.ErrNotFound) {
		return wooapi.Key{}, wookey.ErrNoKey
	}
	if err != nil {
		return wooapi.Key{}, fmt.Errorf("read the shop's key: %w", err)
	}
	if sec.ConsumerKey == "" || sec.ConsumerSecret == "" {
		return wooapi.Key{}, wookey.ErrNoKey
	}
	return wooapi.Key{ConsumerKey: sec.ConsumerKey, ConsumerSecret: sec.ConsumerSecret}, nil
}

// retirePrevious stops the webhook taking a hub shop's replaced secret,
// once the webhook step has given the shop the new one. A failure only
// leaves the old secret taken a while longer: logged, not returned.
func (h *Handler) retirePrevious(ctx context.Context, log *slog.Logger) {
	sec, err := h.Shops.Secrets(ctx, h.shopID)
	if err == nil && sec.PreviousWebhookSecret != "" {
		sec.PreviousWebhookSecret = ""
		err = h.Shops.SetSecrets(ctx, h.shopID, sec)
	}
	if err != nil {
		log.LogAttrs(ctx, slog.LevelWarn, "previous webhook secret not retired", slog.String("error", err.Error()))
	}
}

var _ wookey.Source = shopKeys{}
