// Package ledger records which orders were put on the orders queue, so that
// reconcile can tell the orders the webhook missed from those it delivered.
//
// One small entry per order: its id, the latest date_modified_gmt queued,
// the origin and when it was recorded, nothing else (no personal data). An
// entry must never exist for an order that is not on the queue, or reconcile
// would skip that order for ever: callers record only after SQS accepted the
// message. A record that fails after the send costs at most one duplicate
// (reconcile queues the order once more; Logistos de-duplicates), so record
// failures are logged and counted, never returned to the sender's caller.
package ledger

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"
	"unsafe"

	"github.com/logistos-sync/logistos-sync/shared/jsonscan"
	"github.com/logistos-sync/logistos-sync/shared/metrics"
	"github.com/logistos-sync/logistos-sync/shared/queue"
	"github.com/logistos-sync/logistos-sync/shared/woohook"
)

// Overlap is how far before its start (the high-water mark of the sweeps
// before it; at first the backfill's cut-off) a reconcile window begins:
// an order's date_created can be earlier than the moment it became visible
// (a slow checkout, a clock step). No window reaches further back than the
// cut-off minus Overlap, so the backfill records only the orders created or
// modified since then (Horizon); a sweep from an earlier date (Event.Since)
// queues the older ones again, and Logistos drops them by their
// Idempotency-Key.
const Overlap = time.Hour

// Horizon is the earliest date of an order reconcile ever looks up after a
// backfill with this cut-off: the backfill records nothing older, which
// for a shop with years of orders is nearly all of them.
func Horizon(cutoff time.Time) time.Time { return cutoff.Add(-Overlap) }

// TTL is how long an entry is kept: far longer than any reconcile window
// (an order older than that is never looked up again), short enough to
// bound the table's size.
const TTL = 90 * 24 * time.Hour

// Entry is what the ledger knows of one order.
type Entry struct {
	OrderID int64
	// Modified is the order's date_modified_gmt as the shop wrote it
	// ("2026-11-20T18:42:07"), "" when the queued body had none.
	Modified string
	// Origin is the queue.Origin* that queued it.
	Origin     string
	ReceivedAt time.Time
}

// Store keeps entries by order id.
type Store interface {
	// Put records entries (a later entry for an order replaces the earlier).
	Put(ctx context.Context, es []Entry) error
	// Get returns the entries of the ids that have one.
	Get(ctx context.Context, ids []int64) (map[int64]Entry, error)
}

// For returns shop's part of a hub's ledger: its entries apart from every
// other shop's, so that one shop's order never hides another's with the
// same id. The empty shop is a single-shop stack's whole ledger, where its
// entries always were.
func For(s Store, shop string) Store {
	if f, ok := s.(interface{ For(string) Store }); ok && shop != "" {
		return f.For(shop)
	}
	return s
}

// Memory is a Store in this process's memory: for local runs and tests.
type Memory struct {
	mu      sync.Mutex
	entries map[int64]Entry
	puts    int
	shops   map[string]*Memory
}

// For returns shop's part of the ledger, made on first use.
func (m *Memory) For(shop string) Store {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.shops == nil {
		m.shops = make(map[string]*Memory)
	}
	if m.shops[shop] == nil {
		m.shops[shop] = &Memory{}
	}
	return m.shops[shop]
}

// Put records entries.
func (m *Memory) Put(_ context.Context, es []Entry) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.entries == nil {
		m.entries = make(map[int64]Entry)
	}
	for _, e := range es {
		m.entries[e.OrderID] = e
	}
	m.puts += len(es)
	return nil
}

// Get returns the entries of ids.
func (m *Memory) Get(_ context.Context, ids []int64) (map[int64]Entry, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make(map[int64]Entry)
	for _, id := range ids {
		if e, ok := m.entries[id]; ok {
			out[id] = e
		}
	}
	return out, nil
}

// Len is how many orders have an entry.
func (m *Memory) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.entries)
}

// Writes is how many entries were written in all (rewrites included).
func (m *Memory) Writes() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.puts
}

// dateLayout is how WooCommerce writes a *_gmt date: strings in it compare
// as the dates do.
const dateLayout = "2006-01-02T15:04:05"

// maxDateLen bounds what is taken for a date, so a malformed body cannot
// put a long string in the ledger.
const maxDateLen = 32

// EntryOf reads an order body's id and date_modified_gmt without decoding
// the whole order (bodies can be megabytes; the webhook pays this on every
// delivery). ok is false for a body that is not an order with an id.
func EntryOf(body []byte, origin string, at time.Time) (e Entry, ok bool) {
	id, err := woohook.OrderID(body)
	if err != nil {
		return Entry{}, false
	}
	_, modified := dates(body)
	return Entry{OrderID: id, Origin: origin, ReceivedAt: at.UTC(), Modified: string(modified)}, true
}

// errFound ends a walk that found what it looked for.
var errFound = errors.New("found")

// dates returns an order's date_created_gmt and date_modified_gmt, each nil
// when missing, null or not a short string. It walks the top level only:
// WooCommerce writes these dates after meta_data, whose values a plugin
// can make objects with members of the same names.
func dates(body []byte) (created, modified []byte) {
	_ = jsonscan.Members(body, func(key, value []byte) error {
		switch string(key) {
		case "date_created_gmt":
			created = dateValue(value)
		case "date_modified_gmt":
			modified = dateValue(value)
		default:
			return nil
		}
		if created != nil && modified != nil {
			return errFound
		}
		return nil
	})
	return created, modified
}

// dateValue is a date string's text without its quotes: plain ASCII, no
// escapes, at most maxDateLen bytes; nil for anything else (null).
func dateValue(v []byte) []byte {
	if len(v) < 2 || v[0] != '"' || len(v)-2 > maxDateLen || bytes.IndexByte(v, '\\') >= 0 {
		return nil
	}
	return v[1 : len(v)-1]
}

// recent reports whether an order was created or last modified at or after
// since (in dateLayout). An order without readable dates counts as recent:
// an entry too many costs a write, one too few a duplicate.
func recent(body []byte, since string) bool {
	created, modified := dates(body)
	return created == nil || modified == nil || string(created) >= since || string(modified) >= since
}

// Recorder records what a producer queued and reports failures to record.
type Recorder struct {
	Store   Store
	Log     *slog.Logger
	Metrics *metrics.Emitter
	Now     func() time.Time
}

// Record writes the entries of messages SQS accepted. It returns nothing:
// the orders are queued, and a failure here costs at most a duplicate, so it
// is logged and counted (LedgerWriteFailed) instead.
func (r *Recorder) Record(ctx context.Context, ms ...*queue.Message) {
	r.RecordSince(ctx, time.Time{}, ms...)
}

// RecordSince is Record for the orders among ms created or last modified at
// or after since (all of them when since is zero): the backfill records
// from its Horizon on, as reconcile never looks further back.
func (r *Recorder) RecordSince(ctx context.Context, since time.Time, ms ...*queue.Message) {
	if r == nil || r.Store == nil || len(ms) == 0 {
		return
	}
	var from string
	if !since.IsZero() {
		from = since.UTC().Format(dateLayout)
	}
	now := time.Now
	if r.Now != nil {
		now = r.Now
	}
	at := now()
	es := make([]Entry, 0, len(ms))
	for _, m := range ms {
		at := at
		if !m.ReceivedAt.IsZero() {
			at = m.ReceivedAt // when the order arrived, not when it was recorded
		}
		// A read-only view: bodies can be megabytes, and EntryOf keeps
		// nothing of them but a short copied date.
		body := unsafe.Slice(unsafe.StringData(m.Body), len(m.Body))
		if from != "" && !recent(body, from) {
			continue
		}
		if e, ok := EntryOf(body, m.Origin, at); ok {
			es = append(es, e)
		}
	}
	if len(es) == 0 {
		return
	}
	if err := r.Store.Put(ctx, es); err != nil {
		r.Metrics.Count(metrics.LedgerWriteFailed, len(es))
		if r.Log != nil {
			r.Log.LogAttrs(ctx, slog.LevelWarn, "ledger write failed", slog.Int("orders", len(es)),
				slog.String("origin", es[0].Origin), slog.String("error", err.Error()),
				slog.String("effect", "the orders are queued; reconcile may queue them once more"))
		}
	}
}

// RecordingSender is a queue.BatchSender that records in the ledger what the
// wrapped sender queued, once SQS accepted it: the backfill and reconcile
// send through it, so neither has to remember to record.
type RecordingSender struct {
	Sender   queue.BatchSender
	Recorder *Recorder
	// Since, when set, records only the orders created or last modified
	// from then on (Recorder.RecordSince): the backfill's Horizon.
	Since time.Time
}

// SendBatch sends ms and records what SQS accepted: all of ms, or, when
// the only failure is messages too large for the queue (a
// *queue.TooLargeError, returned as it came), every other one. After any
// other error nothing is recorded: some messages may not be on the queue,
// and the caller sends them again.
func (s *RecordingSender) SendBatch(ctx context.Context, ms []*queue.Message) error {
	err := s.Sender.SendBatch(ctx, ms)
	var tl *queue.TooLargeError
	switch {
	case err == nil:
	case errors.As(err, &tl):
		ms = without(ms, tl.Indexes)
	default:
		return err
	}
	s.Recorder.RecordSince(ctx, s.Since, ms...)
	return err
}

// without is ms less the messages at the ascending positions skip, in a
// new slice: the caller's stays as it was.
func without(ms []*queue.Message, skip []int) []*queue.Message {
	out := make([]*queue.Message, 0, len(ms))
	for i, m := range ms {
		if len(skip) > 0 && skip[0] == i {
			skip = skip[1:]
			continue
		}
		out = append(out, m)
	}
	return out
}
