// Package orderpages lists a shop's orders page by page, orderby=id&order=asc,
// without trusting the shop's paging: the backfill and reconcile's scan
// both read through it.
//
// WooCommerce pages by offset and says how long the list is in X-WP-Total
// and X-WP-TotalPages. A page cache or proxy in front of /wp-json/, or a
// plugin rewriting the query, breaks that: it answers page 1 for every
// page, repeats a page, sends totals that are stale or made up, caps
// per_page, or drops the order. Trusting such answers ends with orders
// never read, or never ends. So every page is checked on its own (ids
// ascending, headers that agree with each other and with where the page is
// and how full) and against the pages before it (some order past the last
// one handed over), the page after a full page is always asked for (a list
// ends at its first short page, so a total short by whole pages shows), a
// page failing a check is read once more (a cache's one-off answer heals),
// and no page reaches the caller before it passed. Limits are checked
// before anything is planned from a header, and pages are asked for only a
// bounded look-ahead past the last one handed over, so a header claiming a
// billion pages costs a few requests.
//
// The list may change while it is read: when an order before the spot
// being read leaves it (trashed, deleted, its status changed), every later
// order moves a place forward, and the first order of a page not yet read
// slides onto a page already read. The pages around such a spot were
// listed with different X-WP-Totals; the listing then reads the list again
// there (fillGap) and hands over the orders between the two pages before
// the later one. Orders that join the list only push others back (a page
// re-lists the orders at its start, which are not handed over twice).
package orderpages

import (
	"context"
	"log/slog"
	"math"
	"sync"

	"github.com/logistos-sync/logistos-sync/shared/wooapi"
)

// Lister lists one page of orders (*wooapi.Client).
type Lister interface {
	ListOrders(ctx context.Context, q wooapi.OrdersQuery) (*wooapi.OrdersPage, error)
}

// Reader lists the orders of one query. Its zero Concurrency, Ahead and
// MaxOrders are 1, 2×Concurrency and no limit.
type Reader struct {
	Shop Lister
	// Query holds the filters (status, dates, fields); the page, its size
	// and the order are the Reader's.
	Query wooapi.OrdersQuery
	// Concurrency is how many requests are made at once.
	Concurrency int
	// Ahead is how many pages are listed past the last one handed over:
	// what is held in memory, and what a lying header can waste.
	Ahead int
	// MaxOrders bounds the list (X-WP-Total, and the orders handed over);
	// 0 is no limit.
	MaxOrders int
	// Expect is how many orders the caller expects (a probe's X-WP-Total):
	// it plans the first requests, before a page says; 0 when unknown.
	Expect int
	// Log takes a line for each page read again; nil discards them.
	Log *slog.Logger
}

// Position is where a listing starts: the first page and what the pages
// before it ended with, so that the first page is checked against them.
type Position struct {
	Page      int   // the next page to read, from 1
	LastID    int64 // the highest order id handed over before Page; 0 none
	LastTotal int   // X-WP-Total of page Page-1; -1 unknown
}

// Start is the position of a listing from its first page.
var Start = Position{Page: 1, LastTotal: -1}

// Page is one step of a listing, handed over in order: a page as listed,
// less the orders a page before it handed over already; or, before it, the
// orders the list's shifting had moved onto a page already read (Gap).
type Page struct {
	// OrdersPage holds the orders handed over and the page's headers.
	wooapi.OrdersPage
	// Number is the page; a gap comes before page Number.
	Number int
	// Listed is how many orders the page listed (0 for a gap).
	Listed int
	// Gap: orders re-read between page Number-1 and page Number; Total is
	// page Number's X-WP-Total, After.LastTotal page Number-1's.
	Gap bool
	// Last: the list ends here; nothing follows.
	Last bool
	// After is where a listing resumes once this page and every page
	// before it are done with.
	After Position
}

// Result is a page, or the error that ends the listing.
type Result struct {
	Page *Page
	Err  error
}

// Listing is a listing in progress.
type Listing struct {
	// C delivers the pages in order, each only once it passed every check.
	// It is closed after the page that ends the list (Page.Last), after an
	// error, or when the context ends (no Last page then).
	C <-chan Result

	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// Close stops the listing and waits for its requests to end.
func (l *Listing) Close() {
	l.cancel()
	l.wg.Wait()
}

// Open starts listing from position from.
func (r Reader) Open(ctx context.Context, from Position) *Listing {
	r.Concurrency = max(r.Concurrency, 1)
	if r.Ahead <= 0 {
		r.Ahead = 2 * r.Concurrency
	}
	if r.Log == nil {
		r.Log = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(ctx)
	out := make(chan Result)
	l := &Listing{C: out, cancel: cancel}
	run := &listing{Reader: r, ctx: ctx, cancel: cancel, out: out, slots: make(chan struct{}, r.Concurrency), at: from, prevListed: PerPage}
	l.wg.Go(run.run)
	return l
}

// listing is the state of an open Listing, owned by its run goroutine.
type listing struct {
	Reader
	ctx    context.Context
	cancel context.CancelFunc
	out    chan<- Result
	slots  chan struct{} // requests in flight

	at         Position // after the last page handed over
	prevListed int      // orders the last page handed over listed
	handed     int      // orders handed over
}

// fetched is one listed page, not yet checked.
type fetched struct {
	page int
	pg   *wooapi.OrdersPage
	err  error
}

// run lists pages Concurrency at a time, at most Ahead past the first not
// handed over, and hands them over in order once they pass.
func (l *listing) run() {
	defer close(l.out)
	jobs := make(chan int, l.Ahead)
	results := make(chan fetched, l.Ahead)
	var wg sync.WaitGroup
	for range l.Concurrency {
		wg.Go(func() {
			for p := range jobs {
				pg, err := l.list(p)
				results <- fetched{p, pg, err}
			}
		})
	}
	// Past the end, or after an error, the look-ahead's requests are waste.
	defer func() { l.cancel(); close(jobs); wg.Wait() }()

	// planned is the last page to ask for as the pages say so far; end the
	// first page seen short, after which the list holds nothing.
	next, turn, end := l.at.Page, l.at.Page, math.MaxInt
	planned := max(l.at.Page, l.Expect/PerPage+1)
	arrived := make(map[int]fetched)
	var ready []Result // passed, waiting for the caller
	stopped, finished := false, false
	for {
		for !stopped && next <= min(planned, end) && next < turn+l.Ahead {
			jobs <- next
			next++
		}
		if f, ok := arrived[turn]; ok && len(ready) == 0 && !finished {
			delete(arrived, turn)
			var last bool
			ready, last = l.take(f)
			finished = last || ready[len(ready)-1].Err != nil
			stopped = stopped || finished
			turn++
			if !finished {
				// The page after a handed-over page is always asked for.
				planned = max(planned, turn)
				if end < turn {
					end = math.MaxInt // a one-off short answer, read again full
				}
			}
			continue
		}
		if finished && len(ready) == 0 {
			return
		}
		var out chan<- Result
		var head Result
		if len(ready) > 0 {
			out, head = l.out, ready[0]
		}
		select {
		case f := <-results:
			arrived[f.page] = f
			switch {
			case f.err != nil:
				stopped = true // it ends the listing when its turn comes
			case check(f.page, f.pg) != nil:
				// Plans nothing; its turn reads it again.
			default:
				if len(f.pg.IDs) < PerPage {
					end = min(end, f.page)
				}
				if f.pg.Total >= 0 {
					planned = f.pg.Total/PerPage + 1
				} else if len(f.pg.IDs) == PerPage {
					planned = max(planned, f.page+l.Ahead)
				}
			}
		case out <- head:
			ready = ready[1:]
		case <-l.ctx.Done():
			return
		}
	}
}

// list fetches page p within the concurrency limit, and refuses a list
// longer than MaxOrders before anything is planned from its headers.
func (l *listing) list(p int) (*wooapi.OrdersPage, error) {
	select {
	case l.slots <- struct{}{}:
	case <-l.ctx.Done():
		return nil, l.ctx.Err()
	}
	defer func() { <-l.slots }()
	q := l.Query
	q.Page, q.PerPage, q.OrderBy, q.Order = p, PerPage, "id", "asc"
	pg, err := l.Shop.ListOrders(l.ctx, q)
	if err == nil && l.MaxOrders > 0 && pg.Total > l.MaxOrders {
		return nil, &LimitError{Page: p, Orders: pg.Total, Max: l.MaxOrders}
	}
	return pg, err
}

// fetch lists page p and checks it on its own, reading it once more when
// it fails: a cache's stale answer, or an order that changed between
// WooCommerce's count and page queries, does not repeat.
func (l *listing) fetch(p int) (*wooapi.OrdersPage, error) {
	pg, err := l.list(p)
	if err != nil {
		return nil, err
	}
	if why := check(p, pg); why != nil {
		l.reread(p, why)
		if pg, err = l.list(p); err == nil {
			err = check(p, pg)
		}
	}
	return pg, err
}

// verify checks page p on its own and against the pages handed over.
func (l *listing) verify(p int, pg *wooapi.OrdersPage) error {
	if err := check(p, pg); err != nil {
		return err
	}
	return follows(p, pg, l.at, l.prevListed)
}

func (l *listing) reread(p int, why error) {
	l.Log.LogAttrs(l.ctx, slog.LevelInfo, "order page failed a check; reading it again", slog.Int("page", p), slog.String("check", why.Error()))
}

// take checks page f, whose turn came, reading it once more if it fails;
// it returns what to hand over (a gap before the page, the page, or the
// error that ends the listing) and whether the list ends with it.
func (l *listing) take(f fetched) ([]Result, bool) {
	p, pg, err := f.page, f.pg, f.err
	if err == nil {
		if why := l.verify(p, pg); why != nil {
			l.reread(p, why)
			if pg, err = l.list(p); err == nil {
				err = l.verify(p, pg)
			}
		}
	}
	var out []Result
	if err == nil {
		var gap *Page
		if gap, err = l.bridge(p, pg); gap != nil {
			out = append(out, Result{Page: gap})
		}
	}
	if err != nil {
		return append(out, Result{Err: err}), false
	}
	page := l.hand(p, pg)
	if l.MaxOrders > 0 && l.handed > l.MaxOrders {
		return append(out, Result{Err: &LimitError{Page: p, Orders: l.handed, Max: l.MaxOrders}}), false
	}
	return append(out, Result{Page: page}), page.Last
}

// hand makes page p, which passed, the next page handed over.
func (l *listing) hand(p int, pg *wooapi.OrdersPage) *Page {
	n := len(pg.IDs)
	// Ids ascend: the orders handed over already are at the start.
	skip := 0
	for skip < n && pg.IDs[skip] <= l.at.LastID {
		skip++
	}
	page := &Page{OrdersPage: *pg, Number: p, Listed: n,
		// Without totals, a short page ends the list only when the next is empty.
		Last: n < PerPage && (pg.Total >= 0 || n == 0)}
	page.Orders, page.IDs = pg.Orders[skip:], pg.IDs[skip:]
	l.at = Position{Page: p + 1, LastID: l.at.LastID, LastTotal: pg.Total}
	if n > 0 {
		l.at.LastID = max(l.at.LastID, pg.IDs[n-1])
	}
	l.prevListed = n
	l.handed += len(page.IDs)
	page.After = l.at
	return page
}
