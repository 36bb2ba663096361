// Command reconcile is the scheduled Lambda that queues the orders the
// webhook missed (WooCommerce never retries a delivery) and repairs the
// webhook (WooCommerce silently disables one that keeps failing).
package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/logistos-sync/logistos-sync/shared/config"
	"github.com/logistos-sync/logistos-sync/shared/logging"
	"github.com/logistos-sync/logistos-sync/shared/metrics"
	"github.com/logistos-sync/logistos-sync/shared/reconcile"
)

func main() {
	cfg, err := config.LoadReconcile(config.FromOS())
	log := logging.New(os.Stdout, cfg.LogLevel)
	if err == nil {
		err = run(cfg, log)
	}
	logging.Exit(log, "reconcile cannot start", err)
}

// run builds the handler once per cold start and serves invocations; it
// returns only when the function cannot start.
func run(cfg config.Reconcile, log *slog.Logger) error {
	aws, err := config.AWS(context.Background())
	if err != nil {
		return err
	}
	h, err := reconcile.New(cfg, aws, log, metrics.New(os.Stdout, cfg.Function))
	if err != nil {
		return err
	}
	lambda.Start(h.Invoke)
	return nil
}
