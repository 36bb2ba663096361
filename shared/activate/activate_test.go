package activate

import (
	"bytes"
	"context"
	"errors"
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
	"github.com/logistos-sync/logistos-sync/internal/testwait"
	"github.com/logistos-sync/logistos-sync/shared/ledger"
	"github.com/logistos-sync/logistos-sync/shared/metrics"
	"github.com/logistos-sync/logistos-sync/shared/queue"
	"github.com/logistos-sync/logistos-sync/shared/state"
	"github.com/logistos-sync/logistos-sync/shared/wooapi"
	"github.com/logistos-sync/logistos-sync/shared/woohook"
	"github.com/logistos-sync/logistos-sync/shared/wookey"
)

// The thorough tests (a faithful stand-in WooCommerce, kumo's SQS, DynamoDB
// and Lambda, the real binary) are in local/activation. These run the
// concurrent engine under the race detector with the smallest stand-ins.

// tinyShop lists orders 1..n as {"id":N} pages, with WooCommerce's
// headers, taking latency per page.
func tinyShop(t *testing.T, n int, latency time.Duration) string {
	t.Helper()
	return shopOf(t, n, latency, nil)
}

// shopOf is tinyShop with the members members(id) returns added to each
// order (nil: none).
func shopOf(t *testing.T, n int, latency time.Duration, members func(id int) string) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(latency)
		page, _ := strconv.Atoi(r.URL.Query().Get("page"))
		per, _ := strconv.Atoi(r.URL.Query().Get("per_page"))
		page, per = max(page, 1), max(per, 1)
		var b strings.Builder
		b.WriteByte('[')
		for id := (page-1)*per + 1; id <= min(page*per, n); id++ {
			if b.Len() > 1 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, `{"id":%d,`, id)
			if members != nil {
				b.WriteString(members(id) + ",")
			}
			b.WriteString(`"billing":{"email":"x@example.com"}}`)
		}
		b.WriteByte(']')
		w.Header().Set("X-WP-Total", strconv.Itoa(n))
		w.Header().Set("X-WP-TotalPages", strconv.Itoa((n+per-1)/per))
		w.Header().Set("Content-Type", "application/json; charset=UTF-8")
		io.WriteString(w, b.String())
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// recorder is a BatchSender that counts order ids.
type recorder struct {
	mu  sync.Mutex
	ids map[int64]int
}

func (r *recorder) SendBatch(_ context.Context, ms []*queue.Message) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, m := range ms {
		id, err := woohook.OrderID([]byte(m.Body))
		if err != nil {
			return err
		}
		if m.Origin != queue.OriginBackfill || m.Topic != "" {
			return fmt.Errorf("attributes %+v", m)
		}
		r.ids[id]++
	}
	return nil
}

// orders is how many distinct orders were sent.
func (r *recorder) orders() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.ids)
}

func handler(t *testing.T, n int, latency time.Duration) (*Handler, *recorder) {
	t.Helper()
	return handlerFor(t, tinyShop(t, n, latency))
}

func handlerFor(t *testing.T, url string) (*Handler, *recorder) {
	t.Helper()
	shop, err := wooapi.NewClient(wooapi.NewHTTPClient(true), url, wooapi.Key{})
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{ids: map[int64]int{}}
	return &Handler{Shop: shop, Keys: wookey.Static{}, Queue: rec, State: &state.Memory{},
		StoreURL: url, Concurrency: 4, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}, rec
}

func TestBackfillEngine(t *testing.T) {
	const n = 2_550
	h, rec := handler(t, n, 0)
	rep, err := h.Handle(context.Background(), Event{Steps: []string{"backfill"}})
	if err != nil || rep.Backfill.Outcome != OutcomeComplete || rep.Backfill.OrdersEnqueued != n {
		t.Fatalf("%+v %v", rep.Backfill, err)
	}
	for id := int64(1); id <= n; id++ {
		if rec.ids[id] != 1 {
			t.Fatalf("order %d sent %d times", id, rec.ids[id])
		}
	}
}

// A slice cut short by its deadline hands back a continuation; running the
// continuations completes the backfill.
func TestBackfillContinues(t *testing.T) {
	// 100 pages of 20 ms, 4 at a time: 500 ms of work in 300 ms slices
	// (200 ms of work each, the rest margins).
	const n = 10_000
	h, rec := handler(t, n, 20*time.Millisecond)
	ev, slices := Event{Steps: []string{"backfill"}}, 0
	// Slices run until one completes, however many a slow machine needs;
	// the timeout only ends a backfill that never would.
	testwait.Eventually(t, 2*time.Minute, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		rep, err := h.Handle(ctx, ev)
		cancel()
		slices++
		if err != nil {
			t.Fatalf("slice %d: %v", slices, err)
		}
		if rep.Next != nil {
			ev = *rep.Next
			return fmt.Errorf("slice %d continues: %d orders enqueued so far", slices, rec.orders())
		}
		return nil
	})
	// The shop's 20 ms per page make 500 ms of work, more than a slice.
	if slices < 2 {
		t.Fatal("one slice did it all: the deadline was not exercised")
	}
	for id := int64(1); id <= n; id++ {
		if rec.ids[id] == 0 {
			t.Fatalf("order %d missing after %d slices", id, slices)
		}
	}
}

func TestBadEvents(t *testing.T) {
	h, _ := handler(t, 1, 0)
	for _, ev := range []Event{
		{Steps: []string{"backfil"}},
		{Steps: []string{"backfill"}, Continuation: true},
		{Steps: []string{"webhook"}, Continuation: true, RunID: "r"},
	} {
		if _, err := h.Handle(context.Background(), ev); err == nil || !strings.Contains(err.Error(), "bad event") {
			t.Errorf("%+v: %v", ev, err)
		}
	}
}

func TestStepsRunInOrder(t *testing.T) {
	got, err := normalize([]string{"Backfill", " handoff"})
	if err != nil || strings.Join(got, ",") != "handoff,backfill" {
		t.Errorf("%v %v", got, err)
	}
}

func TestCutoff(t *testing.T) {
	shop := time.Date(2026, 11, 28, 2, 9, 31, 0, time.UTC)
	local := time.Date(2026, 11, 28, 2, 12, 0, 500, time.UTC)
	if got := cutoffFrom(shop, local); !got.Equal(shop.Add(time.Second)) {
		t.Errorf("shop clock: %v", got)
	}
	if got := cutoffFrom(time.Time{}, local); !got.Equal(time.Date(2026, 11, 28, 2, 12, 1, 0, time.UTC)) {
		t.Errorf("no shop clock: %v", got)
	}
}

func TestHandoffHash(t *testing.T) {
	k := wooapi.Key{ConsumerKey: "ck_1", ConsumerSecret: "cs_1"}
	base := handoffHash("https://s", k, "https://l")
	for _, other := range []string{
		handoffHash("https://t", k, "https://l"),
		handoffHash("https://s", wooapi.Key{ConsumerKey: "ck_1", ConsumerSecret: "cs_2"}, "https://l"),
		handoffHash("https://s", k, "https://m"),
	} {
		if other == base {
			t.Error("different handoffs hash the same")
		}
	}
	if strings.Contains(base, "cs_1") || handoffHash("https://s", k, "https://l") != base {
		t.Error("hash not stable or leaks the secret")
	}
}

// A backfill that keeps continuing itself stops at MaxInvocations.
func TestSelfContinuationIsBounded(t *testing.T) {
	h, rec := handler(t, 20_000, 0)
	doc := fmt.Sprintf(`{"store_url":%q,"statuses":["any"],"cutoff":"2026-11-28T10:00:00Z","next_page":7,"last_id":600,"last_total":20000,`+
		`"total":20000,"total_pages":200,"invocations":%d,"owner":"r1","lease_until":"2026-11-28T10:00:00Z"}`, h.StoreURL, MaxInvocations)
	if _, err := h.State.Put(context.Background(), state.BackfillID, []byte(doc), 0); err != nil {
		t.Fatal(err)
	}
	rep, err := h.Handle(context.Background(), Event{Steps: []string{"backfill"}, RunID: "r1", Continuation: true})
	if err == nil || rep.Backfill.Outcome != OutcomeFailed || !strings.Contains(err.Error(), "invocations without finishing") || rep.Next != nil {
		t.Fatalf("%+v %v", rep.Backfill, err)
	}
	if rec.orders() != 0 {
		t.Errorf("%d orders sent", rec.orders())
	}
}

// tooLargeQueue is a recorder on which order tooLarge never fits.
type tooLargeQueue struct {
	*recorder
	tooLarge int64
}

func (q tooLargeQueue) SendBatch(ctx context.Context, ms []*queue.Message) error {
	var fit []*queue.Message
	tl := &queue.TooLargeError{}
	for i, m := range ms {
		if id, _ := woohook.OrderID([]byte(m.Body)); id == q.tooLarge {
			tl.Indexes, tl.Errs = append(tl.Indexes, i), append(tl.Errs, fmt.Errorf("%w: 2000000 bytes", queue.ErrTooLarge))
			continue
		}
		fit = append(fit, m)
	}
	if err := q.recorder.SendBatch(ctx, fit); err != nil {
		return err
	}
	if len(tl.Indexes) > 0 {
		return tl
	}
	return nil
}

// An order too large for the queue is dead-lettered by id and counted, in
// the report and in a metric of its own; the others are all queued.
// Without a DLQ it fails the backfill.
func TestBackfillDeadLettersTooLarge(t *testing.T) {
	const n = 450
	h, rec := handler(t, n, 0)
	h.Queue = tooLargeQueue{recorder: rec, tooLarge: 123}
	var emf bytes.Buffer
	h.Metrics = metrics.New(&emf, "")
	rep, err := h.Handle(context.Background(), Event{Steps: []string{"backfill"}})
	if err == nil || !errors.Is(err, queue.ErrTooLarge) {
		t.Fatalf("without a DLQ: %+v %v", rep.Backfill, err)
	}
	d := &sqstest.Sender{}
	h.DeadLetters, h.DLQURL = d, "https://sqs/dlq"
	rep, err = h.Handle(context.Background(), Event{Steps: []string{"backfill"}, Restart: true})
	if err != nil || rep.Backfill.Outcome != OutcomeComplete || rep.Backfill.OrdersDeadLettered != 1 || rep.Backfill.OrdersEnqueued != n-1 {
		t.Fatalf("%+v %v", rep.Backfill, err)
	}
	if rec.orders() != n-1 || rec.ids[123] != 0 {
		t.Errorf("%d orders queued, order 123 %d times", rec.orders(), rec.ids[123])
	}
	// The name the template's dead-letter alarm text and docs/operations.md use.
	if got := strings.Count(emf.String(), `"OrdersBackfillDeadLettered":1}`); got != 1 {
		t.Errorf("%d OrdersBackfillDeadLettered metrics of 1, want 1:\n%s", got, emf.String())
	}
	if len(d.Sent()) != 1 {
		t.Fatalf("%d dead-lettered", len(d.Sent()))
	}
	in := d.Sent()[0]
	reason := aws.ToString(in.MessageAttributes[queue.AttrFailureReason].StringValue)
	if aws.ToString(in.QueueUrl) != "https://sqs/dlq" || aws.ToString(in.MessageBody) != `{"id":123}` ||
		!strings.Contains(reason, "order 123") || !strings.Contains(reason, "2000000 bytes") ||
		aws.ToString(in.MessageAttributes[queue.AttrOrigin].StringValue) != queue.OriginBackfill {
		t.Errorf("dead-lettered %s with %v", aws.ToString(in.MessageBody), in.MessageAttributes)
	}
}

// The backfill records in the ledger only the orders reconcile can look up:
// those created or modified from an hour before the cut-off on (and none
// that did not reach the queue). A shop's history stays out of it.
func TestBackfillRecordsFromTheHorizon(t *testing.T) {
	const n, tooLarge, oldButModified = 300, 280, 5
	now := time.Now().UTC()
	// Order id was created (n-id) minutes and 30 s ago: 241..300 within
	// the hour before the cut-off (about now), the rest before it.
	created := func(id int) time.Time { return now.Add(-time.Duration(n-id)*time.Minute - 30*time.Second) }
	url := shopOf(t, n, 0, func(id int) string {
		mod := created(id)
		if id == oldButModified {
			mod = now.Add(-10 * time.Minute)
		}
		return fmt.Sprintf(`"date_created_gmt":%q,"date_modified_gmt":%q`, created(id).Format("2006-01-02T15:04:05"), mod.Format("2006-01-02T15:04:05"))
	})
	h, rec := handlerFor(t, url)
	h.Queue, h.DeadLetters, h.DLQURL = tooLargeQueue{recorder: rec, tooLarge: tooLarge}, &sqstest.Sender{}, "https://sqs/dlq"
	mem := &ledger.Memory{}
	h.Ledger = &ledger.Recorder{Store: mem, Log: h.Log, Metrics: metrics.New(io.Discard, "")}
	rep, err := h.Handle(context.Background(), Event{Steps: []string{"backfill"}})
	if err != nil || rep.Backfill.OrdersEnqueued != n-1 {
		t.Fatalf("%+v %v", rep.Backfill, err)
	}
	var ids []int64
	for id := int64(1); id <= n; id++ {
		ids = append(ids, id)
	}
	got, _ := mem.Get(context.Background(), ids)
	for id := int64(1); id <= n; id++ {
		want := (id > n-60 || id == oldButModified) && id != tooLarge
		if _, ok := got[id]; ok != want {
			t.Errorf("order %d (created %s) recorded: %v, want %v", id, created(int(id)).Format(time.TimeOnly), ok, want)
		}
	}
}
