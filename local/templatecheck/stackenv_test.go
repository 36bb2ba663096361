package templatecheck

import (
	"maps"
	"testing"

	"github.com/logistos-sync/logistos-sync/local/stack"
	"github.com/logistos-sync/logistos-sync/shared/config"
)

// The local stack gives each function, by the same variables, what the
// template gives it from the stack's resources: the queues, the secrets by
// ARN and the tables. A function run locally (in process or as its binary)
// is then configured as the deployed one.
// A hub's stack (Options.Hub) also gives the webhook its shops table and key.
func TestLocalStackWiresFunctionsAsTheTemplate(t *testing.T) {
	home := &stack.Stack{QueueURL: "orders-queue", BackfillQueueURL: "backfill-queue", BackfillQueueARN: "backfill-queue-arn",
		DLQURL: "dead-letter-queue", WaitingQueueURL: "waiting-queue", WebhookSecretARN: "webhook-secret",
		WooCredentialsSecretARN: "woo-credentials-secret", StateTable: "state-table", LedgerTable: "ledger-table"}
	hub := *home
	hub.ShopsTable, hub.ShopsKeyID = "shops-table", "shops-key"
	t.Run("single shop", func(t *testing.T) { wiresAsTheTemplate(t, load(t), home) })
	t.Run("hub", func(t *testing.T) { wiresAsTheTemplate(t, loadHub(t), &hub) })
}

func wiresAsTheTemplate(t *testing.T, tpl *Template, st *stack.Stack) {
	byResource := map[string]string{"OrdersQueue": st.QueueURL, "BackfillQueue": st.BackfillQueueURL, "DeadLetterQueue": st.DLQURL,
		"WaitingQueue":  st.WaitingQueueURL,
		"WebhookSecret": st.WebhookSecretARN, "WooCredentialsSecret": st.WooCredentialsSecretARN, "StateTable": st.StateTable, "LedgerTable": st.LedgerTable,
		"ShopsTable": st.ShopsTable}
	// The forwarder tells the backfill queue's records by their event
	// source's ARN; the shops key is named by its ARN.
	byARN := map[string]string{"BackfillQueue": st.BackfillQueueARN, "ShopsKey": st.ShopsKeyID}
	for id, fn := range map[string]stack.Function{
		"WebhookFunction": stack.Webhook, "ForwarderFunction": stack.Forwarder, "ActivateFunction": stack.Activate,
		"ReconcileFunction": stack.Reconcile, "ConnectFunction": stack.Connect,
	} {
		want := map[string]string{}
		for name, v := range env(tpl, resource(t, tpl, id, "AWS::Serverless::Function")) {
			if ref, ok := Ref(v); ok && byResource[ref] != "" {
				want[name] = byResource[ref]
			}
			if id, attr, ok := GetAtt(v); ok && attr == "Arn" && byARN[id] != "" {
				want[name] = byARN[id]
			}
		}
		got := st.FunctionEnv(fn, nil)
		for name := range st.Env() {
			delete(got, name)
		}
		// Locally the shop is a stand-in on loopback; the template never
		// allows that (TestEnvironmentIsWhatTheConfigLoadersRead).
		delete(got, config.AllowPrivateShops)
		if !maps.Equal(got, want) {
			t.Errorf("%s: the local stack gives %v, the template %v", id, got, want)
		}
	}
}
