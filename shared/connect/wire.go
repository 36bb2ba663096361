package connect

import (
	"context"
	"log/slog"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/lambda"

	"github.com/logistos-sync/logistos-sync/shared/activate"
	"github.com/logistos-sync/logistos-sync/shared/config"
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
		StoreURL: cfg.StoreURL,
		Pending:  wookey.Pending{States: state.OpenOnce(dynamodb.NewFromConfig(awsCfg), cfg.StateTable)},
		Activate: LambdaStarter{Invoker: &activate.LambdaInvoker{Client: lambda.NewFromConfig(awsCfg), FunctionName: cfg.ActivateFunction}},
		Log:      log,
		Metrics:  m,
	}, nil
}

// LambdaStarter starts activation as an asynchronous invocation of the
// activate function with the pending key's reference (all steps, once the
// key is proven: a new key differs from the one handed over before, so the
// handoff runs again).
type LambdaStarter struct{ Invoker activate.Invoker }

// Start invokes activate without waiting for it.
func (s LambdaStarter) Start(ctx context.Context, ref string) error {
	return s.Invoker.Continue(ctx, activate.Event{PendingKey: ref})
}
