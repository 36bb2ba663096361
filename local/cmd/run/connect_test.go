package main

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/logistos-sync/logistos-sync/local/fakewoo"
	"github.com/logistos-sync/logistos-sync/local/stack"
	"github.com/logistos-sync/logistos-sync/local/syncbuf"
	"github.com/logistos-sync/logistos-sync/shared/config"
)

var connectLine = regexp.MustCompile(`Connect      open (\S+) in a browser`)

// make run without a shop starts the stand-in shop; the banner's connect
// URL, approved there, stores the key and runs activation in-process: the
// stand-in shop's orders reach the printed Logistos capture.
func TestRunConnectsTheStandInShop(t *testing.T) {
	awsPort := freePort(t)
	for k, v := range map[string]string{envPort: freePort(t), envAWSPort: awsPort, envShopPort: freePort(t),
		envShopOrders: "3", "LOGISTOS_ORDERS_URL": "", "WEBHOOK_SECRET": "", config.StoreURL: ""} {
		t.Setenv(k, v)
	}
	out, logs := &syncbuf.Buffer{}, &syncbuf.Buffer{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, slog.New(slog.NewJSONHandler(logs, nil)), out) }()
	defer func() {
		cancel()
		if err := <-done; err != nil || t.Failed() {
			t.Errorf("run: %v\nlogs:\n%s", err, logs.String())
		}
	}()
	// kumo's state outlives one make run in this process: drop the tables
	// this activation wrote, so that the next test's make run starts as a
	// fresh one does (not activated).
	defer func() {
		st, err := stack.Dial(context.Background(), "http://127.0.0.1:"+awsPort)
		if err != nil {
			t.Error(err)
			return
		}
		for _, table := range []string{stack.StateTableName, stack.LedgerTableName} {
			if _, err := st.DynamoDB.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: &table}); err != nil {
				t.Error(err)
			}
		}
	}()
	waitFor(t, out, "Ctrl-C stops everything.")
	waitFor(t, out, "stand-in WooCommerce with 3 orders")
	m := connectLine.FindStringSubmatch(out.String())
	if m == nil {
		t.Fatalf("banner has no connect URL:\n%s", out.String())
	}
	resp, err := fakewoo.Click(&http.Client{Timeout: time.Minute}, m[1], true)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(page), "Your shop is connected") {
		t.Fatalf("final page %d:\n%s\nlogs:\n%s", resp.StatusCode, page, logs.String())
	}
	waitFor(t, out, "── Activation done: key proven, handoff done, webhook done, backfill complete (3 orders)")
	waitFor(t, out, "Logistos received POST /integration/woo_commerce_orders")
	if strings.Contains(logs.String(), "ck_") || strings.Contains(out.String(), "ck_") {
		t.Error("a key reached the logs or the terminal")
	}
}
