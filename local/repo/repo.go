// Package repo locates the repository from wherever a command or test runs,
// so that fixtures and the functions' sources are found without relative
// paths that depend on the working directory.
package repo

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// Module is the path of the functions' module, declared by the root go.mod.
const Module = "github.com/logistos-sync/logistos-sync"

// Root returns the repository root: the nearest directory at or above the
// working directory whose go.mod declares Module.
func Root() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("find repository root: %w", err)
	}
	for {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && bytes.HasPrefix(b, []byte("module "+Module+"\n")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("find repository root: no go.mod of " + Module + " at or above the working directory")
		}
		dir = parent
	}
}

// Path returns the absolute path of rel, a slash-separated path relative
// to the repository root.
func Path(rel string) (string, error) {
	root, err := Root()
	if err != nil {
		return "", err
	}
	return filepath.Join(root, filepath.FromSlash(rel)), nil
}
