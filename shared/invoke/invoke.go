// Package invoke starts a Lambda function without waiting for it: an
// asynchronous invocation (InvocationType Event) with a JSON event, which
// Lambda queues and runs with a full timeout of its own. Activate continues
// a long backfill this way, and connect starts activation; neither links
// the other's package for it.
package invoke

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

// API is the part of the Lambda client Async uses.
type API interface {
	Invoke(ctx context.Context, in *lambda.InvokeInput, opts ...func(*lambda.Options)) (*lambda.InvokeOutput, error)
}

// Async invokes function with event, encoded as JSON, and returns once
// Lambda has queued the invocation (202 Accepted).
func Async(ctx context.Context, client API, function string, event any) error {
	payload, err := json.Marshal(event)
	if err != nil {
		return fmt.Errorf("invoke %s: encode the event: %w", function, err)
	}
	out, err := client.Invoke(ctx, &lambda.InvokeInput{
		FunctionName:   &function,
		InvocationType: types.InvocationTypeEvent,
		Payload:        payload,
	})
	if err != nil {
		return fmt.Errorf("invoke %s: %w", function, err)
	}
	if out.StatusCode != http.StatusAccepted {
		return fmt.Errorf("invoke %s: status %d, want 202", function, out.StatusCode)
	}
	return nil
}
