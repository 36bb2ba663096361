package reconcile

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/logistos-sync/logistos-sync/shared/orderpages"
	"github.com/logistos-sync/logistos-sync/shared/wooapi"
)

// The sample events in events/ are valid input: known fields only.
func TestSampleEvents(t *testing.T) {
	for name, want := range map[string]func(Event) bool{
		"reconcile.json":         func(ev Event) bool { return ev.Since == nil && !ev.DryRun },
		"reconcile-since.json":   func(ev Event) bool { return ev.Since != nil && !ev.Since.IsZero() && !ev.DryRun },
		"reconcile-dry-run.json": func(ev Event) bool { return ev.Since == nil && ev.DryRun },
		// A hub sweeps one of its shops now.
		"reconcile-shop.json": func(ev Event) bool { return ev.StoreURL == "https://shop.example" && ev.Since == nil && !ev.DryRun },
	} {
		b, err := os.ReadFile(filepath.Join("..", "..", "events", name))
		if err != nil {
			t.Fatal(err)
		}
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		var ev Event
		if err := dec.Decode(&ev); err != nil || !want(ev) {
			t.Errorf("%s: %+v %v", name, ev, err)
		}
	}
}

// A failed sweep's detail says what to do about its cause.
func TestHint(t *testing.T) {
	cases := []struct {
		name string
		err  error
		want []string
	}{
		{"revoked key", &wooapi.Error{Op: "list orders page 1", StatusCode: 401, Err: wooapi.ErrWrongKey}, []string{"REST API key", "next sweep"}},
		{"paging not to be trusted", fmt.Errorf("recover: %w: page 2 ...", orderpages.ErrUntrusted), []string{"/wp-json/", "mark stays"}},
		{"anything else", errors.New("boom"), []string{"next sweep"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := hint(tc.err, false)
			for _, w := range tc.want {
				if !strings.Contains(h, w) {
					t.Errorf("hint %q does not say %q", h, w)
				}
			}
		})
	}
}
