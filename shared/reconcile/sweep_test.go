package reconcile

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/logistos-sync/logistos-sync/internal/sqstest"
	"github.com/logistos-sync/logistos-sync/shared/ledger"
	"github.com/logistos-sync/logistos-sync/shared/metrics"
	"github.com/logistos-sync/logistos-sync/shared/queue"
	"github.com/logistos-sync/logistos-sync/shared/secret"
	"github.com/logistos-sync/logistos-sync/shared/state"
	"github.com/logistos-sync/logistos-sync/shared/wooapi"
	"github.com/logistos-sync/logistos-sync/shared/woohook"
	"github.com/logistos-sync/logistos-sync/shared/wookey"
)

// The thorough tests (the stand-in shop delivering as WooCommerce does,
// kumo, the real binary) are in local/reconciliation. These run the
// concurrent scan and the lease under the race detector with the smallest
// stand-ins: a shop of n orders created a second apart, ending an hour ago.

const hookURL = "https://api.example/woocommerce/webhook"

// A shop that ignores include= (some caching proxies key on the path and a
// few parameters only) gets one GET per missing order instead.
var ignoreInclude bool

func tinyShop(t *testing.T, n int, epoch time.Time) string {
	t.Helper()
	order := func(id int) string {
		d := epoch.Add(time.Duration(id) * time.Second).Format(wooapi.DateLayout)
		status := "processing"
		if id%250 == 0 {
			status = "checkout-draft" // an unfinished block checkout: no order.created
		}
		return fmt.Sprintf(`{"id":%d,"date_created_gmt":%q,"date_modified_gmt":%q,"status":%q}`, id, d, d, status)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if strings.HasSuffix(r.URL.Path, "/webhooks") {
			fmt.Fprintf(w, `[{"id":1,"status":"active","topic":"order.created","delivery_url":%q}]`, hookURL)
			return
		}
		if i := strings.LastIndex(r.URL.Path, "/orders/"); i >= 0 {
			id, _ := strconv.Atoi(r.URL.Path[i+len("/orders/"):])
			io.WriteString(w, order(id))
			return
		}
		q := r.URL.Query()
		var ids []int
		if inc := q.Get("include"); inc != "" && !ignoreInclude {
			for _, s := range strings.Split(inc, ",") {
				id, _ := strconv.Atoi(s)
				ids = append(ids, id)
			}
		} else {
			for id := 1; id <= n; id++ {
				ids = append(ids, id)
			}
		}
		page, _ := strconv.Atoi(q.Get("page"))
		per, _ := strconv.Atoi(q.Get("per_page"))
		var b strings.Builder
		b.WriteByte('[')
		for i := (page - 1) * per; i < min(page*per, len(ids)); i++ {
			if b.Len() > 1 {
				b.WriteByte(',')
			}
			b.WriteString(order(ids[i]))
		}
		b.WriteByte(']')
		w.Header().Set("X-WP-Total", strconv.Itoa(len(ids)))
		w.Header().Set("X-WP-TotalPages", strconv.Itoa((len(ids)+per-1)/per))
		io.WriteString(w, b.String())
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

type sent struct {
	mu  sync.Mutex
	ids map[int64]int
}

func (s *sent) SendBatch(_ context.Context, ms []*queue.Message) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, m := range ms {
		id, err := woohook.OrderID([]byte(m.Body))
		if err != nil || m.Origin != queue.OriginReconcile || m.Topic != "order.created" {
			return fmt.Errorf("message %+v: %v", m, err)
		}
		s.ids[id]++
	}
	return nil
}

func newHandler(t *testing.T, n int, missing func(id int64) bool) (*Handler, *sent) {
	t.Helper()
	now := time.Now().UTC().Truncate(time.Second)
	epoch := now.Add(-time.Hour - time.Duration(n)*time.Second)
	shop, err := wooapi.NewClient(wooapi.NewHTTPClient(true), tinyShop(t, n, epoch), wooapi.Key{})
	if err != nil {
		t.Fatal(err)
	}
	st := &state.Memory{}
	cut, _ := json.Marshal(map[string]any{"cutoff": epoch.Add(time.Second)})
	if _, err := st.Put(context.Background(), state.BackfillID, cut, 0); err != nil {
		t.Fatal(err)
	}
	l := &ledger.Memory{}
	var es []ledger.Entry
	for id := int64(1); id <= int64(n); id++ {
		if !missing(id) {
			es = append(es, ledger.Entry{OrderID: id, Origin: queue.OriginWebhook})
		}
	}
	_ = l.Put(context.Background(), es)
	out := &sent{ids: map[int64]int{}}
	log := slog.New(slog.DiscardHandler)
	m := metrics.New(io.Discard, "")
	return &Handler{Shop: shop, Keys: wookey.Static{}, State: st, Ledger: l, WebhookSecret: secret.Literal("s"),
		Queue:      &ledger.RecordingSender{Sender: out, Recorder: &ledger.Recorder{Store: l, Log: log, Metrics: m}},
		WebhookURL: hookURL, Grace: 15 * time.Minute, Log: log, Metrics: m}, out
}

func TestSweepEngine(t *testing.T) {
	const n = 1_050
	h, out := newHandler(t, n, func(id int64) bool { return id%100 == 7 })
	rep, err := h.Handle(context.Background(), Event{})
	if err != nil || rep.OrdersSeen != n-4 || rep.OrdersQueued != 11 || rep.Webhook.Outcome != WebhookInShape || len(out.ids) != 11 {
		t.Fatalf("%v %+v %+v", err, rep, rep.Webhook)
	}
	if rep, err = h.Handle(context.Background(), Event{}); err != nil || rep.OrdersQueued != 0 {
		t.Fatalf("second sweep: %v %+v", err, rep)
	}
}

func TestOneOfTwoConcurrentSweepsWorks(t *testing.T) {
	h, out := newHandler(t, 500, func(id int64) bool { return id%10 == 0 })
	var wg sync.WaitGroup
	reps := make([]Report, 2)
	for i := range reps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			reps[i], _ = h.Handle(context.Background(), Event{})
		}()
	}
	wg.Wait()
	for id, k := range out.ids {
		if k != 1 {
			t.Errorf("order %d queued %d times", id, k)
		}
	}
	// Every 10th is missing; 250 and 500 are checkout drafts, left alone.
	if len(out.ids) != 48 || reps[0].OrdersQueued+reps[1].OrdersQueued != 48 {
		t.Fatalf("%d queued: %+v / %+v", len(out.ids), reps[0], reps[1])
	}
}

func TestShopIgnoringInclude(t *testing.T) {
	ignoreInclude = true
	defer func() { ignoreInclude = false }()
	h, out := newHandler(t, 300, func(id int64) bool { return id == 5 || id == 205 })
	rep, err := h.Handle(context.Background(), Event{})
	if err != nil || rep.OrdersQueued != 2 || len(out.ids) != 2 || out.ids[5] != 1 || out.ids[205] != 1 {
		t.Fatalf("%v %+v %v", err, rep, out.ids)
	}
}

// Before connect stored a key, and before activation fixed a cut-off, a
// sweep succeeds and says why it did nothing: no error, so no alarm.
func TestNotConnectedAndNeedsActivation(t *testing.T) {
	h, out := newHandler(t, 10, func(int64) bool { return true })
	h.Keys = wookey.Secret{Source: secret.Literal("")}
	if rep, err := h.Handle(context.Background(), Event{}); err != nil || rep.Outcome != OutcomeNotConnected {
		t.Fatalf("no key: %v %+v", err, rep)
	}
	h.Keys, h.State = wookey.Static{}, &state.Memory{}
	if rep, err := h.Handle(context.Background(), Event{}); err != nil || rep.Outcome != OutcomeNeedsActivation {
		t.Fatalf("no cut-off: %v %+v", err, rep)
	}
	if len(out.ids) != 0 {
		t.Fatalf("queued %v", out.ids)
	}
}

// tooLarge is a BatchSender for which order id never fits in a message:
// SendBatch sends the others to next and names it in a TooLargeError.
type tooLarge struct {
	next queue.BatchSender
	id   int64
}

func (q tooLarge) SendBatch(ctx context.Context, ms []*queue.Message) error {
	tl := &queue.TooLargeError{}
	var fit []*queue.Message
	for i, m := range ms {
		if id, _ := woohook.OrderID([]byte(m.Body)); id == q.id {
			tl.Indexes, tl.Errs = append(tl.Indexes, i), append(tl.Errs, queue.ErrTooLarge)
			continue
		}
		fit = append(fit, m)
	}
	if err := q.next.SendBatch(ctx, fit); err != nil || len(tl.Indexes) == 0 {
		return err
	}
	return tl
}

// A missed order too large for the queue is dead-lettered by id and the
// sweep succeeds (its mark moves on), instead of failing on that order at
// every sweep; the other missed order is queued and recorded.
func TestTooLargeOrderIsDeadLettered(t *testing.T) {
	h, out := newHandler(t, 300, func(id int64) bool { return id == 5 || id == 205 })
	rs := h.Queue.(*ledger.RecordingSender)
	rs.Sender = tooLarge{next: rs.Sender, id: 205}
	d := &sqstest.Sender{}
	h.DeadLetters, h.DLQURL = d, "https://sqs/dlq"
	rep, err := h.Handle(context.Background(), Event{})
	if err != nil || rep.OrdersQueued != 1 || rep.OrdersDeadLettered != 1 || out.ids[5] != 1 || out.ids[205] != 0 {
		t.Fatalf("%v %+v %v", err, rep, out.ids)
	}
	if ins := d.Sent(); len(ins) != 1 || aws.ToString(ins[0].MessageBody) != `{"id":205}` || aws.ToString(ins[0].QueueUrl) != "https://sqs/dlq" ||
		!strings.Contains(aws.ToString(ins[0].MessageAttributes[queue.AttrFailureReason].StringValue), "order 205") {
		t.Fatalf("dead-lettered %+v", ins)
	}
	got, _ := h.Ledger.Get(context.Background(), []int64{5, 205})
	if _, ok := got[5]; !ok || len(got) != 1 {
		t.Errorf("ledger %v: want order 5 only", got)
	}
}
