// Package secret reads the values of a secret: from AWS Secrets Manager,
// cached, or from a literal for local runs.
package secret

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/aws/aws-secretsmanager-caching-go/v2/secretcache"
)

// Source gives the values of a secret that are valid right now.
type Source interface {
	// Values returns the valid values, newest first: during a rotation both
	// the current and the previous one.
	Values(ctx context.Context) ([][]byte, error)
	// Refresh makes the next Values read the store again, at most once per
	// interval; it reports whether it did. A caller that sees a value it
	// cannot match uses it to pick up a rotation before the cache expires.
	Refresh(ctx context.Context) bool
}

// Static is a fixed secret, for local runs and tests.
type Static [][]byte

// Values returns the static values.
func (s Static) Values(context.Context) ([][]byte, error) { return s, nil }

// Refresh does nothing: a static secret never changes.
func (Static) Refresh(context.Context) bool { return false }

// Literal returns a Static source holding one value.
func Literal(v string) Static { return Static{[]byte(v)} }

// Secrets Manager's stage labels; AWSPREVIOUS exists only after a rotation.
const (
	StageCurrent  = "AWSCURRENT"
	StagePrevious = "AWSPREVIOUS"
)

const (
	// CacheTTL bounds how stale a cached value may get, and so how long after
	// a rotation a cold container keeps using the old value.
	CacheTTL = 5 * time.Minute
	// MinRefreshInterval keeps unauthenticated traffic with bad signatures
	// from turning every request into a Secrets Manager call.
	MinRefreshInterval = 30 * time.Second
)

// Manager reads a secret's current and previous versions through the
// Secrets Manager caching client.
type Manager struct {
	cache  *secretcache.Cache
	client secretcache.SecretsManagerAPIClient
	id     string

	lastRefresh atomic.Int64 // unix nanos
	unthrottled bool         // Refresh always reads (see Unthrottled)

	mu sync.Mutex
	// fresh holds values read directly by Refresh; they win over the cache
	// until the cache has surely expired too.
	fresh *versions
	last  struct {
		versions
		values [][]byte
	}
}

// versions are a secret's two live values.
type versions struct {
	cur, prev string
	until     time.Time
}

// NewManager reads secret id (name or ARN) through client.
func NewManager(client secretcache.SecretsManagerAPIClient, id string) (*Manager, error) {
	cache, err := secretcache.New(func(c *secretcache.Cache) {
		c.Client = client
		c.CacheConfig.CacheItemTTL = int64(CacheTTL)
	})
	if err != nil {
		return nil, fmt.Errorf("secret cache: %w", err)
	}
	return &Manager{cache: cache, client: client, id: id}, nil
}

// Unthrottled makes every Refresh read the store: for a secret only
// trusted callers make us read (the REST key, read by activate and
// reconcile, never on a stranger's request), which connect may have
// replaced seconds ago, within MinRefreshInterval of the last read.
func (m *Manager) Unthrottled() *Manager {
	m.unthrottled = true
	return m
}

// String returns the current value as a string, e.g. a JSON document.
func (m *Manager) String(ctx context.Context) (string, error) {
	v, err := m.read(ctx)
	return v.cur, err
}

// read returns the live values: those Refresh read, while they are
// recent, else the cache's.
func (m *Manager) read(ctx context.Context) (versions, error) {
	m.mu.Lock()
	fresh := m.fresh
	m.mu.Unlock()
	if fresh != nil && time.Now().Before(fresh.until) {
		return *fresh, nil
	}
	cur, err := m.cache.GetSecretStringWithStageWithContext(ctx, m.id, StageCurrent)
	if err != nil {
		return versions{}, fmt.Errorf("read secret %s: %w", m.id, err)
	}
	prev, err := m.cache.GetSecretStringWithStageWithContext(ctx, m.id, StagePrevious)
	var notFound *secretcache.VersionNotFoundError
	if err != nil && !errors.As(err, &notFound) {
		return versions{}, fmt.Errorf("read secret %s (%s): %w", m.id, StagePrevious, err)
	}
	return versions{cur: cur, prev: prev}, nil
}

// Values returns AWSCURRENT and, when it exists, AWSPREVIOUS.
func (m *Manager) Values(ctx context.Context) ([][]byte, error) {
	v, err := m.read(ctx)
	if err != nil {
		return nil, err
	}
	// The byte slices are reused until the values change, so the hot path
	// does not copy the secret on every request.
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.last.values == nil || m.last.cur != v.cur || m.last.prev != v.prev {
		m.last.cur, m.last.prev = v.cur, v.prev
		m.last.values = [][]byte{[]byte(v.cur)}
		if v.prev != "" && v.prev != v.cur {
			m.last.values = append(m.last.values, []byte(v.prev))
		}
	}
	return m.last.values, nil
}

// Refresh reads both versions from Secrets Manager now, unless it did so
// less than MinRefreshInterval ago, and reports whether it read them. It
// bypasses the caching client, whose own forced refresh sleeps 2.5 to 5
// seconds: far too long for a webhook request waiting on the answer.
func (m *Manager) Refresh(ctx context.Context) bool {
	now := time.Now()
	last := m.lastRefresh.Load()
	if !m.unthrottled && (now.UnixNano()-last < int64(MinRefreshInterval) || !m.lastRefresh.CompareAndSwap(last, now.UnixNano())) {
		return false
	}
	cur, err := m.stage(ctx, StageCurrent)
	if err != nil || cur == "" {
		return false
	}
	prev, err := m.stage(ctx, StagePrevious)
	if err != nil {
		return false
	}
	m.mu.Lock()
	m.fresh = &versions{cur: cur, prev: prev, until: now.Add(CacheTTL)}
	m.mu.Unlock()
	return true
}

// stage reads one version stage directly; a stage that does not exist
// (AWSPREVIOUS before the first rotation) is "".
func (m *Manager) stage(ctx context.Context, stage string) (string, error) {
	out, err := m.client.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: &m.id, VersionStage: &stage})
	var notFound *types.ResourceNotFoundException
	if errors.As(err, &notFound) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read secret %s (%s): %w", m.id, stage, err)
	}
	if out.SecretString == nil {
		return "", nil
	}
	return *out.SecretString, nil
}

// Open returns the Secrets Manager secret arn through client when arn is
// set, and the literal otherwise (local runs).
func Open(client secretcache.SecretsManagerAPIClient, arn, literal string) (Source, error) {
	if arn == "" {
		return Literal(literal), nil
	}
	return NewManager(client, arn)
}
