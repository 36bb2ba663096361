// Package woohooktest reads the WooCommerce deliveries captured from a real
// shop (testdata/woocommerce/real-wc-8.9.1), for tests: the one reader of
// those captures, here and in the local module.
package woohooktest

import (
	"bufio"
	"bytes"
	"fmt"
	"net/http"
	"net/textproto"
	"os"
	"path/filepath"
	"strings"
)

// Capture is one captured delivery.
type Capture struct {
	// Header is the request's header as WooCommerce sent it.
	Header http.Header
	// Headers are the same, lower-cased, as API Gateway passes them to
	// Lambda.
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
	r := textproto.NewReader(bufio.NewReader(bytes.NewReader(append(head, "\r\n\r\n"...))))
	if _, err := r.ReadLine(); err != nil { // the request line
		return Capture{}, fmt.Errorf("capture %s: %w", name, err)
	}
	mh, err := r.ReadMIMEHeader()
	if err != nil {
		return Capture{}, fmt.Errorf("capture %s headers: %w", name, err)
	}
	c := Capture{Header: http.Header(mh), Headers: map[string]string{}, Body: body}
	for k, v := range c.Header {
		c.Headers[strings.ToLower(k)] = v[0]
	}
	return c, nil
}
