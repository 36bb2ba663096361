package fakewoo

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
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

// The failure count is WooCommerce's failure_count: a REST PUT
// status=active (or any other edit) keeps it, so the next failure disables
// the webhook again; a webhook created anew starts at 0; only a success
// resets it.
func TestFailureCountSurvivesReactivation(t *testing.T) {
	s := Start(Options{Orders: 1})
	defer s.Close()
	create := func() int64 {
		t.Helper()
		a := call(t, "POST", s.URL+"/wp-json/wc/v3/webhooks", Key, Secret,
			`{"topic":"order.created","delivery_url":"https://hooks.example/woocommerce/webhook","secret":"s"}`)
		var w struct{ ID int64 }
		if err := json.Unmarshal(a.body, &w); a.status != http.StatusCreated || err != nil {
			t.Fatalf("create: %d %s", a.status, a.body)
		}
		return w.ID
	}
	hook := func(id int64) Webhook {
		t.Helper()
		for _, w := range s.Webhooks() {
			if w.ID == id {
				return w
			}
		}
		t.Fatalf("no webhook #%d", id)
		return Webhook{}
	}
	old := create()
	s.FailDeliveries(true)
	s.PlaceOrders(MaxDeliveryFailures + 2)
	if w := hook(old); w.Status != "disabled" || w.Failures != MaxDeliveryFailures+1 {
		t.Fatalf("after %d failures: %+v", MaxDeliveryFailures+2, w)
	}
	for _, body := range []string{`{"status":"active"}`, `{"status":"active","secret":"new"}`} {
		if a := call(t, "PUT", s.URL+"/wp-json/wc/v3/webhooks/"+strconv.FormatInt(old, 10), Key, Secret, body); a.status != http.StatusOK {
			t.Fatalf("PUT %s: %d %s", body, a.status, a.body)
		}
		if w := hook(old); w.Status != "active" || w.Failures != MaxDeliveryFailures+1 {
			t.Fatalf("after PUT %s: %+v; want active, count kept", body, w)
		}
		s.PlaceOrders(1)
		if w := hook(old); w.Status != "disabled" {
			t.Fatalf("re-activated by PUT %s, then one failure: %s, want disabled", body, w.Status)
		}
	}
	fresh := create()
	if w := hook(fresh); w.Failures != 0 || w.Status != "active" {
		t.Fatalf("a webhook created anew: %+v", w)
	}
	s.PlaceOrders(1)
	if w := hook(fresh); w.Status != "active" || w.Failures != 1 {
		t.Fatalf("a new webhook after one failure: %+v", w)
	}
}

// Modify delivers order.updated to order.updated webhooks only, and
// PlaceOrders order.created to order.created ones, as WooCommerce's topics
// do.
func TestDeliveriesByTopic(t *testing.T) {
	var mu sync.Mutex
	got := map[string][]string{} // topic header → delivery URL paths
	srv := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		got[r.Header.Get(woohook.HeaderTopic)] = append(got[r.Header.Get(woohook.HeaderTopic)], r.URL.Path)
	}))
	defer srv.Close()
	s := Start(Options{Orders: 3})
	defer s.Close()
	s.AddWebhook(Webhook{Status: "active", Topic: "order.created", DeliveryURL: srv.URL + "/created", Secret: "s"})
	s.AddWebhook(Webhook{Status: "active", Topic: "order.updated", DeliveryURL: srv.URL + "/updated", Secret: "s"})
	s.AddWebhook(Webhook{Status: "paused", Topic: "order.updated", DeliveryURL: srv.URL + "/paused", Secret: "s"})
	ids := s.PlaceOrders(2)
	s.Modify(ids[0])
	s.Modify(2)
	if c, u := strings.Join(got["order.created"], ","), strings.Join(got["order.updated"], ","); c != "/created,/created" || u != "/updated,/updated" {
		t.Fatalf("order.created to %q, order.updated to %q", c, u)
	}
	if d := s.Deliveries(); d.Delivered != 4 || d.Failed != 0 {
		t.Fatalf("stats %+v", d)
	}
}
