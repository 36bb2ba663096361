package shop

import (
	"context"
	"sync"
)

// Memory is a Store in memory, for local runs and tests: secrets are kept
// in the clear, because nothing leaves the process.
type Memory struct {
	mu      sync.Mutex
	shops   map[string]Shop
	secrets map[string]Secrets
}

// NewMemory returns an empty store.
func NewMemory() *Memory {
	return &Memory{shops: map[string]Shop{}, secrets: map[string]Secrets{}}
}

// Get returns the shop with that id, or ErrNotFound.
func (m *Memory) Get(_ context.Context, id string) (Shop, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.shops[id]
	if !ok {
		return Shop{}, ErrNotFound
	}
	return s, nil
}

// Put creates or replaces the shop's record.
func (m *Memory) Put(_ context.Context, s Shop) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.shops[s.ID] = s
	return nil
}

// Secrets returns the shop's secrets, or ErrNotFound.
func (m *Memory) Secrets(_ context.Context, id string) (Secrets, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.shops[id]; !ok {
		return Secrets{}, ErrNotFound
	}
	return m.secrets[id], nil
}

// SetSecrets replaces the shop's secrets.
func (m *Memory) SetSecrets(_ context.Context, id string, sec Secrets) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.shops[id]; !ok {
		return ErrNotFound
	}
	m.secrets[id] = sec
	return nil
}

// List returns every shop.
func (m *Memory) List(context.Context) ([]Shop, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]Shop, 0, len(m.shops))
	for _, s := range m.shops {
		out = append(out, s)
	}
	return out, nil
}
