package connect

import (
	"context"
	"log/slog"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/lambda"

	"github.com/logistos-sync/logistos-sync/shared/config"
	"github.com/logistos-sync/logistos-sync/shared/invoke"
	"github.com/logistos-sync/logistos-sync/shared/metrics"
	"github.com/logistos-sync/logistos-sync/shared/state"
	"github.com/logistos-sync/logistos-sync/shared/wookey"
)

// New builds a Handler from the configuration with real clients, once per
// cold start. It is the one place connect is wired: functions/connect, the
// local runner and the tests all build it here (the local runner then
// starts activation in-process instead of through Lambda).
func New(cfg config.Connect, awsCfg aws.Config, log *slog.Logger, m *metrics.Emitter) (*Handler, error) {
	return &Handler{
		StoreURL:          cfg.StoreURL,
		AllowPrivateShops: cfg.AllowPrivateShops,
		Pending:           wookey.Pending{States: state.OpenOnce(dynamodb.NewFromConfig(awsCfg), cfg.StateTable)},
		Activate:          LambdaStarter{Client: lambda.NewFromConfig(awsCfg), FunctionName: cfg.ActivateFunction},
		Log:               log,
		Metrics:           m,
	}, nil
}

// LambdaStarter starts activation as an asynchronous invocation of the
// activate function with the pending key's reference (all steps, once the
// key is proven: a new key differs from the one handed over before, so the
// handoff runs again).
type LambdaStarter struct {
	Client       invoke.API
	FunctionName string
}

// startEvent is the activate function's event that Start sends: the
// "pending_key" and, in a hub, "store_url" of activate's Event and nothing
// else, so that every step runs for that shop (no store_url: the home
// shop, as before hubs). Connect writes it itself rather than link
// activate; a test in local/templatecheck checks that activate reads it so.
type startEvent struct {
	PendingKey string `json:"pending_key"`
	StoreURL   string `json:"store_url,omitempty"`
}

// Start invokes activate for the shop storeURL ("" for the home shop)
// without waiting for it.
func (s LambdaStarter) Start(ctx context.Context, ref, storeURL string) error {
	return invoke.Async(ctx, s.Client, s.FunctionName, startEvent{PendingKey: ref, StoreURL: storeURL})
}
