package webhook

import (
	"fmt"
	"log/slog"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/logistos-sync/logistos-sync/shared/config"
	"github.com/logistos-sync/logistos-sync/shared/ledger"
	"github.com/logistos-sync/logistos-sync/shared/metrics"
	"github.com/logistos-sync/logistos-sync/shared/queue"
	"github.com/logistos-sync/logistos-sync/shared/secret"
	"github.com/logistos-sync/logistos-sync/shared/shops"
)

// New builds a Handler from the configuration with real clients, once per
// cold start. It is the one place the webhook is wired: functions/webhook,
// the local runner and the end-to-end tests all build it here, with awsCfg
// pointing at AWS or at an emulator.
func New(cfg config.Webhook, awsCfg aws.Config, log *slog.Logger, m *metrics.Emitter) (*Handler, error) {
	db := dynamodb.NewFromConfig(awsCfg)
	h := &Handler{
		Queue:    &queue.Sender{Client: sqs.NewFromConfig(awsCfg), QueueURL: cfg.QueueURL},
		Ledger:   &ledger.Recorder{Store: ledger.Open(db, cfg.LedgerTable), Log: log, Metrics: m},
		Topics:   config.Set(cfg.Topics),
		StoreURL: cfg.StoreURL,
		Log:      log,
		Metrics:  m,
	}
	if cfg.Hub() {
		// Each shop's secret is in the shops table; the stack's own
		// webhook secret belongs to no shop and is never read here.
		h.Shops = shops.Open(db, kms.NewFromConfig(awsCfg), cfg.Shops.Table, cfg.Shops.KeyID)
		return h, nil
	}
	secrets, err := secret.Open(secretsmanager.NewFromConfig(awsCfg), cfg.Secret.ARN, cfg.Secret.Literal)
	if err != nil {
		return nil, fmt.Errorf("webhook secret: %w", err)
	}
	h.Secrets = secrets
	return h, nil
}
