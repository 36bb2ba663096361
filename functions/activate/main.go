// Command activate is the one-off Lambda that connects a shop: it hands the
// REST API key to Logistos, registers the order webhook and backfills every
// existing order, continuing itself in fresh invocations as needed.
package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/logistos-sync/logistos-sync/shared/activate"
	"github.com/logistos-sync/logistos-sync/shared/config"
	"github.com/logistos-sync/logistos-sync/shared/logging"
	"github.com/logistos-sync/logistos-sync/shared/metrics"
)

func main() {
	cfg, err := config.LoadActivate(config.FromOS())
	log := logging.New(os.Stdout, cfg.LogLevel)
	if err == nil {
		err = run(cfg, log)
	}
	logging.Exit(log, "activate cannot start", err)
}

// run builds the handler once per cold start and serves invocations; it
// returns only when the function cannot start.
func run(cfg config.Activate, log *slog.Logger) error {
	activate.TuneGC()
	aws, err := config.AWS(context.Background())
	if err != nil {
		return err
	}
	h, err := activate.New(cfg, aws, log, metrics.New(os.Stdout, cfg.Function))
	if err != nil {
		return err
	}
	lambda.Start(h.Handle)
	return nil
}
