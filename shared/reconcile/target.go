package reconcile

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/logistos-sync/logistos-sync/shared/ledger"
	"github.com/logistos-sync/logistos-sync/shared/queue"
	"github.com/logistos-sync/logistos-sync/shared/secret"
	"github.com/logistos-sync/logistos-sync/shared/shop"
	"github.com/logistos-sync/logistos-sync/shared/state"
	"github.com/logistos-sync/logistos-sync/shared/wooapi"
	"github.com/logistos-sync/logistos-sync/shared/wookey"
)

// ErrUnknownShop means a sweep was asked for a shop this stack does not
// serve: another shop than a single-shop stack's home shop, or one a hub
// has never connected.
var ErrUnknownShop = errors.New("this stack does not serve that shop")

// target is the shop one sweep works on, and everything of the stack's
// that is that shop's: a sweep is a function of it, never of the stack's
// configuration, so that in a hub nothing of one shop reaches another's
// sweep. The home shop of a single-shop stack is id "" with the stack's
// own key and secret sources, documents and ledger.
type target struct {
	// id is the shop's id ("" for the home shop): it scopes the state
	// documents and the ledger.
	id string
	// hub: a shop of a hub, kept in Handler.Shops (counted for disconnect).
	hub  bool
	shop shop.Shop // hub only
	// url is the shop's URL as messages name it (wc-source).
	url  string
	base *wooapi.Client // the shop's client, without a key
	keys wookey.Source
	// hookURL is the shop's webhook delivery URL, signed with hookSecret.
	hookURL    string
	hookSecret secret.Source
	state      state.Store // the shop's documents (Scoped)
	ledger     ledger.Store
	queue      queue.BatchSender // records in ledger what SQS accepted
}

// home is the single-shop stack's shop, as it has always been swept.
func (h *Handler) home() *target {
	return &target{url: h.StoreURL, base: h.Shop, keys: h.Keys, hookURL: h.WebhookURL, hookSecret: h.WebhookSecret,
		state: h.State, ledger: h.Ledger, queue: h.Queue}
}

// resolve finds the shop a sweep of storeURL works on. A single-shop stack
// sweeps its home shop ("" or its own URL) and no other; a hub sweeps only
// a shop it knows (ok false, with the shop, when it is not connected).
func (h *Handler) resolve(ctx context.Context, storeURL string) (t *target, ok bool, err error) {
	if h.Shops == nil {
		if storeURL != "" && !sameShop(storeURL, h.StoreURL) {
			return nil, false, fmt.Errorf("%w: it sweeps its home shop only", ErrUnknownShop)
		}
		return h.home(), true, nil
	}
	if storeURL == "" {
		return nil, false, fmt.Errorf("%w: a hub sweeps a shop by its store_url", ErrUnknownShop)
	}
	u, err := shop.Normalize(storeURL)
	if err != nil {
		return nil, false, fmt.Errorf("%w: %v", ErrUnknownShop, err)
	}
	s, err := h.Shops.Get(ctx, shop.ID(u))
	if errors.Is(err, shop.ErrNotFound) {
		return nil, false, fmt.Errorf("%w: it has never connected", ErrUnknownShop)
	}
	if err != nil {
		return nil, false, fmt.Errorf("read shop %s: %w", shop.ID(u), err)
	}
	t = &target{id: s.ID, hub: true, shop: s, url: s.URL, hookURL: h.WebhookURL + "/" + s.ID}
	if s.Status != shop.Connected {
		return t, false, nil
	}
	sec, err := h.Shops.Secrets(ctx, s.ID)
	if err != nil {
		return nil, false, fmt.Errorf("read shop %s's secrets: %w", s.ID, err)
	}
	if t.base, err = wooapi.NewClient(h.HTTP, s.URL, wooapi.Key{}); err != nil {
		return nil, false, err
	}
	t.keys = hubKey{sec}
	t.hookSecret = secret.Literal(sec.WebhookSecret)
	t.state = state.ForShop(h.State, s.ID)
	t.ledger = ledger.For(h.Ledger, s.ID)
	if t.queue, err = h.queueFor(t.ledger); err != nil {
		return nil, false, err
	}
	return t, true, nil
}

// sameShop reports whether two URLs name one shop.
func sameShop(a, b string) bool {
	na, err1 := shop.Normalize(a)
	nb, err2 := shop.Normalize(b)
	return err1 == nil && err2 == nil && na == nb
}

// queueFor is Handler.Queue recording in l, one shop's ledger: a hub shop's
// recovered orders must be recorded in its own part of the ledger, or its
// next sweep (and the webhook's dedup) would look for them in the wrong one.
func (h *Handler) queueFor(l ledger.Store) (queue.BatchSender, error) {
	rs, ok := h.Queue.(*ledger.RecordingSender)
	if !ok || rs.Recorder == nil {
		return nil, errors.New("a hub's orders queue must record in the ledger (ledger.RecordingSender)")
	}
	cp, rec := *rs, *rs.Recorder
	rec.Store = l
	cp.Recorder = &rec
	return &cp, nil
}

// hubKey is a hub shop's REST key, from the shops table: no key yet is
// wookey.ErrNoKey, as for the home shop.
type hubKey struct{ sec shop.Secrets }

// Key returns the shop's key.
func (k hubKey) Key(context.Context, bool) (wooapi.Key, error) {
	if k.sec.ConsumerKey == "" || k.sec.ConsumerSecret == "" {
		return wooapi.Key{}, wookey.ErrNoKey
	}
	return wooapi.Key{ConsumerKey: k.sec.ConsumerKey, ConsumerSecret: k.sec.ConsumerSecret}, nil
}

// LastSweep is what a shop's last sweep left in its reconcile document,
// for the operator's view of a hub (shared/fleet).
type LastSweep struct {
	At time.Time // when it started; zero: never swept
	// Outcome is how it ended: OutcomeDone or OutcomeFailed (the reconcile
	// log's report says why); "" before sweeps recorded it.
	Outcome string
	// Unauthorized is the sweeps in a row the shop refused its key (401);
	// the shop is disconnected at DisconnectAfter.
	Unauthorized int
}

// ReadLastSweep reads what shop id's last sweep left ("" for a single-shop
// stack's shop). A shop never swept has the zero LastSweep.
func ReadLastSweep(ctx context.Context, st state.Store, id string) (LastSweep, error) {
	raw, _, err := state.ForShop(st, id).Get(ctx, StateID)
	if err != nil || raw == nil {
		return LastSweep{}, err
	}
	var d doc
	if err := json.Unmarshal(raw, &d); err != nil {
		return LastSweep{}, fmt.Errorf("shop %s's reconcile document is unreadable: %w", id, err)
	}
	return LastSweep{At: d.LastRun, Outcome: d.LastOutcome, Unauthorized: d.Unauthorized}, nil
}
