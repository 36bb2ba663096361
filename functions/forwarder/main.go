// Command forwarder is the SQS-triggered Lambda that turns queued orders
// into Logistos payloads and posts them.
package main

import (
	"context"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/logistos-sync/logistos-sync/shared/config"
	"github.com/logistos-sync/logistos-sync/shared/forwarder"
	"github.com/logistos-sync/logistos-sync/shared/logging"
	"github.com/logistos-sync/logistos-sync/shared/logistos"
	"github.com/logistos-sync/logistos-sync/shared/metrics"
)

func main() {
	env := config.FromOS()
	log := logging.New(os.Stdout, env.String(config.LogLevel, "info"))
	cfg, err := config.LoadForwarder(env)
	if err != nil {
		logging.Exit(log, "forwarder cannot start", err)
	}
	aws, err := config.AWS(context.Background())
	if err != nil {
		logging.Exit(log, "forwarder cannot start", err)
	}
	h := &forwarder.Handler{
		Logistos: &logistos.Client{HTTP: logistos.NewHTTPClient(), OrdersURL: cfg.OrdersURL},
		Queues:   &forwarder.Queues{Client: sqs.NewFromConfig(aws), DLQURL: cfg.DLQURL},
		StoreURL: logistos.StoreURL(cfg.StoreURL),
		Topics:   config.Set(cfg.Topics),
		Log:      log,
		Metrics:  metrics.New(os.Stdout, ""),
	}
	lambda.Start(h.Handle)
}
