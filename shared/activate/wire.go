package activate

import (
	"fmt"
	"log/slog"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/logistos-sync/logistos-sync/shared/checkpoint"
	"github.com/logistos-sync/logistos-sync/shared/config"
	"github.com/logistos-sync/logistos-sync/shared/logistos"
	"github.com/logistos-sync/logistos-sync/shared/metrics"
	"github.com/logistos-sync/logistos-sync/shared/queue"
	"github.com/logistos-sync/logistos-sync/shared/secret"
	"github.com/logistos-sync/logistos-sync/shared/wooapi"
)

// New builds a Handler from the configuration with real clients, once per
// cold start. It is the one place activate is wired: functions/activate, the
// local runner and the tests all build it here. A backfill continues by
// invoking cfg.Function; without one (local runs) Invoker stays nil and the
// runner loops on Report.Next itself.
func New(cfg config.Activate, awsCfg aws.Config, log *slog.Logger, m *metrics.Emitter) (*Handler, error) {
	sm := secretsmanager.NewFromConfig(awsCfg)
	webhookSecret, err := secret.Open(sm, cfg.WebhookSecret.ARN, cfg.WebhookSecret.Literal)
	if err != nil {
		return nil, fmt.Errorf("webhook secret: %w", err)
	}
	var keys KeySource = StaticKey{ConsumerKey: cfg.ConsumerKey, ConsumerSecret: cfg.ConsumerSecret}
	if cfg.WooCredentials.ARN != "" {
		src, err := secret.NewManager(sm, cfg.WooCredentials.ARN)
		if err != nil {
			return nil, fmt.Errorf("WooCommerce credentials secret: %w", err)
		}
		keys = SecretKey{Source: src}
	}
	shop, err := wooapi.NewClient(wooapi.NewHTTPClient(), cfg.StoreURL, wooapi.Key{})
	if err != nil {
		return nil, err
	}
	var store checkpoint.Store = &checkpoint.Memory{}
	if cfg.Checkpoint != "" {
		store = &checkpoint.DynamoDB{Client: dynamodb.NewFromConfig(awsCfg), Table: cfg.Checkpoint}
	}
	sqsClient := sqs.NewFromConfig(awsCfg)
	h := &Handler{
		Shop:           shop,
		Keys:           keys,
		Logistos:       &logistos.Client{HTTP: logistos.NewHTTPClient(), CredentialsURL: cfg.CredentialsURL},
		Queue:          &queue.Sender{Client: sqsClient, QueueURL: cfg.QueueURL},
		DeadLetters:    sqsClient,
		DLQURL:         cfg.DLQURL,
		Checkpoints:    store,
		WebhookSecret:  webhookSecret,
		StoreURL:       logistos.StoreURL(cfg.StoreURL),
		WebhookURL:     cfg.WebhookURL,
		CredentialsURL: cfg.CredentialsURL,
		Statuses:       cfg.BackfillStatuses,
		Concurrency:    cfg.BackfillConcurrency,
		Log:            log,
		Metrics:        m,
	}
	if cfg.Function != "" {
		h.Invoker = &LambdaInvoker{Client: lambda.NewFromConfig(awsCfg), FunctionName: cfg.Function}
	}
	return h, nil
}
