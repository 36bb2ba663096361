// Package shoptest checks, in unit tests, that a shop client refuses a shop
// on this machine unless private shops are allowed: a shop on loopback that
// counts what reaches it, and the check of one call against it.
package shoptest

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/logistos-sync/logistos-sync/shared/outbound"
)

// Shop is a shop on loopback answering every REST call with an empty list.
type Shop struct {
	URL  string
	hits atomic.Int32
}

// Start serves a Shop until the test ends.
func Start(t testing.TB) *Shop {
	t.Helper()
	s := &Shop{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.hits.Add(1)
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte("[]"))
	}))
	t.Cleanup(srv.Close)
	s.URL = srv.URL
	return s
}

// Hits is how many requests reached the shop.
func (s *Shop) Hits() int32 { return s.hits.Load() }

// Guarded fails the test unless call, a request to the shop by a client
// built with allow (ALLOW_PRIVATE_SHOPS), was refused at dial time exactly
// when private shops are not allowed, and reached the shop otherwise.
func (s *Shop) Guarded(t testing.TB, allow bool, call func(context.Context) error) {
	t.Helper()
	before := s.Hits()
	err := call(context.Background())
	if refused := errors.Is(err, outbound.ErrForbiddenAddress); refused == allow {
		t.Errorf("AllowPrivateShops %v: the call returned %v", allow, err)
	}
	if reached := s.Hits() > before; reached != allow {
		t.Errorf("AllowPrivateShops %v: the shop was reached: %v", allow, reached)
	}
}
