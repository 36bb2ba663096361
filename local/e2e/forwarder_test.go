//go:build linux

package e2e

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/logistos-sync/logistos-sync/local/delivery"
	"github.com/logistos-sync/logistos-sync/local/esm"
	"github.com/logistos-sync/logistos-sync/local/fakelogistos"
	"github.com/logistos-sync/logistos-sync/local/stack"
	"github.com/logistos-sync/logistos-sync/shared/queue"
)

// The forwarder binary, fed SQS events built from the messages on the
// queue as the event source mapping builds them.
func TestForwarderBinary(t *testing.T) {
	st := fork(t, stack.Options{})
	fake := &fakelogistos.Server{}
	lsrv := httptest.NewServer(fake)
	defer lsrv.Close()
	fn := start(t, forwarderBoot, st.FunctionEnv(stack.Forwarder, map[string]string{
		"STORE_URL":                   storeURL,
		"LOGISTOS_ORDERS_URL":         lsrv.URL + fakelogistos.OrdersPath,
		"AWS_LAMBDA_FUNCTION_TIMEOUT": "30",
	}))
	var last events.SQSEventResponse
	poller := &esm.Poller{
		Client: st.SQS, QueueURL: st.QueueURL, QueueARN: st.QueueARN, Region: stack.Region, FunctionTimeout: 30 * time.Second,
		Handler: func(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
			last = events.SQSEventResponse{}
			err := fn.InvokeJSON(ctx, ev, &last)
			return last, err
		},
	}
	capture, err := delivery.ReadCapture("order-created-313")
	if err != nil {
		t.Fatal(err)
	}
	sender := &queue.Sender{Client: st.SQS, QueueURL: st.QueueURL}
	steps := []struct {
		name       string
		answer     fakelogistos.Response
		wantKept   bool
		wantDLQ    int
		wantAccept int
	}{
		{"accepted", fakelogistos.OK, false, 0, 1},
		{"422 goes to the DLQ", fakelogistos.Invalid, false, 1, 1},
		{"503 is a batch item failure", fakelogistos.Unavailable, true, 1, 1},
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for _, s := range steps {
		fake.SetRespond(fakelogistos.Always(s.answer))
		id, err := sender.Send(ctx, queue.Message{Body: string(capture.Body), Topic: "order.created", Source: "http://127.0.0.1:8088/", Origin: queue.OriginWebhook, WebhookID: "1", ReceivedAt: time.Now()})
		if err != nil {
			t.Fatal(err)
		}
		res, err := poller.Poll(ctx)
		if err != nil || res.Received != 1 || res.Err != nil {
			t.Fatalf("%s: poll %+v, %v", s.name, res, err)
		}
		kept := len(last.BatchItemFailures) == 1 && last.BatchItemFailures[0].ItemIdentifier == id
		if kept != s.wantKept || (len(res.Kept) == 1) != s.wantKept {
			t.Errorf("%s: batchItemFailures %+v, kept %v", s.name, last.BatchItemFailures, res.Kept)
		}
		if v, _, _ := st.Depth(ctx, st.DLQURL); v != s.wantDLQ {
			t.Errorf("%s: DLQ holds %d, want %d", s.name, v, s.wantDLQ)
		}
		if n := len(fake.Delivered()); n != s.wantAccept {
			t.Errorf("%s: Logistos accepted %d payloads, want %d", s.name, n, s.wantAccept)
		}
	}
	sent := fake.Delivered()[0]
	if !strings.Contains(string(sent.Body), `"id":313`) || strings.Contains(string(sent.Body), "meta_data") || sent.IdempotencyKey() == "" {
		t.Errorf("payload %s", sent.Body)
	}
	dead := peekDLQ(t, st)
	if dead == nil || !strings.Contains(dead[queue.AttrFailureReason], "422") {
		t.Errorf("DLQ message attributes %v", dead)
	}
	waitOutput(t, fn, `"outcome":"forwarded"`, `"outcome":"permanent_failure"`, `"outcome":"transient_failure"`)
}

// peekDLQ returns the string attributes of the DLQ's one message.
func peekDLQ(t *testing.T, st *stack.Stack) map[string]string {
	t.Helper()
	out, err := st.SQS.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{QueueUrl: aws.String(st.DLQURL), MaxNumberOfMessages: 10, MessageAttributeNames: []string{"All"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Messages) != 1 {
		t.Fatalf("DLQ holds %d messages, want 1", len(out.Messages))
	}
	attrs := map[string]string{}
	for k, v := range out.Messages[0].MessageAttributes {
		attrs[k] = aws.ToString(v.StringValue)
	}
	return attrs
}
