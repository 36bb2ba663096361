// Command webhook is the API Gateway HTTP API Lambda that receives
// WooCommerce's signed order webhooks and puts them on the orders queue.
package main

import (
	"context"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/logistos-sync/logistos-sync/shared/config"
	"github.com/logistos-sync/logistos-sync/shared/logging"
	"github.com/logistos-sync/logistos-sync/shared/metrics"
	"github.com/logistos-sync/logistos-sync/shared/queue"
	"github.com/logistos-sync/logistos-sync/shared/secret"
	"github.com/logistos-sync/logistos-sync/shared/webhook"
)

func main() {
	env := config.FromOS()
	log := logging.New(os.Stdout, env.String(config.LogLevel, "info"))
	cfg, err := config.LoadWebhook(env)
	if err != nil {
		logging.Exit(log, "webhook cannot start", err)
	}
	ctx := context.Background()
	aws, err := config.AWS(ctx)
	if err != nil {
		logging.Exit(log, "webhook cannot start", err)
	}
	secrets, err := secret.Open(secretsmanager.NewFromConfig(aws), cfg.Secret.ARN, cfg.Secret.Literal)
	if err != nil {
		logging.Exit(log, "webhook cannot start", err)
	}
	h := &webhook.Handler{
		Secrets:  secrets,
		Queue:    &queue.Sender{Client: sqs.NewFromConfig(aws), QueueURL: cfg.QueueURL},
		Topics:   config.Set(cfg.Topics),
		StoreURL: cfg.StoreURL,
		Log:      log,
		Metrics:  metrics.New(os.Stdout, ""),
	}
	lambda.Start(h.Handle)
}
