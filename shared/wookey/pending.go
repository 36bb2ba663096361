package wookey

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/logistos-sync/logistos-sync/shared/state"
	"github.com/logistos-sync/logistos-sync/shared/wooapi"
)

// A key that arrives through connect proves nothing about who sent it:
// connect's states are public (anyone may open the connect URL and read
// the state from the redirect), so a stranger can post a key of their own
// with a real state. Such a key is therefore only pending: kept with the
// spent state in the state table, never written to the credentials
// secret, until activation has proven it against the shop. Only then does
// it become the key in use.

// PendingTTL is how long a pending key waits for activation: as long as
// Lambda keeps retrying an asynchronous invocation (its default maximum
// event age), after which the state table's TTL removes it.
const PendingTTL = 6 * time.Hour

// StatePrefix keeps connect's states apart from the other documents of the
// state table: the template limits connect's role to items under it
// (dynamodb:LeadingKeys), so connect can never touch the backfill's
// checkpoint or reconcile's mark.
const StatePrefix = "connect-state/"

// ErrNoPendingKey means a reference names no pending key: never spent,
// already proven or refused, or expired.
var ErrNoPendingKey = errors.New("no such pending key: already proven or refused, or expired")

// PendingKey is a key that arrived through connect, not yet proven.
type PendingKey struct {
	wooapi.Key
	// KeyID is WooCommerce's id of the key (0 when the callback's was not a
	// number): not a secret, it tells the owner which key to revoke.
	KeyID     int64     `json:"key_id,omitempty"`
	ArrivedAt time.Time `json:"arrived_at"`
	// StoreURL is the shop connect bound the state to (its normalised URL):
	// in a hub the key may only ever activate that shop, so that a key
	// that arrived for one shop can never be handed over, or have webhooks
	// registered, as another's. Empty for a key connected in a home-shop
	// stack before shops were bound.
	StoreURL string `json:"store_url,omitempty"`
}

// Name says which key this is in words the owner can find in WooCommerce →
// Settings → Advanced → REST API, which lists keys by the last 7
// characters of the consumer key; never the secret.
func (p PendingKey) Name() string {
	ending := p.ConsumerKey[max(0, len(p.ConsumerKey)-7):]
	if p.KeyID != 0 {
		return fmt.Sprintf("key_id %d, consumer key ending in %s", p.KeyID, ending)
	}
	return "consumer key ending in " + ending
}

// Pending keeps connect's states and the keys that arrive with them. A
// state is stored by its SHA-256 only (a copy of the table holds no usable
// state); the same hash is the reference activation gets for the key,
// which may appear in logs and events because it opens nothing.
type Pending struct{ States state.Once }

// Ref is the reference of the key that arrives with state.
func Ref(state string) string {
	h := sha256.Sum256([]byte(state))
	return hex.EncodeToString(h[:])
}

var refShape = regexp.MustCompile(`^[0-9a-f]{64}$`)

// Await lets a key arrive with state until expires.
func (p Pending) Await(ctx context.Context, state string, expires time.Time) error {
	return p.States.Issue(ctx, StatePrefix+Ref(state), expires)
}

// Arrive spends state and keeps k pending with it for PendingTTL from
// k.ArrivedAt; state.ErrSpent when the state is unknown, used or expired.
// It returns the reference activation reads the key by.
func (p Pending) Arrive(ctx context.Context, st string, k PendingKey) (string, error) {
	doc, err := json.Marshal(k)
	if err != nil {
		return "", fmt.Errorf("encode the pending key: %w", err)
	}
	ref := Ref(st)
	if err := p.States.Spend(ctx, StatePrefix+ref, doc, k.ArrivedAt.Add(PendingTTL)); err != nil {
		return "", err
	}
	return ref, nil
}

// Get returns the key pending under ref; ErrNoPendingKey when there is none.
func (p Pending) Get(ctx context.Context, ref string) (PendingKey, error) {
	if !refShape.MatchString(ref) {
		return PendingKey{}, fmt.Errorf("%w (%q is not a pending key's reference)", ErrNoPendingKey, ref)
	}
	doc, err := p.States.Held(ctx, StatePrefix+ref)
	if errors.Is(err, state.ErrNotHeld) {
		return PendingKey{}, ErrNoPendingKey
	}
	if err != nil {
		return PendingKey{}, err
	}
	var k PendingKey
	if err := json.Unmarshal(doc, &k); err != nil || k.ConsumerKey == "" || k.ConsumerSecret == "" {
		// Never echo the document: it holds a credential.
		return PendingKey{}, fmt.Errorf("%w (its document is unreadable)", ErrNoPendingKey)
	}
	return k, nil
}

// Discard forgets the key pending under ref (proven and stored, or refused).
func (p Pending) Discard(ctx context.Context, ref string) error {
	if !refShape.MatchString(ref) {
		return nil
	}
	return p.States.Discard(ctx, StatePrefix+ref)
}
