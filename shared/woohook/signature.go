package woohook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"hash"
	"sync"
)

// Sign returns WooCommerce's signature of body: base64(HMAC-SHA256(body, secret)).
// body must be the exact bytes sent: WooCommerce signs its own encoding
// (`\/`, `\uXXXX`), so re-encoded JSON never verifies.
func Sign(body, secret []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// Verifier checks signatures against a set of secrets. It keeps one pool of
// keyed HMAC states per secret, because keying HMAC costs as much as hashing
// a small order and allocates on every call. Safe for concurrent use.
type Verifier struct {
	mu    sync.RWMutex
	pools map[string]*sync.Pool
}

// keyedMAC is an HMAC state with room for its sum, so that verifying
// allocates nothing once the pool is warm.
type keyedMAC struct {
	h   hash.Hash
	sum [sha256.Size]byte
}

// maxPools bounds the pool map: secrets change only on rotation, so more than
// a handful of distinct keys means values are churning and pooling is moot.
const maxPools = 8

func (v *Verifier) pool(secret []byte) *sync.Pool {
	v.mu.RLock()
	p := v.pools[string(secret)]
	v.mu.RUnlock()
	if p != nil {
		return p
	}
	key := string(secret)
	p = &sync.Pool{New: func() any { return &keyedMAC{h: hmac.New(sha256.New, []byte(key))} }}
	v.mu.Lock()
	if v.pools == nil || len(v.pools) >= maxPools {
		v.pools = make(map[string]*sync.Pool)
	}
	if existing := v.pools[key]; existing != nil {
		p = existing
	} else {
		v.pools[key] = p
	}
	v.mu.Unlock()
	return p
}

// Verify reports whether signature is body's signature under any of
// secrets. Every secret is tried and compared in constant time, so timing
// reveals neither the expected value nor which secret matched.
func (v *Verifier) Verify(body []byte, signature string, secrets [][]byte) bool {
	if len(signature) != base64.StdEncoding.EncodedLen(sha256.Size) {
		return false
	}
	var want [sha256.Size + 1]byte // DecodedLen(44) is 33
	n, err := base64.StdEncoding.Decode(want[:], []byte(signature))
	if err != nil || n != sha256.Size {
		return false
	}
	ok := false
	for _, s := range secrets {
		if len(s) == 0 {
			continue
		}
		p := v.pool(s)
		m := p.Get().(*keyedMAC)
		m.h.Reset()
		m.h.Write(body)
		m.h.Sum(m.sum[:0])
		ok = hmac.Equal(m.sum[:], want[:sha256.Size]) || ok
		p.Put(m)
	}
	return ok
}
