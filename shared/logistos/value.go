package logistos

import (
	"bytes"
	"encoding/json"
	"unicode/utf8"
)

// Value is one scalar of a WooCommerce order, kept as WooCommerce wrote it.
// Numbers, booleans and null keep their exact bytes, so money never passes
// through float64 ("593.22" stays 593.22, 450 stays 450). Strings are decoded
// and written again as plain UTF-8, so WooCommerce's `\/` and `\uXXXX`
// escapes become the characters they stand for (a Hindi name arrives
// readable). A Value accepts any JSON type, because plugins change types
// (numbers as strings and back) and one odd field must not lose an order.
// A field absent from the order stays absent (nil), a null stays null.
type Value []byte

// UnmarshalJSON keeps b, re-encoding it when it is a string with escapes.
func (v *Value) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' && bytes.IndexByte(b, '\\') >= 0 {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*v = appendString(make([]byte, 0, len(b)), s)
		return nil
	}
	*v = append(make([]byte, 0, len(b)), b...)
	return nil
}

// MarshalJSON writes the kept bytes.
func (v Value) MarshalJSON() ([]byte, error) {
	if v == nil {
		return []byte("null"), nil
	}
	return v, nil
}

// Text returns the value as text: a string unquoted, anything else as
// written ("" for null or absent).
func (v Value) Text() string {
	if len(v) == 0 || string(v) == "null" {
		return ""
	}
	if v[0] == '"' {
		var s string
		if json.Unmarshal(v, &s) == nil {
			return s
		}
	}
	return string(v)
}

// appendString writes s as a JSON string escaping only what JSON requires,
// so non-ASCII text and '/' stay readable. Invalid UTF-8 becomes U+FFFD.
func appendString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				dst = append(dst, '\\', c)
			case c == '\n':
				dst = append(dst, '\\', 'n')
			case c == '\r':
				dst = append(dst, '\\', 'r')
			case c == '\t':
				dst = append(dst, '\\', 't')
			case c < 0x20:
				dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			default:
				dst = append(dst, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			dst = append(dst, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			// Valid JSON, but they end lines in JavaScript; escape as encoding/json does.
			dst = append(dst, '\\', 'u', '2', '0', '2', hex[r&0xf])
		default:
			dst = append(dst, s[i:i+size]...)
		}
		i += size
	}
	return append(dst, '"')
}
