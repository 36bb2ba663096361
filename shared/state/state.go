// Package state keeps the small JSON documents the functions share through
// STATE_TABLE (a backfill's progress and lease, the handoff record,
// reconcile's high-water mark and lease) with optimistic concurrency: every
// write names the version it read, and fails with ErrConflict when someone
// else wrote in between. Two runs started at once therefore cannot both proceed.
//
// The contracts of those documents that more than one function reads live
// here too: the Lease a backfill's checkpoint and reconcile's document
// carry, and the activation's cut-off (ActivationCutoff), which activate
// writes and reconcile starts from.
package state

import (
	"context"
	"errors"
	"sync"
)

// ErrConflict means the document changed since the version the writer read.
var ErrConflict = errors.New("state document was changed by another writer")

// Store reads and writes versioned documents by id.
type Store interface {
	// Get returns the document and its version; version 0 and a nil
	// document when there is none.
	Get(ctx context.Context, id string) (doc []byte, version int64, err error)
	// Put stores doc if the stored version is still version (0: if there
	// is none) and returns the new version; ErrConflict otherwise.
	Put(ctx context.Context, id string, doc []byte, version int64) (int64, error)
}

// Memory is a Store in this process's memory: for local runs and tests. It
// lives as long as the process (under the Lambda RIE that spans invokes).
type Memory struct {
	mu   sync.Mutex
	docs map[string]memoryDoc
}

type memoryDoc struct {
	doc     []byte
	version int64
}

// Get returns the document stored under id.
func (m *Memory) Get(_ context.Context, id string) ([]byte, int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	d, ok := m.docs[id]
	if !ok {
		return nil, 0, nil
	}
	return append([]byte(nil), d.doc...), d.version, nil
}

// Put stores doc under id if its version is still version.
func (m *Memory) Put(_ context.Context, id string, doc []byte, version int64) (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.docs == nil {
		m.docs = make(map[string]memoryDoc)
	}
	if m.docs[id].version != version {
		return 0, ErrConflict
	}
	m.docs[id] = memoryDoc{doc: append([]byte(nil), doc...), version: version + 1}
	return version + 1, nil
}
