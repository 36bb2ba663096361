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
	// StoreURL is the shop the key's state was issued for: the normalised
	// URL in a hub, "" for a single-shop stack's home shop. Read from the
	// state table's record of the issue, never from the held document (so
	// not encoded), so nothing that arrives at the callback can set it.
	StoreURL string `json:"-"`
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

// Await lets a key for the shop storeURL ("" for the home shop) arrive
// with state until expires.
func (p Pending) Await(ctx context.Context, state, storeURL string, expires time.Time) error {
	return p.States.Issue(ctx, StatePrefix+Ref(state), storeURL, expires)
}

// Arrive spends state and keeps k pending with it for PendingTTL from
// k.ArrivedAt; state.ErrSpent when the state is unknown, used or expired.
// It returns the reference activation reads the key by and the shop the
// state was issued for ("" for the home shop): k.StoreURL is ignored.
func (p Pending) Arrive(ctx context.Context, st string, k PendingKey) (ref, storeURL string, err error) {
	doc, err := json.Marshal(k)
	if err != nil {
		return "", "", fmt.Errorf("encode the pending key: %w", err)
	}
	ref = Ref(st)
	if storeURL, err = p.States.Spend(ctx, StatePrefix+ref, doc, k.ArrivedAt.Add(PendingTTL)); err != nil {
		return "", "", err
	}
	return ref, storeURL, nil
}

// Get returns the key pending under ref for the shop storeURL ("" for the
// home shop); ErrNoPendingKey when there is none, or when the key's state
// was issued for another shop: one shop's activation never reads
// another's key.
func (p Pending) Get(ctx context.Context, ref, storeURL string) (PendingKey, error) {
	if !refShape.MatchString(ref) {
		return PendingKey{}, fmt.Errorf("%w (%q is not a pending key's reference)", ErrNoPendingKey, ref)
	}
	doc, bound, err := p.States.Held(ctx, StatePrefix+ref)
	if errors.Is(err, state.ErrNotHeld) {
		return PendingKey{}, ErrNoPendingKey
	}
	if err != nil {
		return PendingKey{}, err
	}
	if bound != storeURL {
		return PendingKey{}, fmt.Errorf("%w (the key under this reference arrived for another shop)", ErrNoPendingKey)
	}
	var k PendingKey
	if err := json.Unmarshal(doc, &k); err != nil || k.ConsumerKey == "" || k.ConsumerSecret == "" {
		// Never echo the document: it holds a credential.
		return PendingKey{}, fmt.Errorf("%w (its document is unreadable)", ErrNoPendingKey)
	}
	k.StoreURL = bound
	return k, nil
}

// Discard forgets the key pending under ref (proven and stored, or refused).
func (p Pending) Discard(ctx context.Context, ref string) error {
	if !refShape.MatchString(ref) {
		return nil
	}
	return p.States.Discard(ctx, StatePrefix+ref)
}
