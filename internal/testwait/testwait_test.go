package testwait

import (
	"errors"
	"fmt"
	"os/exec"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// recorder is a testing.TB whose Fatalf records instead of stopping the
// goroutine, so that a failing Eventually can be checked.
type recorder struct {
	testing.TB
	fatal string
}

func (r *recorder) Helper() {}

func (r *recorder) Fatalf(format string, args ...any) { r.fatal = fmt.Sprintf(format, args...) }

func TestEventuallyWaitsForTheCondition(t *testing.T) {
	calls := 0
	r := &recorder{TB: t}
	Eventually(r, time.Minute, func() error {
		if calls++; calls < 4 {
			return fmt.Errorf("call %d", calls)
		}
		return nil
	})
	if r.fatal != "" || calls != 4 {
		t.Errorf("%d calls, failure %q; want 4 calls and no failure", calls, r.fatal)
	}
}

func TestEventuallyFailsWithTheLastError(t *testing.T) {
	calls := 0
	r := &recorder{TB: t}
	Eventually(r, 50*time.Millisecond, func() error {
		calls++
		return errors.New("the queue holds 3 messages, want 0")
	})
	if !strings.Contains(r.fatal, "after 50ms: the queue holds 3 messages, want 0") {
		t.Errorf("failure %q does not name the timeout and the last error", r.fatal)
	}
	if calls < 2 {
		t.Errorf("cond called %d times; want a check at the start and one at the timeout", calls)
	}
}

// The failure comes from a check made at or after the timeout, not from
// one made before a sleep that overran it (a starved machine), so a
// condition that came true meanwhile passes.
func TestEventuallyFailsOnlyOnACheckAtTheTimeout(t *testing.T) {
	const timeout = 30 * time.Millisecond
	start := time.Now()
	var last time.Time
	r := &recorder{TB: t}
	Eventually(r, timeout, func() error {
		last = time.Now()
		return errors.New("not yet")
	})
	if r.fatal == "" || last.Sub(start) < timeout {
		t.Errorf("failure %q from a check %s after the start; want one from a check at %s or later", r.fatal, last.Sub(start), timeout)
	}
}

// No Lambda function links this package (nor, through it, testing).
func TestNoFunctionImportsIt(t *testing.T) {
	cmd := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}}", "./functions/...")
	cmd.Dir = "../.." // the module root
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	self := reflect.TypeFor[recorder]().PkgPath()
	deps := strings.Fields(string(out))
	if len(deps) == 0 {
		t.Fatal("go list named no packages")
	}
	if slices.Contains(deps, self) {
		t.Errorf("a function under functions/ imports %s", self)
	}
}
