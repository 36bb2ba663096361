package fakewoo

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/logistos-sync/logistos-sync/shared/woohook"
)

// POST PathPlaceOrder places one order and delivers it to the shop's
// webhooks before answering; only with PlaceOrderRoute (otherwise the
// theme's 404, as on a real shop), and only by POST.
func TestPlaceOrderRoute(t *testing.T) {
	var mu sync.Mutex
	var delivered []int64
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		id, err := woohook.OrderID(b)
		if err != nil {
			t.Errorf("delivery is not an order: %v", err)
		}
		mu.Lock()
		delivered = append(delivered, id)
		mu.Unlock()
	}))
	defer hook.Close()

	for _, tc := range []struct {
		name   string
		on     bool
		method string
		status int
		placed bool
	}{
		{"on, POST", true, http.MethodPost, http.StatusOK, true},
		{"on, GET", true, http.MethodGet, http.StatusMethodNotAllowed, false},
		{"off", false, http.MethodPost, http.StatusNotFound, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mu.Lock()
			delivered = nil
			mu.Unlock()
			s := Start(Options{Orders: 2, PlaceOrderRoute: tc.on})
			defer s.Close()
			s.AddWebhook(Webhook{Status: "active", Topic: woohook.TopicOrderCreated, DeliveryURL: hook.URL, Secret: "s"})
			req, _ := http.NewRequest(tc.method, s.URL+PathPlaceOrder, nil)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.status {
				t.Fatalf("%d %s, want %d", resp.StatusCode, body, tc.status)
			}
			wantMax := int64(2)
			if tc.placed {
				wantMax = 3
				var got struct {
					ID        int64 `json:"id"`
					Delivered int   `json:"webhooks_delivered"`
				}
				if err := json.Unmarshal(body, &got); err != nil || got.ID != 3 || got.Delivered != 1 {
					t.Errorf("answer %s (%v), want order 3 delivered once", strings.TrimSpace(string(body)), err)
				}
				mu.Lock()
				if len(delivered) != 1 || delivered[0] != 3 {
					t.Errorf("delivered %v, want [3]", delivered)
				}
				mu.Unlock()
			}
			if got := s.MaxID(); got != wantMax {
				t.Errorf("shop has %d orders, want %d", got, wantMax)
			}
		})
	}
}
