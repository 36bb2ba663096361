package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/logistos-sync/logistos-sync/internal/testwait"
	"github.com/logistos-sync/logistos-sync/local/fakelogistos"
	"github.com/logistos-sync/logistos-sync/local/fakewoo"
	"github.com/logistos-sync/logistos-sync/local/stack"
	"github.com/logistos-sync/logistos-sync/local/syncbuf"
	"github.com/logistos-sync/logistos-sync/shared/config"
)

var (
	hubConnectLine = regexp.MustCompile(`(?m)^  shop ([AB])       (http://\S+/woocommerce/connect\?store_url=(\S+))$`)
	hubOrderLine   = regexp.MustCompile(`(?m)^  shop ([AB])       curl -sS -X POST (http://\S+)$`)
)

// HUB=true make run, driven over HTTP as a person would from its banner:
// each stand-in shop is connected through the hub's connect URL and its
// own approve screen, each activation backfills that shop's orders, and
// an order placed at each shop reaches Logistos through that shop's own
// webhook: every payload carries the store_url of the shop it came from.
func TestRunHubConnectsTwoShops(t *testing.T) {
	const orders = 3
	// Logistos is the test's, so that every payload is counted (the
	// printout counts a burst's rather than printing them).
	logistos := &fakelogistos.Server{}
	lsrv := httptest.NewServer(logistos)
	defer lsrv.Close()
	awsPort := freePort(t)
	shopPort := freeShopPorts(t)
	for k, v := range map[string]string{envHub: "true", envPort: freePort(t), envAWSPort: awsPort, envShopPort: strconv.Itoa(shopPort),
		envShopOrders: strconv.Itoa(orders), config.LogistosOrdersURL: lsrv.URL + fakelogistos.OrdersPath,
		config.LogistosCredentialsURL: lsrv.URL + fakelogistos.CredentialsPath, "WEBHOOK_SECRET": "", config.StoreURL: "",
		envReconcileEvery: "1s", config.ReconcileGrace: "0s"} {
		t.Setenv(k, v)
	}
	out, logs := &syncbuf.Buffer{}, &syncbuf.Buffer{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, slog.New(slog.NewJSONHandler(logs, nil)), out) }()
	defer func() {
		cancel()
		if err := <-done; err != nil || t.Failed() {
			t.Errorf("run: %v\noutput:\n%s\nlogs:\n%s", err, out.String(), tail(logs.String(), 8000))
		}
	}()
	// kumo's state outlives one make run in this process: drop the hub's
	// tables, so that another make run in it starts with no shops.
	defer dropTables(t, awsPort, stack.StateTableName, stack.HubLedgerTableName, stack.ShopsTableName)
	waitFor(t, out, "Ctrl-C stops everything.")

	banner := out.String()
	connects, places := map[string]string{}, map[string]string{}
	shopURL := map[string]string{}
	for _, m := range hubConnectLine.FindAllStringSubmatch(banner, -1) {
		connects[m[1]], shopURL[m[1]] = m[2], m[3]
	}
	for _, m := range hubOrderLine.FindAllStringSubmatch(banner, -1) {
		places[m[1]] = m[2]
	}
	if len(connects) != 2 || len(places) != 2 {
		t.Fatalf("the banner does not say how to connect both shops and place orders:\n%s", banner)
	}
	for i, name := range []string{"A", "B"} {
		if want := "http://127.0.0.1:" + strconv.Itoa(shopPort+i); shopURL[name] != want || !strings.HasPrefix(places[name], want+"/") {
			t.Fatalf("shop %s: connect %s, orders %s; want the stand-in at %s", name, connects[name], places[name], want)
		}
	}

	// The owners: each opens the hub's connect URL, lands on its own
	// shop's approve screen, approves, and ends on the hub's page.
	for _, name := range []string{"A", "B"} {
		var mu sync.Mutex
		var visited []string
		browser := &http.Client{Timeout: time.Minute, CheckRedirect: func(r *http.Request, _ []*http.Request) error {
			mu.Lock()
			defer mu.Unlock()
			visited = append(visited, r.URL.Scheme+"://"+r.URL.Host+r.URL.Path)
			return nil
		}}
		resp, err := fakewoo.Click(browser, connects[name], true)
		if err != nil {
			t.Fatalf("shop %s: %v", name, err)
		}
		page, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(page), "Your shop is connected") {
			t.Fatalf("shop %s: final page %d:\n%s", name, resp.StatusCode, page)
		}
		mu.Lock()
		if !slices.Contains(visited, shopURL[name]+fakewoo.PathAuthorize) {
			t.Errorf("shop %s: the browser went %v, not to its shop's approve screen", name, visited)
		}
		mu.Unlock()
	}
	for _, name := range []string{"A", "B"} {
		waitFor(t, out, fmt.Sprintf("── Activation of %s done: key proven, handoff done, webhook done, backfill complete (%d orders)", shopURL[name], orders))
	}

	// An order at each shop, as the banner's curl places it.
	placed := map[string]int64{}
	for _, name := range []string{"A", "B"} {
		resp, err := http.Post(places[name], "", nil)
		if err != nil {
			t.Fatal(err)
		}
		var got struct {
			ID        int64 `json:"id"`
			Delivered int   `json:"webhooks_delivered"`
		}
		err = json.NewDecoder(resp.Body).Decode(&got)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK || got.Delivered != 1 {
			t.Fatalf("shop %s: place an order: %d %+v %v", name, resp.StatusCode, got, err)
		}
		placed[name] = got.ID
	}

	// Logistos has each shop's orders, backfilled and placed, each under
	// its own shop's store_url, and no other.
	testwait.Eventually(t, 20*time.Second, func() error {
		got := ordersByShop(t, logistos)
		for _, name := range []string{"A", "B"} {
			var want []int64
			for id := int64(1); id <= placed[name]; id++ {
				want = append(want, id)
			}
			if ids := got[shopURL[name]]; !slices.Equal(ids, want) {
				return fmt.Errorf("Logistos has orders %v of shop %s (%s), want %v (all: %v)", ids, name, shopURL[name], want, got)
			}
		}
		if len(got) != 2 {
			return fmt.Errorf("Logistos has orders of %d store_urls, want the 2 shops': %v", len(got), got)
		}
		return nil
	})
	// Each shop's key was handed over with its own store_url.
	var handed []string
	for _, r := range logistos.Requests() {
		if r.Path == fakelogistos.CredentialsPath && r.Status == http.StatusOK {
			var c struct {
				StoreURL string `json:"store_url"`
			}
			_ = json.Unmarshal(r.Body, &c)
			handed = append(handed, c.StoreURL)
		}
	}
	slices.Sort(handed)
	if want := []string{shopURL["A"], shopURL["B"]}; !slices.Equal(handed, want) {
		t.Errorf("keys handed over for %v, want %v", handed, want)
	}
	// Reconcile's schedule fans out a sweep per connected shop, which the
	// sweep queue feeds back to it.
	waitFor(t, logs, `"connected":2,"queued":2`)
	if strings.Contains(logs.String(), "ck_") || strings.Contains(out.String(), "ck_") {
		t.Error("a key reached the logs or the terminal")
	}
}

// ordersByShop is the ids of the orders Logistos accepted, by store_url,
// sorted, each once.
func ordersByShop(t *testing.T, l *fakelogistos.Server) map[string][]int64 {
	t.Helper()
	got := map[string][]int64{}
	for _, r := range l.Delivered() {
		var p struct {
			StoreURL string `json:"store_url"`
			Orders   []struct {
				ID int64 `json:"id"`
			} `json:"orders"`
		}
		if err := json.Unmarshal(r.Body, &p); err != nil {
			t.Fatalf("payload: %v", err)
		}
		for _, o := range p.Orders {
			if !slices.Contains(got[p.StoreURL], o.ID) {
				got[p.StoreURL] = append(got[p.StoreURL], o.ID)
			}
		}
	}
	for _, ids := range got {
		slices.Sort(ids)
	}
	return got
}

// freeShopPorts returns a port p with p and p+1 free (SHOP_PORT of a hub).
func freeShopPorts(t *testing.T) int {
	t.Helper()
	for range 50 {
		p, _ := strconv.Atoi(freePort(t))
		if p < maxPort {
			if ln, err := (&net.ListenConfig{}).Listen(context.Background(), "tcp", "127.0.0.1:"+strconv.Itoa(p+1)); err == nil {
				ln.Close()
				return p
			}
		}
	}
	t.Fatal("no two free ports in a row")
	return 0
}

// dropTables deletes tables from the emulator on awsPort.
func dropTables(t *testing.T, awsPort string, tables ...string) {
	st, err := stack.Dial(context.Background(), "http://127.0.0.1:"+awsPort)
	if err != nil {
		t.Error(err)
		return
	}
	for _, table := range tables {
		if _, err := st.DynamoDB.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: &table}); err != nil {
			t.Error(err)
		}
	}
}

// tail is the end of s, at most n bytes.
func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// A hub has no home shop: HUB=true with STORE_URL set is refused before
// anything starts, rather than run as a single-shop stack.
func TestRunHubRefusesAStoreURL(t *testing.T) {
	port := freePort(t)
	for k, v := range map[string]string{envHub: "true", envPort: port, envAWSPort: freePort(t), config.StoreURL: "https://shop.example"} {
		t.Setenv(k, v)
	}
	err := run(context.Background(), slog.New(slog.DiscardHandler), io.Discard)
	if err == nil || !strings.Contains(err.Error(), "unset STORE_URL") {
		t.Fatalf("run: %v, want a refusal naming STORE_URL", err)
	}
	// Nothing was left listening.
	ln, lerr := (&net.ListenConfig{}).Listen(context.Background(), "tcp", "127.0.0.1:"+port)
	if lerr != nil {
		t.Fatalf("the API's port is still taken: %v", lerr)
	}
	ln.Close()
}
