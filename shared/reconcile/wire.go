package reconcile

import (
	"fmt"
	"log/slog"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/logistos-sync/logistos-sync/shared/config"
	"github.com/logistos-sync/logistos-sync/shared/hookreg"
	"github.com/logistos-sync/logistos-sync/shared/ledger"
	"github.com/logistos-sync/logistos-sync/shared/logistos"
	"github.com/logistos-sync/logistos-sync/shared/metrics"
	"github.com/logistos-sync/logistos-sync/shared/queue"
	"github.com/logistos-sync/logistos-sync/shared/secret"
	"github.com/logistos-sync/logistos-sync/shared/shops"
	"github.com/logistos-sync/logistos-sync/shared/state"
	"github.com/logistos-sync/logistos-sync/shared/waiting"
	"github.com/logistos-sync/logistos-sync/shared/wooapi"
	"github.com/logistos-sync/logistos-sync/shared/woohook"
	"github.com/logistos-sync/logistos-sync/shared/wookey"
)

// New builds a Handler from the configuration with real clients, once per
// cold start. It is the one place reconcile is wired: functions/reconcile,
// the local runner, the sweep command and the tests all build it here.
func New(cfg config.Reconcile, awsCfg aws.Config, log *slog.Logger, m *metrics.Emitter) (*Handler, error) {
	sm := secretsmanager.NewFromConfig(awsCfg)
	var (
		home          wookey.Shop
		webhookSecret secret.Source
		err           error
	)
	if !cfg.Hub() {
		if webhookSecret, err = secret.Open(sm, cfg.WebhookSecret.ARN, cfg.WebhookSecret.Literal); err != nil {
			return nil, fmt.Errorf("webhook secret: %w", err)
		}
		if home, err = wookey.OpenShop(sm, cfg.StoreURL, cfg.WooCredentials.ARN, cfg.ConsumerKey, cfg.ConsumerSecret, cfg.AllowPrivateShops); err != nil {
			return nil, err
		}
	}
	db := dynamodb.NewFromConfig(awsCfg)
	l := ledger.Open(db, cfg.LedgerTable)
	sqsClient := sqs.NewFromConfig(awsCfg)
	// Only the shops' clients are guarded (cfg.AllowPrivateShops): a shop's
	// URL is whoever connected's, Logistos's is the operator's own setting.
	h := &Handler{
		Shop: home.Client,
		Keys: home.Keys,
		Queue: &ledger.RecordingSender{
			Sender:   &queue.Sender{Client: sqsClient, QueueURL: cfg.QueueURL},
			Recorder: &ledger.Recorder{Store: l, Log: log, Metrics: m},
		},
		DeadLetters:   sqsClient,
		DLQURL:        cfg.DLQURL,
		Ledger:        l,
		State:         state.Open(db, cfg.StateTable),
		WebhookSecret: webhookSecret,
		Waiting: &waiting.Releaser{
			SQS: sqsClient, WaitingURL: cfg.WaitingQueueURL, QueueURL: cfg.QueueURL, DLQURL: cfg.DLQURL,
			Logistos: &logistos.Client{HTTP: logistos.NewHTTPClient(), OrdersURL: cfg.OrdersURL},
			StoreURL: logistos.StoreURL(cfg.StoreURL), Rate: int32(cfg.ReleaseRate), Log: log, Metrics: m,
		},
		StoreURL:      logistos.StoreURL(cfg.StoreURL),
		WebhookURL:    cfg.WebhookURL,
		Grace:         cfg.Grace,
		Updated:       slices.Contains(cfg.Topics, woohook.TopicOrderUpdated),
		WebhookTopics: hookreg.Topics(cfg.Topics),
		Log:           log,
		Metrics:       m,
	}
	if cfg.Hub() {
		// A hub: each sweep makes the client of its shop over this one
		// guarded HTTP client; the keys and webhook secrets are in Shops.
		h.HTTP = wooapi.NewHTTPClient(cfg.AllowPrivateShops)
		h.Sweeps, h.SweepQueueURL = sqsClient, cfg.SweepQueueURL
		// Its shops on DynamoDB, their secrets sealed under KMS; in memory
		// when no table is named (local runs).
		h.Shops = shops.Open(db, kms.NewFromConfig(awsCfg), cfg.Shops.Table, cfg.Shops.KeyID)
	}
	return h, nil
}
