package reconcile

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/logistos-sync/logistos-sync/shared/ledger"
	"github.com/logistos-sync/logistos-sync/shared/metrics"
	"github.com/logistos-sync/logistos-sync/shared/shop"
	"github.com/logistos-sync/logistos-sync/shared/state"
	"github.com/logistos-sync/logistos-sync/shared/wooapi"
)

// The hub's isolation on real shops and kumo is in local/reconciliation
// (TestHub*); these check the fan-out, the event shapes and the jobs with
// in-memory stand-ins, under the race detector.

// sweepQueue records SendMessageBatch calls; refuse names bodies SQS fails.
type sweepQueue struct {
	mu     sync.Mutex
	calls  [][]string
	refuse map[string]bool
}

func (q *sweepQueue) SendMessageBatch(_ context.Context, in *sqs.SendMessageBatchInput, _ ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	out := &sqs.SendMessageBatchOutput{}
	var bodies []string
	for _, e := range in.Entries {
		bodies = append(bodies, aws.ToString(e.MessageBody))
		if q.refuse[aws.ToString(e.MessageBody)] {
			out.Failed = append(out.Failed, types.BatchResultErrorEntry{Id: e.Id, Message: aws.String("throttled")})
			continue
		}
		out.Successful = append(out.Successful, types.SendMessageBatchResultEntry{Id: e.Id})
	}
	q.calls = append(q.calls, bodies)
	return out, nil
}

// newHub is a hub with shops in memory; add puts a shop in it.
func newHub(t *testing.T) (*Handler, *sweepQueue) {
	t.Helper()
	q := &sweepQueue{refuse: map[string]bool{}}
	log := slog.New(slog.DiscardHandler)
	m := metrics.New(io.Discard, "")
	l := &ledger.Memory{}
	return &Handler{Shops: shop.NewMemory(), Sweeps: q, SweepQueueURL: "https://sqs/sweep", State: &state.Memory{}, Ledger: l,
		Queue:      &ledger.RecordingSender{Sender: &sent{ids: map[int64]int{}}, Recorder: &ledger.Recorder{Store: l, Log: log, Metrics: m}},
		HTTP:       wooapi.NewHTTPClient(true),
		WebhookURL: hookURL, Log: log, Metrics: m}, q
}

func addShop(t *testing.T, h *Handler, n int, status shop.Status) shop.Shop {
	t.Helper()
	return addShopAt(t, h, fmt.Sprintf("https://shop%d.example", n), status)
}

func addShopAt(t *testing.T, h *Handler, u string, status shop.Status) shop.Shop {
	t.Helper()
	s := shop.Shop{ID: shop.ID(u), URL: u, Status: status}
	if err := h.Shops.Put(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	if err := h.Shops.SetSecrets(context.Background(), s.ID, shop.Secrets{WebhookSecret: "w", ConsumerKey: "ck", ConsumerSecret: "cs"}); err != nil {
		t.Fatal(err)
	}
	return s
}

func job(t *testing.T, s shop.Shop) string {
	b, err := json.Marshal(Job{StoreURL: s.URL})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// The scheduled run queues one job per connected shop, ten a call; a job
// SQS refuses is counted and fails the run, without holding the others
// back; a dry run queues nothing.
func TestFanOut(t *testing.T) {
	h, q := newHub(t)
	var connected []string
	for i := range 23 {
		connected = append(connected, job(t, addShop(t, h, i, shop.Connected)))
	}
	addShop(t, h, 100, shop.Disconnected)
	addShop(t, h, 101, shop.Pending)

	rep, err := h.Handle(context.Background(), Event{DryRun: true})
	if err != nil || rep.Outcome != OutcomeWouldDo || rep.FanOut.Connected != 23 || len(q.calls) != 0 {
		t.Fatalf("dry run: %v %+v %+v, %d calls", err, rep, rep.FanOut, len(q.calls))
	}
	rep, err = h.Handle(context.Background(), Event{})
	if err != nil || rep.Outcome != OutcomeQueued || *rep.FanOut != (FanOutReport{Shops: 25, Connected: 23, Queued: 23}) {
		t.Fatalf("%v %+v %+v", err, rep, rep.FanOut)
	}
	var got []string
	for i, c := range q.calls {
		if want := min(10, 23-10*i); len(c) != want {
			t.Errorf("call %d sent %d jobs, want %d", i, len(c), want)
		}
		got = append(got, c...)
	}
	slices.Sort(got)
	slices.Sort(connected)
	if !slices.Equal(got, connected) {
		t.Fatalf("queued %v, want the connected shops %v", got, connected)
	}

	q.calls = nil
	q.refuse[connected[0]] = true
	rep, err = h.Handle(context.Background(), Event{})
	if err == nil || rep.Outcome != OutcomeFailed || rep.FanOut.Queued != 22 || rep.FanOut.Failed != 1 || len(q.calls) != 3 {
		t.Fatalf("one job refused: %v %+v %+v, %d calls", err, rep, rep.FanOut, len(q.calls))
	}
	if _, err := h.Handle(context.Background(), Event{Since: &time.Time{}}); err == nil {
		t.Error(`{"since": ...} without a shop fanned out`)
	}
}

// Invoke tells the sweep queue's events from the others by their Records.
// A job that cannot be read, or names a shop the hub does not know, is
// dropped (it would never succeed); one whose shop was swept after it was
// queued is stale and not swept again; a disconnected shop's is done.
func TestInvokeJobs(t *testing.T) {
	h, _ := newHub(t)
	// A shop that refuses every key: a sweep of it fails at once.
	refusing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		io.WriteString(w, `{"code":"woocommerce_rest_authentication_error","message":"Consumer secret is invalid.","data":{"status":401}}`)
	}))
	t.Cleanup(refusing.Close)
	swept := addShopAt(t, h, refusing.URL, shop.Connected)
	gone := addShop(t, h, 2, shop.Disconnected)
	// swept's last sweep started after its job was queued.
	queuedAt := time.Now().Add(-time.Minute)
	ctx := context.Background()
	cut, _ := json.Marshal(map[string]any{"cutoff": queuedAt.Add(-time.Hour)})
	if _, err := h.State.Put(ctx, shop.Scoped(swept.ID, state.BackfillID), cut, 0); err != nil {
		t.Fatal(err)
	}
	last, _ := json.Marshal(doc{LastRun: queuedAt.Add(time.Second)})
	if _, err := h.State.Put(ctx, shop.Scoped(swept.ID, StateID), last, 0); err != nil {
		t.Fatal(err)
	}
	sent := map[string]string{string(types.MessageSystemAttributeNameSentTimestamp): strconv.FormatInt(queuedAt.UnixMilli(), 10)}
	ev := events.SQSEvent{Records: []events.SQSMessage{
		{MessageId: "unreadable", Body: "{"},
		{MessageId: "stranger", Body: `{"store_url":"https://stranger.example"}`},
		{MessageId: "stale", Body: job(t, swept), Attributes: sent},
		{MessageId: "disconnected", Body: job(t, gone)},
	}}
	raw, _ := json.Marshal(ev)
	out, err := h.Invoke(ctx, raw)
	resp, ok := out.(events.SQSEventResponse)
	if err != nil || !ok || len(resp.BatchItemFailures) != 0 {
		t.Fatalf("%v %#v", err, out)
	}
	// Without its SentTimestamp, the same job sweeps, and fails (the shop
	// refuses the key): only it is reported.
	ev.Records[2].Attributes = nil
	raw, _ = json.Marshal(ev)
	out, err = h.Invoke(ctx, raw)
	if resp := out.(events.SQSEventResponse); err != nil || len(resp.BatchItemFailures) != 1 || resp.BatchItemFailures[0].ItemIdentifier != "stale" {
		t.Fatalf("%v %+v", err, out)
	}

	// A direct sweep of a shop: unknown is an error, disconnected says so.
	if _, err := h.Invoke(ctx, json.RawMessage(`{"store_url":"https://stranger.example"}`)); !errors.Is(err, ErrUnknownShop) {
		t.Errorf("unknown shop: %v", err)
	}
	out, err = h.Invoke(ctx, json.RawMessage(job(t, gone)))
	if rep := out.(Report); err != nil || rep.Outcome != OutcomeNotConnected || rep.Shop != gone.ID {
		t.Errorf("disconnected shop: %v %+v", err, out)
	}
}

// A single-shop stack sweeps its home shop, named or not, and no other.
func TestHomeStackSweepsOnlyItsShop(t *testing.T) {
	h, out := newHandler(t, 20, func(id int64) bool { return id == 3 })
	h.StoreURL = h.Shop.StoreURL
	ctx := context.Background()
	if _, err := h.Handle(ctx, Event{StoreURL: "https://another.example"}); !errors.Is(err, ErrUnknownShop) {
		t.Fatalf("another shop: %v", err)
	}
	rep, err := h.Handle(ctx, Event{StoreURL: h.StoreURL + "/"})
	if err != nil || rep.Outcome != OutcomeDone || rep.Shop != "" || out.ids[3] != 1 {
		t.Fatalf("its own shop: %v %+v", err, rep)
	}
}

// Lambda's runtime accepts Invoke as the function's handler and writes
// each event's answer as its source expects: the report, or the batch's
// failures.
func TestInvokeAsLambdaHandler(t *testing.T) {
	h, _ := newHub(t)
	gone := addShop(t, h, 1, shop.Disconnected)
	lh := lambda.NewHandler(h.Invoke)
	out, err := lh.Invoke(context.Background(), []byte(`{"Records":[{"messageId":"m1","body":"{","eventSource":"aws:sqs"}]}`))
	if err != nil || string(out) != `{"batchItemFailures":null}` && string(out) != `{"batchItemFailures":[]}` {
		t.Fatalf("jobs: %s %v", out, err)
	}
	out, err = lh.Invoke(context.Background(), []byte(job(t, gone)))
	var rep Report
	if err != nil || json.Unmarshal(out, &rep) != nil || rep.Outcome != OutcomeNotConnected {
		t.Fatalf("a shop: %s %v", out, err)
	}
}

// A quiet shop (no order in its sweeps' windows for QuietAfter, and
// connected that long) is swept once every QuietEvery instead of every run;
// a busy one, a new one, one never swept, one whose key was just refused,
// and one whose document cannot be read are swept every run.
func TestFanOutSweepsQuietShopsHourly(t *testing.T) {
	h, q := newHub(t)
	now := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
	h.Now = func() time.Time { return now }
	ctx := context.Background()
	long := now.Add(-30 * 24 * time.Hour)
	put := func(n int, connectedAt time.Time, d *doc, raw string) string {
		s := addShop(t, h, n, shop.Connected)
		s.ConnectedAt = connectedAt
		if err := h.Shops.Put(ctx, s); err != nil {
			t.Fatal(err)
		}
		if d != nil {
			raw = string(mustJSON(d))
		}
		if raw != "" {
			if _, err := state.ForShop(h.State, s.ID).Put(ctx, StateID, []byte(raw), 0); err != nil {
				t.Fatal(err)
			}
		}
		return job(t, s)
	}
	quietRecent := put(1, long, &doc{LastRun: now.Add(-20 * time.Minute), LastActive: now.Add(-48 * time.Hour)}, "")
	quietDue := put(2, long, &doc{LastRun: now.Add(-60 * time.Minute), LastActive: now.Add(-48 * time.Hour)}, "")
	busy := put(3, long, &doc{LastRun: now.Add(-15 * time.Minute), LastActive: now.Add(-15 * time.Minute)}, "")
	fresh := put(4, now.Add(-2*time.Hour), &doc{LastRun: now.Add(-15 * time.Minute)}, "")
	never := put(5, long, nil, "")
	refused := put(6, long, &doc{LastRun: now.Add(-15 * time.Minute), LastActive: now.Add(-48 * time.Hour), Unauthorized: 1}, "")
	unreadable := put(7, long, nil, "{not json")
	quietNeverActive := put(8, long, &doc{LastRun: now.Add(-15 * time.Minute)}, "")

	rep, err := h.Handle(ctx, Event{})
	if err != nil || rep.FanOut.Connected != 8 || rep.FanOut.Quiet != 2 || rep.FanOut.Queued != 6 {
		t.Fatalf("%v %+v", err, rep.FanOut)
	}
	var got []string
	for _, c := range q.calls {
		got = append(got, c...)
	}
	want := []string{quietDue, busy, fresh, never, refused, unreadable}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("queued %v\nwant %v (not %s, %s)", got, want, quietRecent, quietNeverActive)
	}
}

// A sweep whose window holds an order marks the shop active; one that
// finds none leaves the mark where it was.
func TestSweepMarksTheShopActive(t *testing.T) {
	for _, orders := range []int{0, 2} {
		h, _ := newHub(t)
		ctx := context.Background()
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			if r.Method == http.MethodPost { // the webhook repair creates the shop's webhook
				var in map[string]any
				json.NewDecoder(r.Body).Decode(&in)
				in["id"] = 1
				w.WriteHeader(http.StatusCreated)
				json.NewEncoder(w).Encode(in)
				return
			}
			if r.URL.Path != "/wp-json/wc/v3/orders" {
				w.Write([]byte("[]"))
				return
			}
			list := []map[string]any{}
			for i := range orders {
				list = append(list, map[string]any{"id": i + 1, "status": "processing", "date_created_gmt": "2026-12-05T10:00:00", "date_modified_gmt": "2026-12-05T10:00:00"})
			}
			w.Header().Set("X-WP-Total", strconv.Itoa(orders))
			w.Header().Set("X-WP-TotalPages", strconv.Itoa(min(orders, 1))) // 0 for no orders, as WooCommerce says
			json.NewEncoder(w).Encode(list)
		}))
		t.Cleanup(srv.Close)
		s := addShopAt(t, h, srv.URL, shop.Connected)
		now := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
		h.Now = func() time.Time { return now }
		if _, err := state.ForShop(h.State, s.ID).Put(ctx, "backfill", []byte(`{"cutoff":"2026-12-05T09:00:00Z"}`), 0); err != nil {
			t.Fatal(err)
		}
		if rep, err := h.Handle(ctx, Event{StoreURL: s.URL}); err != nil {
			t.Fatalf("%d orders in the window: %v %+v", orders, err, rep)
		}
		last, err := ReadLastSweep(ctx, h.State, s.ID)
		raw, _, _ := state.ForShop(h.State, s.ID).Get(ctx, StateID)
		var d doc
		json.Unmarshal(raw, &d)
		if err != nil || last.At.IsZero() || last.Outcome != OutcomeDone || d.LastActive.IsZero() != (orders == 0) {
			t.Errorf("%d orders in the window: last sweep %+v, last active %v (%v)", orders, last, d.LastActive, err)
		}
	}
}
