//go:build linux

package e2e

import (
	"context"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/logistos-sync/logistos-sync/local/delivery"
	"github.com/logistos-sync/logistos-sync/local/stack"
	"github.com/logistos-sync/logistos-sync/shared/queue"
	"github.com/logistos-sync/logistos-sync/shared/shop"
	"github.com/logistos-sync/logistos-sync/shared/shops"
	"github.com/logistos-sync/logistos-sync/shared/webhook"
)

// The webhook binary as a hub's (STORE_URL empty, the shops table and key
// from the environment, as template.yaml sets them) under the Lambda RIE:
// the real captured delivery, signed with shop A's secret, is taken on A's
// route and queued as A's; on B's route it is refused; on an unknown
// shop's, or the home route, it is not found. One message in all, A's.
func TestHubWebhookBinary(t *testing.T) {
	st := fork(t, stack.Options{Hub: true, Tables: true})
	ctx, cancel := context.WithTimeout(context.Background(), invokeWait)
	defer cancel()
	store := shops.Open(st.DynamoDB, st.KMS, st.ShopsTable, st.ShopsKeyID)
	add := func(u, secret string) shop.Shop {
		s := shop.Shop{ID: shop.ID(u), URL: u, Status: shop.Connected}
		if err := store.Put(ctx, s); err != nil {
			t.Fatal(err)
		}
		if err := store.SetSecrets(ctx, s.ID, shop.Secrets{WebhookSecret: secret, ConsumerKey: "ck_x", ConsumerSecret: "cs_x"}); err != nil {
			t.Fatal(err)
		}
		return s
	}
	a := add("https://a.example", delivery.RealSecret)
	b := add("https://b.example", "another-shops-secret")
	fn := start(t, webhookBoot, st.FunctionEnv(stack.Webhook, map[string]string{"STORE_URL": "", "AWS_LAMBDA_FUNCTION_TIMEOUT": "10"}))

	capture, err := delivery.ReadCapture("order-created-313")
	if err != nil {
		t.Fatal(err)
	}
	toShop := func(id string) events.APIGatewayV2HTTPRequest {
		ev := eventsOf(t)(capture.NewRequest(ctx, webhookURL+"/"+id))
		ev.RouteKey, ev.PathParameters = webhook.RouteShop, map[string]string{webhook.PathParamShop: id}
		return ev
	}
	for _, c := range []struct {
		name string
		ev   events.APIGatewayV2HTTPRequest
		want int
	}{
		{"A's delivery on A's route", toShop(a.ID), 200},
		{"A's delivery on B's route", toShop(b.ID), 401},
		{"an unknown shop", toShop(shop.ID("https://c.example")), 404},
		{"the home route", eventsOf(t)(capture.NewRequest(ctx, webhookURL)), 404},
	} {
		var resp events.APIGatewayV2HTTPResponse
		if err := fn.InvokeJSON(ctx, c.ev, &resp); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if resp.StatusCode != c.want {
			t.Errorf("%s: %d %s, want %d", c.name, resp.StatusCode, resp.Body, c.want)
		}
	}
	out, err := st.SQS.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(st.QueueURL), MaxNumberOfMessages: 10, MessageAttributeNames: []string{"All"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Messages) != 1 {
		t.Fatalf("queue holds %d messages, want A's delivery only", len(out.Messages))
	}
	// The capture says it is from http://127.0.0.1:8088/; the hub knows A.
	if got := aws.ToString(out.Messages[0].MessageAttributes[queue.AttrSource].StringValue); got != a.URL {
		t.Errorf("wc-source %q, want A's registered URL %q", got, a.URL)
	}
	waitOutput(t, fn, `"msg":"order enqueued"`, `"shop":"`+a.ID+`"`)
}
