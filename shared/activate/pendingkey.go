package activate

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/logistos-sync/logistos-sync/shared/metrics"
	"github.com/logistos-sync/logistos-sync/shared/wooapi"
	"github.com/logistos-sync/logistos-sync/shared/wookey"
)

// A run started by connect names a pending key (Event.PendingKey): a key
// that arrived with a public state, so possibly a stranger's. It is proven
// against the shop before anything else. A key the shop accepts becomes the
// key in use and the run goes on with every step; a key the shop refuses is
// discarded and the run ends there, the key in use untouched and not handed
// over again. A key that cannot be checked (the shop down) stays pending
// for a later attempt.

// Outcomes of the pending key's check (KeyReport.Outcome).
const (
	KeyProven     = "proven"      // it works: now the key in use
	KeyRejected   = "rejected"    // the shop refused it: discarded
	KeyNotPending = "not_pending" // nothing pending under the reference: the key in use runs
	KeyWouldAdopt = "would_adopt" // dry run: it works, and stays pending
)

// KeyReport says what became of the pending key a run was started for.
type KeyReport struct {
	Outcome string `json:"outcome"`
	// Key names it as WooCommerce lists keys (its id and the consumer
	// key's last characters), never the secret.
	Key    string `json:"key,omitempty"`
	Detail string `json:"detail"`
}

// KeyWriter makes a proven key the key in use (wookey.Writer).
type KeyWriter interface {
	// Put stores k as version (the same version twice stores it once).
	Put(ctx context.Context, k wooapi.Key, version string) error
}

// errKeyRejected ends a run whose pending key the shop refused; not a
// failure of the run.
var errKeyRejected = errors.New("the pending key was refused")

// refused reports whether the shop's answer is about the key itself: an
// unknown key or wrong secret (401), or a key whose user may not read
// orders (403). Anything else (network, 5xx, a page in the way) says
// nothing about the key.
func refused(err error) bool {
	return errors.Is(err, wooapi.ErrWrongKey) || errors.Is(err, wooapi.ErrForbidden)
}

// key returns the key this run uses: the pending key ev names, once proven,
// or else the key in use.
func (h *Handler) key(ctx context.Context, log *slog.Logger, ev Event, rep *Report) (wooapi.Key, error) {
	if ev.PendingKey == "" {
		return h.Keys.Key(ctx, !ev.Continuation)
	}
	rep.Key = &KeyReport{}
	pk, err := h.Pending.Get(ctx, ev.PendingKey, ev.StoreURL)
	if errors.Is(err, wookey.ErrNoPendingKey) {
		// Proven by an earlier attempt of this very event (Lambda retries a
		// failed asynchronous invocation), refused, or expired: whatever
		// key is in use is the one to run with.
		rep.Key.Outcome = KeyNotPending
		rep.Key.Detail = "no key is pending under this reference (already proven or refused, or older than 6 hours); the key in use runs"
		log.LogAttrs(ctx, slog.LevelWarn, "pending key not found", slog.String("pending_key", ev.PendingKey))
		return h.Keys.Key(ctx, true)
	}
	if err != nil {
		return wooapi.Key{}, fmt.Errorf("read the pending key: %w", err)
	}
	rep.Key.Key = pk.Name()
	if err := h.Shop.WithKey(pk.Key).CheckKey(ctx); err != nil {
		if !refused(err) {
			rep.Key.Outcome = OutcomeFailed
			rep.Key.Detail = "the key could not be checked; it stays pending"
			return wooapi.Key{}, fmt.Errorf("check the pending key (%s) against the shop: %w; it stays pending for 6 hours: "+
				"invoke activate with {\"pending_key\":%q} again once the shop answers", pk.Name(), err, ev.PendingKey)
		}
		return wooapi.Key{}, h.reject(ctx, log, ev.PendingKey, pk, err, rep)
	}
	if ev.DryRun {
		rep.Key.Outcome, rep.Key.Detail = KeyWouldAdopt, "the key works against the shop; it stays pending (dry run)"
		return pk.Key, nil
	}
	if h.KeyStore == nil {
		return wooapi.Key{}, errors.New("a key that arrived through connect needs the credentials secret (WOO_CREDENTIALS_SECRET_ARN) to be kept in")
	}
	// The reference as the version: a retried run stores the key once.
	if err := h.KeyStore.Put(ctx, pk.Key, ev.PendingKey); err != nil {
		return wooapi.Key{}, fmt.Errorf("make the proven key (%s) the key in use: %w; it stays pending: invoke activate with {\"pending_key\":%q} again",
			pk.Name(), err, ev.PendingKey)
	}
	if err := h.Pending.Discard(ctx, ev.PendingKey); err != nil {
		// Stored already; the state table's TTL removes the copy.
		log.LogAttrs(ctx, slog.LevelWarn, "proven key not discarded from the state table", slog.String("error", err.Error()))
	}
	// Fresh in this container's cache too, for the continuations.
	if _, err := h.Keys.Key(ctx, true); err != nil {
		log.LogAttrs(ctx, slog.LevelWarn, "key in use not re-read", slog.String("error", err.Error()))
	}
	h.Metrics.Count(metrics.ShopConnected, 1)
	rep.Key.Outcome, rep.Key.Detail = KeyProven, "the key works against the shop and is now the key in use"
	log.LogAttrs(ctx, slog.LevelInfo, "pending key proven", slog.String("key", pk.Name()))
	return pk.Key, nil
}

// reject discards a key the shop refused and ends the run without an
// error: a stranger's key is to be expected (connect's states are public),
// and a flood of them must not page the owner.
func (h *Handler) reject(ctx context.Context, log *slog.Logger, ref string, pk wookey.PendingKey, why error, rep *Report) error {
	if err := h.Pending.Discard(ctx, ref); err != nil {
		log.LogAttrs(ctx, slog.LevelWarn, "refused key not discarded from the state table", slog.String("error", err.Error()))
	}
	h.Metrics.Count(metrics.ConnectKeyRejected, 1)
	rep.Key.Outcome, rep.Key.Detail = KeyRejected, "the shop refused it; discarded"
	rep.Outcome = OutcomeKeyRejected
	rep.Detail = fmt.Sprintf("the shop refused the key that arrived through connect (%s): it is not a working key of this shop "+
		"(a stranger's, or revoked since). It was discarded; the key in use is unchanged and was not handed over again", pk.Name())
	log.LogAttrs(ctx, slog.LevelWarn, "pending key refused", slog.String("key", pk.Name()), slog.String("answer", answer(why)))
	return errKeyRejected
}

// answer is the shop's answer in a few words: its status and WooCommerce's
// code. The full error's advice on fixing a key is for the owner's own key,
// not for a stranger's.
func answer(err error) string {
	var we *wooapi.Error
	if errors.As(err, &we) && we.StatusCode != 0 {
		return strings.TrimSpace(fmt.Sprintf("%d %s", we.StatusCode, we.Code))
	}
	return err.Error()
}
