// Command pages writes connect's HTML pages (connected, denied, ...) as
// files, for `make pages`, which renders each in headless chromium and
// saves a phone-sized screenshot beside it: the pages are checked by eye in
// a real browser, not only by the tests of their HTML.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/logistos-sync/logistos-sync/shared/connect"
)

func main() {
	out := flag.String("out", "pages", "directory to write <page>.html into")
	flag.Parse()
	if err := write(*out); err != nil {
		fmt.Fprintln(os.Stderr, "pages:", err)
		os.Exit(1)
	}
}

// write puts every page into dir as <name>.html.
func write(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	for _, p := range connect.Pages {
		path := filepath.Join(dir, string(p)+".html")
		if err := os.WriteFile(path, []byte(p.HTML()), 0o644); err != nil {
			return fmt.Errorf("write %s: %w", path, err)
		}
		fmt.Println(path)
	}
	return nil
}
