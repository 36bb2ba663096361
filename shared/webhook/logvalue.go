package webhook

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
