//go:build linux

package activation

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/logistos-sync/logistos-sync/internal/testwait"
	"github.com/logistos-sync/logistos-sync/local/fakelogistos"
	"github.com/logistos-sync/logistos-sync/local/fakewoo"
	"github.com/logistos-sync/logistos-sync/local/lambdarie/lambdarietest"
	"github.com/logistos-sync/logistos-sync/local/stack"
	"github.com/logistos-sync/logistos-sync/local/stacktest"
	"github.com/logistos-sync/logistos-sync/shared/activate"
	"github.com/logistos-sync/logistos-sync/shared/state"
)

// The real activate binary, built as for Lambda, under the runtime
// interface emulator, configured only through its environment as the
// template configures it (secrets by ARN, checkpoint table), registered in
// kumo's Lambda so that its asynchronous self-invocations reach it: one
// console-style invoke of all steps ends with the credentials handed off,
// the webhook registered and every order on the queue, over several
// invocations.
func TestActivateBinaryUnderRIE(t *testing.T) {
	t.Parallel() // its slices wait on the shop and their deadlines: others run meanwhile
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()

	// 120 pages at 200 ms, four at a time: more than the 80 or so that fit
	// in one invocation (timeout 6 s, no page started in its last third).
	const n = 12_000
	shop := fakewoo.Start(fakewoo.Options{Orders: n, Latency: 200 * time.Millisecond})
	defer shop.Close()
	lg := &fakelogistos.Server{}
	lsrv := httptest.NewServer(lg)
	defer lsrv.Close()
	st := fork(t)
	id := tables.Add(1)
	table := fmt.Sprintf("checkpoints-rie-%d", id)
	db := createTable(t, table)
	creds, _ := json.Marshal(map[string]string{"consumer_key": fakewoo.Key, "consumer_secret": fakewoo.Secret})
	sec, err := st.Secrets.CreateSecret(ctx, &secretsmanager.CreateSecretInput{
		Name: aws.String(fmt.Sprintf("woo-credentials-%d", id)), SecretString: aws.String(string(creds)),
	})
	if err != nil {
		t.Fatal(err)
	}
	name := fmt.Sprintf("activate-rie-%d", id)
	vars := st.FunctionEnv(stack.Activate, map[string]string{
		"STORE_URL": shop.URL, "WOO_CREDENTIALS_SECRET_ARN": aws.ToString(sec.ARN), "WEBHOOK_URL": webhookURL,
		"LOGISTOS_CREDENTIALS_URL": lsrv.URL + fakelogistos.CredentialsPath, "STATE_TABLE": table,
		"AWS_LAMBDA_FUNCTION_NAME": name, "AWS_LAMBDA_FUNCTION_TIMEOUT": "6",
	})
	fn := lambdarietest.Start(t, ctx, "./functions/activate", vars)
	stacktest.RegisterFunction(t, name, fn.URL)

	client := lambda.NewFromConfig(stacktest.Shared.AWS)
	payload, _ := json.Marshal(activate.Event{})
	out, err := client.Invoke(ctx, &lambda.InvokeInput{FunctionName: &name, Payload: payload})
	if err != nil || out.FunctionError != nil {
		t.Fatalf("invoke: %v %s", err, out.Payload)
	}
	var rep activate.Report
	if err := json.Unmarshal(out.Payload, &rep); err != nil {
		t.Fatalf("report %s: %v", out.Payload, err)
	}
	if !rep.OK || rep.Handoff.Outcome != activate.OutcomeDone || rep.Webhook.Outcome != activate.OutcomeDone ||
		rep.Backfill.Outcome != activate.OutcomeContinuing || rep.Next == nil {
		t.Fatalf("first invocation: %s", out.Payload)
	}

	// The continuations run by themselves; watch the checkpoint.
	store := &state.DynamoDB{Client: db, Table: table}
	checkpointID := state.BackfillID
	var state map[string]any
	deadline, _ := ctx.Deadline()
	testwait.Eventually(t, time.Until(deadline), func() error {
		// Not ctx: the check at the deadline must read, not fail on ctx.
		doc, _, err := store.Get(context.Background(), checkpointID)
		if err != nil {
			return fmt.Errorf("read the checkpoint: %w", err)
		}
		state = nil
		_ = json.Unmarshal(doc, &state)
		if state["completed_at"] == nil {
			return fmt.Errorf("backfill not complete: checkpoint %v", state)
		}
		return nil
	})
	if inv := state["invocations"].(float64); inv < 2 {
		t.Errorf("%v invocations: the backfill did not continue itself", inv)
	}
	e := &env{t: t, shop: shop, st: st}
	e.drain().atLeastOnce(t, n, nil)
	hooks := shop.Webhooks()
	if len(hooks) != 1 || hooks[0].Secret != st.WebhookSecret || hooks[0].Status != "active" || hooks[0].DeliveryURL != webhookURL {
		t.Errorf("webhooks %+v", hooks)
	}
	if reqs := lg.Requests(); len(reqs) != 1 || reqs[0].Status != 200 {
		t.Errorf("credentials requests: %d", len(reqs))
	}
	t.Logf("%s invocations, %s orders enqueued", strconv.FormatFloat(state["invocations"].(float64), 'f', 0, 64),
		strconv.FormatFloat(state["enqueued"].(float64), 'f', 0, 64))
}
