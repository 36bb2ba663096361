package fakewoo

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// fixture reads a file of testdata/woocommerce/real-wc-8.9.1.
func fixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "testdata", "woocommerce", "real-wc-8.9.1", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

type answer struct {
	status int
	header http.Header
	body   []byte
}

func call(t *testing.T, method, url, key, secret, body string) answer {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, _ := http.NewRequest(method, url, rd)
	if key != "" {
		req.SetBasicAuth(key, secret)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return answer{resp.StatusCode, resp.Header, b}
}

func TestOrderShapeMatchesRealShop(t *testing.T) {
	s := Start(Options{Orders: 30})
	defer s.Close()
	a := call(t, "GET", s.URL+"/wp-json/wc/v3/orders?per_page=2&page=3&orderby=id&order=asc", Key, Secret, "")
	if a.status != 200 {
		t.Fatalf("status %d: %s", a.status, a.body)
	}
	var real, fake []map[string]json.RawMessage
	if err := json.Unmarshal(fixture(t, "orders-page.json"), &real); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(a.body, &fake); err != nil {
		t.Fatal(err)
	}
	if len(fake) != 2 {
		t.Fatalf("got %d orders, want 2", len(fake))
	}
	keys := func(m map[string]json.RawMessage) []string {
		var ks []string
		for k := range m {
			ks = append(ks, k)
		}
		slices.Sort(ks)
		return ks
	}
	if !slices.Equal(keys(real[0]), keys(fake[0])) {
		t.Errorf("order keys differ from the real shop's:\nreal %v\nfake %v", keys(real[0]), keys(fake[0]))
	}
	if !slices.Equal(keys(realBilling(t, real[0])), keys(realBilling(t, fake[0]))) {
		t.Errorf("billing keys differ from the real shop's")
	}
	// Key order as WooCommerce writes it: "id" first, "_links" last.
	if !bytes.HasPrefix(a.body, []byte(`[{"id":5,"parent_id":0,"status":`)) || !bytes.Contains(a.body, []byte(`"currency_symbol":"$","_links":{"self":[{"href":"http:\/\/127.0.0.1:`)) {
		t.Errorf("order not encoded like WooCommerce: %.300s", a.body)
	}
	// Money is strings, price a number.
	var one struct {
		Total     any `json:"total"`
		LineItems []struct {
			Price any `json:"price"`
		} `json:"line_items"`
	}
	_ = json.Unmarshal(fake[0]["total"], &one.Total)
	if _, ok := one.Total.(string); !ok {
		t.Errorf("total is %T, want a string", one.Total)
	}
}

func realBilling(t *testing.T, o map[string]json.RawMessage) map[string]json.RawMessage {
	t.Helper()
	var b map[string]json.RawMessage
	if err := json.Unmarshal(o["billing"], &b); err != nil {
		t.Fatal(err)
	}
	return b
}

func TestEncodingEscapesLikePHP(t *testing.T) {
	got, err := WPEncode(map[string]string{"a": "Zoë / Café <b> & ✓ 😀"})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"a":"Zo\u00eb \/ Caf\u00e9 <b> & \u2713 \ud83d\ude00"}`
	if string(got) != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	// Orders hold non-ASCII names: none of it may reach the wire raw.
	now := time.Now()
	b, _ := build("http://127.0.0.1:1", 1, "processing", now, now, 0)
	for _, c := range b {
		if c >= 0x80 {
			t.Fatalf("raw non-ASCII byte in order JSON: %s", b)
		}
	}
	if !bytes.Contains(b, []byte(`Zo\u00eb`)) {
		t.Errorf("order 1 should carry an escaped non-ASCII name: %.400s", b)
	}
}

func TestPagingHeaders(t *testing.T) {
	s := Start(Options{Orders: 311})
	defer s.Close()
	a := call(t, "GET", s.URL+"/wp-json/wc/v3/orders?per_page=2&page=3&orderby=id&order=asc", Key, Secret, "")
	// Like orders-page.headers.txt: 311 orders, 156 pages, prev and next.
	if a.header.Get("X-WP-Total") != "311" || a.header.Get("X-WP-TotalPages") != "156" {
		t.Errorf("totals %q/%q, want 311/156", a.header.Get("X-WP-Total"), a.header.Get("X-WP-TotalPages"))
	}
	link := a.header.Get("Link")
	if !strings.Contains(link, `page=2`) || !strings.Contains(link, `rel="prev"`) || !strings.Contains(link, `page=4`) || !strings.Contains(link, `rel="next"`) {
		t.Errorf("Link = %q", link)
	}
	if ct := a.header.Get("Content-Type"); ct != "application/json; charset=UTF-8" {
		t.Errorf("Content-Type %q", ct)
	}
	last := call(t, "GET", s.URL+"/wp-json/wc/v3/orders?per_page=100&page=4&orderby=id&order=asc", Key, Secret, "")
	var orders []struct{ ID int64 }
	_ = json.Unmarshal(last.body, &orders)
	if len(orders) != 11 || orders[0].ID != 301 || orders[10].ID != 311 || strings.Contains(last.header.Get("Link"), "next") {
		t.Errorf("last page: %d orders, Link %q", len(orders), last.header.Get("Link"))
	}
	beyond := call(t, "GET", s.URL+"/wp-json/wc/v3/orders?per_page=100&page=9", Key, Secret, "")
	if beyond.status != 200 || string(beyond.body) != "[]" || beyond.header.Get("X-WP-Total") != "311" {
		t.Errorf("page beyond the end: %d %s total %s", beyond.status, beyond.body, beyond.header.Get("X-WP-Total"))
	}
	tooBig := call(t, "GET", s.URL+"/wp-json/wc/v3/orders?per_page=101", Key, Secret, "")
	if tooBig.status != 400 || !bytes.Contains(tooBig.body, []byte("rest_invalid_param")) {
		t.Errorf("per_page=101: %d %s", tooBig.status, tooBig.body)
	}
}

func ids(t *testing.T, a answer) []int64 {
	t.Helper()
	var orders []struct{ ID int64 }
	if err := json.Unmarshal(a.body, &orders); err != nil {
		t.Fatalf("%d %s", a.status, a.body)
	}
	var out []int64
	for _, o := range orders {
		out = append(out, o.ID)
	}
	return out
}

func TestFilters(t *testing.T) {
	clock := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	s := Start(Options{Orders: 50, Now: func() time.Time { return clock }})
	defer s.Close()
	s.Trash(3)
	s.Delete(4)
	cut := s.Created(10) // orders 1..9 are before it
	q := s.URL + "/wp-json/wc/v3/orders?per_page=100&orderby=id&order=asc&dates_are_gmt=true&before=" + cut.Format(dateLayout)
	got := ids(t, call(t, "GET", q, Key, Secret, ""))
	if want := []int64{1, 2, 5, 6, 7, 8, 9}; !slices.Equal(got, want) {
		t.Errorf("before order 10, any: %v, want %v (trash and deleted left out)", got, want)
	}
	if got := ids(t, call(t, "GET", q+"&status=trash", Key, Secret, "")); !slices.Equal(got, []int64{3}) {
		t.Errorf("status=trash: %v", got)
	}
	clock = clock.Add(time.Hour)
	added := s.AddOrders(2)
	if added[0] != 51 || !s.Created(51).After(s.Created(50)) {
		t.Errorf("added %v created %v", added, s.Created(51))
	}
	after := call(t, "GET", s.URL+"/wp-json/wc/v3/orders?per_page=5&after="+clock.Add(-time.Minute).Format(time.RFC3339), Key, Secret, "")
	if got := ids(t, after); !slices.Equal(got, []int64{52, 51}) {
		t.Errorf("after, default order desc: %v", got)
	}
	st := call(t, "GET", s.URL+"/wp-json/wc/v3/orders?per_page=100&status=completed,refunded", Key, Secret, "")
	for _, id := range ids(t, st) {
		if s := s.Status(id); s != "completed" && s != "refunded" {
			t.Errorf("order %d has status %s", id, s)
		}
	}
}

func TestAuthErrorsLikeWooCommerce(t *testing.T) {
	s := Start(Options{Orders: 1})
	defer s.Close()
	orders := s.URL + "/wp-json/wc/v3/orders"
	unknown := call(t, "GET", orders, "ck_nobody", "cs_x", "")
	if unknown.status != 401 || !bytes.Equal(unknown.body, bytes.TrimSpace(fixture(t, "error-401-unknown-key.json"))) {
		t.Errorf("unknown key: %d %s", unknown.status, unknown.body)
	}
	wrong := call(t, "GET", orders, Key, "cs_wrong", "")
	if wrong.status != 401 || !bytes.Contains(wrong.body, []byte(`"code":"woocommerce_rest_authentication_error"`)) {
		t.Errorf("wrong secret: %d %s", wrong.status, wrong.body)
	}
	read := call(t, "GET", orders, ReadOnlyKey, ReadOnlySecret, "")
	if read.status != 200 {
		t.Errorf("read-only key reading: %d", read.status)
	}
	write := call(t, "POST", s.URL+"/wp-json/wc/v3/webhooks", ReadOnlyKey, ReadOnlySecret, `{"topic":"order.created","delivery_url":"https://x.example/h"}`)
	if write.status != 401 || !bytes.Contains(write.body, []byte("does not have write permissions")) {
		t.Errorf("read-only key writing: %d %s", write.status, write.body)
	}
}

func TestWebhooksCRUD(t *testing.T) {
	s := Start(Options{})
	defer s.Close()
	hooks := s.URL + "/wp-json/wc/v3/webhooks"
	created := call(t, "POST", hooks, Key, Secret, `{"name":"n","topic":"order.created","delivery_url":"https://x.example/h","secret":"s3cret"}`)
	if created.status != 201 || bytes.Contains(created.body, []byte("s3cret")) || !bytes.Contains(created.body, []byte(`"status":"active"`)) {
		t.Fatalf("create: %d %s", created.status, created.body)
	}
	var w struct{ ID int64 }
	_ = json.Unmarshal(created.body, &w)
	id := strconv.FormatInt(w.ID, 10)
	upd := call(t, "PUT", hooks+"/"+id, Key, Secret, `{"status":"disabled","secret":"other"}`)
	if upd.status != 200 || !bytes.Contains(upd.body, []byte(`"status":"disabled"`)) {
		t.Errorf("update: %d %s", upd.status, upd.body)
	}
	if got := s.Webhooks()[0]; got.Secret != "other" || got.APIVersion != "wp_api_v3" {
		t.Errorf("stored %+v", got)
	}
	list := call(t, "GET", hooks+"?per_page=100", Key, Secret, "")
	if list.status != 200 || bytes.Contains(list.body, []byte("other")) || bytes.Contains(list.body, []byte("secret")) || list.header.Get("X-WP-Total") != "1" {
		t.Errorf("list: %d %s", list.status, list.body)
	}
	// Shaped like the real shop's list: same keys.
	var real, fake []map[string]any
	_ = json.Unmarshal(fixture(t, "webhooks-list.json"), &real)
	_ = json.Unmarshal(list.body, &fake)
	for k := range real[0] {
		if _, ok := fake[0][k]; !ok {
			t.Errorf("webhook lacks key %q", k)
		}
	}
	if del := call(t, "DELETE", hooks+"/"+id, Key, Secret, ""); del.status != 501 {
		t.Errorf("delete without force: %d", del.status)
	}
	if del := call(t, "DELETE", hooks+"/"+id+"?force=true", Key, Secret, ""); del.status != 200 || len(s.Webhooks()) != 0 {
		t.Errorf("delete with force: %d, %d left", del.status, len(s.Webhooks()))
	}
}

func TestFaults(t *testing.T) {
	s := Start(Options{Orders: 300})
	defer s.Close()
	orders := s.URL + "/wp-json/wc/v3/orders?per_page=100"
	s.Inject(Fault{Route: RouteOrders, Page: 2, Status: 500}, Fault{Route: RouteOrders, Status: 429, RetryAfter: "1"})
	if a := call(t, "GET", orders+"&page=1", Key, Secret, ""); a.status != 429 || a.header.Get("Retry-After") != "1" {
		t.Errorf("429 fault: %d %v", a.status, a.header)
	}
	if a := call(t, "GET", orders+"&page=2", Key, Secret, ""); a.status != 500 {
		t.Errorf("page 2 fault: %d", a.status)
	}
	if a := call(t, "GET", orders+"&page=2", Key, Secret, ""); a.status != 200 {
		t.Errorf("faults are used up: %d", a.status)
	}
	s.Inject(Maintenance)
	a := call(t, "GET", orders, Key, Secret, "")
	if a.status != 503 || !strings.HasPrefix(a.header.Get("Content-Type"), "text/html") || !bytes.Contains(a.body, []byte("<title>Maintenance</title>")) {
		t.Errorf("maintenance: %d %s", a.status, a.body)
	}
	s.ClearFaults()
	s.Inject(RESTOff)
	if a := call(t, "GET", orders, Key, Secret, ""); a.status != 404 || !bytes.Contains(a.body, []byte("<html")) {
		t.Errorf("REST off: %d", a.status)
	}
	s.ClearFaults()
	start := time.Now()
	s.Inject(Fault{Route: RouteOrders, Delay: 200 * time.Millisecond})
	if a := call(t, "GET", orders, Key, Secret, ""); a.status != 200 || time.Since(start) < 200*time.Millisecond {
		t.Errorf("slow page: %d after %s", a.status, time.Since(start))
	}
}

// The paging misbehaviours answer 200 with what a cache or a broken plugin
// would serve.
func TestPagingFaults(t *testing.T) {
	cases := []struct {
		name              string
		fault             Fault
		page              int
		first, last       int64
		total, totalPages string
	}{
		{"ignores page", IgnoresPage, 3, 1, 100, "250", "3"},
		{"repeats a page", Fault{Route: RouteOrders, Page: 2, ServePage: 1}, 2, 1, 100, "250", "3"},
		{"total lies high", Fault{Route: RouteOrders, TotalSkew: 1000}, 1, 1, 100, "1250", "13"},
		{"total lies low", Fault{Route: RouteOrders, TotalSkew: -100}, 1, 1, 100, "150", "2"},
		{"total pages lie", Fault{Route: RouteOrders, TotalPagesSkew: -1}, 1, 1, 100, "250", "2"},
		{"total made up", Fault{Route: RouteOrders, Total: 3_000_000}, 1, 1, 100, "3000000", "30000"},
		{"total pages made up", Fault{Route: RouteOrders, TotalPages: 1_000_000_000}, 2, 101, 200, "250", "1000000000"},
		{"ids out of order", Fault{Route: RouteOrders, Descending: true}, 1, 250, 151, "250", "3"},
		{"no totals", Fault{Route: RouteOrders, NoTotals: true}, 1, 1, 100, "", ""},
		{"per_page capped", Fault{Route: RouteOrders, PerPageCap: 50}, 2, 51, 100, "250", "5"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := Start(Options{Orders: 250})
			defer s.Close()
			s.Inject(tc.fault)
			a := call(t, "GET", s.URL+"/wp-json/wc/v3/orders?per_page=100&orderby=id&order=asc&page="+strconv.Itoa(tc.page), Key, Secret, "")
			got := ids(t, a)
			if a.status != 200 || len(got) == 0 || got[0] != tc.first || got[len(got)-1] != tc.last ||
				a.header.Get("X-WP-Total") != tc.total || a.header.Get("X-WP-TotalPages") != tc.totalPages {
				t.Errorf("page %d: %d, ids %d..%d, total %s/%s; want ids %d..%d, total %s/%s", tc.page, a.status, got[0], got[len(got)-1],
					a.header.Get("X-WP-Total"), a.header.Get("X-WP-TotalPages"), tc.first, tc.last, tc.total, tc.totalPages)
			}
		})
	}
}

// A padded order carries incompressible text, the same at every listing.
func TestPad(t *testing.T) {
	s := Start(Options{Orders: 3})
	defer s.Close()
	s.Pad(2, 1<<20)
	a, _ := s.OrderJSON(s.URL, 2)
	b, _ := s.OrderJSON(s.URL, 2)
	plain, _ := s.OrderJSON(s.URL, 1)
	if len(a) < 1<<20 || !bytes.Equal(a, b) || len(plain) > 4<<10 {
		t.Fatalf("padded %d bytes (stable %v), plain %d", len(a), bytes.Equal(a, b), len(plain))
	}
	var zipped bytes.Buffer
	zw := gzip.NewWriter(&zipped)
	_, _ = zw.Write(a)
	_ = zw.Close()
	if zipped.Len() < len(a)*7/10 {
		t.Errorf("gzip shrinks the padded order from %d to %d bytes", len(a), zipped.Len())
	}
	if got := ids(t, call(t, "GET", s.URL+"/wp-json/wc/v3/orders?per_page=100&order=asc", Key, Secret, "")); !slices.Equal(got, []int64{1, 2, 3}) {
		t.Errorf("listing: %v", got)
	}
}

func TestLargeShopIsLazy(t *testing.T) {
	s := Start(Options{Orders: 100_000})
	defer s.Close()
	a := call(t, "GET", s.URL+"/wp-json/wc/v3/orders?per_page=100&page=1000&orderby=id&order=asc", Key, Secret, "")
	got := ids(t, a)
	if len(got) != 100 || got[0] != 99_901 || got[99] != 100_000 || a.header.Get("X-WP-Total") != "100000" {
		t.Errorf("page 1000: %d orders from %v, total %s", len(got), got[:1], a.header.Get("X-WP-Total"))
	}
	// Nothing per order is stored: only what changed after the start.
	if len(s.statuses)+len(s.gone)+len(s.added) != 0 {
		t.Error("the shop stored orders")
	}
}
