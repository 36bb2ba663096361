package woohook

import (
	"bytes"
	"encoding/json"
	"errors"
)

// Kind is what a signed delivery body holds, as far as its first key tells.
type Kind int

const (
	// KindOrder is an order object: WooCommerce writes "id" first.
	KindOrder Kind = iota
	// KindError is a REST error object ({"code":...,"message":...}), sent
	// instead of the order when the webhook's user cannot read it.
	KindError
	// KindUnknown is anything else: not a JSON object, or an object we do
	// not recognise.
	KindUnknown
)

// String names the kind for logs.
func (k Kind) String() string {
	switch k {
	case KindOrder:
		return "order"
	case KindError:
		return "rest_error"
	}
	return "unknown"
}

// Peek classifies a delivery body and returns the order id, reading only the
// first key: WooCommerce builds the body with wp_json_encode of the REST
// response, whose first key is "id" for orders and "code" for errors. It
// never scans the whole body, so it costs the same for 1 line item or 500;
// full parsing and validation happen in the forwarder.
func Peek(body []byte) (Kind, int64) {
	b := bytes.TrimLeft(body, " \t\r\n")
	if len(b) == 0 || b[0] != '{' {
		return KindUnknown, 0
	}
	b = bytes.TrimLeft(b[1:], " \t\r\n")
	switch {
	case bytes.HasPrefix(b, []byte(`"id"`)):
		b = bytes.TrimLeft(b[len(`"id"`):], " \t\r\n")
		if len(b) == 0 || b[0] != ':' {
			return KindUnknown, 0
		}
		b = bytes.TrimLeft(b[1:], " \t\r\n")
		var id int64
		n := 0
		for n < len(b) && n < 19 && b[n] >= '0' && b[n] <= '9' {
			id = id*10 + int64(b[n]-'0')
			n++
		}
		if n == 0 || n == len(b) || (b[n] != ',' && b[n] != '}' && b[n] != ' ' && b[n] != '\n') {
			return KindUnknown, 0
		}
		return KindOrder, id
	case bytes.HasPrefix(b, []byte(`"code"`)):
		return KindError, 0
	}
	return KindUnknown, 0
}

// OrderID returns an order's id, reading only the first key when it is
// "id" (as WooCommerce writes it, in deliveries and REST answers alike)
// and decoding otherwise.
func OrderID(order []byte) (int64, error) {
	if kind, id := Peek(order); kind == KindOrder {
		return id, nil
	}
	var o struct {
		ID *int64 `json:"id"`
	}
	if err := json.Unmarshal(order, &o); err != nil || o.ID == nil {
		return 0, errors.New("not an order object with an id")
	}
	return *o.ID, nil
}
