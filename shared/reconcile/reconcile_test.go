package reconcile

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/logistos-sync/logistos-sync/shared/wooapi"
)

// The sample events in events/ are valid input: known fields only.
func TestSampleEvents(t *testing.T) {
	for name, want := range map[string]func(Event) bool{
		"reconcile.json":         func(ev Event) bool { return ev.Since == nil && !ev.DryRun },
		"reconcile-since.json":   func(ev Event) bool { return ev.Since != nil && !ev.Since.IsZero() && !ev.DryRun },
		"reconcile-dry-run.json": func(ev Event) bool { return ev.Since == nil && ev.DryRun },
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

// A revoked key is named as such, with the way out.
func TestHintForRevokedKey(t *testing.T) {
	err := &wooapi.Error{Op: "list orders page 1", StatusCode: 401, Err: wooapi.ErrWrongKey}
	if h := hint(err); !strings.Contains(h, "REST API key") || !strings.Contains(h, "next sweep") {
		t.Errorf("hint %q", h)
	}
	if h := hint(errors.New("boom")); !strings.Contains(h, "next sweep") {
		t.Errorf("hint %q", h)
	}
}
