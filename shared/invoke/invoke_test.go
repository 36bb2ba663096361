package invoke

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

// lambdaAPI records the invocation and answers with status or err.
type lambdaAPI struct {
	in     *lambda.InvokeInput
	status int32
	err    error
}

func (l *lambdaAPI) Invoke(_ context.Context, in *lambda.InvokeInput, _ ...func(*lambda.Options)) (*lambda.InvokeOutput, error) {
	l.in = in
	if l.err != nil {
		return nil, l.err
	}
	return &lambda.InvokeOutput{StatusCode: l.status}, nil
}

func TestAsync(t *testing.T) {
	c := &lambdaAPI{status: 202}
	ev := struct {
		Ref string `json:"pending_key"`
	}{"r-1"}
	if err := Async(context.Background(), c, "activate-fn", ev); err != nil {
		t.Fatal(err)
	}
	if aws.ToString(c.in.FunctionName) != "activate-fn" || c.in.InvocationType != types.InvocationTypeEvent ||
		string(c.in.Payload) != `{"pending_key":"r-1"}` {
		t.Errorf("invoked %s (%s) with %s; want activate-fn, asynchronously, with the event as JSON",
			aws.ToString(c.in.FunctionName), c.in.InvocationType, c.in.Payload)
	}
}

// Only 202 means Lambda queued the event; any other answer, or an error,
// is the caller's to report, naming the function.
func TestAsyncFailures(t *testing.T) {
	for name, c := range map[string]*lambdaAPI{
		"synchronous answer": {status: 200},
		"error":              {err: errors.New("AccessDeniedException")},
	} {
		t.Run(name, func(t *testing.T) {
			err := Async(context.Background(), c, "activate-fn", struct{}{})
			if err == nil || !strings.Contains(err.Error(), "invoke activate-fn") {
				t.Errorf("error %v, want one naming the function", err)
			}
		})
	}
	if err := Async(context.Background(), &lambdaAPI{status: 202}, "f", func() {}); err == nil {
		t.Error("an event that is not JSON was sent")
	}
}
