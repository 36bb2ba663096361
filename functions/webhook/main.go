// Command webhook is the API Gateway HTTP API Lambda that receives
// WooCommerce's signed order webhooks and puts them on the orders queue.
package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/logistos-sync/logistos-sync/shared/config"
	"github.com/logistos-sync/logistos-sync/shared/logging"
	"github.com/logistos-sync/logistos-sync/shared/metrics"
	"github.com/logistos-sync/logistos-sync/shared/webhook"
)

func main() {
	cfg, err := config.LoadWebhook(config.FromOS())
	log := logging.New(os.Stdout, cfg.LogLevel)
	if err == nil {
		err = run(cfg, log)
	}
	logging.Exit(log, "webhook cannot start", err)
}

// run builds the handler once per cold start and serves invocations; it
// returns only when the function cannot start.
func run(cfg config.Webhook, log *slog.Logger) error {
	aws, err := config.AWS(context.Background())
	if err != nil {
		return err
	}
	h, err := webhook.New(cfg, aws, log, metrics.New(os.Stdout, cfg.Function))
	if err != nil {
		return err
	}
	lambda.Start(h.Handle)
	return nil
}
