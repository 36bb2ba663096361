package webhook

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"os"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/logistos-sync/logistos-sync/shared/ledger"
	"github.com/logistos-sync/logistos-sync/shared/metrics"
	"github.com/logistos-sync/logistos-sync/shared/queue"
	"github.com/logistos-sync/logistos-sync/shared/secret"
	"github.com/logistos-sync/logistos-sync/shared/woohook"
)

// nopSQS stands in for the SQS client: the benchmark measures our CPU, not the network.
type nopSQS struct{}

var sent = &sqs.SendMessageOutput{}

func (nopSQS) SendMessage(context.Context, *sqs.SendMessageInput, ...func(*sqs.Options)) (*sqs.SendMessageOutput, error) {
	return sent, nil
}

func (nopSQS) SendMessageBatch(context.Context, *sqs.SendMessageBatchInput, ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error) {
	return nil, nil
}

func benchBody(b *testing.B) []byte {
	body, err := os.ReadFile("../../testdata/woocommerce/order-wc9-inr-cod.json") // the 4 KB fixture
	if err != nil {
		b.Fatal(err)
	}
	return body
}

// BenchmarkHMACFloor is the least any verifier must do per delivery:
// HMAC-SHA256 over the body and base64 of the result.
func BenchmarkHMACFloor(b *testing.B) {
	body := benchBody(b)
	key := []byte(realSecret)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		m := hmac.New(sha256.New, key)
		m.Write(body)
		_ = base64.StdEncoding.EncodeToString(m.Sum(nil))
	}
}

// BenchmarkHandle is one signed delivery through the whole handler (verify,
// classify, envelope, log line, metric), with the SQS call a no-op and logs
// written (and discarded) as in Lambda. Goal: ≤ 3× BenchmarkHMACFloor, ≤ 10 allocs.
func BenchmarkHandle(b *testing.B) { benchHandle(b, nil) }

// nopDynamoDB stands in for the DynamoDB client of the ledger.
type nopDynamoDB struct{}

func (nopDynamoDB) PutItem(context.Context, *dynamodb.PutItemInput, ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	return &dynamodb.PutItemOutput{}, nil
}
func (nopDynamoDB) BatchWriteItem(context.Context, *dynamodb.BatchWriteItemInput, ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error) {
	return &dynamodb.BatchWriteItemOutput{}, nil
}
func (nopDynamoDB) BatchGetItem(context.Context, *dynamodb.BatchGetItemInput, ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error) {
	return &dynamodb.BatchGetItemOutput{}, nil
}

// BenchmarkHandleWithLedger is BenchmarkHandle plus the ledger write that
// follows the send (the DynamoDB call a no-op): compare the two for what
// the ledger costs the handler in CPU and allocations. In AWS the PutItem
// adds one same-region round trip (a few milliseconds) after the SQS send.
func BenchmarkHandleWithLedger(b *testing.B) {
	benchHandle(b, &ledger.Recorder{Store: &ledger.DynamoDB{Client: nopDynamoDB{}, Table: "ledger"},
		Log: quiet, Metrics: metrics.New(discard{}, "webhook")})
}

func benchHandle(b *testing.B, l *ledger.Recorder) {
	body := benchBody(b)
	h := &Handler{
		Ledger:   l,
		Secrets:  secret.Literal(realSecret),
		Queue:    &queue.Sender{Client: nopSQS{}, QueueURL: "https://sqs.ap-south-1.amazonaws.com/123456789012/orders"},
		Topics:   map[string]bool{"order.created": true},
		StoreURL: "https://shop.example.in",
		Log:      quiet,
		Metrics:  metrics.New(discard{}, "webhook"),
	}
	req := events.APIGatewayV2HTTPRequest{
		Headers: map[string]string{
			woohook.HeaderSignature: woohook.Sign(body, []byte(realSecret)), woohook.HeaderTopic: "order.created",
			woohook.HeaderSource: "https://shop.example.in/", woohook.HeaderWebhookID: "3", woohook.HeaderDeliveryID: "f7bb2b08fb1ad30520bc1b464e404ba8",
			"content-type": "application/json",
		},
		Body: string(body),
	}
	ctx := context.Background()
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		resp, _ := h.Handle(ctx, req)
		if resp.StatusCode != 200 {
			b.Fatalf("status %d", resp.StatusCode)
		}
	}
}
