package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/logistos-sync/logistos-sync/local/fakewoo"
	"github.com/logistos-sync/logistos-sync/local/stack"
	"github.com/logistos-sync/logistos-sync/shared/state"
)

// shopPortID is the state document in which a run with a state table keeps
// its stand-in shop's port: the backfill's checkpoint holds the shop's URL,
// so a re-run must serve the same shop on the same port to resume it.
const shopPortID = "local-fake-shop"

// shopPortDoc is that document.
type shopPortDoc struct {
	Port int `json:"port"`
}

// fakeShopClock is the stand-in shop's clock at the start of every run:
// fixed, so that its orders have the same creation times on every run and
// the cut-off a first run saved in the checkpoint still holds for them.
var fakeShopClock = time.Date(2026, time.January, 1, 0, 0, 0, 0, time.UTC)

// startFakeShop serves a stand-in WooCommerce with o.fakeShop orders on
// 127.0.0.1 and returns its URL. Its port is o.fakeShopPort when given;
// else, with a state table, the port the table's last run used (a free one
// the first time, then kept there); else a free one. Its clock starts at
// fakeShopClock, so that two runs serve the same orders.
func startFakeShop(ctx context.Context, st *stack.Stack, table string, o options) (string, func(), error) {
	port, version, store := o.fakeShopPort, int64(0), state.Store(nil)
	if port == 0 && table != "" {
		store = &state.DynamoDB{Client: st.DynamoDB, Table: table}
		doc, v, err := store.Get(ctx, shopPortID)
		if err != nil {
			return "", nil, fmt.Errorf("read the stand-in shop's port from %s: %w", table, err)
		}
		var last shopPortDoc
		if doc != nil && json.Unmarshal(doc, &last) == nil {
			port = last.Port
		}
		version = v
	}
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return "", nil, fmt.Errorf("start the stand-in shop on port %d: %w (another `make activate` running? choose another port with "+
			"-fake-shop-port N or %s=N; a run resumes only on the same port)", port, err, envFakeShopPort)
	}
	if store != nil && port == 0 {
		doc, _ := json.Marshal(shopPortDoc{Port: ln.Addr().(*net.TCPAddr).Port})
		if _, err := store.Put(ctx, shopPortID, doc, version); err != nil {
			ln.Close()
			return "", nil, fmt.Errorf("keep the stand-in shop's port in %s: %w", table, err)
		}
	}
	started := time.Now()
	shop := fakewoo.New(fakewoo.Options{Orders: o.fakeShop, Latency: o.fakeLatency,
		Now: func() time.Time { return fakeShopClock.Add(time.Since(started)) }})
	shop.URL = "http://" + ln.Addr().String()
	srv := &http.Server{Handler: shop, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return shop.URL, func() { _ = srv.Close() }, nil
}
