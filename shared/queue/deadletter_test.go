package queue

import (
	"strings"
	"testing"

	"github.com/logistos-sync/logistos-sync/internal/sqschars"
)

// Logistos's answer (and so a failure's detail) can hold any byte: SQS
// refuses the whole SendMessage when an attribute value holds a character
// outside its set, and the order is then retried until SQS moves it
// without its reason. Every value DeadLetter builds is accepted, bounded,
// and still says what was refused, readably.
func TestDeadLetterAttributesHoldOnlyWhatSQSAccepts(t *testing.T) {
	long := strings.Repeat("\x00", MaxFailureValueBytes) // grows as it is made readable
	cases := []struct {
		name   string
		f      Failure
		reason string // what failure-reason must hold
		detail string // what failure-detail must hold
	}{
		{"plain", Failure{Reason: "logistos answered 422", Detail: `{"error":"bad pincode"}`},
			"logistos answered 422", `{"error":"bad pincode"}`},
		{"NUL", Failure{Reason: "logistos answered 400", Detail: "bad\x00pincode"}, "logistos answered 400", `bad\x00pincode`},
		{"ESC", Failure{Reason: "r\x1b[31m", Detail: "\x1b[31mred\x1b[0m"}, `r\x1b[31m`, `\x1b[31mred\x1b[0m`},
		{"invalid UTF-8", Failure{Reason: "answered 400", Detail: "caf\xe9 \xff\xfe"}, "answered 400", `caf\xe9 \xff\xfe`},
		{"noncharacter", Failure{Reason: "x", Detail: "a\uFFFEb\uFFFFc"}, "x", `a\uFFFEb\uFFFFc`},
		{"surrogate bytes", Failure{Reason: "x", Detail: "a\xed\xa0\x80b"}, "x", `a\xed\xa0\x80b`},
		{"allowed controls and non-ASCII", Failure{Reason: "x", Detail: "line\tone\r\nप्रिया ✨"}, "x", "line\tone\r\nप्रिया ✨"},
		{"too long once readable", Failure{Reason: "x", Detail: long}, "x", `\x00\x00`},
		{"cut inside a rune", Failure{Reason: "x", Detail: strings.Repeat("a", MaxFailureValueBytes-1) + "é"}, "x", "aaa"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.f.Class = FailurePermanent
			in := DeadLetter("dlq", `{"id":1}`, map[string]string{AttrTopic: "order.created"}, c.f)
			for k, v := range in.MessageAttributes {
				s := *v.StringValue
				if i := sqschars.First(s); i >= 0 {
					t.Errorf("%s holds a character SQS refuses at byte %d: %.80q", k, i, s[i:])
				}
				if len(s) > MaxFailureValueBytes {
					t.Errorf("%s is %d bytes, more than %d", k, len(s), MaxFailureValueBytes)
				}
			}
			get := func(k string) string {
				if v, ok := in.MessageAttributes[k]; ok {
					return *v.StringValue
				}
				return ""
			}
			if got := get(AttrFailureReason); !strings.Contains(got, c.reason) {
				t.Errorf("failure-reason %.80q lacks %q", got, c.reason)
			}
			if got := get(AttrFailureDetail); !strings.Contains(got, c.detail) {
				t.Errorf("failure-detail %.80q lacks %q", got, c.detail)
			}
			if get(AttrFailureClass) != FailurePermanent || get(AttrTopic) != "order.created" {
				t.Errorf("attributes %v", in.MessageAttributes)
			}
		})
	}
}
