package orderpages

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/logistos-sync/logistos-sync/shared/wooapi"
	"github.com/logistos-sync/logistos-sync/shared/woohook"
)

// shop is a Lister over a list of order ids, paged as WooCommerce pages
// them; its hooks make it lie or change the list.
type shop struct {
	mu    sync.Mutex
	ids   []int64
	asked []int // pages asked for, in order

	// serve is the page answered when page p is asked for the nth time
	// (from 1); p when nil.
	serve func(p, nth int) int
	// perPage caps the page size, as a plugin filtering the query's limit.
	perPage int
	// headers alters the paging headers; noTotals sends none.
	headers  func(pg *wooapi.OrdersPage)
	noTotals bool
	// before changes the list before page p is answered the nth time.
	before func(s *shop, p, nth int)
}

func newShop(n int) *shop { return &shop{ids: span(1, int64(n))} }

func (s *shop) ListOrders(_ context.Context, q wooapi.OrdersQuery) (*wooapi.OrdersPage, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if q.OrderBy != "id" || q.Order != "asc" || q.PerPage != PerPage {
		return nil, errors.New("want orderby=id&order=asc&per_page=100, got " + q.OrderBy + " " + q.Order + " " + strconv.Itoa(q.PerPage))
	}
	s.asked = append(s.asked, q.Page)
	nth := 0
	for _, p := range s.asked {
		if p == q.Page {
			nth++
		}
	}
	if s.before != nil {
		s.before(s, q.Page, nth)
	}
	p, per := q.Page, q.PerPage
	if s.serve != nil {
		p = s.serve(p, nth)
	}
	if s.perPage > 0 {
		per = s.perPage
	}
	n := len(s.ids)
	pg := &wooapi.OrdersPage{Total: n, TotalPages: (n + per - 1) / per}
	for _, id := range s.ids[min((p-1)*per, n):min(p*per, n)] {
		pg.IDs = append(pg.IDs, id)
		pg.Orders = append(pg.Orders, json.RawMessage(`{"id":`+strconv.FormatInt(id, 10)+`}`))
	}
	if s.noTotals {
		pg.Total, pg.TotalPages = -1, -1
	}
	if s.headers != nil {
		s.headers(pg)
	}
	return pg, nil
}

func (s *shop) remove(id int64) {
	s.ids = slices.DeleteFunc(s.ids, func(x int64) bool { return x == id })
}

// listed is what a listing handed over.
type listed struct {
	ids  []int64
	gaps int
	last bool
	err  error
}

// read lists s with r from position from, to the end of the listing.
func read(t *testing.T, s *shop, r Reader, from Position) listed {
	t.Helper()
	r.Shop = s
	l := r.Open(context.Background(), from)
	defer l.Close()
	var got listed
	for res := range l.C {
		if res.Err != nil {
			got.err = res.Err
			continue
		}
		pg := res.Page
		if got.last {
			t.Fatalf("page %d handed over after the last page", pg.Number)
		}
		for i, o := range pg.Orders {
			if id, err := woohook.OrderID(o); err != nil || id != pg.IDs[i] {
				t.Fatalf("page %d: order %s under id %d", pg.Number, o, pg.IDs[i])
			}
		}
		if pg.Gap {
			got.gaps++
		}
		got.ids = append(got.ids, pg.IDs...)
		got.last = pg.Last
	}
	return got
}

// An honest shop is listed whole, each order once and in order, each page
// asked for once, the page after a full last page included and nothing
// past it.
func TestHonestShop(t *testing.T) {
	for _, n := range []int{0, 1, 99, 100, 101, 250, 1000} {
		for _, conc := range []int{1, 4} {
			for _, totals := range []bool{true, false} {
				t.Run(strconv.Itoa(n)+"/"+strconv.Itoa(conc)+"/totals="+strconv.FormatBool(totals), func(t *testing.T) {
					s := newShop(n)
					s.noTotals = !totals
					got := read(t, s, Reader{Concurrency: conc, Expect: n}, Start)
					if got.err != nil || !got.last || !slices.Equal(got.ids, span(1, int64(n))) {
						t.Fatalf("listed %d orders, last %v, err %v", len(got.ids), got.last, got.err)
					}
					want := n/PerPage + 1
					if !totals && n%PerPage != 0 {
						want++ // a short page ends the list only if the next is empty
					}
					if asked := slices.Sorted(slices.Values(s.asked)); totals && !slices.Equal(asked, pagesTo(want)) || len(asked) < want {
						t.Errorf("asked for pages %v, want 1 to %d", s.asked, want)
					}
				})
			}
		}
	}
}

func pagesTo(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i + 1
	}
	return out
}

// A shop whose pages or headers lie ends the listing with an error naming
// the page and the cause, after handing over only pages that passed.
func TestLyingShop(t *testing.T) {
	cases := []struct {
		name   string
		n      int
		lie    func(s *shop)
		reader Reader
		want   string  // in the error
		handed []int64 // the orders handed over before it
		asked  int     // at most this many requests
	}{
		{"total a whole number of pages short", 250, func(s *shop) {
			s.headers = func(pg *wooapi.OrdersPage) { pg.Total, pg.TotalPages = 200, 2 }
		}, Reader{Concurrency: 4}, "page 3 ends the list at 250 orders in all, but X-WP-Total says 200", span(1, 200), 4},
		{"ignores ?page=", 450, func(s *shop) { s.serve = func(int, int) int { return 1 } },
			Reader{Concurrency: 4}, "page 2 lists orders 1 to 100 again", span(1, 100), 8},
		{"ignores ?page=, no totals", 450, func(s *shop) { s.serve, s.noTotals = func(int, int) int { return 1 }, true },
			Reader{Concurrency: 4}, "ignores ?page=", span(1, 100), 12},
		{"repeats a page", 450, func(s *shop) {
			s.serve = func(p, _ int) int { return map[bool]int{true: 2, false: p}[p == 3] }
		}, Reader{Concurrency: 4}, "page 3 lists orders 101 to 200 again", span(1, 200), 8},
		{"a billion pages", 250, func(s *shop) { s.headers = func(pg *wooapi.OrdersPage) { pg.TotalPages = 1_000_000_000 } },
			Reader{Concurrency: 4}, "page 1 came with X-WP-TotalPages 1000000000", nil, 2},
		{"three million orders", 250, func(s *shop) {
			s.headers = func(pg *wooapi.OrdersPage) { pg.Total, pg.TotalPages = 3_000_000, 30_000 }
		}, Reader{Concurrency: 4, MaxOrders: 200_000}, "page 1: the list holds 3000000 orders, more than the 200000", nil, 1},
		{"more orders than the limit, no totals", 1000, func(s *shop) { s.noTotals = true },
			Reader{Concurrency: 1, MaxOrders: 250}, "page 3: the list holds 300 orders, more than the 250", span(1, 200), 5},
		{"per_page capped, no totals", 250, func(s *shop) { s.perPage, s.noTotals = 50, true },
			Reader{Concurrency: 1}, "page 2 lists 50 orders after page 1 listed 50", span(1, 50), 4},
		{"ids out of order", 250, func(s *shop) { slices.Reverse(s.ids) },
			Reader{Concurrency: 4}, "out of order", nil, 6},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := newShop(tc.n)
			tc.lie(s)
			got := read(t, s, tc.reader, Start)
			if !errors.Is(got.err, ErrUntrusted) && !errors.As(got.err, new(*LimitError)) || !strings.Contains(got.err.Error(), tc.want) {
				t.Errorf("err %v, want one saying %q", got.err, tc.want)
			}
			if got.last || !slices.Equal(got.ids, tc.handed) {
				t.Errorf("handed over %d orders (%v...), last %v; want %d", len(got.ids), got.ids[:min(len(got.ids), 3)], got.last, len(tc.handed))
			}
			if len(s.asked) > tc.asked {
				t.Errorf("asked for pages %v, want at most %d requests", s.asked, tc.asked)
			}
		})
	}
}

// A check failing once (a cache's one-off answer) heals when the page is
// read again; the list shifting under the listing is bridged; a listing
// resumes from a position.
func TestListingHeals(t *testing.T) {
	cases := []struct {
		name   string
		n      int
		change func(s *shop)
		from   Position
		want   []int64
		gaps   int
	}{
		{"a page repeated once", 450, func(s *shop) {
			s.serve = func(p, nth int) int { return map[bool]int{true: 2, false: p}[p == 3 && nth == 1] }
		}, Start, span(1, 450), 0},
		{"a stale total once", 450, func(s *shop) {
			s.before = func(s *shop, p, nth int) {
				s.headers = nil
				if p == 5 && nth == 1 {
					s.headers = func(pg *wooapi.OrdersPage) { pg.Total, pg.TotalPages = 460, 5 }
				}
			}
		}, Start, span(1, 450), 0},
		// Order 150, on page 2 already read, leaves before page 4 is read:
		// order 301 slides onto page 3, also read.
		{"an order on a page read leaves", 1000, func(s *shop) {
			s.before = func(s *shop, p, nth int) {
				if p == 4 && nth == 1 {
					s.remove(150)
				}
			}
		}, Start, span(1, 1000), 1},
		{"orders join before the page read", 450, func(s *shop) {
			s.before = func(s *shop, p, nth int) {
				if p == 3 && nth == 1 {
					s.ids = append([]int64{-2, -1}, s.ids...) // restored from the trash, say
				}
			}
		}, Start, span(1, 450), 0},
		{"resumed", 450, nil, Position{Page: 3, LastID: 200, LastTotal: 450}, span(201, 250), 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := newShop(tc.n)
			if tc.change != nil {
				tc.change(s)
			}
			got := read(t, s, Reader{Concurrency: 1}, tc.from)
			if got.err != nil || !got.last {
				t.Fatalf("err %v, last %v", got.err, got.last)
			}
			seen := map[int64]int{}
			for _, id := range got.ids {
				seen[id]++
			}
			for _, id := range tc.want {
				if seen[id] != 1 {
					t.Errorf("order %d handed over %d times", id, seen[id])
				}
			}
			if got.gaps != tc.gaps {
				t.Errorf("%d gaps re-read, want %d", got.gaps, tc.gaps)
			}
		})
	}
}

// A caller that stops early closes the listing; its requests end.
func TestCloseEarly(t *testing.T) {
	s := newShop(100_000)
	l := Reader{Shop: s, Concurrency: 4, Expect: 100_000}.Open(context.Background(), Start)
	if res := <-l.C; res.Err != nil || res.Page.Number != 1 {
		t.Fatalf("first result %+v", res)
	}
	l.Close()
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.asked) > 1+2*8 {
		t.Errorf("%d pages asked for, beyond the look-ahead", len(s.asked))
	}
}
