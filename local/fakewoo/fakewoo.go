// Package fakewoo is a stand-in WooCommerce shop for tests and local runs:
// the REST API v3 orders listing and webhooks endpoints, answering as
// WooCommerce 8.9/9.x does (see docs/woocommerce.md and the
// captures in testdata/woocommerce/real-wc-8.9.1): HTTP Basic auth with
// WooCommerce's error codes, X-WP-Total/X-WP-TotalPages/Link paging, order
// JSON encoded like wp_json_encode, secrets never returned.
//
// Orders are generated from their id when listed, so a shop of 100,000
// orders costs no memory; only orders added, trashed or re-statused later
// are remembered. Faults (5xx, 429 with Retry-After, slow pages, HTML
// maintenance and security pages, REST API off) are injected per route and
// page.
package fakewoo

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Port is the one fixed port of a stand-in shop: make run's, whose URL is
// its default STORE_URL and the source of the deliveries make demo sends.
// Every other stand-in listens on a free port.
const Port = 8089

// Keys every shop knows unless told otherwise.
const (
	Key            = "ck_fake0000000000000000000000000000000000"
	Secret         = "cs_fake0000000000000000000000000000000000"
	ReadOnlyKey    = "ck_fakeread00000000000000000000000000000"
	ReadOnlySecret = "cs_fakeread00000000000000000000000000000"
)

// Permissions of a key, as WooCommerce names them.
const (
	Read      = "read"
	Write     = "write"
	ReadWrite = "read_write"
)

// dateLayout is how WooCommerce writes dates.
const dateLayout = "2006-01-02T15:04:05"

// Options shape a shop.
type Options struct {
	// Orders is how many orders exist at the start, ids 1..Orders, created
	// one Spacing apart and ending one Spacing before the shop's clock.
	Orders int
	// Spacing between the creation times of the initial orders (1 minute).
	Spacing time.Duration
	// Latency is how long every orders listing takes (at least): a shop's
	// page build time.
	Latency time.Duration
	// Now is the shop's clock (Date header, new orders); time.Now when nil.
	Now func() time.Time
	// DeliveryTimeout bounds a webhook delivery (DefaultDeliveryTimeout).
	DeliveryTimeout time.Duration
	// OnList runs at the start of every orders listing, with its page:
	// tests add or trash orders "while the backfill runs" from here.
	OnList func(page int)
	// AllowLoopbackHTTPCallback lets app authorization call back a plain
	// http URL on this machine (make run, tests). Real WooCommerce requires
	// https ("The callback_url needs to be over SSL"), as the shop does
	// without it.
	AllowLoopbackHTTPCallback bool
	// PlaceOrderRoute serves POST PathPlaceOrder, which places one order and
	// delivers its webhooks (make run's shops).
	PlaceOrderRoute bool
}

// Shop is a stand-in WooCommerce. Safe for concurrent use.
type Shop struct {
	opts Options
	now  func() time.Time
	// URL is the shop's base URL once started with Start.
	URL string
	srv *httptest.Server

	mu       sync.Mutex
	keys     map[string]apiKey
	initial  int64
	epoch    time.Time           // creation time of order 0 (order n: epoch + n*Spacing)
	added    []time.Time         // creation times of orders initial+1, ...
	gone     map[int64]bool      // deleted for good
	statuses map[int64]string    // changed statuses (trash included)
	modified map[int64]time.Time // date_modified of orders changed since creation
	padding  map[int64]int       // bytes of incompressible data an order carries (Pad)
	webhooks map[int64]*Webhook  // by id
	nextHook int64
	faults   []*Fault
	stats    Stats
	// deliveries counts webhook deliveries (PlaceOrders).
	deliveries DeliveryStats
	// failDeliveries: deliveries fail without a request (FailDeliveries).
	failDeliveries bool
	// auths are the keys app authorization generated; nextKeyID numbers them.
	auths     []Authorization
	nextKeyID int64
}

type apiKey struct {
	secret string
	perm   string
}

// Stats counts what the shop served.
type Stats struct {
	Requests      int // every request
	ListRequests  int // GET /orders answered 200
	WebhookWrites int // POST/PUT/DELETE /webhooks answered 2xx
	Faults        int // requests answered by an injected fault
}

// New returns a shop that is not listening; use it as an http.Handler, or
// call Start.
func New(o Options) *Shop {
	if o.Spacing <= 0 {
		o.Spacing = time.Minute
	}
	now := o.Now
	if now == nil {
		now = time.Now
	}
	s := &Shop{
		opts: o, now: now,
		keys: map[string]apiKey{
			Key:         {Secret, ReadWrite},
			ReadOnlyKey: {ReadOnlySecret, Read},
		},
		initial:  int64(o.Orders),
		gone:     make(map[int64]bool),
		statuses: make(map[int64]string),
		padding:  make(map[int64]int),
		webhooks: make(map[int64]*Webhook),
		nextHook: 1,
	}
	s.epoch = now().UTC().Truncate(time.Second).Add(-time.Duration(o.Orders+1) * o.Spacing)
	return s
}

// Start returns a shop listening on a loopback port.
func Start(o Options) *Shop {
	s := New(o)
	s.srv = httptest.NewServer(s)
	s.URL = s.srv.URL
	return s
}

// Close stops a started shop.
func (s *Shop) Close() {
	if s.srv != nil {
		s.srv.Close()
	}
}

// AddKey adds a REST API key with a permission (Read, Write, ReadWrite).
func (s *Shop) AddKey(key, secret, perm string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keys[key] = apiKey{secret, perm}
}

// Stats returns the counters so far.
func (s *Shop) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats
}

// restError writes WooCommerce's error body.
func restError(w http.ResponseWriter, status int, code, message string) {
	// PHP's key order: code, message, data.
	body := []byte(`{"code":` + jsonString(code) + `,"message":` + jsonString(message) + `,"data":{"status":` + strconv.Itoa(status) + `}}`)
	writeJSON(w, status, body)
}

func jsonString(s string) string {
	b, _ := WPEncode(s)
	return string(b)
}

func writeJSON(w http.ResponseWriter, status int, body []byte) {
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=UTF-8")
	h.Set("X-Robots-Tag", "noindex")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Access-Control-Expose-Headers", "X-WP-Total, X-WP-TotalPages, Link")
	h.Set("Access-Control-Allow-Headers", "Authorization, X-WP-Nonce, Content-Disposition, Content-MD5, Content-Type")
	h.Set("Expires", "Wed, 11 Jan 1984 05:00:00 GMT")
	h.Set("Cache-Control", "no-cache, must-revalidate, max-age=0, no-store, private")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// ServeHTTP answers like WordPress with WooCommerce.
func (s *Shop) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Date", s.now().UTC().Format(http.TimeFormat))
	w.Header().Set("X-Powered-By", "PHP/8.2.36")
	s.mu.Lock()
	s.stats.Requests++
	s.mu.Unlock()

	if r.URL.Path == PathAuthorize || r.URL.Path == PathAccessGranted {
		s.serveAuth(w, r)
		return
	}
	if r.URL.Path == PathPlaceOrder && s.opts.PlaceOrderRoute {
		s.servePlaceOrder(w, r)
		return
	}
	route, id := parseRoute(r.URL.Path)
	f := s.fault(route, r)
	if f != nil {
		if !f.wait(r) {
			return
		}
		if f.Status != 0 {
			f.serve(w)
			return
		}
	}
	switch {
	case route == "":
		// Not under /wp-json/: the theme's 404 page.
		w.Header().Set("Content-Type", "text/html; charset=UTF-8")
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte(notFoundPage))
		return
	case route == RouteOther:
		restError(w, http.StatusNotFound, "rest_no_route", "No route was found matching the URL and request method.")
		return
	}
	if _, ok := s.authenticate(w, r, route); !ok {
		return
	}
	switch {
	case route == RouteOrders && id == 0 && r.Method == http.MethodGet:
		s.listOrders(w, r, f)
	case route == RouteOrders && id > 0 && r.Method == http.MethodGet:
		s.getOrder(w, r, id)
	case route == RouteWebhooks:
		s.serveWebhooks(w, r, id)
	default:
		restError(w, http.StatusNotFound, "rest_no_route", "No route was found matching the URL and request method.")
	}
}

// Routes, for faults.
const (
	RouteOrders   = "orders"
	RouteWebhooks = "webhooks"
	RouteOther    = "other" // under /wp-json/ but no WooCommerce route
)

// parseRoute maps a path to a route and an id ("" when not under /wp-json/).
func parseRoute(p string) (string, int64) {
	const base = "/wp-json/"
	if !strings.HasPrefix(p, base) && p != "/wp-json" {
		return "", 0
	}
	rest := strings.Trim(strings.TrimPrefix(p, "/wp-json/wc/v3"), "/")
	if !strings.HasPrefix(p, "/wp-json/wc/v3/") {
		return RouteOther, 0
	}
	parts := strings.Split(rest, "/")
	switch {
	case len(parts) == 1 && (parts[0] == RouteOrders || parts[0] == RouteWebhooks):
		return parts[0], 0
	case len(parts) == 2 && (parts[0] == RouteOrders || parts[0] == RouteWebhooks):
		if id, err := strconv.ParseInt(parts[1], 10, 64); err == nil && id > 0 {
			return parts[0], id
		}
	}
	return RouteOther, 0
}

// authenticate applies WooCommerce's REST authentication to r, answering
// the error itself when it fails. Over HTTP Basic (or consumer_key query
// parameters) a wrong secret for a known key is
// woocommerce_rest_authentication_error; an unknown key falls through to an
// anonymous request, which the controller refuses with *_cannot_*.
func (s *Shop) authenticate(w http.ResponseWriter, r *http.Request, route string) (string, bool) {
	key, secret, ok := r.BasicAuth()
	if !ok {
		key, secret = r.URL.Query().Get("consumer_key"), r.URL.Query().Get("consumer_secret")
	}
	s.mu.Lock()
	k, known := s.keys[key]
	s.mu.Unlock()
	write := r.Method != http.MethodGet && r.Method != http.MethodHead
	switch {
	case !known:
		code, msg := "woocommerce_rest_cannot_view", "Sorry, you cannot list resources."
		switch r.Method {
		case http.MethodPost:
			code, msg = "woocommerce_rest_cannot_create", "Sorry, you are not allowed to create resources."
		case http.MethodPut, http.MethodPatch:
			code, msg = "woocommerce_rest_cannot_edit", "Sorry, you are not allowed to edit this resource."
		case http.MethodDelete:
			code, msg = "woocommerce_rest_cannot_delete", "Sorry, you are not allowed to delete this resource."
		}
		restError(w, http.StatusUnauthorized, code, msg)
		return "", false
	case k.secret != secret:
		restError(w, http.StatusUnauthorized, "woocommerce_rest_authentication_error", "Consumer secret is invalid.")
		return "", false
	case write && k.perm == Read:
		restError(w, http.StatusUnauthorized, "woocommerce_rest_authentication_error", "The API key provided does not have write permissions.")
		return "", false
	case !write && k.perm == Write:
		restError(w, http.StatusUnauthorized, "woocommerce_rest_authentication_error", "The API key provided does not have read permissions.")
		return "", false
	}
	return k.perm, true
}

// base is the shop's URL as links name it.
func (s *Shop) base(r *http.Request) string {
	if s.URL != "" {
		return s.URL
	}
	return "http://" + r.Host
}

const notFoundPage = `<!DOCTYPE html>
<html lang="en-US"><head><meta charset="UTF-8"><title>Page not found &#8211; Fake Shop</title></head>
<body class="error404"><h1>Oops! That page can&rsquo;t be found.</h1></body></html>
`

// decodeBody reads a JSON request body (WordPress also takes form fields;
// the client here sends JSON).
func decodeBody(r *http.Request, v any) error {
	return json.NewDecoder(http.MaxBytesReader(nil, r.Body, 1<<20)).Decode(v)
}
