package logistos

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// allowList is docs/architecture.md's allow-list, written out here rather than read
// from Order's tags, so that the fuzz target checks the types against the
// contract: "" is a scalar, "{}" an object and "[]" an array of objects,
// whose members are listed under the path.
var allowList = map[string]string{
	"id": "", "parent_id": "", "number": "", "status": "", "currency": "", "prices_include_tax": "",
	"date_created": "", "date_created_gmt": "", "date_modified_gmt": "", "date_paid_gmt": "", "customer_id": "",
	"customer_note": "", "payment_method": "", "payment_method_title": "", "discount_total": "", "discount_tax": "",
	"shipping_total": "", "shipping_tax": "", "cart_tax": "", "total": "", "total_tax": "",
	"billing": "{}", "shipping": "{}", "line_items": "[]", "fee_lines": "[]", "shipping_lines": "[]", "tax_lines": "[]", "coupon_lines": "[]",
}

func init() {
	for parent, members := range map[string]string{
		"billing":        "first_name last_name company address_1 address_2 city state postcode country email phone",
		"shipping":       "first_name last_name company address_1 address_2 city state postcode country phone",
		"line_items":     "id name product_id variation_id sku quantity price subtotal subtotal_tax total total_tax",
		"fee_lines":      "id name total total_tax",
		"shipping_lines": "id method_id method_title total total_tax",
		"tax_lines":      "id rate_id rate_code label compound tax_total shipping_tax_total",
		"coupon_lines":   "id code discount discount_tax",
	} {
		for _, m := range strings.Fields(members) {
			allowList[parent+"."+m] = ""
		}
	}
}

// checkAllowed fails unless every value of the transformed order v stands
// where the allow-list puts a value of its kind.
func checkAllowed(t *testing.T, v map[string]any, prefix string) {
	t.Helper()
	for k, val := range v {
		path := prefix + k
		kind, ok := allowList[path]
		if !ok {
			t.Fatalf("%s is not on the allow-list", path)
		}
		switch x := val.(type) {
		case map[string]any:
			if kind != "{}" {
				t.Fatalf("%s holds an object; the allow-list keeps %q there", path, kind)
			}
			checkAllowed(t, x, path+".")
		case []any:
			if kind != "[]" {
				t.Fatalf("%s holds an array; the allow-list keeps %q there", path, kind)
			}
			for _, e := range x {
				obj, ok := e.(map[string]any)
				if !ok {
					t.Fatalf("%s holds %T, want objects", path, e)
				}
				checkAllowed(t, obj, path+".")
			}
		default:
			if kind != "" && val != nil {
				t.Fatalf("%s holds the scalar %v; the allow-list keeps %q there", path, val, kind)
			}
		}
	}
}

// FuzzParseOrder checks the transform on arbitrary bodies: it never panics;
// what it accepts becomes valid JSON in which every value stands where the
// allow-list says it may, and that transforms to itself (the transform is a
// projection).
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
	f.Add([]byte(`{"id":1,"ID":2,"customer_note":{"card":"4111"},"billing":{"Email":"x","city":[1]},"line_items":[{"sku":{"a":1}}]}`))

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
		d := json.NewDecoder(bytes.NewReader(back.Orders[0]))
		d.UseNumber()
		var order map[string]any
		if err := d.Decode(&order); err != nil {
			t.Fatal(err)
		}
		checkAllowed(t, order, "")
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
