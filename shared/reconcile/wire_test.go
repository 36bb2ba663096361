package reconcile

import (
	"io"
	"log/slog"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/logistos-sync/logistos-sync/internal/shoptest"
	"github.com/logistos-sync/logistos-sync/shared/config"
	"github.com/logistos-sync/logistos-sync/shared/metrics"
)

// The shop client New wires refuses a shop on loopback unless private
// shops are allowed (ALLOW_PRIVATE_SHOPS, local runs).
func TestNewGuardsTheShopClient(t *testing.T) {
	srv := shoptest.Start(t)
	for _, allow := range []bool{false, true} {
		cfg := config.Reconcile{StoreURL: srv.URL, WebhookSecret: config.Secret{Literal: "s"}, ConsumerKey: "ck_x", ConsumerSecret: "cs_x",
			WebhookURL: "https://hooks.example/woocommerce/webhook", AllowPrivateShops: allow}
		h, err := New(cfg, aws.Config{Region: "eu-west-1"}, slog.New(slog.DiscardHandler), metrics.New(io.Discard, ""))
		if err != nil {
			t.Fatal(err)
		}
		srv.Guarded(t, allow, h.Shop.CheckKey)
	}
}
