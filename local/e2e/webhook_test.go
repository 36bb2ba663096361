//go:build linux

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/logistos-sync/logistos-sync/internal/testwait"
	"github.com/logistos-sync/logistos-sync/local/apigw"
	"github.com/logistos-sync/logistos-sync/local/delivery"
	"github.com/logistos-sync/logistos-sync/local/stack"
	"github.com/logistos-sync/logistos-sync/shared/queue"
)

const (
	storeURL   = "http://127.0.0.1:8088"
	webhookURL = "https://abc123.execute-api.us-east-1.amazonaws.com/woocommerce/webhook"
	routeKey   = "POST /woocommerce/webhook"
	invokeWait = 30 * time.Second
)

// events turns deliveries into the events API Gateway would pass.
func eventsOf(t *testing.T) func(*http.Request, error) events.APIGatewayV2HTTPRequest {
	return func(req *http.Request, err error) events.APIGatewayV2HTTPRequest {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		ev, err := apigw.NewRequest(req, routeKey)
		if err != nil {
			t.Fatal(err)
		}
		return ev
	}
}

// unsigned drops a delivery's signature.
func unsigned(req *http.Request, err error) (*http.Request, error) {
	if err == nil {
		req.Header.Del("X-WC-Webhook-Signature")
	}
	return req, err
}

func TestWebhookBinary(t *testing.T) {
	st := fork(t, stack.Options{WebhookSecret: delivery.RealSecret})
	fn := start(t, webhookBoot, st.FunctionEnv(stack.Webhook, map[string]string{
		"STORE_URL":                   storeURL,
		"AWS_LAMBDA_FUNCTION_TIMEOUT": "10",
	}))
	capture, err := delivery.ReadCapture("order-created-313")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), invokeWait)
	defer cancel()
	event := eventsOf(t)
	ping := event(delivery.NewPing(ctx, webhookURL, 1))
	if !ping.IsBase64Encoded {
		t.Fatal("the ping event is not base64-encoded as API Gateway sends it")
	}
	cases := []struct {
		name string
		ev   events.APIGatewayV2HTTPRequest
		want int
	}{
		{"signed real delivery", event(capture.NewRequest(ctx, webhookURL)), 200},
		{"ping", ping, 200},
		{"bad signature", event(delivery.Delivery{Signature: "XiJZcT5uKfhpdoASYLx7MPoPzlNs7GWGMEJPv3anATA="}.NewRequest(ctx, webhookURL, capture.Body, "")), 401},
		{"no signature", event(unsigned(capture.NewRequest(ctx, webhookURL))), 401},
	}
	for _, tc := range cases {
		var resp events.APIGatewayV2HTTPResponse
		if err := fn.InvokeJSON(ctx, tc.ev, &resp); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if resp.StatusCode != tc.want {
			t.Errorf("%s: %d %s, want %d", tc.name, resp.StatusCode, resp.Body, tc.want)
		}
	}

	out, err := st.SQS.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(st.QueueURL), MaxNumberOfMessages: 10, MessageAttributeNames: []string{"All"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Messages) != 1 {
		t.Fatalf("queue holds %d messages, want the one signed delivery", len(out.Messages))
	}
	m := out.Messages[0]
	if aws.ToString(m.Body) != string(capture.Body) {
		t.Error("queued body differs from the delivery")
	}
	for k, want := range map[string]string{queue.AttrTopic: "order.created", queue.AttrOrigin: "webhook", queue.AttrSource: "http://127.0.0.1:8088/", queue.AttrWebhookID: "1"} {
		if got := aws.ToString(m.MessageAttributes[k].StringValue); got != want {
			t.Errorf("attribute %s = %q, want %q", k, got, want)
		}
	}
	// The function's own JSON log lines and EMF metrics reach its stdout.
	logs := waitOutput(t, fn, `"msg":"order enqueued"`, `"order_id":313`, `"msg":"webhook ping"`, `"msg":"webhook rejected"`, `"OrdersEnqueued":1`)
	if strings.Contains(logs, "Ada") || strings.Contains(logs, "ada1001@example.com") {
		t.Error("function output carries personal data")
	}
}

// A function missing required configuration fails its init with one log
// line that names the variable.
func TestConfigErrorAtInit(t *testing.T) {
	st := fork(t, stack.Options{})
	cases := []struct {
		name, bootstrap, missing string
		fn                       stack.Function
	}{
		{"webhook", webhookBoot, "QUEUE_URL", stack.Webhook},
		{"forwarder", forwarderBoot, "DLQ_URL", stack.Forwarder},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			env := st.FunctionEnv(tc.fn, map[string]string{"STORE_URL": storeURL})
			delete(env, tc.missing)
			fn := start(t, tc.bootstrap, env)
			ctx, cancel := context.WithTimeout(context.Background(), invokeWait)
			defer cancel()
			if _, err := fn.Invoke(ctx, []byte(`{}`)); err == nil {
				t.Fatal("the invocation succeeded without " + tc.missing)
			}
			var lines []map[string]any
			for _, l := range strings.Split(waitOutput(t, fn, tc.missing+": is required"), "\n") {
				var rec map[string]any
				if strings.Contains(l, tc.missing) && json.Unmarshal([]byte(l), &rec) == nil {
					lines = append(lines, rec)
				}
			}
			if len(lines) != 1 {
				t.Fatalf("%d JSON log lines name %s, want 1:\n%s", len(lines), tc.missing, fn.Output())
			}
			if lines[0]["level"] != "ERROR" || !strings.Contains(lines[0]["msg"].(string), "cannot start") ||
				!strings.Contains(lines[0]["error"].(string), tc.missing+": is required") {
				t.Errorf("init log line %v", lines[0])
			}
		})
	}
}

// processesRunning counts processes whose command line names path.
func processesRunning(t *testing.T, path string) int {
	t.Helper()
	dirs, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, d := range dirs {
		cmdline, err := os.ReadFile("/proc/" + d.Name() + "/cmdline")
		if err == nil && strings.Contains(string(cmdline), path) {
			n++
		}
	}
	return n
}

// Close leaves nothing running: neither the emulator nor the function it
// started.
func TestCloseKillsTheFunction(t *testing.T) {
	st := fork(t, stack.Options{})
	fn := start(t, webhookBoot, st.FunctionEnv(stack.Webhook, map[string]string{"STORE_URL": storeURL}))
	ctx, cancel := context.WithTimeout(context.Background(), invokeWait)
	defer cancel()
	ping, err := apigw.NewRequest(mustPing(t, ctx), routeKey)
	if err != nil {
		t.Fatal(err)
	}
	var resp events.APIGatewayV2HTTPResponse
	if err := fn.InvokeJSON(ctx, ping, &resp); err != nil || resp.StatusCode != 200 {
		t.Fatalf("ping: %d, %v", resp.StatusCode, err)
	}
	if n := processesRunning(t, webhookBoot); n < 2 {
		t.Fatalf("%d processes name the bootstrap; want the emulator and the function", n)
	}
	fn.Close()
	// Close waits for the emulator; the function, killed with it, ends
	// as the kernel gets to it.
	testwait.Eventually(t, invokeWait, func() error {
		if n := processesRunning(t, webhookBoot); n != 0 {
			return fmt.Errorf("%d processes still run after Close", n)
		}
		return nil
	})
}

func mustPing(t *testing.T, ctx context.Context) *http.Request {
	t.Helper()
	req, err := delivery.NewPing(ctx, webhookURL, 1)
	if err != nil {
		t.Fatal(err)
	}
	return req
}
