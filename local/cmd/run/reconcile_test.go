package main

import (
	"context"
	"io"
	"log/slog"
	"testing"

	"github.com/logistos-sync/logistos-sync/local/fakewoo"
	"github.com/logistos-sync/logistos-sync/local/stack"
	"github.com/logistos-sync/logistos-sync/local/syncbuf"
	"github.com/logistos-sync/logistos-sync/shared/activate"
	"github.com/logistos-sync/logistos-sync/shared/config"
	"github.com/logistos-sync/logistos-sync/shared/logging"
	"github.com/logistos-sync/logistos-sync/shared/metrics"
)

// With a shop configured, make run sweeps on its short interval: before
// activation it says so; once activation ran on its tables, orders whose
// deliveries failed reach the printed Logistos capture by the next sweep.
func TestRunReconcilesAConfiguredShop(t *testing.T) {
	shop := fakewoo.Start(fakewoo.Options{Orders: 3})
	defer shop.Close()
	port, awsPort := freePort(t), freePort(t)
	for k, v := range map[string]string{envPort: port, envAWSPort: awsPort, "LOGISTOS_ORDERS_URL": "", "WEBHOOK_SECRET": "",
		config.StoreURL: shop.URL, config.WooConsumerKey: fakewoo.Key, config.WooConsumerSecret: fakewoo.Secret,
		envReconcileEvery: "1s", config.ReconcileGrace: "0s"} {
		t.Setenv(k, v)
	}
	out, logs := &syncbuf.Buffer{}, &syncbuf.Buffer{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, slog.New(slog.NewJSONHandler(logs, nil)), out) }()
	defer func() { cancel(); <-done }()
	waitFor(t, out, "Reconcile    every 1s against "+shop.URL)
	waitFor(t, logs, `"outcome":"needs_activation"`)

	// make activate, on make run's tables.
	st, err := stack.Dial(ctx, "http://127.0.0.1:"+awsPort)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.LoadActivate(config.FromMap(st.FunctionEnv(stack.Activate, map[string]string{
		config.StoreURL: shop.URL, config.WooConsumerKey: fakewoo.Key, config.WooConsumerSecret: fakewoo.Secret,
		config.WebhookURL: "http://127.0.0.1:" + port + "/woocommerce/webhook", config.LogistosCredentialsURL: "http://127.0.0.1:9/credentials",
		config.StateTable: stack.StateTableName, config.LedgerTable: stack.LedgerTableName,
	})))
	if err != nil {
		t.Fatal(err)
	}
	a, err := activate.New(cfg, st.AWS, logging.New(io.Discard, "warn"), metrics.New(io.Discard, "test"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Handle(ctx, activate.Event{Steps: []string{activate.StepWebhook, activate.StepBackfill}}); err != nil {
		t.Fatal(err)
	}
	shop.FailDeliveries(true)
	shop.PlaceOrders(2)
	shop.FailDeliveries(false)
	waitFor(t, logs, `"orders_queued":2`)
	// The capture prints the first payloads of a burst and counts the rest,
	// so the forwarder's log says that Logistos took each recovered order.
	for _, id := range []string{"4", "5"} {
		waitFor(t, logs, `"order_id":"`+id+`","event":"order.created","origin":"reconcile","outcome":"forwarded"`)
	}
}
