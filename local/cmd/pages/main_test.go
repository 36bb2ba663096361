package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/logistos-sync/logistos-sync/shared/connect"
)

func TestWrite(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "pages")
	if err := write(dir); err != nil {
		t.Fatal(err)
	}
	for _, p := range connect.Pages {
		b, err := os.ReadFile(filepath.Join(dir, string(p)+".html"))
		if err != nil || string(b) != p.HTML() {
			t.Errorf("%s: %v", p, err)
		}
	}
}
