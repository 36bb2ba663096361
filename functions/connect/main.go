// Command connect is the Lambda behind the HTTP API's connect routes: it
// sends the shop owner to WooCommerce's app authorization screen, receives
// the key WooCommerce generates, stores it and starts activation.
package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/logistos-sync/logistos-sync/shared/config"
	"github.com/logistos-sync/logistos-sync/shared/connect"
	"github.com/logistos-sync/logistos-sync/shared/logging"
	"github.com/logistos-sync/logistos-sync/shared/metrics"
)

func main() {
	cfg, err := config.LoadConnect(config.FromOS())
	log := logging.New(os.Stdout, cfg.LogLevel)
	if err == nil {
		err = run(cfg, log)
	}
	logging.Exit(log, "connect cannot start", err)
}

// run builds the handler once per cold start and serves invocations; it
// returns only when the function cannot start.
func run(cfg config.Connect, log *slog.Logger) error {
	aws, err := config.AWS(context.Background())
	if err != nil {
		return err
	}
	h, err := connect.New(cfg, aws, log, metrics.New(os.Stdout, cfg.Function))
	if err != nil {
		return err
	}
	lambda.Start(h.Handle)
	return nil
}
