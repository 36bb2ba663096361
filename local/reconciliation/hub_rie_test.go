//go:build linux

package reconciliation

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/logistos-sync/logistos-sync/local/lambdarie/lambdarietest"
	"github.com/logistos-sync/logistos-sync/local/stack"
	"github.com/logistos-sync/logistos-sync/shared/config"
	"github.com/logistos-sync/logistos-sync/shared/reconcile"
)

// The real reconcile binary as a hub's, under the runtime interface
// emulator, configured only through its environment as template.yaml
// configures it (the shops table and key, the sweep queue): its one
// handler takes the schedule's {} (one job per connected shop on the sweep
// queue) and the sweep queue's SQS events (each job's shop swept, its
// missed orders queued as its own).
func TestHubReconcileBinaryUnderRIE(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	e := newHub(t)
	a := e.addShop("a", 6, true, func(id int64) bool { return id == 2 })
	b := e.addShop("b", 6, true, func(id int64) bool { return id >= 5 })
	vars := map[string]string{config.StoreURL: "", config.WebhookURL: hubHookURL, config.ReconcileGrace: "0s"}
	fn := lambdarietest.Start(t, ctx, "./functions/reconcile", e.st.FunctionEnv(stack.Reconcile, vars))

	var rep reconcile.Report
	if err := fn.InvokeJSON(ctx, map[string]any{}, &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Outcome != reconcile.OutcomeQueued || rep.FanOut == nil || rep.FanOut.Queued != 2 {
		t.Fatalf("the scheduled run: %+v", rep)
	}
	p := e.poller(e.st.SQS, func(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
		var resp events.SQSEventResponse
		err := fn.InvokeJSON(ctx, ev, &resp)
		return resp, err
	})
	r, err := p.Poll(ctx)
	if err != nil || r.Err != nil || r.Received != 2 || len(r.Kept) != 0 {
		t.Fatalf("the sweep jobs: %v %+v", err, r)
	}
	got := map[string][]int64{}
	for _, q := range e.takeQueued() {
		got[q.source] = append(got[q.source], q.id)
	}
	for _, ids := range got {
		slices.Sort(ids)
	}
	if len(got) != 2 || !slices.Equal(got[a.url], []int64{2}) || !slices.Equal(got[b.url], []int64{5, 6}) {
		t.Fatalf("queued %v; want A's order 2 and B's 5 and 6, each as its shop's", got)
	}
}
