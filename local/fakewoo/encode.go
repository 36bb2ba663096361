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
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return WPEscape(bytes.TrimRight(buf.Bytes(), "\n")), nil
}

// WPEscape rewrites JSON text the way PHP escapes it: "/" as "\/" and
// non-ASCII as \uXXXX. Both only ever occur inside strings, so a byte-level
// pass is exact.
func WPEscape(js []byte) []byte {
	out := make([]byte, 0, len(js)+len(js)/16)
	const hex = "0123456789abcdef"
	for i := 0; i < len(js); {
		c := js[i]
		switch {
		case c == '/':
			out = append(out, '\\', '/')
			i++
		case c < utf8.RuneSelf:
			out = append(out, c)
			i++
		default:
			r, n := utf8.DecodeRune(js[i:])
			i += n
			units := []uint16{uint16(r)}
			if r > 0xFFFF {
				a, b := utf16.EncodeRune(r)
				units = []uint16{uint16(a), uint16(b)}
			}
			for _, u := range units {
				out = append(out, '\\', 'u', hex[u>>12], hex[u>>8&15], hex[u>>4&15], hex[u&15])
			}
		}
	}
	return out
}
