package jsonscan

import (
	"strings"
	"testing"
)

func TestMembers(t *testing.T) {
	cases := []struct {
		in, want string // want: key=value pairs joined by ";", or "error"
	}{
		{`{}`, ""},
		{` {"a":1, "b" : "x,}" ,"c":{"d":[1,{"e":"]"}]}} `, `a=1;b="x,}";c={"d":[1,{"e":"]"}]}`},
		{`{"i\u0064":7,"\"q\"":null}`, `id=7;"q"=null`},
		{`{"a":[],"a":true}`, `a=[];a=true`}, // duplicates are the caller's to judge
		{`[1]`, "error"},
		{`{"a" 1}`, "error"},
		{`{"a":1,}`, "error"},
		{`{"a":1} x`, "error"},
		{`{a:1}`, "error"},
		{`{"a":"1`, "error"},
	}
	for _, c := range cases {
		var got []string
		err := Members([]byte(c.in), func(k, v []byte) error {
			got = append(got, string(k)+"="+string(v))
			return nil
		})
		switch {
		case c.want == "error" && err == nil:
			t.Errorf("%s: no error (got %v)", c.in, got)
		case c.want != "error" && (err != nil || strings.Join(got, ";") != c.want):
			t.Errorf("%s: got %q, %v; want %q", c.in, strings.Join(got, ";"), err, c.want)
		}
	}
}
