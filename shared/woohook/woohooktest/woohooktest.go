// Package wootest reads the WooCommerce deliveries captured from a real
// shop (testdata/woocommerce/real-wc-8.9.1), for tests.
package woohooktest

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Capture is one captured delivery.
type Capture struct {
	// Headers are lower-cased, as API Gateway passes them to Lambda.
	Headers map[string]string
	// Body is the exact bytes WooCommerce sent (and signed).
	Body []byte
}

// ReadCapture reads dir/<name>.headers.txt (a raw HTTP request head) and
// dir/<name>.body.
func ReadCapture(dir, name string) (Capture, error) {
	body, err := os.ReadFile(filepath.Join(dir, name+".body"))
	if err != nil {
		return Capture{}, fmt.Errorf("capture %s: %w", name, err)
	}
	head, err := os.ReadFile(filepath.Join(dir, name+".headers.txt"))
	if err != nil {
		return Capture{}, fmt.Errorf("capture %s: %w", name, err)
	}
	c := Capture{Headers: map[string]string{}, Body: body}
	sc := bufio.NewScanner(bytes.NewReader(head))
	sc.Scan() // the request line
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ": "); ok {
			c.Headers[strings.ToLower(k)] = v
		}
	}
	return c, sc.Err()
}
