package fakewoo

import (
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/logistos-sync/logistos-sync/shared/woohook"
)

// Deliveries are signed like WooCommerce's; failures are counted and the
// 7th consecutive one disables the webhook (more than 5 before it); a
// success resets the count; a disabled webhook delivers nothing.
func TestDeliveriesDisableAfterMoreThanFiveFailures(t *testing.T) {
	var up atomic.Bool
	var mu sync.Mutex
	var got []*http.Request
	var bodies [][]byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		got, bodies = append(got, r), append(bodies, b)
		mu.Unlock()
		if !up.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()
	s := Start(Options{Orders: 3})
	defer s.Close()
	s.AddWebhook(Webhook{Status: "active", Topic: "order.created", DeliveryURL: srv.URL, Secret: "sekrit"})

	up.Store(true)
	s.PlaceOrders(1)
	r, body := got[0], bodies[0]
	if r.Header.Get(woohook.HeaderSignature) != woohook.Sign(body, []byte("sekrit")) ||
		r.Header.Get(woohook.HeaderTopic) != "order.created" || r.Header.Get(woohook.HeaderWebhookID) == "" {
		t.Fatalf("delivery headers %v", r.Header)
	}
	up.Store(false)
	s.PlaceOrders(6)
	if h := s.Webhooks()[0]; h.Status != "active" || h.Failures != 6 {
		t.Fatalf("after 6 failures: %s with %d failures, want active with 6", h.Status, h.Failures)
	}
	s.PlaceOrders(1)
	if h := s.Webhooks()[0]; h.Status != "disabled" {
		t.Fatalf("after the 7th failure: %s, want disabled", h.Status)
	}
	s.PlaceOrders(2)
	if n := len(got); n != 8 {
		t.Fatalf("%d deliveries attempted, want 8 (none once disabled)", n)
	}
	if d := s.Deliveries(); d.Delivered != 1 || d.Failed != 7 {
		t.Fatalf("stats %+v", d)
	}
}

// _fields keeps only the named fields; include lists only those ids.
func TestFieldsAndInclude(t *testing.T) {
	s := Start(Options{Orders: 30})
	defer s.Close()
	a := call(t, "GET", s.URL+"/wp-json/wc/v3/orders?per_page=100&_fields=id,date_modified_gmt,status&include=3,7,99&orderby=id&order=asc", Key, Secret, "")
	if a.status != 200 || a.header.Get("X-WP-Total") != "2" {
		t.Fatalf("%d %v %s", a.status, a.header, a.body)
	}
	want := `[{"id":3,"status":"` + s.Status(3) + `","date_modified_gmt":"` + s.Created(3).Format(dateLayout) + `"},{"id":7,`
	if string(a.body[:len(want)]) != want {
		t.Fatalf("got %s\nwant prefix %s", a.body, want)
	}
}
