// Package lambdarietest runs a real Lambda binary under the runtime
// interface emulator for one test: built, started with its environment,
// killed when the test ends, the end of its output logged when the test
// fails. It imports testing, so it is kept apart from package lambdarie.
package lambdarietest

import (
	"context"
	"testing"

	"github.com/logistos-sync/logistos-sync/local/lambdarie"
)

// outputTail is how much of a failed test's function output is logged:
// its end, where the failure shows.
const outputTail = 8000

// Start builds the emulator and the function at pkg (e.g.
// "./functions/activate") into a directory of the test's, then runs it
// with env (a stack's FunctionEnv) as Run does. ctx bounds the builds.
func Start(t testing.TB, ctx context.Context, pkg string, env map[string]string) *lambdarie.Function {
	t.Helper()
	rie, err := lambdarie.Setup(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	boot, err := rie.Build(ctx, pkg)
	if err != nil {
		t.Fatal(err)
	}
	return Run(t, rie, boot, env)
}

// Run runs bootstrap, built by rie, with env; the function is closed when
// the test ends, and the end of its output logged if the test failed.
func Run(t testing.TB, rie *lambdarie.RIE, bootstrap string, env map[string]string) *lambdarie.Function {
	t.Helper()
	fn, err := rie.Start(bootstrap, env)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		fn.Close()
		if t.Failed() {
			out := fn.Output()
			if len(out) > outputTail {
				out = "…" + out[len(out)-outputTail:]
			}
			t.Logf("function output:\n%s", out)
		}
	})
	return fn
}
