package activation

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/logistos-sync/logistos-sync/local/fakewoo"
	"github.com/logistos-sync/logistos-sync/shared/activate"
	"github.com/logistos-sync/logistos-sync/shared/queue"
	"github.com/logistos-sync/logistos-sync/shared/woohook"
)

var backfillOnly = activate.Event{Steps: []string{activate.StepBackfill}}

// A shop in the tens of thousands of orders: every order before the cut-off
// lands on the queue exactly once, nothing after it, and progress is logged.
func TestBackfillLargeShop(t *testing.T) {
	t.Parallel() // its hundred pages of CPU overlap other tests' waits
	const n = 10_500
	e := newEnv(t, fakewoo.Options{Orders: n}, nil)
	e.h.ProgressEvery = 200 * time.Millisecond
	rep, err := e.run(backfillOnly)
	if err != nil {
		t.Fatal(err)
	}
	b := rep.Backfill
	if b.Outcome != activate.OutcomeComplete || b.OrdersEnqueued != n || b.PagesDone != 105 || b.PagesTotal != 105 || b.OrdersTotal != n {
		t.Fatalf("report %+v", b)
	}
	q := e.drain()
	q.exactlyOnce(t, n, nil)
	if q.msgs != n {
		t.Errorf("%d messages, want %d", q.msgs, n)
	}
	for id := range q.count {
		if !e.shop.Created(id).Before(b.Cutoff) {
			t.Errorf("order %d created %v, after the cut-off %v", id, e.shop.Created(id), b.Cutoff)
		}
	}
	prog := logLines(e.logs.String(), "backfill progress")
	if len(prog) < 2 || prog[len(prog)-1]["pages_done"] != float64(105) || prog[len(prog)-1]["orders_enqueued"] != float64(n) {
		t.Errorf("progress lines: %d, last %v", len(prog), prog[len(prog)-1])
	}
	// Logs carry ids and counts, never order data or credentials.
	for _, secret := range []string{fakewoo.Secret, fakewoo.Key, "@example.com", "Customer 1", e.st.WebhookSecret} {
		if strings.Contains(e.logs.String(), secret) {
			t.Errorf("logs contain %q", secret)
		}
	}
	// Run again: complete, nothing re-sent.
	again, err := e.run(backfillOnly)
	if err != nil || again.Backfill.Outcome != activate.OutcomeComplete || !strings.Contains(again.Backfill.Detail, "restart") {
		t.Fatalf("second run: %+v %v", again.Backfill, err)
	}
	if q := e.drain(); q.msgs != 0 {
		t.Errorf("a completed backfill re-sent %d orders", q.msgs)
	}
}

// Orders placed while the backfill runs are after the cut-off: the webhook
// delivers them, the backfill leaves them out.
func TestOrdersCreatedDuringBackfillStayOut(t *testing.T) {
	var clock atomic.Int64
	clock.Store(time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC).UnixNano())
	now := func() time.Time { return time.Unix(0, clock.Load()) }
	var e *env
	var added []int64
	e = newEnv(t, fakewoo.Options{Orders: 2_000, Now: now, OnList: func(page int) {
		if page == 6 && added == nil {
			clock.Add(int64(2 * time.Second))
			added = e.shop.AddOrders(40)
		}
	}}, nil)
	rep, err := e.run(backfillOnly)
	if err != nil {
		t.Fatal(err)
	}
	if len(added) != 40 {
		t.Fatal("no orders were added during the backfill")
	}
	q := e.drain()
	q.exactlyOnce(t, 2_000, nil)
	for _, id := range added {
		if q.count[id] != 0 {
			t.Errorf("order %d, created during the backfill, was backfilled", id)
		}
	}
	if rep.Backfill.OrdersEnqueued != 2_000 {
		t.Errorf("enqueued %d", rep.Backfill.OrdersEnqueued)
	}
}

// Transient failures are retried: 500s, and a 429 whose Retry-After is honoured.
func TestBackfillTransientFailures(t *testing.T) {
	e := newEnv(t, fakewoo.Options{Orders: 1_200}, nil)
	e.shop.Inject(
		fakewoo.Fault{Route: fakewoo.RouteOrders, Page: 3, Status: 500, Times: 2},
		fakewoo.Fault{Route: fakewoo.RouteOrders, Page: 7, Status: 429, RetryAfter: "1"},
		fakewoo.Fault{Route: fakewoo.RouteOrders, Page: 9, Status: 503},
	)
	start := time.Now()
	rep, err := e.run(backfillOnly)
	if err != nil {
		t.Fatal(err)
	}
	if e.shop.Stats().Faults != 4 {
		t.Errorf("%d faults served, want 4", e.shop.Stats().Faults)
	}
	if time.Since(start) < time.Second {
		t.Error("the 429's Retry-After was not waited for")
	}
	e.drain().exactlyOnce(t, 1_200, nil)
	if rep.Backfill.OrdersEnqueued != 1_200 {
		t.Errorf("enqueued %d", rep.Backfill.OrdersEnqueued)
	}
}

// A slow page holds back only its own slot; the run completes.
func TestBackfillSlowPage(t *testing.T) {
	t.Parallel() // it mostly waits on the slow page
	e := newEnv(t, fakewoo.Options{Orders: 1_500}, nil)
	e.shop.Inject(fakewoo.Fault{Route: fakewoo.RouteOrders, Page: 2, Delay: 3 * time.Second})
	rep, err := e.run(backfillOnly)
	if err != nil {
		t.Fatal(err)
	}
	e.drain().exactlyOnce(t, 1_500, nil)
	if rep.Backfill.Outcome != activate.OutcomeComplete {
		t.Fatalf("report %+v", rep.Backfill)
	}
}

// Orders trashed or deleted mid-backfill shift WooCommerce's offset pages;
// the gap repair keeps every remaining order on the queue.
func TestBackfillListShift(t *testing.T) {
	t.Parallel() // its shops of thousands of orders overlap other tests' waits
	cases := []struct {
		name        string
		concurrency string
		remove      func(s *fakewoo.Shop, page int)
	}{
		{"trash on an earlier page, one at a time", "1", func() func(s *fakewoo.Shop, page int) {
			seen := map[int]bool{}
			return func(s *fakewoo.Shop, page int) {
				// Once pages 1 and 2 were read (one at a time), order 5
				// leaves: order 201 slides onto page 2, already read.
				if seen[1] && seen[2] && !seen[0] {
					seen[0] = true
					s.Trash(5)
				}
				seen[page] = true
			}
		}()},
		{"delete many while four pages run", "4", func(s *fakewoo.Shop, page int) {
			if page%3 == 0 && page > 4 {
				s.Delete(int64(page*100 - 350)) // on a page already read
				s.Trash(int64(page*100 - 420))
			}
		}},
		{"status filter: orders leave it", "4", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var e *env
			vars := map[string]string{"BACKFILL_CONCURRENCY": tc.concurrency}
			remove := tc.remove
			if remove == nil {
				vars["BACKFILL_STATUS"] = "processing"
				remove = func(s *fakewoo.Shop, page int) {
					if page%2 == 0 && page > 2 {
						// The first processing order on an earlier page completes.
						for id := int64((page - 2) * 100); id > 0; id-- {
							if s.Status(id) == "processing" {
								s.SetStatus(id, "completed")
								break
							}
						}
					}
				}
			}
			var removed []int64
			var mu sync.Mutex // the shop serves pages concurrently
			e = newEnv(t, fakewoo.Options{Orders: 3_000, OnList: func(page int) {
				mu.Lock()
				defer mu.Unlock()
				before := snapshot(e.shop, 3_000)
				remove(e.shop, page)
				removed = append(removed, diff(before, snapshot(e.shop, 3_000))...)
			}}, vars)
			rep, err := e.run(backfillOnly)
			if err != nil {
				t.Fatal(err)
			}
			if len(removed) == 0 {
				t.Fatal("nothing left the list during the run")
			}
			gone := map[int64]bool{}
			for _, id := range removed {
				gone[id] = true
			}
			q := e.drain()
			want := func(id int64) bool {
				if gone[id] {
					return true // may or may not have been read before it left
				}
				return tc.remove == nil && e.shop.Status(id) != "processing"
			}
			q.atLeastOnce(t, 3_000, want)
			if rep.Backfill.RepairedOrders == 0 && tc.remove != nil {
				t.Errorf("no gap was repaired: %+v", rep.Backfill)
			}
		})
	}
}

// snapshot is which of ids 1..n are listed by status=any with their status.
func snapshot(s *fakewoo.Shop, n int64) map[int64]string {
	m := map[int64]string{}
	for id := int64(1); id <= n; id++ {
		m[id] = s.Status(id)
	}
	return m
}

func diff(before, after map[int64]string) []int64 {
	var out []int64
	for id, st := range before {
		if after[id] != st {
			out = append(out, id)
		}
	}
	return out
}

// A dry run reads the shop and reports, and writes nothing anywhere.
func TestDryRunWritesNothing(t *testing.T) {
	e := newEnv(t, fakewoo.Options{Orders: 450}, nil)
	store := &refusingStore{}
	e.h.State = store
	rep, err := e.run(activate.Event{DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Handoff.Outcome != activate.OutcomeWouldDo || rep.Webhook.Outcome != activate.OutcomeWouldDo || rep.Backfill.Outcome != activate.OutcomeWouldDo {
		t.Fatalf("outcomes %s %s %s", rep.Handoff.Outcome, rep.Webhook.Outcome, rep.Backfill.Outcome)
	}
	if rep.Backfill.OrdersTotal != 450 || rep.Backfill.PagesTotal != 5 || !strings.Contains(rep.Backfill.Detail, "would enqueue 450 orders") {
		t.Errorf("backfill %+v", rep.Backfill)
	}
	if len(rep.Webhook.Actions) != 1 || !strings.HasPrefix(rep.Webhook.Actions[0], "create") {
		t.Errorf("webhook actions %v", rep.Webhook.Actions)
	}
	if n := len(e.logistos.Requests()); n != 0 {
		t.Errorf("%d requests to Logistos", n)
	}
	if s := e.shop.Stats(); s.WebhookWrites != 0 || len(e.shop.Webhooks()) != 0 {
		t.Errorf("webhook writes %d", s.WebhookWrites)
	}
	if q := e.drain(); q.msgs != 0 {
		t.Errorf("%d messages enqueued", q.msgs)
	}
	if store.puts.Load() != 0 {
		t.Errorf("%d checkpoint writes", store.puts.Load())
	}
}

// refusingStore has nothing and fails every write.
type refusingStore struct{ puts atomic.Int64 }

func (s *refusingStore) Get(context.Context, string) ([]byte, int64, error) { return nil, 0, nil }
func (s *refusingStore) Put(context.Context, string, []byte, int64) (int64, error) {
	s.puts.Add(1)
	return 0, errors.New("dry run must not write")
}

// Wrong credentials stop at once with an error that says what to fix, and
// nothing is sent anywhere.
func TestWrongCredentials(t *testing.T) {
	cases := []struct {
		name, key, secret string
		steps             []string
		want              string
	}{
		{"wrong secret", fakewoo.Key, "cs_wrong", nil, "consumer secret does not belong to the consumer key"},
		{"unknown key", "ck_unknown", "cs_unknown", nil, "did not recognise the consumer key"},
		{"read-only key registering the webhook", fakewoo.ReadOnlyKey, fakewoo.ReadOnlySecret, []string{"webhook"}, "set Permissions to Read/Write"},
		{"wrong secret, backfill only", fakewoo.Key, "cs_wrong", []string{"backfill"}, "woocommerce_rest_authentication_error"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, fakewoo.Options{Orders: 50}, map[string]string{"WOO_CONSUMER_KEY": tc.key, "WOO_CONSUMER_SECRET": tc.secret})
			rep, err := e.run(activate.Event{Steps: tc.steps})
			if err == nil || !strings.Contains(err.Error(), tc.want) || rep.OK || !strings.Contains(rep.Error, tc.want) {
				t.Fatalf("err %v", err)
			}
			if strings.Contains(err.Error(), tc.secret) {
				t.Error("the error shows the secret")
			}
			if len(e.logistos.Requests()) != 0 || len(e.shop.Webhooks()) != 0 {
				t.Error("something was written")
			}
			if q := e.drain(); q.msgs != 0 {
				t.Errorf("%d orders enqueued", q.msgs)
			}
			if lines := logLines(e.logs.String(), "activation report"); len(lines) != 1 || lines[0]["level"] != "ERROR" {
				t.Errorf("report log lines: %v", lines)
			}
		})
	}
}

// The shop's REST API off, or a maintenance page, is reported as such.
func TestShopInTheWay(t *testing.T) {
	for name, f := range map[string]fakewoo.Fault{
		"REST API off":       fakewoo.RESTOff,
		"security challenge": fakewoo.Challenge,
	} {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, fakewoo.Options{Orders: 10}, nil)
			e.shop.Inject(f)
			_, err := e.run(activate.Event{})
			want := map[string]string{"REST API off": "Permalinks", "security challenge": "Just a moment"}[name]
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Fatalf("err %v, want it to mention %q", err, want)
			}
		})
	}
}

// A shop whose paging cannot be trusted (a page cache or proxy in front of
// /wp-json/, a plugin rewriting the query) ends the backfill in a failure
// that names the cause and what to do, never in "complete" with an order
// unread. No order is queued before its page passed every check, that
// against the page before it included: none twice, and a re-run against
// the same shop queues nothing.
func TestBackfillUntrustedPaging(t *testing.T) {
	t.Parallel() // its shops overlap other tests' waits
	cases := []struct {
		name   string
		orders int // 450 when 0
		fault  fakewoo.Fault
		want   []string // in the error
		// maxLists bounds the listings of the first run (0: unchecked): a
		// hostile header costs a handful of requests, not what it claims.
		maxLists int
	}{
		{"ignores page", 0, fakewoo.IgnoresPage, []string{"page 2", "ignores ?page=", "/wp-json/"}, 0},
		// Without totals nothing but the ids can tell: the old code never ended.
		{"ignores page, no totals", 0, fakewoo.Fault{Route: fakewoo.RouteOrders, Times: -1, ServePage: 1, NoTotals: true}, []string{"page 2", "ignores ?page="}, 0},
		{"repeats a page", 0, fakewoo.Fault{Route: fakewoo.RouteOrders, Page: 3, ServePage: 2, Times: -1}, []string{"page 3", "ignores ?page= or repeats pages"}, 0},
		{"total lies high", 0, fakewoo.Fault{Route: fakewoo.RouteOrders, TotalSkew: 1000, Times: -1}, []string{"X-WP-Total", "1450"}, 0},
		{"total lies low", 0, fakewoo.Fault{Route: fakewoo.RouteOrders, TotalSkew: -200, Times: -1}, []string{"X-WP-Total", "250"}, 0},
		// Pages 1 and 2 are full and agree with a total of 200: only the
		// page after a full last page, which must be empty, tells.
		{"total a whole number of pages short", 250, fakewoo.Fault{Route: fakewoo.RouteOrders, TotalSkew: -50, Times: -1}, []string{"page 3", "X-WP-Total says 200"}, 0},
		{"total made up", 0, fakewoo.Fault{Route: fakewoo.RouteOrders, Total: 3_000_000, Times: -1}, []string{"page 5", "X-WP-Total says 3000000"}, 20},
		{"total pages lie low", 0, fakewoo.Fault{Route: fakewoo.RouteOrders, TotalPagesSkew: -1, Times: -1}, []string{"X-WP-TotalPages", "4"}, 0},
		{"total pages lie high", 0, fakewoo.Fault{Route: fakewoo.RouteOrders, TotalPagesSkew: 3, Times: -1}, []string{"X-WP-TotalPages", "8"}, 0},
		{"total pages a billion", 0, fakewoo.Fault{Route: fakewoo.RouteOrders, TotalPages: 1_000_000_000, Times: -1}, []string{"page 1", "X-WP-TotalPages 1000000000"}, 8},
		{"ids out of order", 0, fakewoo.Fault{Route: fakewoo.RouteOrders, Descending: true, Times: -1}, []string{"out of order", "orderby=id"}, 0},
		{"per_page capped at 50", 0, fakewoo.Fault{Route: fakewoo.RouteOrders, PerPageCap: 50, Times: -1}, []string{"X-WP-TotalPages 9", "per_page"}, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			n := cmp.Or(tc.orders, 450)
			e := newEnv(t, fakewoo.Options{Orders: n}, nil)
			e.shop.Inject(tc.fault)
			rep, err := e.run(backfillOnly)
			b := rep.Backfill
			if err == nil || b == nil || b.Outcome != activate.OutcomeFailed {
				t.Fatalf("backfill of a shop whose paging lies ended %+v, %v; want it failed", b, err)
			}
			t.Log(err)
			if lists := e.shop.Stats().ListRequests; tc.maxLists > 0 && lists > tc.maxLists {
				t.Errorf("%d listings, want at most %d", lists, tc.maxLists)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			if most := e.drain().most(); most > 1 {
				t.Errorf("an order was queued %d times", most)
			}
			// A re-run meets the same shop: it fails again, never
			// completes, and queues nothing.
			again, err := e.run(backfillOnly)
			if err == nil || again.Backfill.Outcome != activate.OutcomeFailed {
				t.Errorf("re-run: %+v %v", again.Backfill, err)
			}
			if q := e.drain(); q.msgs != 0 {
				t.Errorf("the re-run queued %d orders", q.msgs)
			}
		})
	}
}

// A page repeated once (a cache's hiccup) is read again, and the backfill
// completes with every order.
func TestBackfillPageRepeatedOnce(t *testing.T) {
	const n = 1_000
	e := newEnv(t, fakewoo.Options{Orders: n}, map[string]string{"BACKFILL_CONCURRENCY": "1"})
	e.shop.Inject(fakewoo.Fault{Route: fakewoo.RouteOrders, Page: 4, ServePage: 3})
	rep, err := e.run(backfillOnly)
	if err != nil || rep.Backfill.Outcome != activate.OutcomeComplete {
		t.Fatalf("%+v %v", rep.Backfill, err)
	}
	if e.shop.Stats().Faults != 1 {
		t.Fatalf("%d faults served", e.shop.Stats().Faults)
	}
	e.drain().atLeastOnce(t, n, nil)
}

// An order too large for an SQS message even gzip-compressed goes to the
// dead-letter queue by id with the reason, is counted, and the backfill
// goes on with every other order.
func TestBackfillOversizedOrder(t *testing.T) {
	const n, big = 450, int64(123)
	e := newEnv(t, fakewoo.Options{Orders: n}, nil)
	e.shop.Pad(big, 3<<19) // 1.5 MB of incompressible text
	rep, err := e.run(backfillOnly)
	if err != nil || rep.Backfill.Outcome != activate.OutcomeComplete || rep.Backfill.OrdersDeadLettered != 1 || rep.Backfill.OrdersEnqueued != n-1 {
		t.Fatalf("%+v %v", rep.Backfill, err)
	}
	e.drain().exactlyOnce(t, n, func(id int64) bool { return id == big })

	dead := e.receiveAll(e.st.DLQURL)
	if len(dead) != 1 {
		t.Fatalf("%d messages on the DLQ, want 1", len(dead))
	}
	m := dead[0]
	if id, err := woohook.OrderID([]byte(aws.ToString(m.Body))); err != nil || id != big {
		t.Errorf("DLQ body %.100q: want order %d by id", aws.ToString(m.Body), big)
	}
	a := attrs(m)
	if a[queue.AttrFailureClass] != queue.FailurePermanent || !strings.Contains(a[queue.AttrFailureReason], "order 123") ||
		!strings.Contains(a[queue.AttrFailureReason], "bytes") || a[queue.AttrOrigin] != queue.OriginBackfill || a[queue.AttrSource] != e.shop.URL {
		t.Errorf("DLQ attributes %v", a)
	}
	lines := logLines(e.logs.String(), "order dead-lettered")
	if len(lines) != 1 || lines[0]["order_id"] != float64(big) {
		t.Errorf("log lines: %v", lines)
	}
	padded, _ := e.shop.OrderJSON(e.shop.URL, big)
	i := bytes.Index(padded, []byte("_fake_attachment"))
	if i < 0 || strings.Contains(e.logs.String(), string(padded[i+100:i+200])) {
		t.Error("the logs hold the order's data")
	}
	// The report counts it; a re-run does not send it again.
	again, err := e.run(backfillOnly)
	if err != nil || again.Backfill.Outcome != activate.OutcomeComplete || again.Backfill.OrdersDeadLettered != 1 {
		t.Errorf("re-run: %+v %v", again.Backfill, err)
	}
}
