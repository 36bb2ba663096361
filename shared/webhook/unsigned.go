package webhook

// Headers the signature does not cover are a stranger's text: what of them
// reaches a log line or a message attribute is bounded and checked here.

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// truncated ends a header value cut to MaxLoggedHeaderBytes, so that the
// log says it was longer.
const truncated = "…"

// loggable is a header value as a log line may hold it: at most
// MaxLoggedHeaderBytes, with '?' for each character that does not print
// (control characters, invalid UTF-8). Anyone can send the webhook any
// header, and JSON logging escapes control characters but bounds nothing.
func loggable(s string) string {
	if len(s) <= MaxLoggedHeaderBytes && printableASCII(s) {
		return s
	}
	// Each character maps to at most as many bytes as it had, so this
	// much of s is all the result can hold.
	long := len(s) > MaxLoggedHeaderBytes
	if long {
		s = s[:MaxLoggedHeaderBytes]
	}
	s = strings.Map(func(r rune) rune {
		if r == utf8.RuneError || !unicode.IsPrint(r) {
			return '?'
		}
		return r
	}, s)
	if !long {
		return s
	}
	cut := min(len(s), MaxLoggedHeaderBytes-len(truncated))
	for cut < len(s) && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + truncated
}

func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// maxIDBytes bounds an id WooCommerce sends in a header: a webhook's row id
// is a number, a delivery id an MD5 in hex.
const maxIDBytes = 64

// unsignedID keeps a header the signature does not cover only if it is what
// WooCommerce puts there (letters and digits, short), else "": it becomes a
// message attribute, and a value SQS refuses would fail the order's send.
func unsignedID(s string) string {
	if len(s) > maxIDBytes {
		return ""
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
			return ""
		}
	}
	return s
}
