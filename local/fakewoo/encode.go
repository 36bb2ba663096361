package fakewoo

import (
	"bytes"
	"encoding/json"
	"unicode/utf16"
	"unicode/utf8"
)

// WPEncode returns v encoded as WordPress's wp_json_encode does (PHP's
// json_encode defaults): "/" written "\/", every non-ASCII character as
// \uXXXX (UTF-16, surrogate pairs above U+FFFF), and <, >, & left alone.
// Webhook signatures and byte-for-byte contracts depend on these bytes.
func WPEncode(v any) ([]byte, error) {
	return appendWPEncoded(nil, new(bytes.Buffer), v)
}

// appendWPEncoded appends WPEncode(v) to dst, encoding through scratch:
// a page of orders reuses one scratch buffer and grows one output.
func appendWPEncoded(dst []byte, scratch *bytes.Buffer, v any) ([]byte, error) {
	scratch.Reset()
	enc := json.NewEncoder(scratch)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return dst, err
	}
	return appendWPEscaped(dst, bytes.TrimRight(scratch.Bytes(), "\n")), nil
}

// WPEscape rewrites JSON text the way PHP escapes it: "/" as "\/" and
// non-ASCII as \uXXXX. Both only ever occur inside strings, so a byte-level
// pass is exact.
func WPEscape(js []byte) []byte {
	return appendWPEscaped(make([]byte, 0, len(js)+len(js)/16), js)
}

func appendWPEscaped(out, js []byte) []byte {
	const hex = "0123456789abcdef"
	for i := 0; i < len(js); {
		// Copy the run that needs no escaping in one go.
		j := i
		for j < len(js) && js[j] != '/' && js[j] < utf8.RuneSelf {
			j++
		}
		out = append(out, js[i:j]...)
		if i = j; i >= len(js) {
			break
		}
		if js[i] == '/' {
			out = append(out, '\\', '/')
			i++
			continue
		}
		r, n := utf8.DecodeRune(js[i:])
		i += n
		units := [2]uint16{uint16(r)}
		k := 1
		if r > 0xFFFF {
			a, b := utf16.EncodeRune(r)
			units, k = [2]uint16{uint16(a), uint16(b)}, 2
		}
		for _, u := range units[:k] {
			out = append(out, '\\', 'u', hex[u>>12], hex[u>>8&15], hex[u>>4&15], hex[u&15])
		}
	}
	return out
}
