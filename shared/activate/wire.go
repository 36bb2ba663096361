package activate

import (
	"fmt"
	"log/slog"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/logistos-sync/logistos-sync/shared/config"
	"github.com/logistos-sync/logistos-sync/shared/hookreg"
	"github.com/logistos-sync/logistos-sync/shared/ledger"
	"github.com/logistos-sync/logistos-sync/shared/logistos"
	"github.com/logistos-sync/logistos-sync/shared/metrics"
	"github.com/logistos-sync/logistos-sync/shared/queue"
	"github.com/logistos-sync/logistos-sync/shared/secret"
	"github.com/logistos-sync/logistos-sync/shared/state"
	"github.com/logistos-sync/logistos-sync/shared/wookey"
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
	shop, err := wookey.OpenShop(sm, cfg.StoreURL, cfg.WooCredentials.ARN, cfg.ConsumerKey, cfg.ConsumerSecret, cfg.AllowPrivateShops)
	if err != nil {
		return nil, err
	}
	db := dynamodb.NewFromConfig(awsCfg)
	store := state.Open(db, cfg.StateTable)
	// The SDK hashes every body it sent to compare with the MD5 SQS
	// returns: 400 MB per 100,000 orders, a tenth of the backfill's CPU
	// (BenchmarkBackfill), to detect corruption in transit that TLS
	// already rules out. The webhook, one order at a time, keeps the check.
	sqsClient := sqs.NewFromConfig(awsCfg, func(o *sqs.Options) { o.DisableMessageChecksumValidation = true })
	// Only the shop's client is guarded (cfg.AllowPrivateShops): the shop's
	// URL is whoever connected's, Logistos's is the operator's own setting.
	h := &Handler{
		Shop:           shop.Client,
		Keys:           shop.Keys,
		Pending:        wookey.Pending{States: state.OpenOnce(db, cfg.StateTable)},
		Logistos:       &logistos.Client{HTTP: logistos.NewHTTPClient(), CredentialsURL: cfg.CredentialsURL},
		Queue:          &queue.Sender{Client: sqsClient, QueueURL: cfg.BackfillQueueURL},
		Ledger:         &ledger.Recorder{Store: ledger.Open(db, cfg.LedgerTable), Log: log, Metrics: m},
		DeadLetters:    sqsClient,
		DLQURL:         cfg.DLQURL,
		State:          store,
		WebhookSecret:  webhookSecret,
		StoreURL:       logistos.StoreURL(cfg.StoreURL),
		WebhookURL:     cfg.WebhookURL,
		CredentialsURL: cfg.CredentialsURL,
		Statuses:       cfg.BackfillStatuses,
		Concurrency:    cfg.BackfillConcurrency,
		WebhookTopics:  hookreg.Topics(cfg.Topics),
		Log:            log,
		Metrics:        m,
	}
	if cfg.WooCredentials.ARN != "" {
		h.KeyStore = wookey.Writer{Client: sm, ARN: cfg.WooCredentials.ARN}
	}
	if cfg.Function != "" {
		h.Invoker = &LambdaInvoker{Client: lambda.NewFromConfig(awsCfg), FunctionName: cfg.Function}
	}
	return h, nil
}
