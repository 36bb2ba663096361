package orderpages

import (
	"errors"
	"fmt"

	"github.com/logistos-sync/logistos-sync/shared/wooapi"
)

// PerPage is the page size a listing asks for: WooCommerce's maximum.
const PerPage = wooapi.MaxPerPage

// ErrUntrusted means the shop's order pages are not what WooCommerce
// serves: listing again changes nothing until the shop is fixed.
var ErrUntrusted = errors.New("the shop's order pages cannot be trusted")

// Advice is what the shop's owner can do about ErrUntrusted.
const Advice = "a page cache in front of the REST API (a caching plugin, CDN or reverse proxy) or a plugin rewriting its queries " +
	"(or capping per_page below 100) does this: exclude /wp-json/ from every cache"

// LimitError is a list longer than a listing may read (Reader.MaxOrders),
// found before anything was sized from it.
type LimitError struct {
	Page   int // the page that told
	Orders int // what it claimed (X-WP-Total), or the orders counted so far
	Max    int
}

func (e *LimitError) Error() string {
	return fmt.Sprintf("page %d: the list holds %d orders, more than the %d one listing may read", e.Page, e.Orders, e.Max)
}

// Pages is how many pages n orders fill; -1 when n is unknown.
func Pages(n int) int {
	if n < 0 {
		return -1
	}
	return (n + PerPage - 1) / PerPage
}

// untrusted wraps ErrUntrusted with what page p did and Advice.
func untrusted(p int, format string, args ...any) error {
	return fmt.Errorf("%w: page %d %s; %s", ErrUntrusted, p, fmt.Sprintf(format, args...), Advice)
}

// check returns ErrUntrusted when page p is not what WooCommerce serves
// for orderby=id&order=asc: ids strictly ascending, and X-WP-Total and
// X-WP-TotalPages (when sent) that agree with each other and with where
// the page is and how full.
func check(p int, pg *wooapi.OrdersPage) error {
	for i := 1; i < len(pg.IDs); i++ {
		if pg.IDs[i] <= pg.IDs[i-1] {
			return untrusted(p, "lists order %d after order %d, out of order although the listing asks for orderby=id&order=asc",
				pg.IDs[i], pg.IDs[i-1])
		}
	}
	if pg.Total < 0 {
		return nil // no headers (a proxy strips them): nothing to compare
	}
	if pg.TotalPages >= 0 && pg.TotalPages != Pages(pg.Total) {
		return untrusted(p, "came with X-WP-TotalPages %d, but its X-WP-Total %d makes %d pages of %d",
			pg.TotalPages, pg.Total, Pages(pg.Total), PerPage)
	}
	n, before := len(pg.IDs), (p-1)*PerPage
	switch {
	case n == PerPage && pg.Total < before+n:
		return untrusted(p, "is full, so the list holds at least %d orders, but X-WP-Total says %d", before+n, pg.Total)
	case n < PerPage && pg.Total != before+n && (n > 0 || pg.Total > before):
		return untrusted(p, "ends the list at %d orders in all, but X-WP-Total says %d", before+n, pg.Total)
	}
	return nil
}

// follows returns ErrUntrusted when page p does not continue the pages
// handed over before it, which ended at order at.LastID: in orderby=id
// order some order of p lies past it, unless a page's worth of orders
// joined the list before p since then (X-WP-Total grew by as many). A page
// may re-list the last orders handed over (the list shifted); a page that
// lists none past them repeats one. prevListed is how many orders page
// p-1 listed; a short page without totals ends the list only if the page
// after it is empty.
func follows(p int, pg *wooapi.OrdersPage, at Position, prevListed int) error {
	n := len(pg.IDs)
	if n == 0 {
		return nil
	}
	joined := pg.Total >= 0 && at.LastTotal >= 0 && pg.Total-at.LastTotal >= n
	switch {
	case pg.IDs[n-1] <= at.LastID && !joined:
		return untrusted(p, "lists orders %d to %d again, none after order %d where page %d ended: the shop ignores ?page= or repeats pages",
			pg.IDs[0], pg.IDs[n-1], at.LastID, p-1)
	case p > 1 && prevListed < PerPage:
		return untrusted(p, "lists %d orders after page %d listed %d of per_page=%d: the shop serves shorter pages than asked",
			n, p-1, prevListed, PerPage)
	}
	return nil
}
