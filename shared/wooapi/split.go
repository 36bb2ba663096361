package wooapi

import (
	"encoding/json"
	"errors"

	"github.com/logistos-sync/logistos-sync/shared/jsonscan"
)

// errNotArray: the answer is not a JSON array.
var errNotArray = errors.New("not a JSON array")

// splitArray returns the elements of the JSON array b as slices of b, in
// order and without copying: a page of orders is split in one pass, and
// each order keeps the exact bytes the shop sent. It checks the structure
// (brackets, strings, separators), not every token: an order whose inside
// is malformed still travels as sent, and the forwarder rejects it with
// the reason.
func splitArray(b []byte) ([]json.RawMessage, error) {
	if i := jsonscan.SkipSpace(b, 0); i >= len(b) || b[i] != '[' {
		return nil, errNotArray
	}
	out := []json.RawMessage{}
	end, err := jsonscan.Elements(b, 0, func(_ int, elem []byte) error {
		out = append(out, json.RawMessage(elem))
		return nil
	})
	if err != nil {
		return nil, err
	}
	if jsonscan.SkipSpace(b, end) != len(b) {
		return nil, errors.New("data after the array")
	}
	return out, nil
}
