package ledger

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/logistos-sync/logistos-sync/shared/metrics"
	"github.com/logistos-sync/logistos-sync/shared/queue"
)

func TestEntryOfRealDelivery(t *testing.T) {
	body, err := os.ReadFile("../../testdata/woocommerce/real-wc-8.9.1/order-created-313.body")
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 11, 28, 2, 6, 20, 0, time.UTC)
	e, ok := EntryOf(body, queue.OriginWebhook, at)
	if !ok || e.OrderID != 313 || e.Modified != "2026-11-28T02:06:16" || e.Origin != queue.OriginWebhook || !e.ReceivedAt.Equal(at) {
		t.Fatalf("EntryOf = %+v, %v", e, ok)
	}
}

func TestEntryOfEdges(t *testing.T) {
	for body, want := range map[string]Entry{
		`{"id":7,"date_modified_gmt":null}`:                                              {OrderID: 7},
		`{"id":8,"meta_data":[{"key":"date_modified_gmt","value":"x"}]}`:                 {OrderID: 8},
		`{"id":9,"date_modified_gmt": "2026-01-02T03:04:05","x":1}`:                      {OrderID: 9},
		`{"id":10,"date_modified_gmt":"` + string(bytes.Repeat([]byte("9"), 100)) + `"}`: {OrderID: 10},
		// WooCommerce writes meta_data before the dates, and a plugin's
		// meta value can be an object with a member of the same name.
		`{"id":11,"meta_data":[{"key":"_snapshot","value":{"date_modified_gmt":"2099-01-01T00:00:00"}}],"date_modified_gmt":"2026-01-02T03:04:05"}`: {OrderID: 11, Modified: "2026-01-02T03:04:05"},
		`{"id":12,"date_modified_gmt":"2026-01-02T03:04:\u0030"}`:                                                                                   {OrderID: 12},
	} {
		e, ok := EntryOf([]byte(body), "", time.Time{})
		if want.OrderID == 9 {
			want.Modified = "2026-01-02T03:04:05"
		}
		if !ok || e.OrderID != want.OrderID || e.Modified != want.Modified {
			t.Errorf("EntryOf(%.60s) = %+v, %v; want %+v", body, e, ok, want)
		}
	}
	if _, ok := EntryOf([]byte(`{"code":"woocommerce_rest_cannot_view"}`), "", time.Time{}); ok {
		t.Error("a REST error has no entry")
	}
}

type fakeSender struct{ err error }

func (f *fakeSender) SendBatch(context.Context, []*queue.Message) error { return f.err }

type failingStore struct{ Memory }

func (*failingStore) Put(context.Context, []Entry) error { return errors.New("throttled") }

func TestRecordingSenderRecordsOnlyWhatWasQueued(t *testing.T) {
	ctx := context.Background()
	ms := []*queue.Message{{Body: `{"id":1,"date_modified_gmt":"2026-01-01T00:00:00"}`, Origin: queue.OriginBackfill},
		{Body: `{"id":2}`, Origin: queue.OriginBackfill}}
	mem := &Memory{}
	rec := &Recorder{Store: mem, Log: slog.New(slog.DiscardHandler), Metrics: metrics.New(&bytes.Buffer{}, "")}

	failed := &RecordingSender{Sender: &fakeSender{err: errors.New("sqs down")}, Recorder: rec}
	if err := failed.SendBatch(ctx, ms); err == nil || mem.Len() != 0 {
		t.Fatalf("after a failed send: err %v, %d entries; want the error and none", err, mem.Len())
	}
	ok := &RecordingSender{Sender: &fakeSender{}, Recorder: rec}
	if err := ok.SendBatch(ctx, ms); err != nil || mem.Len() != 2 {
		t.Fatalf("after a send: err %v, %d entries; want 2", err, mem.Len())
	}
	got, _ := mem.Get(ctx, []int64{1, 2, 3})
	if len(got) != 2 || got[1].Modified != "2026-01-01T00:00:00" || got[2].Origin != queue.OriginBackfill {
		t.Fatalf("entries %+v", got)
	}

	var out bytes.Buffer
	rec = &Recorder{Store: &failingStore{}, Log: slog.New(slog.DiscardHandler), Metrics: metrics.New(&out, "")}
	if err := (&RecordingSender{Sender: &fakeSender{}, Recorder: rec}).SendBatch(ctx, ms); err != nil {
		t.Fatalf("a ledger failure must not fail the send: %v", err)
	}
	if !bytes.Contains(out.Bytes(), []byte(`"LedgerWriteFailed":2`)) {
		t.Fatalf("want LedgerWriteFailed 2, got %s", out.String())
	}
}

// RecordSince keeps an order created or modified at or after since, and an
// order whose dates it cannot read (an entry too many costs a write, one
// too few a duplicate).
func TestRecordSince(t *testing.T) {
	since := time.Date(2026, 11, 29, 9, 0, 0, 0, time.UTC)
	for body, want := range map[string]bool{
		`{"id":1,"date_created_gmt":"2026-11-29T08:59:59","date_modified_gmt":"2026-11-29T08:59:59"}`: false,
		`{"id":2,"date_created_gmt":"2026-11-29T09:00:00","date_modified_gmt":"2026-11-29T09:00:00"}`: true,
		`{"id":3,"date_created_gmt":"2025-01-01T00:00:00","date_modified_gmt":"2026-11-29T10:00:00"}`: true,
		`{"id":4,"date_created_gmt":null,"date_modified_gmt":"2025-01-01T00:00:00"}`:                  true,
		`{"id":5}`: true,
		`{"id":6,"customer_note":"\"date_created_gmt\":\"2099-01-01T00:00:00\"","date_created_gmt":"2025-01-01T00:00:00","date_modified_gmt":"2025-01-01T00:00:00"}`: false,
	} {
		mem := &Memory{}
		rec := &Recorder{Store: mem, Metrics: metrics.New(&bytes.Buffer{}, "")}
		rec.RecordSince(context.Background(), since, &queue.Message{Body: body, Origin: queue.OriginBackfill})
		if got := mem.Len() == 1; got != want {
			t.Errorf("%s: recorded %v, want %v", body, got, want)
		}
	}
}

func BenchmarkEntryOf(b *testing.B) {
	body, err := os.ReadFile("../../testdata/woocommerce/real-wc-8.9.1/order-created-313.body")
	if err != nil {
		b.Fatal(err)
	}
	since := time.Date(2026, 11, 29, 9, 0, 0, 0, time.UTC).Format(dateLayout)
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if _, ok := EntryOf(body, queue.OriginWebhook, time.Time{}); !ok || recent(body, since) {
			b.Fatal("no entry")
		}
	}
}

// Orders too large for the queue are the only ones a RecordingSender leaves
// out of the ledger when SendBatch says so (the rest are on the queue); it
// hands the error on and leaves the caller's slice as it was.
func TestRecordingSenderSkipsTooLarge(t *testing.T) {
	ms := []*queue.Message{{Body: `{"id":1}`}, {Body: `{"id":2}`}, {Body: `{"id":3}`}}
	tl := &queue.TooLargeError{Indexes: []int{1}, Errs: []error{queue.ErrTooLarge}}
	mem := &Memory{}
	rs := &RecordingSender{Sender: &fakeSender{err: tl}, Recorder: &Recorder{Store: mem, Metrics: metrics.New(&bytes.Buffer{}, "")}}
	if err := rs.SendBatch(context.Background(), ms); !errors.Is(err, queue.ErrTooLarge) {
		t.Fatalf("err %v, want the TooLargeError", err)
	}
	got, _ := mem.Get(context.Background(), []int64{1, 2, 3})
	if _, ok := got[2]; ok || len(got) != 2 {
		t.Errorf("recorded %v, want orders 1 and 3", got)
	}
	if ms[1].Body != `{"id":2}` || len(ms) != 3 {
		t.Error("the caller's messages changed")
	}
}
