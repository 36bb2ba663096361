package wooapi

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/logistos-sync/logistos-sync/internal/shoptest"
	"github.com/logistos-sync/logistos-sync/shared/outbound"
)

// The client the functions call shops with refuses a shop whose address is
// this machine: the request never leaves, and, since the same address
// would be refused again, it is a permanent failure that says what to fix,
// tried once. With private shops allowed (local runs) the same shop is
// reached.
func TestShopClientRefusesLoopbackShop(t *testing.T) {
	srv := shoptest.Start(t)
	key := Key{ConsumerKey: "ck_test", ConsumerSecret: "cs_test"}

	c, err := NewClient(NewHTTPClient(false), srv.URL, key)
	if err != nil {
		t.Fatal(err)
	}
	recordWaits(c)
	err = c.CheckKey(context.Background())
	var we *Error
	if !errors.Is(err, outbound.ErrForbiddenAddress) || !errors.As(err, &we) {
		t.Fatalf("CheckKey = %v, want an *Error wrapping outbound.ErrForbiddenAddress", err)
	}
	if IsTransient(err) || we.Attempts != 1 || we.Hint != hintForbiddenAddress {
		t.Errorf("transient %v after %d attempts, hint %q; want permanent, 1 attempt, the address hint", IsTransient(err), we.Attempts, we.Hint)
	}
	if !strings.Contains(err.Error(), "a loopback address: refused") || strings.Contains(err.Error(), key.ConsumerSecret) {
		t.Errorf("error %q: want the refusal, without the key", err)
	}
	if srv.Hits() != 0 {
		t.Fatalf("the loopback shop saw %d requests, want 0", srv.Hits())
	}

	allowed, err := NewClient(NewHTTPClient(true), srv.URL, key)
	if err != nil {
		t.Fatal(err)
	}
	if err := allowed.CheckKey(context.Background()); err != nil || srv.Hits() != 1 {
		t.Errorf("with private shops allowed: CheckKey = %v, %d requests; want nil, 1", err, srv.Hits())
	}
}
