package logistos

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// bigOrder is the 4 KB fixture grown to lines line items, encoded as
// WooCommerce encodes (escaped slashes and unicode).
func bigOrder(b *testing.B, lines int) []byte {
	body, err := os.ReadFile(filepath.Join(woo, "order-wc9-inr-cod.json"))
	if err != nil {
		b.Fatal(err)
	}
	s := string(body)
	start := strings.Index(s, `"line_items":[`) + len(`"line_items":[`)
	end := strings.Index(s, `],"tax_lines"`)
	items := strings.Split(s[start:end], `},{"id":312`) // two items in the fixture
	first := items[0] + "}"
	var lb strings.Builder
	for i := range lines {
		if i > 0 {
			lb.WriteByte(',')
		}
		lb.WriteString(strings.Replace(first, `"id":311`, fmt.Sprintf(`"id":%d`, 1000+i), 1))
	}
	return []byte(s[:start] + lb.String() + s[end:])
}

func benchBodies(b *testing.B) map[string][]byte {
	small, err := os.ReadFile(filepath.Join(woo, "order-wc9-inr-cod.json"))
	if err != nil {
		b.Fatal(err)
	}
	return map[string][]byte{"4KB": small, "200lines": bigOrder(b, 200)}
}

// BenchmarkTransform is the forwarder's work per order: parse the
// allow-listed fields and encode the Logistos payload.
func BenchmarkTransform(b *testing.B) {
	for name, body := range benchBodies(b) {
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				o, err := ParseOrder(body)
				if err != nil {
					b.Fatal(err)
				}
				p := Payload{Source: Source, StoreURL: "https://shop.example.in", Event: "order.created", Orders: []Order{o}}
				if _, err := p.Marshal(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkGenericRoundTrip is the baseline: json.Unmarshal of the same body
// into map[string]any and json.Marshal back. The transform must beat it.
func BenchmarkGenericRoundTrip(b *testing.B) {
	for name, body := range benchBodies(b) {
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				var m map[string]any
				if err := json.Unmarshal(body, &m); err != nil {
					b.Fatal(err)
				}
				if _, err := json.Marshal(m); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
