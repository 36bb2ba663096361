package activate

import (
	"context"
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

	"github.com/logistos-sync/logistos-sync/internal/testwait"
	"github.com/logistos-sync/logistos-sync/shared/logistos"
	"github.com/logistos-sync/logistos-sync/shared/queue"
	"github.com/logistos-sync/logistos-sync/shared/state"
	"github.com/logistos-sync/logistos-sync/shared/wooapi"
	"github.com/logistos-sync/logistos-sync/shared/wookey"
)

// The thorough tests (a faithful stand-in WooCommerce, kumo's SQS, DynamoDB
// and Lambda, the real binary) are in local/activation. These run the
// concurrent engine under the race detector with the smallest stand-ins.

// tinyShop lists orders 1..n as {"id":N} pages, with WooCommerce's
// headers, taking latency per page.
func tinyShop(t *testing.T, n int, latency time.Duration) string {
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
			fmt.Fprintf(&b, `{"id":%d,"billing":{"email":"x@example.com"}}`, id)
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
		id, err := wooapi.OrderID([]byte(m.Body))
		if err != nil {
			return err
		}
		if m.Origin != queue.OriginBackfill || m.Topic != logistos.EventBackfill {
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
	url := tinyShop(t, n, latency)
	shop, err := wooapi.NewClient(wooapi.NewHTTPClient(), url, wooapi.Key{})
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
