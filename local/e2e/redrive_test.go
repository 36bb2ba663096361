//go:build linux

package e2e

import (
	"bytes"
	"context"
	"maps"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/logistos-sync/logistos-sync/local/stack"
	"github.com/logistos-sync/logistos-sync/shared/queue"
)

// redriveTimeout bounds building and running the redrive binary.
const redriveTimeout = 2 * time.Minute

// The redrive binary, built from the root module as `make redrive` runs it,
// against the local stack given only the queue URLs: no AWS variables and a
// profile that does not exist, since the local stack is reached with fake
// credentials. kumo has no message move tasks, so this is the copy path;
// what it must keep and drop is checked here.
func TestRedriveBinary(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), redriveTimeout)
	defer cancel()
	bin := buildRedrive(t, ctx)
	// maxReceiveCount 1 lets the test have SQS dead-letter a message itself.
	st := fork(t, stack.Options{MaxReceiveCount: 1})

	webhookAttrs := map[string]types.MessageAttributeValue{
		queue.AttrTopic: str("order.created"), queue.AttrOrigin: str(queue.OriginWebhook),
		queue.AttrSource: str("https://shop.example/"), queue.AttrDeliveryID: str("d1"),
	}
	const webhookBody, gzipBody, sqsBody = `{"id":313,"status":"processing"}`, "H4sIAAAAAAAA/6tWykxRsjI0MNBRKkktLlGyUqoFAJqvoTQUAAAA", `{"id":315}`
	deadLetter(t, st, webhookBody, webhookAttrs)
	deadLetter(t, st, gzipBody, map[string]types.MessageAttributeValue{
		queue.AttrOrigin: str(queue.OriginBackfill), queue.AttrContentEncoding: str(queue.EncodingGzip),
	})
	sqsDeadLetter(t, st, sqsBody)

	queueURL, dlqURL := st.ReachableURL(st.QueueURL), st.ReachableURL(st.DLQURL)
	env := []string{"HOME=" + t.TempDir(), "AWS_PROFILE=no-such-profile"}
	out := runRedrive(t, ctx, bin, env, "-queue-url", queueURL, "-dlq-url", dlqURL, "-poll", "100ms")
	for _, want := range []string{
		"redrive: account 000000000000, region " + stack.Region + ": the local stack at " + st.Endpoint,
		"from dead-letter queue " + dlqURL, "to orders queue        " + queueURL,
		"(COMPLETED, copy)", "done: 2 of 2",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	// The one SQS moved itself waits on the waiting queue: OrdersWaitingAlarm's
	// command, the waiting queue in place of the DLQ, brings it back.
	waitingURL := st.ReachableURL(st.WaitingQueueURL)
	if out := runRedrive(t, ctx, bin, env, "-queue-url", queueURL, "-dlq-url", waitingURL, "-poll", "100ms"); !strings.Contains(out, "done: 1 of 1") {
		t.Errorf("redrive of the waiting queue: output lacks %q:\n%s", "done: 1 of 1", out)
	}

	got := receiveAll(t, st, st.QueueURL)
	byBody := map[string]types.Message{}
	for _, m := range got {
		byBody[aws.ToString(m.Body)] = m
		for k := range m.MessageAttributes {
			if strings.HasPrefix(k, queue.AttrFailurePrefix) {
				t.Errorf("message %s came back with %s", aws.ToString(m.Body), k)
			}
		}
	}
	if len(got) != 3 || len(byBody) != 3 {
		t.Fatalf("%d messages on the orders queue after the redrive, want the 3 dead-lettered: %v", len(got), slices.Sorted(maps.Keys(byBody)))
	}
	for k, v := range webhookAttrs {
		if got := aws.ToString(byBody[webhookBody].MessageAttributes[k].StringValue); got != aws.ToString(v.StringValue) {
			t.Errorf("webhook order's attribute %s = %q, want %q", k, got, aws.ToString(v.StringValue))
		}
	}
	if enc := aws.ToString(byBody[gzipBody].MessageAttributes[queue.AttrContentEncoding].StringValue); enc != queue.EncodingGzip {
		t.Errorf("the gzip-encoded order came back with content-encoding %q", enc)
	}
	if _, ok := byBody[sqsBody]; !ok {
		t.Error("the order SQS dead-lettered itself was not redriven")
	}
	if left := receiveAll(t, st, st.DLQURL); len(left) != 0 {
		t.Errorf("%d messages left in the DLQ", len(left))
	}
}

// The same binary given kumo's own queue URLs and the SDK's standard
// variables (AWS_ENDPOINT_URL, region, credentials), as against any
// endpoint other than the local stack's default.
func TestRedriveBinaryStandardConfig(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), redriveTimeout)
	defer cancel()
	bin := buildRedrive(t, ctx)
	st := fork(t, stack.Options{})
	deadLetter(t, st, `{"id":1}`, nil)
	deadLetter(t, st, `{"id":2}`, nil)

	env := []string{"HOME=" + t.TempDir(), "AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null"}
	for k, v := range st.Env() {
		env = append(env, k+"="+v)
	}
	args := []string{"-queue-url", st.QueueURL, "-dlq-url", st.DLQURL, "-rate", "10", "-poll", "100ms"}
	out := runRedrive(t, ctx, bin, env, args...)
	for _, want := range []string{
		"redrive: account 000000000000, region " + stack.Region + ": the endpoint " + st.Endpoint + " (AWS_ENDPOINT_URL)",
		"to orders queue        " + st.QueueURL, "done: 2 of 2",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if n := len(receiveAll(t, st, st.QueueURL)); n != 2 {
		t.Errorf("%d messages on the orders queue, want 2", n)
	}
	if out := runRedrive(t, ctx, bin, env, args...); !strings.Contains(out, "the dead-letter queue is empty; nothing to do") {
		t.Errorf("second run, on the emptied DLQ:\n%s", out)
	}
}

// buildRedrive builds cmd/redrive from the root module into a temporary
// directory, as an operator's `go run ./cmd/redrive` would.
func buildRedrive(t *testing.T, ctx context.Context) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "redrive")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/redrive")
	cmd.Dir = rie.Root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/redrive: %v\n%s", err, out)
	}
	return bin
}

// runRedrive runs the binary with exactly env and returns its stdout; it
// fails the test unless the binary exits 0 with nothing on stderr.
func runRedrive(t *testing.T, ctx context.Context, bin string, env []string, args ...string) string {
	t.Helper()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil || stderr.Len() > 0 {
		t.Fatalf("redrive %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.String()
}

func str(v string) types.MessageAttributeValue {
	return types.MessageAttributeValue{DataType: aws.String("String"), StringValue: aws.String(v)}
}

// deadLetter puts a message in the DLQ as the forwarder does: the queued
// attributes plus its failure-* ones.
func deadLetter(t *testing.T, st *stack.Stack, body string, attrs map[string]types.MessageAttributeValue) {
	t.Helper()
	all := map[string]types.MessageAttributeValue{
		queue.AttrFailureClass:  str("permanent"),
		queue.AttrFailureReason: str("logistos: 422 Unprocessable Entity"),
		queue.AttrFailureDetail: str(`{"error":"bad pincode"}`),
	}
	for k, v := range attrs {
		all[k] = v
	}
	if _, err := st.SQS.SendMessage(context.Background(), &sqs.SendMessageInput{QueueUrl: &st.DLQURL, MessageBody: &body, MessageAttributes: all}); err != nil {
		t.Fatal(err)
	}
}

// sqsDeadLetter has SQS itself move a message to the orders queue's redrive
// target, the waiting queue, as it does after maxReceiveCount failed
// receives (the stack must have maxReceiveCount 1): such a message carries
// no failure-* attributes.
func sqsDeadLetter(t *testing.T, st *stack.Stack, body string) {
	t.Helper()
	ctx := context.Background()
	if _, err := st.SQS.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: &st.QueueURL, MessageBody: &body,
		MessageAttributes: map[string]types.MessageAttributeValue{queue.AttrTopic: str("order.created")}}); err != nil {
		t.Fatal(err)
	}
	for range 3 { // receive and fail (visible again at once) until SQS moves it
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
		t.Fatalf("setup: %d messages still on the orders queue, want SQS to have moved it to the waiting queue", n)
	}
}

// receiveAll drains a queue with short polls (kumo does not wake long
// polls), hiding what it received for the rest of the test.
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
