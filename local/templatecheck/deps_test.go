package templatecheck

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/logistos-sync/logistos-sync/local/repo"
)

// forbidden names what deployed code and operator tools must not link,
// each with why: the emulator and its YAML parser, this dev module, and
// test code (which also registers test flags in any binary linking it).
var forbidden = []struct {
	path, why string
	prefix    bool // path and everything under it
}{
	{"github.com/sivchari/kumo", "the AWS emulator", true},
	{"gopkg.in/yaml.v3", "a dependency of the emulator and of template checks only", true},
	{repo.Module + "/local", "the dev module (stand-ins, emulator, tests)", true},
	{"testing", "test code", false},
}

func forbiddenDep(dep string) (why string, bad bool) {
	for _, f := range forbidden {
		if dep == f.path || (f.prefix && strings.HasPrefix(dep, f.path+"/")) {
			return f.why, true
		}
	}
	return "", false
}

// TestBinariesLinkNoEmulatorOrTestCode lists the dependencies of every
// Lambda function (./functions/...) and operator command (./cmd/...) of
// the root module, as built for this machine and as built for Lambda
// (linux/arm64, -tags lambda.norpc, as the Makefile does), and fails on any
// of the forbidden ones, naming the package that pulls it in.
func TestBinariesLinkNoEmulatorOrTestCode(t *testing.T) {
	for _, b := range []build{hostBuild, lambdaBuild} {
		t.Run(b.name, func(t *testing.T) {
			g := listImports(t, b, "./functions/...", "./cmd/...")
			// Each package's direct imports are enough to name, for each
			// forbidden package, who imports it.
			importers := map[string][]string{}
			mains := map[string]bool{}
			for _, pkg := range g.pkgs {
				for _, top := range []string{"/functions/", "/cmd/"} {
					if strings.HasPrefix(pkg, repo.Module+top) {
						mains[pkg] = true
					}
				}
				for _, imp := range g.imports[pkg] {
					importers[imp] = append(importers[imp], pkg)
				}
			}
			// go list prints dependencies before their importers, so the
			// check comes after every package is read.
			for _, pkg := range g.pkgs {
				if why, bad := forbiddenDep(pkg); bad {
					t.Errorf("%s is linked (%s), imported by %v", pkg, why, importers[pkg])
				}
			}
			// Every function of the template and every command must have
			// been listed, or the check proves nothing about it.
			var want []string
			for _, f := range functions {
				want = append(want, repo.Module+"/functions/"+f.dir)
			}
			cmds, err := os.ReadDir(filepath.Join(root, "cmd"))
			if err != nil || len(cmds) == 0 {
				t.Fatalf("no operator commands in cmd/: %v", err)
			}
			for _, c := range cmds {
				want = append(want, repo.Module+"/cmd/"+c.Name())
			}
			for _, w := range want {
				if !mains[w] {
					t.Errorf("go list did not list %s: the check did not cover it", w)
				}
			}
		})
	}
}

// build is a way the binaries are built: a name for subtests, the
// environment added to this process's, and build tags.
type build struct {
	name string
	env  []string
	tags string
}

var (
	hostBuild = build{"host", nil, ""}
	// lambdaBuild is what the Makefile builds for Lambda.
	lambdaBuild = build{"lambda", []string{"GOOS=linux", "GOARCH=arm64", "CGO_ENABLED=0"}, "lambda.norpc"}
)

// importGraph is what `go list -deps` says of some packages: every package
// they link, dependencies first, with its direct imports.
type importGraph struct {
	pkgs    []string
	imports map[string][]string
}

// listImports runs go list -deps on patterns in the root module, built as b.
func listImports(t *testing.T, b build, patterns ...string) importGraph {
	t.Helper()
	args := []string{"list", "-deps", "-f", `{{.ImportPath}}{{range .Imports}} {{.}}{{end}}`}
	if b.tags != "" {
		args = append(args, "-tags", b.tags)
	}
	cmd := exec.Command("go", append(args, patterns...)...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), b.env...)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go %s: %v\n%s", strings.Join(cmd.Args[1:], " "), err, stderrOf(err))
	}
	g := importGraph{imports: map[string][]string{}}
	for line := range strings.Lines(string(out)) {
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		g.pkgs = append(g.pkgs, fields[0])
		g.imports[fields[0]] = fields[1:]
	}
	return g
}

func stderrOf(err error) string {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return string(ee.Stderr)
	}
	return ""
}
