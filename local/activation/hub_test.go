package activation

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/logistos-sync/logistos-sync/internal/testwait"
	"github.com/logistos-sync/logistos-sync/local/fakelogistos"
	"github.com/logistos-sync/logistos-sync/local/fakewoo"
	"github.com/logistos-sync/logistos-sync/local/stack"
	"github.com/logistos-sync/logistos-sync/local/stacktest"
	"github.com/logistos-sync/logistos-sync/local/syncbuf"
	"github.com/logistos-sync/logistos-sync/shared/activate"
	"github.com/logistos-sync/logistos-sync/shared/config"
	"github.com/logistos-sync/logistos-sync/shared/ledger"
	"github.com/logistos-sync/logistos-sync/shared/logging"
	"github.com/logistos-sync/logistos-sync/shared/metrics"
	"github.com/logistos-sync/logistos-sync/shared/queue"
	"github.com/logistos-sync/logistos-sync/shared/shop"
	"github.com/logistos-sync/logistos-sync/shared/shops"
	"github.com/logistos-sync/logistos-sync/shared/state"
	"github.com/logistos-sync/logistos-sync/shared/wooapi"
	"github.com/logistos-sync/logistos-sync/shared/woohook"
	"github.com/logistos-sync/logistos-sync/shared/wookey"
)

// hubEnv is a hub (STORE_URL empty) in kumo: its state table, a hub's
// ledger and the shops table under a KMS key, with two stand-in shops, A
// and B, each with a REST key of its own.
type hubEnv struct {
	t        *testing.T
	a, b     *fakewoo.Shop
	st       *stack.Stack
	logistos *fakelogistos.Server
	h        *activate.Handler
	// shopsTable and shopsKey are where the hub keeps its shops (shops).
	shopsTable, shopsKey string
	stateTbl             string
	ledger               ledger.Store // the hub's whole ledger
	logs                 *syncbuf.Buffer
}

// Each shop's own REST key.
const (
	keyA, secretA = "ck_shopa", "cs_shopa"
	keyB, secretB = "ck_shopb", "cs_shopb"
)

func newHub(t *testing.T, oa, ob fakewoo.Options) *hubEnv {
	t.Helper()
	e := &hubEnv{t: t, a: fakewoo.Start(oa), b: fakewoo.Start(ob), logistos: &fakelogistos.Server{}, logs: &syncbuf.Buffer{}}
	t.Cleanup(e.a.Close)
	t.Cleanup(e.b.Close)
	e.a.AddKey(keyA, secretA, fakewoo.ReadWrite)
	e.b.AddKey(keyB, secretB, fakewoo.ReadWrite)
	lsrv := httptest.NewServer(e.logistos)
	t.Cleanup(lsrv.Close)
	// The hub's tables and key as the template makes them: the state
	// table, the ledger keyed by shop and order id, the shops table and
	// its KMS key, wired by FunctionEnv as in AWS (SHOPS_TABLE, SHOPS_KEY_ID).
	e.st = stacktest.ForTest(t, stack.Options{Hub: true, Tables: true})
	e.stateTbl = e.st.StateTable
	vars := map[string]string{
		config.WebhookURL:             webhookURL,
		config.LogistosCredentialsURL: lsrv.URL + fakelogistos.CredentialsPath,
	}
	cfg, err := config.LoadActivate(config.FromMap(e.st.FunctionEnv(stack.Activate, vars)))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.StoreURL != "" {
		t.Fatalf("STORE_URL %q: not a hub", cfg.StoreURL)
	}
	if e.h, err = activate.New(cfg, e.st.AWS, logging.New(e.logs, "info"), metrics.New(io.Discard, "test")); err != nil {
		t.Fatal(err)
	}
	if cfg.Shops.Table != e.st.ShopsTable || cfg.Shops.KeyID == "" {
		t.Fatalf("shops %+v: not the stack's table and key", cfg.Shops)
	}
	if _, ok := e.h.Shops.(*shops.DynamoDB); !ok {
		t.Fatalf("the hub's shops are a %T, want the DynamoDB store", e.h.Shops)
	}
	e.shopsTable, e.shopsKey = cfg.Shops.Table, cfg.Shops.KeyID
	e.ledger = &ledger.DynamoDB{Client: e.st.DynamoDB, Table: e.st.LedgerTable}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("logs:\n%s", tail(e.logs.String(), 6000))
		}
	})
	return e
}

// shops reads the hub's shops through a store of its own, as another
// container would, with nothing cached.
func (e *hubEnv) shops() shop.Store {
	return shops.New(e.st.DynamoDB, e.st.KMS, e.shopsTable, e.shopsKey)
}

// connect leaves key pending for the shop at url, as connect's callback
// does for a state bound to that shop, and returns its reference.
func (e *hubEnv) connect(url, key, secret string) string {
	e.t.Helper()
	ctx := context.Background()
	st := fmt.Sprintf("state-%d", tables.Add(1))
	if err := e.h.Pending.Await(ctx, st, url, time.Now().Add(time.Minute)); err != nil {
		e.t.Fatal(err)
	}
	ref, bound, err := e.h.Pending.Arrive(ctx, st, wookey.PendingKey{Key: wooapi.Key{ConsumerKey: key, ConsumerSecret: secret},
		ArrivedAt: time.Now()})
	if err != nil || bound != url {
		e.t.Fatalf("arrive: %v, bound to %q", err, bound)
	}
	return ref
}

func (e *hubEnv) run(ev activate.Event) (activate.Report, error) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	return e.h.Handle(ctx, ev)
}

// drainBySource takes every message off the backfill queue and counts the
// orders of each wc-source.
func (e *hubEnv) drainBySource() map[string]map[int64]int {
	e.t.Helper()
	out := map[string]map[int64]int{}
	seen := map[string]bool{}
	testwait.Eventually(e.t, 5*time.Minute, func() error {
		for {
			got, err := e.st.SQS.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{
				QueueUrl: &e.st.BackfillQueueURL, MaxNumberOfMessages: 10, VisibilityTimeout: 2, MessageAttributeNames: []string{"All"},
			})
			if err != nil {
				e.t.Fatal(err)
			}
			if len(got.Messages) == 0 {
				break
			}
			var del []types.DeleteMessageBatchRequestEntry
			for i, m := range got.Messages {
				del = append(del, types.DeleteMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), ReceiptHandle: m.ReceiptHandle})
				if seen[aws.ToString(m.MessageId)] {
					continue
				}
				seen[aws.ToString(m.MessageId)] = true
				id, err := woohook.OrderID([]byte(aws.ToString(m.Body)))
				if err != nil {
					e.t.Fatalf("message is not an order: %.200s", aws.ToString(m.Body))
				}
				src := aws.ToString(m.MessageAttributes[queue.AttrSource].StringValue)
				if out[src] == nil {
					out[src] = map[int64]int{}
				}
				out[src][id]++
			}
			if _, err := e.st.SQS.DeleteMessageBatch(context.Background(), &sqs.DeleteMessageBatchInput{QueueUrl: &e.st.BackfillQueueURL, Entries: del}); err != nil {
				e.t.Fatal(err)
			}
		}
		v, inflight, err := e.st.Depth(context.Background(), e.st.BackfillQueueURL)
		if err != nil {
			e.t.Fatal(err)
		}
		if v != 0 || inflight != 0 {
			return fmt.Errorf("the backfill queue holds %d visible, %d in flight; want it empty", v, inflight)
		}
		return nil
	})
	return out
}

// ids checks that got holds each id in [1, n], at most most times each, and no other.
func ids(t *testing.T, what string, got map[int64]int, n int64, most int) {
	t.Helper()
	var missing, extra, over []int64
	for id := int64(1); id <= n; id++ {
		switch c := got[id]; {
		case c == 0:
			missing = append(missing, id)
		case c > most:
			over = append(over, id)
		}
	}
	for id := range got {
		if id < 1 || id > n {
			extra = append(extra, id)
		}
	}
	if len(missing)+len(extra)+len(over) > 0 {
		t.Errorf("%s: %d ids missing (first %v), %d not the shop's (first %v), %d more than %d times (first %v)",
			what, len(missing), first(missing), len(extra), first(extra), len(over), most, first(over))
	}
}

// ourWebhooks are shop's order.created webhooks delivering to url.
func ourWebhooks(s *fakewoo.Shop, url string) []fakewoo.Webhook {
	var out []fakewoo.Webhook
	for _, w := range s.Webhooks() {
		if w.Topic == woohook.TopicOrderCreated && strings.TrimRight(w.DeliveryURL, "/") == url {
			out = append(out, w)
		}
	}
	return out
}

// One hub activates two shops, each entirely as its own: its key proven
// against it and handed to Logistos with its store_url, its webhook at its
// own URL with its own secret (in the shops store, sealed for it alone),
// its backfill's messages naming it as their source, its checkpoint and
// handoff record under its id, its ledger entries in its part. A key
// pending for A never activates B. A reconnect rotates the shop's secret
// and keeps its webhook and its completed backfill.
func TestHubActivatesEachShopApart(t *testing.T) {
	const nA, nB = 250, 130
	e := newHub(t, fakewoo.Options{Orders: nA}, fakewoo.Options{Orders: nB})
	ctx := context.Background()
	a, b := e.a.URL, e.b.URL
	idA, idB := shop.ID(a), shop.ID(b)

	// A's key, whatever the event says, activates nothing of B.
	refA := e.connect(a, keyA, secretA)
	if rep, err := e.run(activate.Event{StoreURL: b, PendingKey: refA}); err != nil || rep.Outcome != activate.OutcomeNotConnected ||
		rep.Key == nil || rep.Key.Outcome != activate.KeyNotPending {
		t.Fatalf("A's key for B: %v, outcome %q, key %+v", err, rep.Outcome, rep.Key)
	}
	if e.b.Stats().Requests != 0 || e.a.Stats().Requests != 0 || len(e.logistos.Requests()) != 0 {
		t.Fatalf("A's key for B: shop A %d requests, B %d, Logistos %d", e.a.Stats().Requests, e.b.Stats().Requests, len(e.logistos.Requests()))
	}
	if list, err := e.shops().List(ctx); err != nil || len(list) != 0 {
		t.Fatalf("shops after a refused key: %+v %v", list, err)
	}

	for _, c := range []struct {
		url, ref string
		n        int64
	}{{a, refA, nA}, {b, e.connect(b, keyB, secretB), nB}} {
		rep, err := e.run(activate.Event{StoreURL: c.url, PendingKey: c.ref})
		if err != nil || rep.Key.Outcome != activate.KeyProven || rep.Handoff.Outcome != activate.OutcomeDone ||
			rep.Webhook.Outcome != activate.OutcomeDone || rep.Backfill.Outcome != activate.OutcomeComplete || rep.Backfill.OrdersEnqueued != c.n {
			t.Fatalf("%s: %v key %+v handoff %+v webhook %+v backfill %+v", c.url, err, rep.Key, rep.Handoff, rep.Webhook, rep.Backfill)
		}
	}

	// Handed over with each shop's own store_url and key.
	reqs := e.logistos.Requests()
	if len(reqs) != 2 {
		t.Fatalf("%d credentials posts, want 2", len(reqs))
	}
	for i, want := range []map[string]string{{"store_url": a, "consumer_key": keyA, "consumer_secret": secretA},
		{"store_url": b, "consumer_key": keyB, "consumer_secret": secretB}} {
		var got map[string]string
		if err := json.Unmarshal(reqs[i].Body, &got); err != nil || len(got) != 3 || got["store_url"] != want["store_url"] ||
			got["consumer_key"] != want["consumer_key"] || got["consumer_secret"] != want["consumer_secret"] {
			t.Errorf("handoff %d: %s", i, reqs[i].Body)
		}
	}

	// Each shop's webhook at its own URL, with its own secret.
	secrets := map[string]string{}
	for _, c := range []struct {
		s     *fakewoo.Shop
		id    string
		other string
	}{{e.a, idA, idB}, {e.b, idB, idA}} {
		rec, err := e.shops().Get(ctx, c.id)
		if err != nil || rec.Status != shop.Connected || rec.URL != c.s.URL || rec.ConnectedAt.IsZero() {
			t.Errorf("shop %s: %+v %v", c.s.URL, rec, err)
		}
		sec, err := e.shops().Secrets(ctx, c.id)
		if err != nil || len(sec.WebhookSecret) != activate.WebhookSecretLength {
			t.Fatalf("shop %s secrets: %v", c.s.URL, err)
		}
		secrets[c.id] = sec.WebhookSecret
		hooks := ourWebhooks(c.s, webhookURL+"/"+c.id)
		if len(hooks) != 1 || hooks[0].Status != "active" || hooks[0].Secret != sec.WebhookSecret {
			t.Errorf("shop %s: %d webhooks at its URL (want 1, active, with its secret)", c.s.URL, len(hooks))
		}
		if len(c.s.Webhooks()) != 1 || len(ourWebhooks(c.s, webhookURL+"/"+c.other)) != 0 || len(ourWebhooks(c.s, webhookURL)) != 0 {
			t.Errorf("shop %s: webhooks %d in all, some at another shop's URL or the home shop's", c.s.URL, len(c.s.Webhooks()))
		}
	}
	if secrets[idA] == secrets[idB] || secrets[idA] == e.st.WebhookSecret || secrets[idB] == e.st.WebhookSecret {
		t.Error("two shops, or a shop and the stack, share a webhook secret")
	}

	// Each backfill's messages name their own shop.
	bySource := e.drainBySource()
	if len(bySource) != 2 {
		t.Errorf("messages from %d sources, want A's and B's", len(bySource))
	}
	ids(t, "shop A", bySource[a], nA, 1)
	ids(t, "shop B", bySource[b], nB, 1)

	// Checkpoints and handoff records under each shop's id, none under the home shop's names.
	docs := state.Open(e.st.DynamoDB, e.stateTbl)
	for _, name := range []string{state.BackfillID, activate.HandoffID} {
		for _, id := range []string{idA, idB} {
			if doc, _, err := docs.Get(ctx, shop.Scoped(id, name)); err != nil || doc == nil {
				t.Errorf("no %s for shop %s: %v", name, id, err)
			}
		}
		if doc, _, _ := docs.Get(ctx, name); doc != nil {
			t.Errorf("a hub wrote the home shop's %s", name)
		}
	}
	// The ledger: orders from the horizon on (the last hour: ids 191-250 of
	// A, 71-130 of B), each in its own shop's part.
	for _, c := range []struct {
		id            string
		mine, notMine int64
		what, whatNot string
	}{{idA, 250, 100, "A's order 250", "B's order 100"}, {idB, 100, 250, "B's order 100", "A's order 250"}} {
		got, err := ledger.For(e.ledger, c.id).Get(ctx, []int64{c.mine, c.notMine})
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := got[c.mine]; !ok {
			t.Errorf("%s is not in its shop's ledger", c.what)
		}
		if _, ok := got[c.notMine]; ok {
			t.Errorf("%s is in the other shop's ledger", c.whatNot)
		}
	}

	// A reconnects: a new webhook secret, sent to its webhook (updated, not
	// another); the handoff of the same key and the backfill are done already.
	writesB := e.b.Stats().WebhookWrites
	hookA := ourWebhooks(e.a, webhookURL+"/"+idA)[0].ID
	rep, err := e.run(activate.Event{StoreURL: a, PendingKey: e.connect(a, keyA, secretA)})
	if err != nil || rep.Key.Outcome != activate.KeyProven || rep.Handoff.Outcome != activate.OutcomeAlreadyDone ||
		rep.Backfill.Outcome != activate.OutcomeComplete {
		t.Fatalf("reconnect: %v key %+v handoff %+v backfill %+v", err, rep.Key, rep.Handoff, rep.Backfill)
	}
	sec, err := e.shops().Secrets(ctx, idA)
	if err != nil || sec.WebhookSecret == secrets[idA] {
		t.Fatalf("reconnect kept the webhook secret (%v)", err)
	}
	if sec.PreviousWebhookSecret != "" {
		t.Error("the replaced webhook secret is still taken after the webhook step gave the shop the new one")
	}
	hooks := ourWebhooks(e.a, webhookURL+"/"+idA)
	if len(hooks) != 1 || hooks[0].ID != hookA || hooks[0].Secret != sec.WebhookSecret {
		t.Errorf("after the reconnect A has %d webhooks at its URL, want #%d with the new secret", len(hooks), hookA)
	}
	if e.b.Stats().WebhookWrites != writesB || ourWebhooks(e.b, webhookURL+"/"+idB)[0].Secret != secrets[idB] {
		t.Error("A's reconnect touched B's webhook")
	}
	for _, line := range strings.Split(e.logs.String(), "\n") {
		for _, s := range []string{secretA, secretB, secrets[idA], secrets[idB], sec.WebhookSecret} {
			if strings.Contains(line, s) {
				t.Fatalf("a log line holds a secret: %.300s", line)
			}
		}
	}
}

// Interrupting one shop's backfill leaves another's alone: A's run is cut
// short at a deadline and continues later (its continuation naming A),
// while B's backfill runs to the end in between; A then resumes from its
// own checkpoint with its own cut-off.
func TestHubCheckpointsPerShop(t *testing.T) {
	t.Parallel() // its slices wait on the shop and their deadlines: others run meanwhile
	const nA, nB = 10_000, 300
	e := newHub(t, fakewoo.Options{Orders: nA, Latency: sliceLatency}, fakewoo.Options{Orders: nB})
	inv := &invokerQueue{}
	e.h.Invoker = inv
	e.h.CheckpointEvery = 100 * time.Millisecond
	a, b := e.a.URL, e.b.URL
	ctx := context.Background()
	for _, c := range []struct{ url, key, secret string }{{a, keyA, secretA}, {b, keyB, secretB}} {
		if rep, err := e.run(activate.Event{StoreURL: c.url, PendingKey: e.connect(c.url, c.key, c.secret), Steps: []string{activate.StepHandoff}}); err != nil {
			t.Fatalf("%s: %v %+v", c.url, err, rep.Key)
		}
	}

	first, err := slice(e.h, activate.Event{StoreURL: a, Steps: []string{activate.StepBackfill}})
	next, ok := inv.pop()
	if err != nil || first.Backfill.Outcome != activate.OutcomeContinuing || !ok || next.StoreURL != a || !next.Continuation {
		t.Fatalf("A's first slice: %v %+v, continuation %+v", err, first.Backfill, next)
	}
	docs := state.Open(e.st.DynamoDB, e.stateTbl)
	checkpoint := func(url string) map[string]any {
		t.Helper()
		doc, _, err := docs.Get(ctx, shop.Scoped(shop.ID(url), state.BackfillID))
		var m map[string]any
		if err != nil || json.Unmarshal(doc, &m) != nil {
			t.Fatalf("checkpoint of %s: %v %s", url, err, doc)
		}
		return m
	}
	before := checkpoint(a)

	repB, err := e.run(activate.Event{StoreURL: b, Steps: []string{activate.StepBackfill}})
	if err != nil || repB.Backfill.Outcome != activate.OutcomeComplete || repB.Backfill.OrdersEnqueued != nB {
		t.Fatalf("B's backfill while A's is part-way: %v %+v", err, repB.Backfill)
	}
	if after := checkpoint(a); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Fatalf("B's backfill changed A's checkpoint:\n%v\n%v", before, after)
	}
	if checkpoint(b)["store_url"] != b || before["store_url"] != a {
		t.Errorf("checkpoints name %v and %v", checkpoint(b)["store_url"], before["store_url"])
	}

	ev, slices := next, 1
	for {
		rep, err := slice(e.h, ev)
		slices++
		if err != nil {
			t.Fatalf("A's slice %d: %v", slices, err)
		}
		if rep.Backfill.Outcome == activate.OutcomeComplete {
			if !rep.Backfill.Cutoff.Equal(first.Backfill.Cutoff) {
				t.Errorf("A's cut-off moved from %v to %v", first.Backfill.Cutoff, rep.Backfill.Cutoff)
			}
			break
		}
		if ev, ok = inv.pop(); !ok || ev.StoreURL != a || slices > 200 {
			t.Fatalf("A's slice %d: %+v, continuation %+v", slices, rep.Backfill, ev)
		}
	}
	bySource := e.drainBySource()
	ids(t, "shop A", bySource[a], nA, 2) // a page cut off at a deadline is read again, once
	ids(t, "shop B", bySource[b], nB, 1)
	if len(bySource) != 2 {
		t.Errorf("messages from %d sources", len(bySource))
	}
}

// A stack deployed for its home shop activates no other: an event naming
// another shop is refused before anything is done.
func TestHomeShopRefusesAnotherShop(t *testing.T) {
	e := newEnv(t, fakewoo.Options{Orders: 3}, nil)
	other := fakewoo.Start(fakewoo.Options{Orders: 3})
	t.Cleanup(other.Close)
	rep, err := e.run(activate.Event{StoreURL: other.URL})
	if err == nil || !strings.Contains(err.Error(), "serves only its home shop") || rep.Key != nil || rep.Handoff != nil {
		t.Fatalf("%v %+v", err, rep)
	}
	if e.shop.Stats().Requests != 0 || other.Stats().Requests != 0 || len(e.logistos.Requests()) != 0 {
		t.Errorf("requests: home shop %d, other %d, Logistos %d", e.shop.Stats().Requests, other.Stats().Requests, len(e.logistos.Requests()))
	}
	// Its own URL, however written, is its own.
	if rep, err := e.run(activate.Event{StoreURL: e.shop.URL + "/", Steps: []string{activate.StepHandoff}}); err != nil || rep.Handoff.Outcome != activate.OutcomeDone {
		t.Fatalf("its own store_url: %v %+v", err, rep.Handoff)
	}
}
