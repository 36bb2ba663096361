package forwarder

import (
	"log/slog"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/logistos-sync/logistos-sync/shared/config"
	"github.com/logistos-sync/logistos-sync/shared/logistos"
	"github.com/logistos-sync/logistos-sync/shared/metrics"
)

// New builds a Handler from the configuration with real clients, once per
// cold start. It is the one place the forwarder is wired: functions/forwarder,
// the local runner and the end-to-end tests all build it here, with awsCfg
// pointing at AWS or at an emulator.
func New(cfg config.Forwarder, awsCfg aws.Config, log *slog.Logger, m *metrics.Emitter) *Handler {
	return &Handler{
		Logistos: &logistos.Client{HTTP: logistos.NewHTTPClient(), OrdersURL: cfg.OrdersURL},
		Queues:   &Queues{Client: sqs.NewFromConfig(awsCfg), DLQURL: cfg.DLQURL},
		StoreURL: logistos.StoreURL(cfg.StoreURL),
		Topics:   config.Set(cfg.Topics),
		// One pacer per Handler, that is per container: the event source
		// runs at most BackfillInvocations of them at once.
		BackfillQueueARN: cfg.BackfillQueueARN,
		BackfillPacer:    &Pacer{Interval: BackfillInterval(cfg.BackfillRate)},
		Log:              log,
		Metrics:          m,
	}
}
