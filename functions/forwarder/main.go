// Command forwarder is the SQS-triggered Lambda that turns queued orders
// into Logistos payloads and posts them.
package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/logistos-sync/logistos-sync/shared/config"
	"github.com/logistos-sync/logistos-sync/shared/forwarder"
	"github.com/logistos-sync/logistos-sync/shared/logging"
	"github.com/logistos-sync/logistos-sync/shared/metrics"
)

func main() {
	cfg, err := config.LoadForwarder(config.FromOS())
	log := logging.New(os.Stdout, cfg.LogLevel)
	if err == nil {
		err = run(cfg, log)
	}
	logging.Exit(log, "forwarder cannot start", err)
}

// run builds the handler once per cold start and serves invocations; it
// returns only when the function cannot start.
func run(cfg config.Forwarder, log *slog.Logger) error {
	aws, err := config.AWS(context.Background())
	if err != nil {
		return err
	}
	lambda.Start(forwarder.New(cfg, aws, log, metrics.New(os.Stdout, cfg.Function)).Handle)
	return nil
}
