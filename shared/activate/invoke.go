package activate

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

// Invoker starts the invocation that continues a backfill.
type Invoker interface {
	Continue(ctx context.Context, ev Event) error
}

// LambdaAPI is the part of the Lambda client LambdaInvoker uses.
type LambdaAPI interface {
	Invoke(ctx context.Context, in *lambda.InvokeInput, opts ...func(*lambda.Options)) (*lambda.InvokeOutput, error)
}

// LambdaInvoker continues in a fresh asynchronous invocation of the running
// function (FunctionName: AWS_LAMBDA_FUNCTION_NAME), which gets a full
// timeout of its own.
type LambdaInvoker struct {
	Client       LambdaAPI
	FunctionName string
}

// Continue invokes the function with ev, without waiting for it.
func (l *LambdaInvoker) Continue(ctx context.Context, ev Event) error {
	payload, err := json.Marshal(ev)
	if err != nil {
		return err
	}
	out, err := l.Client.Invoke(ctx, &lambda.InvokeInput{
		FunctionName:   &l.FunctionName,
		InvocationType: types.InvocationTypeEvent,
		Payload:        payload,
	})
	if err != nil {
		return fmt.Errorf("invoke %s: %w", l.FunctionName, err)
	}
	if out.StatusCode != 202 {
		return fmt.Errorf("invoke %s: status %d, want 202", l.FunctionName, out.StatusCode)
	}
	return nil
}
