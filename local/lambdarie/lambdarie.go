// Package lambdarie runs the real Lambda binaries on this machine: it builds
// a function as `make build` does (for the host's architecture), builds the
// AWS Lambda Runtime Interface Emulator from the module cache, and runs the
// bootstrap under it on a loopback port, to be invoked over HTTP.
//
// Typical use in a TestMain (a test calls lambdarietest.Start, which does
// all of it):
//
//	rie, err := lambdarie.Setup(ctx, tmpDir)           // builds the emulator once
//	boot, err := rie.Build(ctx, "./functions/webhook") // builds a bootstrap
//	fn, err := rie.Start(boot, st.FunctionEnv(stack.Webhook, vars))
//	defer fn.Close()                                   // always kills it
//	out, err := fn.Invoke(ctx, eventJSON)
//	fn.Output()                                        // what the function and the emulator logged
package lambdarie

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/logistos-sync/logistos-sync/local/repo"
)

// emulatorPackage is the emulator's main package, a tool dependency of the
// local module (so `go mod download` there fetches it and no test needs the
// network).
const emulatorPackage = "github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie"

// buildFlags are the Makefile's flags for a Lambda binary.
var buildFlags = []string{"build", "-tags", "lambda.norpc", "-trimpath", "-ldflags=-s -w"}

// RIE is a built emulator and the directory binaries are built into.
type RIE struct {
	// Emulator is the path of the aws-lambda-rie binary.
	Emulator string
	// Dir receives the emulator and every bootstrap built.
	Dir string
	// Root is the repository root, whose module the functions build from.
	Root string
}

// Setup builds the emulator into dir.
func Setup(ctx context.Context, dir string) (*RIE, error) {
	root, err := repo.Root()
	if err != nil {
		return nil, err
	}
	r := &RIE{Emulator: filepath.Join(dir, "aws-lambda-rie"), Dir: dir, Root: root}
	// From the local module, where the emulator is a tool dependency.
	if err := goBuild(ctx, filepath.Join(root, "local"), nil, "build", "-o", r.Emulator, emulatorPackage); err != nil {
		return nil, fmt.Errorf("build the Lambda runtime interface emulator: %w", err)
	}
	return r, nil
}

// Build compiles the function at pkg (a package path relative to the
// repository root, e.g. "./functions/webhook") as a Lambda bootstrap for
// this machine's architecture and returns its path.
func (r *RIE) Build(ctx context.Context, pkg string) (string, error) {
	out := filepath.Join(r.Dir, filepath.Base(pkg), "bootstrap")
	env := []string{"CGO_ENABLED=0", "GOOS=linux", "GOARCH=" + runtime.GOARCH}
	args := append(append([]string{}, buildFlags...), "-o", out, pkg)
	if err := goBuild(ctx, r.Root, env, args...); err != nil {
		return "", fmt.Errorf("build %s: %w", pkg, err)
	}
	return out, nil
}

func goBuild(ctx context.Context, dir string, env []string, args ...string) error {
	cmd := exec.CommandContext(ctx, goTool(), args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("go %s: %w\n%s", strings.Join(args, " "), err, out)
	}
	return nil
}

// goTool is the go command that runs this test: `go test` puts its own
// GOROOT/bin first on the test binary's PATH, so it is the go found there.
func goTool() string {
	return "go"
}

// ErrExited means the emulator stopped before it served.
var ErrExited = errors.New("the Lambda runtime interface emulator exited")
