// Package stacktest shares one local stack among the tests of a package.
// It imports testing, so it is kept apart from package stack, which `make
// run` links.
package stacktest

import (
	"context"
	"fmt"
	"os"
	"sync/atomic"
	"testing"

	"github.com/logistos-sync/logistos-sync/local/stack"
)

// Shared is the one emulator of a test process, started by RunTests.
var Shared *stack.Stack

var forks atomic.Int64

// RunTests starts the one emulator of a test process, runs the tests and
// stops it; call it from TestMain. kumo keeps its state per process and two
// of its servers cannot start at once, so tests share one and take queues
// of their own with ForTest.
func RunTests(m *testing.M) int {
	var err error
	if Shared, err = stack.Start(context.Background(), stack.Options{}); err != nil {
		fmt.Fprintln(os.Stderr, "start kumo:", err)
		return 1
	}
	defer Shared.Close()
	return m.Run()
}

// ForTest gives a test queues and a webhook secret of its own on Shared,
// shaped by o; the names' suffix is chosen here.
func ForTest(t testing.TB, o stack.Options) *stack.Stack {
	t.Helper()
	o.Suffix = fmt.Sprintf("-t%d", forks.Add(1))
	s, err := Shared.Fork(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	return s
}
