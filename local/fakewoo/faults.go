package fakewoo

import (
	"net/http"
	"strconv"
	"time"
)

// Fault is an answer the shop gives instead of (or before) the real one.
type Fault struct {
	// Route limits the fault to RouteOrders, RouteWebhooks or RouteOther;
	// "" hits every request, /wp-json/ or not.
	Route string
	// Page limits it to one page of the orders listing; 0 hits any.
	Page int
	// Times is how many requests it answers: 1 when 0, forever when < 0.
	Times int
	// Delay holds the answer back (a slow page); with Status 0 the real
	// answer follows.
	Delay time.Duration
	// Status answers with this status instead of the real answer.
	Status int
	// RetryAfter is sent as the Retry-After header when set.
	RetryAfter string
	// HTML answers a web page: Body, or a WordPress maintenance page.
	HTML bool
	// Body is the answer's body; a WooCommerce-style JSON error when empty
	// and not HTML.
	Body string

	// Paging misbehaviours of a shop behind a page cache or a proxy that
	// caches /wp-json/, or with a plugin that rewrites the query: with
	// Status 0 the orders listing answers 200, altered so.

	// ServePage answers the listing of this page, whatever page was asked
	// for: 1 on every page is a shop that ignores ?page=; Page p with
	// ServePage p-1 is a cache repeating a page.
	ServePage int
	// TotalSkew is added to X-WP-Total, and X-WP-TotalPages follows it:
	// headers that lie high (> 0) or low (< 0).
	TotalSkew int
	// TotalPagesSkew is added to X-WP-TotalPages alone.
	TotalPagesSkew int
	// Total, when > 0, is sent as X-WP-Total whatever the list holds, and
	// X-WP-TotalPages follows it: a header a proxy or a plugin made up.
	Total int
	// TotalPages, when > 0, is sent as X-WP-TotalPages alone.
	TotalPages int
	// NoTotals leaves X-WP-Total and X-WP-TotalPages out, as some proxies do.
	NoTotals bool
	// PerPageCap serves at most this many orders a page whatever per_page
	// asks, as a plugin filtering the query's limit does.
	PerPageCap int
	// Descending lists newest first whatever ?order= says, as a shop that
	// drops the query's order does: ids out of order.
	Descending bool
}

// Common faults.
var (
	// Maintenance is WordPress's maintenance mode: 503, HTML, Retry-After 600.
	Maintenance = Fault{Times: -1, Status: http.StatusServiceUnavailable, RetryAfter: "600", HTML: true, Body: maintenancePage}
	// RESTOff is a shop whose /wp-json/ does not exist (Plain permalinks,
	// or a plugin that disables the REST API): the theme's 404 page.
	RESTOff = Fault{Times: -1, Status: http.StatusNotFound, HTML: true, Body: notFoundPage}
	// Challenge is a firewall/CDN challenge page answered with 200.
	Challenge = Fault{Times: -1, Status: http.StatusOK, HTML: true, Body: challengePage}
	// IgnoresPage is a shop behind a cache that keys on the path alone:
	// every orders listing answers page 1.
	IgnoresPage = Fault{Route: RouteOrders, Times: -1, ServePage: 1}
)

const maintenancePage = `<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Maintenance</title></head>` +
	`<body><p>Briefly unavailable for scheduled maintenance. Check back in a minute.</p></body></html>`

const challengePage = `<!DOCTYPE html><html lang="en-US"><head><title>Just a moment...</title></head>` +
	`<body><noscript>Enable JavaScript and cookies to continue</noscript></body></html>`

// Inject adds faults; each hits the next matching requests, in order.
func (s *Shop) Inject(fs ...Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, f := range fs {
		if f.Times == 0 {
			f.Times = 1
		}
		s.faults = append(s.faults, &f)
	}
}

// ClearFaults removes every pending fault.
func (s *Shop) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = nil
}

// fault takes the first fault matching the request, if any.
func (s *Shop) fault(route string, r *http.Request) *Fault {
	page := 0
	if route == RouteOrders {
		page, _ = strconv.Atoi(r.URL.Query().Get("page"))
		page = max(page, 1)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, f := range s.faults {
		if (f.Route != "" && f.Route != route) || (f.Page != 0 && f.Page != page) {
			continue
		}
		if f.Times > 0 {
			f.Times--
			if f.Times == 0 {
				s.faults = append(s.faults[:i:i], s.faults[i+1:]...)
			}
		}
		s.stats.Faults++
		cp := *f
		return &cp
	}
	return nil
}

// wait holds the answer back for f.Delay, or until the client gives up;
// it reports whether to go on.
func (f *Fault) wait(r *http.Request) bool {
	if f.Delay <= 0 {
		return true
	}
	t := time.NewTimer(f.Delay)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.Context().Done():
		return false
	}
}

func (f *Fault) serve(w http.ResponseWriter) {
	if f.RetryAfter != "" {
		w.Header().Set("Retry-After", f.RetryAfter)
	}
	if f.HTML {
		w.Header().Set("Content-Type", "text/html; charset=UTF-8")
		w.WriteHeader(f.Status)
		body := f.Body
		if body == "" {
			body = maintenancePage
		}
		_, _ = w.Write([]byte(body))
		return
	}
	if f.Body != "" {
		writeJSON(w, f.Status, []byte(f.Body))
		return
	}
	code, msg := "internal_server_error", "There has been a critical error on this website."
	if f.Status == http.StatusTooManyRequests {
		code, msg = "too_many_requests", "Too many requests."
	}
	restError(w, f.Status, code, msg)
}
