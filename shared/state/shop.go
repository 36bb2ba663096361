package state

import (
	"context"

	"github.com/logistos-sync/logistos-sync/shared/shop"
)

// ForShop returns one hub shop's part of st: its documents (backfill
// checkpoint, handoff record, reconcile's mark and lease) named
// shop.Scoped(id, name), apart from every other shop's. The empty id is a
// single-shop stack's shop, whose documents keep their names.
func ForShop(st Store, id string) Store {
	if id == "" {
		return st
	}
	return shopState{st: st, id: id}
}

type shopState struct {
	st Store
	id string
}

func (s shopState) Get(ctx context.Context, name string) ([]byte, int64, error) {
	return s.st.Get(ctx, shop.Scoped(s.id, name))
}

func (s shopState) Put(ctx context.Context, name string, doc []byte, version int64) (int64, error) {
	return s.st.Put(ctx, shop.Scoped(s.id, name), doc, version)
}
