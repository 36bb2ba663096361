// Package jsonscan walks JSON text without decoding it: the extent of a
// value, the elements of an array and the members of an object, each as a
// slice of the input. It serves the paths that must keep bytes exactly as the
// shop sent them (a page of orders split into orders, the allow-listed fields
// of an order) without a copy per value; code that wants Go values uses
// encoding/json.
//
// It checks structure (brackets, strings, separators), not every token:
// callers that need valid JSON check it first with json.Valid.
package jsonscan

import (
	"encoding/json"
	"errors"
	"fmt"
)

// SkipSpace returns the index of the first non-space byte at or after i.
func SkipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\n' || b[i] == '\r' || b[i] == '\t') {
		i++
	}
	return i
}

// SkipValue returns the end of the value starting at b[i].
func SkipValue(b []byte, i int) (int, error) {
	if i >= len(b) {
		return 0, errors.New("missing value")
	}
	switch b[i] {
	case '"':
		return SkipString(b, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '"':
				end, err := SkipString(b, j)
				if err != nil {
					return 0, err
				}
				j = end - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1, nil
				}
			}
		}
		return 0, errors.New("unterminated object or array")
	case ',', ']', '}', ':':
		return 0, fmt.Errorf("unexpected %q", b[i])
	}
	j := i
	for j < len(b) && b[j] != ',' && b[j] != ']' && b[j] != '}' && b[j] != ':' && b[j] != ' ' && b[j] != '\n' && b[j] != '\r' && b[j] != '\t' {
		j++
	}
	return j, nil
}

// SkipString returns the end of the string starting at b[i] (a quote).
func SkipString(b []byte, i int) (int, error) {
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '\\':
			j++
		case '"':
			return j + 1, nil
		}
	}
	return 0, errors.New("unterminated string")
}

// Elements calls fn with each element of the array starting at b[i], in
// order, and returns the index just past the array.
func Elements(b []byte, i int, fn func(n int, elem []byte) error) (int, error) {
	i = SkipSpace(b, i)
	if i >= len(b) || b[i] != '[' {
		return 0, errors.New("not a JSON array")
	}
	i = SkipSpace(b, i+1)
	if i < len(b) && b[i] == ']' {
		return i + 1, nil
	}
	for n := 0; ; n++ {
		end, err := SkipValue(b, i)
		if err != nil {
			return 0, fmt.Errorf("element %d: %w", n, err)
		}
		if err := fn(n, b[i:end:end]); err != nil {
			return 0, err
		}
		i = SkipSpace(b, end)
		if i >= len(b) {
			return 0, errors.New("unexpected end of the array")
		}
		switch b[i] {
		case ',':
			i = SkipSpace(b, i+1)
		case ']':
			return i + 1, nil
		default:
			return 0, fmt.Errorf("unexpected %q after element %d", b[i], n)
		}
	}
}

// Members calls fn with each member of the object b, in order: its key,
// unescaped, and its value's bytes. key is only valid during the call.
func Members(b []byte, fn func(key, value []byte) error) error {
	i := SkipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return errors.New("not a JSON object")
	}
	i = SkipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return trailing(b, i+1)
	}
	for {
		if i >= len(b) || b[i] != '"' {
			return errors.New("object key is not a string")
		}
		kend, err := SkipString(b, i)
		if err != nil {
			return err
		}
		key, err := unquote(b[i:kend])
		if err != nil {
			return err
		}
		i = SkipSpace(b, kend)
		if i >= len(b) || b[i] != ':' {
			return fmt.Errorf("no ':' after key %q", key)
		}
		i = SkipSpace(b, i+1)
		end, err := SkipValue(b, i)
		if err != nil {
			return fmt.Errorf("value of %q: %w", key, err)
		}
		if err := fn(key, b[i:end:end]); err != nil {
			return err
		}
		i = SkipSpace(b, end)
		if i >= len(b) {
			return errors.New("unexpected end of the object")
		}
		switch b[i] {
		case ',':
			i = SkipSpace(b, i+1)
		case '}':
			return trailing(b, i+1)
		default:
			return fmt.Errorf("unexpected %q after the value of %q", b[i], key)
		}
	}
}

// unquote returns a quoted key's text: a slice of q, without a copy, unless
// the key holds escapes (keys almost never do).
func unquote(q []byte) ([]byte, error) {
	inner := q[1 : len(q)-1]
	for _, c := range inner {
		if c == '\\' {
			var s string
			if err := json.Unmarshal(q, &s); err != nil {
				return nil, fmt.Errorf("bad key %s: %w", q, err)
			}
			return []byte(s), nil
		}
	}
	return inner, nil
}

// trailing reports data after a complete value.
func trailing(b []byte, i int) error {
	if SkipSpace(b, i) != len(b) {
		return errors.New("data after the value")
	}
	return nil
}
