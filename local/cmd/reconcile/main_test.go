package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/logistos-sync/logistos-sync/local/stack"
	"github.com/logistos-sync/logistos-sync/shared/reconcile"
)

// The documented sweep against the stand-in shop: it recovers the missed
// orders, repairs the webhook the shop disabled and prints its report.
func TestSweepAgainstTheStandInShop(t *testing.T) {
	st, err := stack.Start(context.Background(), stack.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var out, errOut bytes.Buffer
	getenv := func(string) string { return "" }
	if err := run(context.Background(), []string{"-aws-endpoint", st.Endpoint, "-fake-shop", "30", "-fake-missed", "9"}, getenv, &out, &errOut); err != nil {
		t.Fatalf("%v\n%s\n%s", err, out.String(), errOut.String())
	}
	text := out.String()
	if !strings.Contains(text, "9 placed while deliveries failed (webhook now disabled)") {
		t.Errorf("no summary of the stand-in shop:\n%s", text)
	}
	var rep reconcile.Report
	if err := json.Unmarshal([]byte(text[strings.Index(text, "{"):]), &rep); err != nil {
		t.Fatalf("report: %v\n%s", err, text)
	}
	if rep.Outcome != reconcile.OutcomeDone || rep.OrdersQueued != 9 || rep.Webhook.Outcome != reconcile.WebhookRepairedOut {
		t.Fatalf("report %+v\n%s", rep, text)
	}
	// The recovered orders are live ones; the backfill has a queue of its own.
	if v, _, _ := st.Depth(context.Background(), st.QueueURL); v != 9 {
		t.Errorf("orders queue holds %d orders, want the 9 recovered", v)
	}
	if v, _, _ := st.Depth(context.Background(), st.BackfillQueueURL); v != 30 {
		t.Errorf("backfill queue holds %d orders, want the 30 backfilled", v)
	}
}
