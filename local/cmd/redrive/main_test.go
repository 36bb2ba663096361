package main

import (
	"bytes"
	"context"
	"net"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/logistos-sync/logistos-sync/local/stack"
	"github.com/logistos-sync/logistos-sync/shared/forwarder"
	"github.com/logistos-sync/logistos-sync/shared/queue"
)

func str(v string) types.MessageAttributeValue {
	return types.MessageAttributeValue{DataType: aws.String("String"), StringValue: aws.String(v)}
}

// deadLetter puts a message in the DLQ as the forwarder does: the queued
// attributes plus its failure-* ones.
func deadLetter(t *testing.T, st *stack.Stack, body string, attrs map[string]types.MessageAttributeValue) {
	t.Helper()
	all := map[string]types.MessageAttributeValue{
		forwarder.AttrFailureClass:  str("permanent"),
		forwarder.AttrFailureReason: str("logistos: 422 Unprocessable Entity"),
		forwarder.AttrFailureDetail: str(`{"error":"bad pincode"}`),
	}
	for k, v := range attrs {
		all[k] = v
	}
	if _, err := st.SQS.SendMessage(context.Background(), &sqs.SendMessageInput{QueueUrl: &st.DLQURL, MessageBody: &body, MessageAttributes: all}); err != nil {
		t.Fatal(err)
	}
}

// receiveAll drains a queue with short polls (kumo does not wake long polls).
func receiveAll(t *testing.T, st *stack.Stack, url string) []types.Message {
	t.Helper()
	var out []types.Message
	for {
		r, err := st.SQS.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{
			QueueUrl: &url, MaxNumberOfMessages: 10, WaitTimeSeconds: 0, VisibilityTimeout: 300, MessageAttributeNames: []string{"All"},
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(r.Messages) == 0 {
			return out
		}
		out = append(out, r.Messages...)
	}
}

// base is the stack `make redrive` finds by its default names; kumo's state
// is per process, so the other tests use forks of it with their own names.
var base *stack.Stack

func TestMain(m *testing.M) {
	var err error
	// maxReceiveCount 1 lets a test have SQS dead-letter a message itself.
	if base, err = stack.Start(context.Background(), stack.Options{MaxReceiveCount: 1}); err != nil {
		panic(err)
	}
	code := m.Run()
	base.Close()
	os.Exit(code)
}

// fork is a stack of its own for one test, reached through the SDK's
// standard variables as in AWS.
func fork(t *testing.T) *stack.Stack {
	t.Helper()
	st, err := base.Fork(context.Background(), stack.Options{Suffix: "-" + t.Name()})
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range st.Env() {
		t.Setenv(k, v)
	}
	t.Setenv("AWS_CONFIG_FILE", "/dev/null")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
	return st
}

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

// TestRedriveLocalStack runs the command as `make redrive` does against the
// local stack: kumo has no StartMessageMoveTask, so this is the copy path.
func TestRedriveLocalStack(t *testing.T) {
	ctx := context.Background()
	st := base

	webhookAttrs := map[string]types.MessageAttributeValue{
		queue.AttrTopic: str("order.created"), queue.AttrOrigin: str(queue.OriginWebhook),
		queue.AttrSource: str("https://shop.example/"), queue.AttrDeliveryID: str("d1"),
	}
	deadLetter(t, st, `{"id":313,"status":"processing"}`, webhookAttrs)
	deadLetter(t, st, "H4sIAAAAAAAA/6tWykxRsjI0MNBRKkktLlGyUqoFAJqvoTQUAAAA", map[string]types.MessageAttributeValue{
		queue.AttrOrigin: str(queue.OriginBackfill), queue.AttrContentEncoding: str(queue.EncodingGzip),
	})
	// And one that SQS itself dead-lettered after maxReceiveCount receives.
	if _, err := st.SQS.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: &st.QueueURL, MessageBody: aws.String(`{"id":315}`),
		MessageAttributes: map[string]types.MessageAttributeValue{queue.AttrTopic: str("order.created")}}); err != nil {
		t.Fatal(err)
	}
	for range 3 { // receive, fail (visible again at once), until SQS moves it
		r, err := st.SQS.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: &st.QueueURL})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range r.Messages {
			if _, err := st.SQS.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{QueueUrl: &st.QueueURL, ReceiptHandle: m.ReceiptHandle}); err != nil {
				t.Fatal(err)
			}
		}
	}
	if n := len(receiveAll(t, st, st.QueueURL)); n != 0 {
		t.Fatalf("setup: %d messages still on the orders queue, want SQS to have dead-lettered it", n)
	}

	var out bytes.Buffer
	if err := run(ctx, nil, env(map[string]string{"AWS_ENDPOINT_URL": st.Endpoint}), &out); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "(COMPLETED, copy)") || !strings.Contains(out.String(), "done: 3 of 3") {
		t.Errorf("output does not report the finished copy of 3:\n%s", out.String())
	}

	got := receiveAll(t, st, st.QueueURL)
	if len(got) != 3 {
		t.Fatalf("%d messages on the orders queue after the redrive, want 3", len(got))
	}
	byBody := map[string]types.Message{}
	for _, m := range got {
		byBody[aws.ToString(m.Body)] = m
		for k := range m.MessageAttributes {
			if strings.HasPrefix(k, queue.AttrFailurePrefix) {
				t.Errorf("message %s came back with %s", aws.ToString(m.Body), k)
			}
		}
	}
	wh, ok := byBody[`{"id":313,"status":"processing"}`]
	if !ok {
		t.Fatalf("the webhook order's body changed or it is missing: %v", keys(byBody))
	}
	for k, v := range webhookAttrs {
		if aws.ToString(wh.MessageAttributes[k].StringValue) != aws.ToString(v.StringValue) {
			t.Errorf("attribute %s = %q, want %q", k, aws.ToString(wh.MessageAttributes[k].StringValue), aws.ToString(v.StringValue))
		}
	}
	gz, ok := byBody["H4sIAAAAAAAA/6tWykxRsjI0MNBRKkktLlGyUqoFAJqvoTQUAAAA"]
	if !ok || aws.ToString(gz.MessageAttributes[queue.AttrContentEncoding].StringValue) != queue.EncodingGzip {
		t.Errorf("the gzip-encoded order lost its body or content-encoding: %+v", gz.MessageAttributes)
	}
	if _, ok := byBody[`{"id":315}`]; !ok {
		t.Error("the order SQS dead-lettered itself was not redriven")
	}
	if left := receiveAll(t, st, st.DLQURL); len(left) != 0 {
		t.Errorf("%d messages left in the DLQ", len(left))
	}
}

// TestRedriveExplicitURLs is the AWS path: queue URLs given, the client
// built from the SDK's standard configuration (here pointed at kumo).
func TestRedriveExplicitURLs(t *testing.T) {
	st := fork(t)
	deadLetter(t, st, `{"id":1}`, nil)
	deadLetter(t, st, `{"id":2}`, nil)

	var out bytes.Buffer
	args := []string{"-queue-url", st.QueueURL, "-dlq-url", st.DLQURL, "-rate", "10"}
	if err := run(context.Background(), args, func(string) string { return "" }, &out); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "region "+stack.Region) || !strings.Contains(out.String(), "done: 2 of 2") {
		t.Errorf("output:\n%s", out.String())
	}
	if n := len(receiveAll(t, st, st.QueueURL)); n != 2 {
		t.Errorf("%d messages on the orders queue, want 2", n)
	}
}

func TestRedriveEmptyDLQ(t *testing.T) {
	st := fork(t)
	var out bytes.Buffer
	args := []string{"-queue-url", st.QueueURL, "-dlq-url", st.DLQURL}
	if err := run(context.Background(), args, func(string) string { return "" }, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "empty; nothing to do") {
		t.Errorf("output:\n%s", out.String())
	}
}

func TestRedriveUsageErrors(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + ln.Addr().String()
	ln.Close()

	tests := []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"one URL only", []string{"-queue-url", "https://sqs.us-east-1.amazonaws.com/1/orders"}, nil, "give both"},
		{"one URL from env", nil, map[string]string{"DLQ_URL": "https://sqs.us-east-1.amazonaws.com/1/dlq"}, "give both"},
		{"no local stack", nil, map[string]string{"AWS_ENDPOINT_URL": closed}, "stack outputs OrdersQueueUrl and DeadLetterQueueUrl"},
		{"stray argument", []string{"now"}, nil, "unexpected arguments"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			err := run(ctx, tt.args, env(tt.env), &bytes.Buffer{})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func keys(m map[string]types.Message) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

func TestRegionOf(t *testing.T) {
	tests := map[string]string{
		"https://sqs.eu-west-1.amazonaws.com/123456789012/orders":     "eu-west-1",
		"https://sqs.us-east-1.amazonaws.com/123456789012/orders-dlq": "us-east-1",
		"http://localhost:4566/000000000000/logistos-sync-orders":     "",
		"not a url\x7f": "",
	}
	for in, want := range tests {
		if got := regionOf(in); got != want {
			t.Errorf("regionOf(%q) = %q, want %q", in, got, want)
		}
	}
}
