package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/logistos-sync/logistos-sync/local/esm"
	"github.com/logistos-sync/logistos-sync/local/fakelogistos"
	"github.com/logistos-sync/logistos-sync/local/fakewoo"
	"github.com/logistos-sync/logistos-sync/local/pipeline"
	"github.com/logistos-sync/logistos-sync/local/stack"
	"github.com/logistos-sync/logistos-sync/shared/config"
	"github.com/logistos-sync/logistos-sync/shared/connect"
	"github.com/logistos-sync/logistos-sync/shared/logging"
	"github.com/logistos-sync/logistos-sync/shared/metrics"
	"github.com/logistos-sync/logistos-sync/shared/reconcile"
)

// hubShops is how many stand-in shops a hub run serves: two, so that each
// order's store_url visibly follows its shop.
const hubShops = 2

// hubSettings are make run's settings that a hub run uses.
type hubSettings struct {
	port, awsPort, shopPort, shopOrders int
	secret                              string
	every, retryEvery                   time.Duration
}

// runHub is `HUB=true make run`: the stack a template with StoreUrl empty
// deploys (the shops table sealed under a KMS key, the hub's ledger, the
// sweep queue), every function wired as a hub on it, as in AWS, so that
// they share one shops table, state table, ledger and queues: connect's
// routes and activation run here when a key arrives, each shop's webhook
// route, the forwarder, and reconcile's schedule fanning out one sweep job
// per connected shop, which the sweep queue's event source feeds back to
// reconcile. Two stand-in shops, on SHOP_PORT and SHOP_PORT+1, wait to be
// connected through the routes.
func runHub(ctx context.Context, log *slog.Logger, out io.Writer, s hubSettings) error {
	if os.Getenv(config.StoreURL) != "" {
		return fmt.Errorf("%s=true runs a hub, which has no home shop: unset %s (a hub's shops connect through %s)",
			envHub, config.StoreURL, connect.PathConnect)
	}
	ln, err := listenAPI(s.port)
	if err != nil {
		return err
	}
	defer ln.Close()

	capture, err := startCapture(out)
	if err != nil {
		return err
	}
	if capture != nil {
		defer capture.Close()
	}

	// A hub run is about its shops: without both, it does not start.
	var shops []string
	for i := range hubShops {
		stop, err := standInShop(s.shopPort+i, s.shopOrders, true)
		if err != nil {
			return fmt.Errorf("%w (a hub's stand-in shops take %s and %s+1: choose others, e.g. %s=%d)",
				err, envShopPort, envShopPort, envShopPort, s.shopPort+10)
		}
		defer stop()
		shops = append(shops, localShopURL(s.shopPort+i))
	}

	st, err := stack.Start(ctx, stack.Options{Port: s.awsPort, WebhookSecret: s.secret, Tables: true, Hub: true})
	if err != nil {
		return err
	}
	defer st.Close()

	metricsOut := metricsWriter()
	// No STORE_URL: every function is a hub's, and the stack wires the
	// shops table and its key (SHOPS_TABLE, SHOPS_KEY_ID) into each that
	// reads it, as template.yaml does.
	vars := hubVars(capture)
	fns, err := pipeline.New(st, vars, log, metricsOut)
	if err != nil {
		return err
	}
	if !fns.WebhookConfig.Hub() || fns.WebhookConfig.Shops.Table == "" {
		return fmt.Errorf("the webhook is not wired as a hub on the shops table: %+v", fns.WebhookConfig.Shops)
	}
	if s.retryEvery > 0 {
		for _, h := range append(fns.Backfill, fns.Forwarder) {
			h.Backoff = func(int) time.Duration { return s.retryEvery }
		}
	}
	cfg := fns.ForwarderConfig
	webhookURL := "http://" + ln.Addr().String() + pipeline.WebhookPath
	conn, err := connector(ctx, st, vars, webhookURL, capture, log, metricsOut, out)
	if err != nil {
		return err
	}
	if conn.Activation.Err != nil {
		return fmt.Errorf("activate cannot run in this hub: %w", conn.Activation.Err)
	}
	rec, err := hubReconciler(st, webhookURL, cfg.OrdersURL, log, metricsOut)
	if err != nil {
		return err
	}
	apiURL := strings.TrimSuffix(webhookURL, pipeline.WebhookPath)
	hubBanner(out, apiURL, st, capture, cfg, shops, s)

	log.Info("local hub ready", "api", apiURL, "aws_endpoint", st.Endpoint, "logistos", cfg.OrdersURL, "shops", shops)
	go func() {
		t := time.NewTicker(s.every)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				// The schedule's event; the run logs its report.
				_, _ = rec.Invoke(ctx, json.RawMessage(`{}`))
			}
		}
	}()
	pollers := append(fns.Pollers(st, log), sweepPoller(st, rec, log))
	err = pipeline.Run(ctx, ln, pipeline.Routes(fns.Webhook, conn.Handler, log), pollers, log)
	conn.Activation.Wait()
	log.Info("local hub stopped")
	return err
}

// hubVars are a hub's settings as this shell sets them: no STORE_URL, and
// the capture standing in for an unset Logistos URL.
func hubVars(capture *fakelogistos.Server) map[string]string {
	vars := map[string]string{}
	for _, name := range []string{config.ForwardTopics, config.LogistosOrdersURL, config.BackfillRate, config.LogLevel} {
		if v := os.Getenv(name); v != "" {
			vars[name] = v
		}
	}
	if capture != nil {
		vars[config.LogistosOrdersURL] = capture.OrdersURL()
	}
	return vars
}

// hubReconciler builds a hub's reconcile as functions/reconcile does, on
// the stack's shops table, state table, hub ledger and sweep queue. Its
// canary goes where the forwarder sends orders (logistosURL).
func hubReconciler(st *stack.Stack, webhookURL, logistosURL string, log *slog.Logger, metricsOut io.Writer) (*reconcile.Handler, error) {
	vars := map[string]string{config.WebhookURL: webhookURL, config.LogistosOrdersURL: logistosURL}
	for _, name := range []string{config.ForwardTopics, config.ReconcileGrace, config.LogLevel, config.BackfillRate} {
		if v := os.Getenv(name); v != "" {
			vars[name] = v
		}
	}
	cfg, err := config.LoadReconcile(config.FromMap(st.FunctionEnv(stack.Reconcile, vars)))
	if err != nil {
		return nil, err
	}
	if !cfg.Hub() || cfg.SweepQueueURL == "" {
		return nil, fmt.Errorf("reconcile is not wired as a hub: %+v", cfg)
	}
	return reconcile.New(cfg, st.AWS, log.With("function", "reconcile"), metrics.New(metricsOut, "reconcile"))
}

// sweepPoller is the sweep queue's event source mapping: it hands each
// batch of jobs to reconcile's one entry point as Lambda does, the SQS
// event as JSON, so that Invoke tells it from the schedule's event.
func sweepPoller(st *stack.Stack, h *reconcile.Handler, log *slog.Logger) *esm.Poller {
	return &esm.Poller{
		Client: st.SQS, QueueURL: st.SweepQueueURL, QueueARN: st.SweepQueueARN, Region: stack.Region,
		BatchSize: reconcile.SweepBatchSize, FunctionTimeout: 15 * time.Minute, Log: log,
		Handler: func(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
			raw, err := json.Marshal(ev)
			if err != nil {
				return events.SQSEventResponse{}, err
			}
			out, err := h.Invoke(ctx, raw)
			if err != nil {
				return events.SQSEventResponse{}, err
			}
			resp, _ := out.(events.SQSEventResponse)
			return resp, nil
		},
	}
}

// metricsWriter is where the functions' metric lines go: stderr at debug,
// nowhere otherwise.
func metricsWriter() io.Writer {
	if logging.ParseLevel(os.Getenv(config.LogLevel)) == slog.LevelDebug {
		return os.Stderr
	}
	return io.Discard
}

// hubBanner tells the user how to connect each stand-in shop and place an
// order at it. The connect URLs carry the shop's address as typed (a
// browser sends it as is), and the form is there without it.
func hubBanner(out io.Writer, apiURL string, st *stack.Stack, capture *fakelogistos.Server, cfg config.Forwarder, shops []string, s hubSettings) {
	logistosLine := "sent to " + cfg.OrdersURL + " (LOGISTOS_ORDERS_URL)"
	if capture != nil {
		logistosLine = "printed below, each payload with its shop's store_url (local stand-in at " + cfg.OrdersURL + ")"
	}
	var b strings.Builder
	fmt.Fprintf(&b, `
logistos-sync is running locally as a hub (STORE_URL empty: any shop connects)

  Webhook      POST %s/<shop id> (each shop's own route, registered by its activation)
  Logistos     %s
  AWS (kumo)   %s   shops %s (secrets sealed under KMS key %s), state %s, ledger %s
               queues %s, %s, %s, %s, %s
  Reconcile    every %s: one sweep job per connected shop on %s

Two stand-in shops, %d orders each:
`, apiURL+pipeline.WebhookPath, logistosLine, st.Endpoint, st.ShopsTable, st.ShopsKeyID, st.StateTable, st.LedgerTable,
		stack.QueueName, stack.BackfillQueueName, stack.WaitingQueueName, stack.SweepQueueName, stack.DLQName, s.every, stack.SweepQueueName, s.shopOrders)
	for i, u := range shops {
		fmt.Fprintf(&b, "  shop %c       %s\n", 'A'+i, u)
	}
	b.WriteString("\nConnect each: open its URL in a browser and click Approve on the shop's screen:\n")
	for i, u := range shops {
		fmt.Fprintf(&b, "  shop %c       %s%s?%s=%s\n", 'A'+i, apiURL, connect.PathConnect, connect.ParamStoreURL, u)
	}
	fmt.Fprintf(&b, "  (or %s%s: the form that asks for the address)\n", apiURL, connect.PathConnect)
	b.WriteString("\nOnce its activation is done, place an order at a shop: its webhook fires and\nLogistos receives the order with that shop's store_url:\n")
	for i, u := range shops {
		fmt.Fprintf(&b, "  shop %c       curl -sS -X POST %s%s\n", 'A'+i, u, fakewoo.PathPlaceOrder)
	}
	b.WriteString("\nCtrl-C stops everything.\n\n")
	_, _ = io.WriteString(out, b.String())
}
