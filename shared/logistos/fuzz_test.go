package logistos

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// FuzzParseOrder checks the transform on arbitrary bodies: it never panics;
// what it accepts becomes valid JSON that holds none of the dropped fields
// and that transforms to itself (the transform is a projection).
func FuzzParseOrder(f *testing.F) {
	for _, name := range []string{"order-wc9-inr-cod.json", "order-docs-example.json", "real-wc-8.9.1/order-created-313.body", "real-wc-8.9.1/order-created-314.body"} {
		body, err := os.ReadFile(filepath.Join(woo, name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(body)
	}
	f.Add([]byte(`{"id":1,"billing":{"first_name":"\ud800"},"line_items":[{"price":1e400}]}`))
	f.Add([]byte(`{"id":1,"customer_note":"\u2028\u0000\\\"/"}`))

	f.Fuzz(func(t *testing.T, body []byte) {
		o, err := ParseOrder(body)
		if err != nil {
			return
		}
		p := Payload{Source: Source, StoreURL: "https://shop.example", Event: "order.created", Orders: []Order{o}}
		out, err := p.Marshal()
		if err != nil {
			t.Fatalf("accepted order does not marshal: %v", err)
		}
		if !json.Valid(out) {
			t.Fatalf("invalid JSON: %s", out)
		}
		var back struct {
			Orders []json.RawMessage `json:"orders"`
		}
		if err := json.Unmarshal(out, &back); err != nil || len(back.Orders) != 1 {
			t.Fatalf("payload shape: %v", err)
		}
		var keys map[string]json.RawMessage
		if err := json.Unmarshal(back.Orders[0], &keys); err != nil {
			t.Fatal(err)
		}
		for _, k := range []string{"meta_data", "customer_ip_address", "customer_user_agent", "transaction_id", "order_key", "cart_hash", "payment_url", "_links"} {
			if _, ok := keys[k]; ok {
				t.Fatalf("dropped field %s present", k)
			}
		}
		again, err := ParseOrder(back.Orders[0])
		if err != nil {
			t.Fatalf("transformed order does not parse: %v", err)
		}
		p2 := Payload{Source: Source, StoreURL: "https://shop.example", Event: "order.created", Orders: []Order{again}}
		out2, _ := p2.Marshal()
		if !bytes.Equal(out, out2) {
			t.Fatalf("transform is not stable:\n%s\n%s", out, out2)
		}
	})
}
