package activate

import (
	"context"
	"strings"
	"testing"

	"github.com/logistos-sync/logistos-sync/shared/secret"
	"github.com/logistos-sync/logistos-sync/shared/wookey"
)

// TestNotConnected: with the key parameters left empty and connect not done
// yet, the secret holds empty values; activation says so and names the
// ConnectUrl instead of failing, and writes nothing.
func TestNotConnected(t *testing.T) {
	h, rec := handler(t, 3, 0)
	h.WebhookURL = "https://abc.execute-api.eu-west-1.amazonaws.com/woocommerce/webhook"
	for _, v := range []string{`{"consumer_key":"","consumer_secret":""}`, ""} {
		h.Keys = wookey.Secret{Source: secret.Literal(v)}
		rep, err := h.Handle(context.Background(), Event{})
		if err != nil || !rep.OK || rep.Outcome != OutcomeNotConnected {
			t.Fatalf("%q: %v %+v", v, err, rep)
		}
		if !strings.Contains(rep.Detail, "ConnectUrl https://abc.execute-api.eu-west-1.amazonaws.com/woocommerce/connect") {
			t.Errorf("detail %q does not name the ConnectUrl", rep.Detail)
		}
		if rep.Handoff != nil || rep.Webhook != nil || rep.Backfill != nil || rec.orders() != 0 {
			t.Errorf("ran steps without a key: %+v", rep)
		}
	}
}
