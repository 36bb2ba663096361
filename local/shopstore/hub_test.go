package shopstore

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/logistos-sync/logistos-sync/local/pipeline"
	"github.com/logistos-sync/logistos-sync/local/stack"
	"github.com/logistos-sync/logistos-sync/local/stacktest"
	"github.com/logistos-sync/logistos-sync/shared/config"
	"github.com/logistos-sync/logistos-sync/shared/ledger"
	"github.com/logistos-sync/logistos-sync/shared/metrics"
	"github.com/logistos-sync/logistos-sync/shared/queue"
	"github.com/logistos-sync/logistos-sync/shared/shop"
	"github.com/logistos-sync/logistos-sync/shared/shops"
	"github.com/logistos-sync/logistos-sync/shared/webhook"
	"github.com/logistos-sync/logistos-sync/shared/woohook"
)

// A hub on kumo, wired by webhook.New from the local stack's environment:
// each shop's delivery at its own URL, verified with its secret from the
// shops table (sealed under KMS), queued as that shop's; another shop's
// signature, and the home route, refused.
func TestHubWebhookOnKumo(t *testing.T) {
	st := stacktest.ForTest(t, stack.Options{Hub: true, Tables: true})
	ctx := context.Background()
	store := shops.New(st.DynamoDB, st.KMS, st.ShopsTable, st.ShopsKeyID)
	a := newShop(t, store, "https://a.example", secretsA)
	b := newShop(t, store, "https://b.example", secretsB)

	cfg, err := config.LoadWebhook(config.FromMap(st.FunctionEnv(stack.Webhook, map[string]string{config.StoreURL: ""})))
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.Hub() || cfg.Shops.Table != st.ShopsTable {
		t.Fatalf("the local hub's webhook configuration: %+v", cfg)
	}
	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	h, err := webhook.New(cfg, st.AWS, log, metrics.New(io.Discard, "webhook"))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(pipeline.Serve(h, log))
	defer srv.Close()

	body, err := os.ReadFile(filepath.Join("..", "..", "testdata", "woocommerce", "real-wc-8.9.1", "order-created-313.body"))
	if err != nil {
		t.Fatal(err)
	}
	post := func(path, secret, source string) int {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, srv.URL+path, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-WC-Webhook-Topic", "order.created")
		req.Header.Set("X-WC-Webhook-Source", source)
		req.Header.Set("X-WC-Webhook-Signature", woohook.Sign(body, []byte(secret)))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := post(pipeline.WebhookPath+"/"+b.ID, secretsA.WebhookSecret, a.URL+"/"); got != 401 {
		t.Errorf("A's delivery on B's URL: %d, want 401", got)
	}
	if got := post(pipeline.WebhookPath, secretsA.WebhookSecret, a.URL+"/"); got != 404 {
		t.Errorf("the home route of a hub: %d, want 404", got)
	}
	if got := post(pipeline.WebhookPath+"/"+shop.ID("https://nobody.example"), secretsA.WebhookSecret, a.URL+"/"); got != 404 {
		t.Errorf("an unknown shop: %d, want 404", got)
	}
	if got := post(pipeline.WebhookPath+"/"+a.ID, secretsA.WebhookSecret, b.URL+"/"); got != 200 {
		t.Fatalf("A's delivery on A's URL: %d, want 200", got)
	}

	out, err := st.SQS.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: &st.QueueURL, MaxNumberOfMessages: 10,
		MessageAttributeNames: []string{"All"}, WaitTimeSeconds: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Messages) != 1 {
		t.Fatalf("%d messages queued, want 1", len(out.Messages))
	}
	if src := aws.ToString(out.Messages[0].MessageAttributes[queue.AttrSource].StringValue); src != a.URL {
		t.Errorf("wc-source %q, want A's registered URL %q", src, a.URL)
	}
	hub := &ledger.DynamoDB{Client: st.DynamoDB, Table: st.LedgerTable}
	gotA, err := ledger.For(hub, a.ID).Get(ctx, []int64{313})
	if err != nil {
		t.Fatal(err)
	}
	gotB, _ := ledger.For(hub, b.ID).Get(ctx, []int64{313})
	if len(gotA) != 1 || len(gotB) != 0 {
		t.Errorf("ledger: A's part %v, B's %v; want order 313 in A's only", gotA, gotB)
	}
}
