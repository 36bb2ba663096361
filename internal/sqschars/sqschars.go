// Package sqschars states which characters SQS accepts in a message body
// and in a String message attribute's value, as its API reference gives
// them: #x9 | #xA | #xD | #x20 to #xD7FF | #xE000 to #xFFFD | #x10000 to
// #x10FFFF, in valid UTF-8. Real SQS refuses the whole call otherwise, and
// the local emulator (kumo) does not check, so tests hold what the code
// sends against this.
//
// It is written from the rule's ranges, apart from the code it checks, so
// that a mistake in one is not repeated in the other. Only tests import it.
package sqschars

import "unicode/utf8"

// Accepted reports whether SQS accepts every character of s.
func Accepted(s string) bool {
	return First(s) < 0
}

// First returns the byte offset of the first character SQS refuses in s,
// or -1 when it accepts them all: where a test failure should point.
func First(s string) int {
	for i, r := range s {
		if r == utf8.RuneError {
			if _, size := utf8.DecodeRuneInString(s[i:]); size == 1 {
				return i // invalid UTF-8, not a real U+FFFD
			}
		}
		if !inRanges(r) {
			return i
		}
	}
	return -1
}

func inRanges(r rune) bool {
	return r == 0x9 || r == 0xA || r == 0xD ||
		(0x20 <= r && r <= 0xD7FF) ||
		(0xE000 <= r && r <= 0xFFFD) ||
		(0x10000 <= r && r <= 0x10FFFF)
}
