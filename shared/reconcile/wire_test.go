package reconcile

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/logistos-sync/logistos-sync/shared/config"
	"github.com/logistos-sync/logistos-sync/shared/metrics"
	"github.com/logistos-sync/logistos-sync/shared/outbound"
)

// The shop client New wires refuses a shop on loopback unless private
// shops are allowed (ALLOW_PRIVATE_SHOPS, local runs).
func TestNewGuardsTheShopClient(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte("[]"))
	}))
	t.Cleanup(srv.Close)
	for _, allow := range []bool{false, true} {
		cfg := config.Reconcile{StoreURL: srv.URL, WebhookSecret: config.Secret{Literal: "s"}, ConsumerKey: "ck_x", ConsumerSecret: "cs_x",
			WebhookURL: "https://hooks.example/woocommerce/webhook", AllowPrivateShops: allow}
		h, err := New(cfg, aws.Config{Region: "eu-west-1"}, slog.New(slog.DiscardHandler), metrics.New(io.Discard, ""))
		if err != nil {
			t.Fatal(err)
		}
		before := hits.Load()
		err = h.Shop.CheckKey(context.Background())
		if refused := errors.Is(err, outbound.ErrForbiddenAddress); refused == allow {
			t.Errorf("AllowPrivateShops %v: CheckKey = %v", allow, err)
		}
		if reached := hits.Load() > before; reached != allow {
			t.Errorf("AllowPrivateShops %v: the shop was reached: %v", allow, reached)
		}
	}
}
