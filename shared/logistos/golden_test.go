package logistos

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden payloads (review the diff before committing)")

const woo = "../../testdata/woocommerce"

// TestTransformGolden pins the exact payload for each fixture. The golden
// files were reviewed by hand against the allow-list (the Order type in
// payload.go); -update rewrites them, and the diff is what a reviewer must
// read.
func TestTransformGolden(t *testing.T) {
	cases := []struct {
		fixture, golden, store, event string
	}{
		{"order-wc9-inr-cod.json", "order-wc9-inr-cod.payload.json", "https://shop.example.in/", "order.created"},
		{"real-wc-8.9.1/order-created-313.body", "order-created-313.payload.json", "http://127.0.0.1:8088/", "order.created"},
		{"order-docs-example.json", "order-docs-example.payload.json", "https://example.com", "order.backfill"},
	}
	for _, c := range cases {
		t.Run(c.fixture, func(t *testing.T) {
			got := transform(t, c.fixture, c.store, c.event)
			path := filepath.Join("../../testdata/golden", c.golden)
			if *update {
				if err := os.WriteFile(path, append(got, '\n'), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, bytes.TrimSuffix(want, []byte("\n"))) {
				t.Fatalf("payload differs from %s\n got: %s\nwant: %s", path, got, want)
			}
		})
	}
}

func transform(t *testing.T, fixture, store, event string) []byte {
	t.Helper()
	body, err := os.ReadFile(filepath.Join(woo, fixture))
	if err != nil {
		t.Fatal(err)
	}
	o, err := ParseOrder(body)
	if err != nil {
		t.Fatal(err)
	}
	p := Payload{Source: Source, StoreURL: StoreURL(store), Event: event, Orders: []Order{o}}
	out, err := p.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestTransformDropsWhatIsNotAllowed(t *testing.T) {
	out := string(transform(t, "order-wc9-inr-cod.json", "https://shop.example.in", "order.created"))
	for _, secret := range []string{
		"meta_data", "4111 1111 1111 1111", "_billing_card_number", "4242", "_wc_razorpay_card_last4",
		"src_1Nq8ExampleToken", "203.0.113.77", "customer_ip_address", "Mozilla", "wc_order_Xk3pQ9vR2mTzA",
		"order_key", "9b2a1f0c6e7d4c3b8a5f", "cart_hash", "payment_url", "_links", "transaction_id",
		"created_via", "213.559322", "rate_percent", "display_key", "diya.jpg",
	} {
		if strings.Contains(out, secret) {
			t.Errorf("payload contains %q", secret)
		}
	}
}

func TestTransformKeepsTextAndMoney(t *testing.T) {
	src, err := os.ReadFile(filepath.Join(woo, "order-wc9-inr-cod.json"))
	if err != nil {
		t.Fatal(err)
	}
	out := transform(t, "order-wc9-inr-cod.json", "https://shop.example.in", "order.created")

	// Both sides decoded with UseNumber: numbers compared by their digits.
	decode := func(b []byte) map[string]any {
		d := json.NewDecoder(bytes.NewReader(b))
		d.UseNumber()
		var m map[string]any
		if err := d.Decode(&m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	in := decode(src)
	order := decode(out)["orders"].([]any)[0].(map[string]any)

	if got := order["billing"].(map[string]any)["first_name"]; got != "प्रिया" {
		t.Errorf("billing.first_name = %q, want the Hindi name", got)
	}
	if !bytes.Contains(out, []byte("प्रिया")) || bytes.Contains(out, []byte(`\u092a`)) {
		t.Error("Hindi name not written as UTF-8")
	}
	if !bytes.Contains(out, []byte(`"Flat 12B, Sai Krupa Apts / Lane 4"`)) {
		t.Error("escaped slash not written as '/'")
	}
	for _, k := range []string{"discount_total", "discount_tax", "shipping_total", "shipping_tax", "cart_tax", "total", "total_tax"} {
		if order[k] != in[k] {
			t.Errorf("%s = %#v, source %#v", k, order[k], in[k])
		}
	}
	inItems, outItems := in["line_items"].([]any), order["line_items"].([]any)
	for i := range inItems {
		a, b := inItems[i].(map[string]any), outItems[i].(map[string]any)
		for _, k := range []string{"price", "subtotal", "subtotal_tax", "total", "total_tax", "quantity", "sku"} {
			if a[k] != b[k] {
				t.Errorf("line %d %s = %#v, source %#v", i, k, b[k], a[k])
			}
		}
	}
	// The digits themselves, not just equal numbers.
	for _, digits := range []string{`"price":593.22`, `"price":450,`, `"discount":"100"`, `"discount_tax":"0"`} {
		if !bytes.Contains(out, []byte(digits)) {
			t.Errorf("payload lacks %s", digits)
		}
	}
}

func TestParseOrderLenient(t *testing.T) {
	cases := []struct {
		name, body, want string
	}{
		{"extra fields everywhere", `{"id":1,"plugin_field":{"a":[1,2]},"line_items":[{"id":2,"name":"x","bundle":{"k":1},"price":"9.90"}],"billing":{"email":null,"vat":"X"}}`,
			`{"id":1,"billing":{"email":null},"line_items":[{"id":2,"name":"x","price":"9.90"}]}`},
		{"number where a string was", `{"id":1,"total":1849,"status":"processing"}`, `{"id":1,"status":"processing","total":1849}`},
		{"string where a number was", `{"id":1,"customer_id":"57"}`, `{"id":1,"customer_id":"57"}`},
		{"object where a scalar was is dropped", `{"id":1,"customer_note":{"card":"4111 1111 1111 1111"},"total":[1]}`, `{"id":1}`},
		{"keys match exactly", `{"id":1,"ID":99,"Total":"5.00","billing":{"EMAIL":"x@example.com","city":"Pune"}}`, `{"id":1,"billing":{"city":"Pune"}}`},
		{"an unknown key may repeat", `{"id":1,"meta_data":[],"meta_data":[{"key":"k"}]}`, `{"id":1}`},
		{"nulls stay null", `{"id":1,"date_paid_gmt":null,"shipping":null}`, `{"id":1,"date_paid_gmt":null}`},
		{"big money keeps digits", `{"id":1,"total":"99999999999999999999.99","line_items":[{"price":12345678901234567890.123}]}`,
			`{"id":1,"total":"99999999999999999999.99","line_items":[{"price":12345678901234567890.123}]}`},
		{"html stays", `{"id":1,"customer_note":"A & B <b>"}`, `{"id":1,"customer_note":"A & B <b>"}`},
		{"control characters escaped", `{"id":1,"customer_note":"a\u0001b\nc\u2028"}`, `{"id":1,"customer_note":"a\u0001b\nc\u2028"}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o, err := ParseOrder([]byte(c.body))
			if err != nil {
				t.Fatal(err)
			}
			var buf bytes.Buffer
			enc := json.NewEncoder(&buf)
			enc.SetEscapeHTML(false) // as Payload.Marshal
			if err := enc.Encode(o); err != nil {
				t.Fatal(err)
			}
			if got := strings.TrimSpace(buf.String()); got != c.want {
				t.Fatalf("got  %s\nwant %s", got, c.want)
			}
		})
	}
}

func TestParseOrderRejects(t *testing.T) {
	for _, body := range []string{
		``, `not json`, `[]`, `{"id":1`, `{}`, `{"id":"12"}`, `{"id":-4}`, `{"id":1.5}`, `{"id":null}`,
		`{"code":"woocommerce_rest_cannot_view","message":"Sorry","data":{"status":403}}`,
		`{"id":1,"billing":"Pune"}`, `{"id":1,"line_items":{"id":2}}`, `{"id":1,"line_items":[7]}`,
		`{"id":1,"id":2}`, `{"id":1,"total":"1.00","total":"900.00"}`, `{"id":1,"billing":{"city":"A","city":"B"}}`,
		`{"id":1,"line_items":[{"id":2,"sku":"a","sku":"b"}]}`, `{"id":1,"id":2}`,
	} {
		if _, err := ParseOrder([]byte(body)); err == nil {
			t.Errorf("ParseOrder(%q) succeeded", body)
		}
	}
}

func TestIdempotencyKey(t *testing.T) {
	o, err := ParseOrder([]byte(`{"id":313,"date_modified_gmt":"2026-11-28T02:06:16"}`))
	if err != nil {
		t.Fatal(err)
	}
	// sha256("http://127.0.0.1:8088|313|2026-11-28T02:06:16"), computed independently with sha256sum.
	const want = "b92352d16e5f25089592a511215220eef24e2d8ffb9dc30925f040140ce22b4f"
	if got := o.IdempotencyKey("http://127.0.0.1:8088"); got != want {
		t.Fatalf("key = %s, want %s", got, want)
	}
	p := Payload{StoreURL: "http://127.0.0.1:8088", Orders: []Order{o}}
	if p.IdempotencyKey() != want {
		t.Fatal("single-order payload key differs from the order's key")
	}
	later, _ := ParseOrder([]byte(`{"id":313,"date_modified_gmt":"2026-11-28T02:07:00"}`))
	if later.IdempotencyKey("http://127.0.0.1:8088") == want {
		t.Fatal("a modified order must get a new key")
	}
}

func TestParseOrderCountsDroppedValues(t *testing.T) {
	o, err := ParseOrder([]byte(`{"id":1,"customer_note":{"card":"4111"},"billing":{"city":["Pune"]},"line_items":[{"sku":{}},{"name":[]}],"meta_data":{"x":1}}`))
	if err != nil {
		t.Fatal(err)
	}
	if o.Dropped != 4 {
		t.Fatalf("Dropped = %d, want 4 (customer_note, billing.city, two line item values; meta_data is not on the list)", o.Dropped)
	}
}
