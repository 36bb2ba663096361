// Command activate is the one-off Lambda that connects a shop: it hands the
// REST API key to Logistos, registers the order webhook and backfills every
// existing order, continuing itself in fresh invocations as needed.
package main

import (
	"context"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/logistos-sync/logistos-sync/shared/activate"
	"github.com/logistos-sync/logistos-sync/shared/config"
	"github.com/logistos-sync/logistos-sync/shared/logging"
	"github.com/logistos-sync/logistos-sync/shared/metrics"
)

func main() {
	env := config.FromOS()
	log := logging.New(os.Stdout, env.String(config.LogLevel, "info"))
	cfg, err := config.LoadActivate(env)
	if err != nil {
		logging.Exit(log, "activate cannot start", err)
	}
	aws, err := config.AWS(context.Background())
	if err != nil {
		logging.Exit(log, "activate cannot start", err)
	}
	h, err := activate.New(cfg, aws, os.Getenv("AWS_LAMBDA_FUNCTION_NAME"), log, metrics.New(os.Stdout, ""))
	if err != nil {
		logging.Exit(log, "activate cannot start", err)
	}
	lambda.Start(h.Handle)
}
