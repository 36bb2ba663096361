package sqschars

import "testing"

func TestFirst(t *testing.T) {
	for _, c := range []struct {
		s    string
		want int
	}{
		{"", -1},
		{"order 12: logistos answered 422", -1},
		{"tab\tnewline\ncr\r", -1},
		{"प्रिया ✨ \U0010FFFF \uE000 \uFFFD \uD7FF", -1},
		{"a\x00b", 1},
		{"\x1b[31mred", 0},
		{"ab\x7f", -1}, // DEL is in #x20-#xD7FF
		{"a\x1fb", 1},
		{"ok\xff", 2},         // invalid UTF-8
		{"ok\xed\xa0\x80", 2}, // a UTF-16 surrogate, encoded
		{"é\uFFFE", 2},        // a noncharacter outside the ranges
		{"\uFFFF", 0},
		{"\xf4\x90\x80\x80", 0}, // past U+10FFFF
		{"abc\xe2\x82", 3},      // cut in the middle of a rune
		{"\uFFFD is fine", -1},  // the replacement character itself
		{"\xef\xbf\xbd\x01", 3}, // U+FFFD then a control
		{"last\x0b", 4},         // vertical tab
		{"\x0c form feed", 0},
		{"\u2028 line sep", -1},
		{"\U0001F600 emoji", -1},
		{"\xc0\x80 overlong", 0}, // overlong NUL
		{"trailing\x00", 8},
		{"\x85 lone continuation", 0},
	} {
		if got := First(c.s); got != c.want {
			t.Errorf("First(%q) = %d, want %d", c.s, got, c.want)
		}
		if Accepted(c.s) != (c.want < 0) {
			t.Errorf("Accepted(%q) = %v, want %v", c.s, Accepted(c.s), c.want < 0)
		}
	}
}
