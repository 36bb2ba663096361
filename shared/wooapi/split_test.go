package wooapi

import (
	"bytes"
	"encoding/json"
	"testing"
)

var splitCases = []string{
	`[]`,
	` [ ] `,
	`[{"id":1}]`,
	"[\n {\"id\":1,\"a\":[1,{\"b\":\"]}\\\"[\"}]} ,\t{\"id\":2,\"s\":\"\\\\\"}\n]\n",
	`[{"id":3,"name":"Zo\u00eb \/ \"x\""},{"id":4,"n":null,"t":true,"f":-1.5e3}]`,
	`[1,"two",[3],{"four":4},null]`,
}

// splitArray agrees with encoding/json on every valid array.
func TestSplitArrayMatchesEncodingJSON(t *testing.T) {
	cases := append([]string{string(readFixture(t, "orders-page.json"))}, splitCases...)
	for _, c := range cases {
		checkSplit(t, []byte(c))
	}
}

func checkSplit(t *testing.T, b []byte) {
	t.Helper()
	var want []json.RawMessage
	wantErr := json.Unmarshal(b, &want)
	got, err := splitArray(b)
	if wantErr != nil {
		if err == nil && json.Valid(b) {
			t.Errorf("%q: split although encoding/json refused it: %v", b, wantErr)
		}
		return
	}
	if err != nil || len(got) != len(want) {
		t.Fatalf("%q: got %d elements (%v), want %d", b, len(got), err, len(want))
	}
	for i := range got {
		if !bytes.Equal(got[i], want[i]) {
			t.Errorf("%q element %d: %s, want %s", b, i, got[i], want[i])
		}
	}
}

func TestSplitArrayRejects(t *testing.T) {
	for _, c := range []string{``, `{"id":1}`, `[`, `[{"id":1}`, `[{"id":1},]`, `[{"id":"1}]`, `[{"id":1}] x`, `<html>`, `[{"id":1} {"id":2}]`} {
		if _, err := splitArray([]byte(c)); err == nil {
			t.Errorf("%q: no error", c)
		}
	}
}

func FuzzSplitArray(f *testing.F) {
	for _, c := range splitCases {
		f.Add([]byte(c))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if json.Valid(b) {
			checkSplit(t, b)
		} else {
			_, _ = splitArray(b) // must not panic
		}
	})
}
