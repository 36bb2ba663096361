package activate

import (
	"context"

	"github.com/logistos-sync/logistos-sync/shared/invoke"
)

// Invoker starts the invocation that continues a backfill.
type Invoker interface {
	Continue(ctx context.Context, ev Event) error
}

// LambdaInvoker continues in a fresh asynchronous invocation of the running
// function (FunctionName: AWS_LAMBDA_FUNCTION_NAME), which gets a full
// timeout of its own.
type LambdaInvoker struct {
	Client       invoke.API
	FunctionName string
}

// Continue invokes the function with ev, without waiting for it.
func (l *LambdaInvoker) Continue(ctx context.Context, ev Event) error {
	return invoke.Async(ctx, l.Client, l.FunctionName, ev)
}
