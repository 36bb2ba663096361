package templatecheck

import (
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestMakeBuildsWhatSAMDeploys runs each function's build target as
// `sam build` does (BuildMethod: makefile runs make build-<LogicalId> with
// ARTIFACTS_DIR) and checks the result is what provided.al2023 on arm64
// runs: a static linux/arm64 executable named bootstrap.
func TestMakeBuildsWhatSAMDeploys(t *testing.T) {
	tpl := load(t)
	ids := slices.Sorted(func(yield func(string) bool) {
		for id := range tpl.OfType("AWS::Serverless::Function") {
			if !yield(id) {
				return
			}
		}
	})
	if len(ids) == 0 {
		t.Fatal("no functions in the template")
	}
	// sam build does not set the Go target; neither may this test's caller.
	var env []string
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); k != "GOARCH" && k != "GOOS" && k != "CGO_ENABLED" && k != "ARTIFACTS_DIR" {
			env = append(env, kv)
		}
	}
	for _, id := range ids {
		t.Run(id, func(t *testing.T) {
			dir := t.TempDir()
			cmd := exec.Command("make", "--no-print-directory", "build-"+id, "ARTIFACTS_DIR="+dir)
			cmd.Dir = root
			cmd.Env = env
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("make build-%s: %v\n%s", id, err, out)
			}
			entries, err := os.ReadDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			if len(entries) != 1 || entries[0].Name() != "bootstrap" {
				t.Fatalf("ARTIFACTS_DIR holds %v, want only bootstrap", entries)
			}
			path := filepath.Join(dir, "bootstrap")
			if info, err := os.Stat(path); err != nil || info.Mode()&0o111 == 0 {
				t.Fatalf("bootstrap is not executable: %v %v", info.Mode(), err)
			}
			f, err := elf.Open(path)
			if err != nil {
				t.Fatalf("bootstrap is not an ELF binary: %v", err)
			}
			defer f.Close()
			if f.Machine != elf.EM_AARCH64 || f.Class != elf.ELFCLASS64 || f.OSABI != elf.ELFOSABI_NONE {
				t.Errorf("bootstrap is %v %v %v, want a 64-bit arm64 Linux binary", f.Machine, f.Class, f.OSABI)
			}
			if f.Type != elf.ET_EXEC {
				t.Errorf("bootstrap is %v, want a static executable (ET_EXEC)", f.Type)
			}
			for _, p := range f.Progs {
				if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
					t.Errorf("bootstrap has a %v segment: it is dynamically linked, and provided.al2023 need not have its libraries", p.Type)
				}
			}
			if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
				t.Errorf("bootstrap needs shared libraries %v", libs)
			}
		})
	}
}
