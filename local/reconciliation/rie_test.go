//go:build linux

package reconciliation

import (
	"context"
	"testing"
	"time"

	"github.com/logistos-sync/logistos-sync/local/lambdarie/lambdarietest"
	"github.com/logistos-sync/logistos-sync/local/stack"
	"github.com/logistos-sync/logistos-sync/shared/reconcile"
)

// The real reconcile binary, built as for Lambda, under the runtime
// interface emulator, configured only through its environment as the
// template configures it (webhook secret by ARN, state and ledger tables):
// one scheduled invocation ({}) recovers the orders placed while the
// endpoint was down and re-activates the webhook the shop disabled.
func TestReconcileBinaryUnderRIE(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()

	// The binary reads the real clock: the shop's runs an hour behind, so
	// its new orders are past the grace at once.
	e := newEnv(t, 0)
	e.clock.Advance(-time.Hour)
	e.activate()
	e.down.Store(true)
	missed := e.shop.PlaceOrders(12)
	e.down.Store(false)
	if h := e.shop.Webhooks(); h[0].Status != "disabled" {
		t.Fatalf("webhook %+v", h[0])
	}

	fn := lambdarietest.Start(t, ctx, "./functions/reconcile", e.st.FunctionEnv(stack.Reconcile, e.vars))
	var rep reconcile.Report
	if err := fn.InvokeJSON(ctx, map[string]any{}, &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Outcome != reconcile.OutcomeDone || rep.OrdersQueued != len(missed) || rep.Webhook.Outcome != reconcile.WebhookRepairedOut {
		t.Fatalf("report %+v %+v", rep, rep.Webhook)
	}
	e.waitAtLogistos(missed)
	if h := e.shop.Webhooks(); len(h) != 1 || h[0].Status != "active" || h[0].Secret != e.st.WebhookSecret {
		t.Fatalf("webhook after the sweep: %+v", h)
	}
	// A second invocation (warm) finds nothing to do.
	if err := fn.InvokeJSON(ctx, map[string]any{}, &rep); err != nil || rep.OrdersQueued != 0 || rep.Webhook.Outcome != reconcile.WebhookInShape {
		t.Fatalf("second invocation: %v %+v", err, rep)
	}
}
