package orderpages

import (
	"errors"
	"strings"
	"testing"

	"github.com/logistos-sync/logistos-sync/shared/wooapi"
)

// span is ids from, from+1, ... n of them.
func span(from, n int64) []int64 {
	out := make([]int64, n)
	for i := range out {
		out[i] = from + int64(i)
	}
	return out
}

// check accepts what WooCommerce serves and names what it would not.
func TestCheck(t *testing.T) {
	cases := []struct {
		name              string
		page              int
		ids               []int64
		total, totalPages int
		want              string // "" when the page is fine
	}{
		{"full page", 2, span(101, 100), 450, 5, ""},
		{"last page", 5, span(401, 50), 450, 5, ""},
		{"list ends on a page boundary", 3, span(201, 100), 300, 3, ""},
		{"empty page past the end", 4, nil, 300, 3, ""},
		{"empty shop", 1, nil, 0, 0, ""},
		{"no headers (a proxy strips them)", 7, span(1, 100), -1, -1, ""},
		{"ids with holes", 1, []int64{3, 9, 10, 250}, 4, 1, ""},
		{"ids descending", 1, []int64{5, 4}, 2, 1, "order 4 after order 5"},
		{"an id twice", 1, []int64{4, 4}, 2, 1, "order 4 after order 4"},
		{"pages disagree with total", 1, span(1, 100), 450, 4, "X-WP-TotalPages 4"},
		{"a billion pages", 1, span(1, 100), 450, 1_000_000_000, "X-WP-TotalPages 1000000000"},
		{"full page past the total", 3, span(201, 100), 250, 3, "at least 300 orders, but X-WP-Total says 250"},
		{"short page, total too high", 5, span(401, 50), 1450, 15, "450 orders in all, but X-WP-Total says 1450"},
		{"short page, total too low", 5, span(401, 50), 440, 5, "X-WP-Total says 440"},
		{"empty page within the total", 3, nil, 450, 5, "200 orders in all, but X-WP-Total says 450"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := check(tc.page, &wooapi.OrdersPage{IDs: tc.ids, Total: tc.total, TotalPages: tc.totalPages})
			wantErr(t, err, tc.want)
		})
	}
}

// follows accepts a page that continues the pages handed over, and names
// a repeat or a page after a short one.
func TestFollows(t *testing.T) {
	cases := []struct {
		name       string
		page       int
		ids        []int64
		total      int
		at         Position
		prevListed int
		want       string
	}{
		{"first page", 1, span(1, 100), 450, Start, PerPage, ""},
		{"next page", 3, span(201, 100), 450, Position{3, 200, 450}, PerPage, ""},
		{"ids with a hole", 3, span(301, 100), 450, Position{3, 200, 450}, PerPage, ""},
		{"re-lists the last order (shifted by one)", 3, span(200, 100), 450, Position{3, 200, 450}, PerPage, ""},
		{"empty page", 5, nil, 400, Position{5, 400, 400}, PerPage, ""},
		{"a page's worth joined before it", 3, span(101, 100), 550, Position{3, 200, 450}, PerPage, ""},
		{"repeats the page before", 3, span(101, 100), 450, Position{3, 200, 450}, PerPage, "lists orders 101 to 200 again, none after order 200 where page 2 ended"},
		{"page 1 again", 2, span(1, 100), 450, Position{2, 100, 450}, PerPage, "ignores ?page="},
		{"page 1 again, no totals", 2, span(1, 100), -1, Position{2, 100, -1}, PerPage, "ignores ?page="},
		{"orders after a short page", 2, span(51, 50), -1, Position{2, 50, -1}, 50, "page 1 listed 50 of per_page=100"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := follows(tc.page, &wooapi.OrdersPage{IDs: tc.ids, Total: tc.total}, tc.at, tc.prevListed)
			wantErr(t, err, tc.want)
		})
	}
}

// wantErr fails unless err is nil (want "") or ErrUntrusted saying want
// and what to do.
func wantErr(t *testing.T, err error, want string) {
	t.Helper()
	switch {
	case want == "" && err != nil:
		t.Errorf("rejected: %v", err)
	case want != "" && (!errors.Is(err, ErrUntrusted) || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "/wp-json/")):
		t.Errorf("err %v, want ErrUntrusted saying %q and what to do", err, want)
	}
}
