package fakewoo

import (
	"fmt"
	"net/http"
)

// PathPlaceOrder places one order at a shop started with
// Options.PlaceOrderRoute (POST): a checkout by hand, for a person trying
// make run, whose shops are in its process out of reach of PlaceOrders.
// Not a WooCommerce route: without the option it is the theme's 404.
const PathPlaceOrder = "/_standin/orders"

// servePlaceOrder places one order and delivers its order.created webhooks
// before answering, as PlaceOrders does, and says what became of them.
func (s *Shop) servePlaceOrder(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "POST to place an order\n", http.StatusMethodNotAllowed)
		return
	}
	// Deliveries of orders placed at the same moment may be counted here
	// too; the answer is for a person reading it, not an exact record.
	before := s.Deliveries()
	ids := s.PlaceOrders(1)
	after := s.Deliveries()
	w.Header().Set("Content-Type", "application/json")
	_, _ = fmt.Fprintf(w, `{"id":%d,"webhooks_delivered":%d,"webhooks_failed":%d}`+"\n",
		ids[0], after.Delivered-before.Delivered, after.Failed-before.Failed)
}
