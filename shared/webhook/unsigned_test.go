package webhook

import (
	"strings"
	"testing"
)

func TestLoggable(t *testing.T) {
	fill := strings.Repeat("a", MaxLoggedHeaderBytes-len(truncated))
	for _, c := range []struct{ in, want string }{
		{"", ""},
		{"order.created", "order.created"},
		{strings.Repeat("b", MaxLoggedHeaderBytes), strings.Repeat("b", MaxLoggedHeaderBytes)},
		{strings.Repeat("b", MaxLoggedHeaderBytes+1), strings.Repeat("b", MaxLoggedHeaderBytes-len(truncated)) + truncated},
		{"order\x1b[31m.created\n", "order?[31m.created?"},
		{"a\x00b\x7fc\tc", "a?b?c?c"},
		{"order.\xff\xfecreated", "order.??created"},
		{"प्रिया ✨", "प्रिया ✨"},
		{fill[1:] + "✨✨", fill[1:] + truncated},                             // not cut inside a rune
		{strings.Repeat("\u2028", 30), strings.Repeat("?", 22) + truncated}, // shrinks as it is cleaned
		{strings.Repeat("\u0085", 10), strings.Repeat("?", 10)},             // C1 controls
	} {
		got := loggable(c.in)
		if got != c.want {
			t.Errorf("loggable(%.40q) = %q, want %q", c.in, got, c.want)
		}
		if len(got) > MaxLoggedHeaderBytes {
			t.Errorf("loggable(%.40q) is %d bytes", c.in, len(got))
		}
	}
}
