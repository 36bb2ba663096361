//go:build linux

// Package e2e tests the real Lambda binaries: functions/webhook and
// functions/forwarder built as for Lambda (for this machine's architecture),
// run under the Lambda Runtime Interface Emulator, configured only through
// their environment, invoked over HTTP with API Gateway and SQS events, with
// embedded kumo as AWS and a fake Logistos.
package e2e

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/logistos-sync/logistos-sync/internal/testwait"
	"github.com/logistos-sync/logistos-sync/local/lambdarie"
	"github.com/logistos-sync/logistos-sync/local/lambdarie/lambdarietest"
	"github.com/logistos-sync/logistos-sync/local/stack"
	"github.com/logistos-sync/logistos-sync/local/stacktest"
)

// buildTimeout covers building both functions and the emulator on a cold
// build cache with two cores.
const buildTimeout = 4 * time.Minute

var (
	rie                        *lambdarie.RIE
	webhookBoot, forwarderBoot string
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "logistos-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	ctx, cancel := context.WithTimeout(context.Background(), buildTimeout)
	defer cancel()
	if rie, err = lambdarie.Setup(ctx, dir); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	var wg sync.WaitGroup
	var werr, ferr error
	wg.Go(func() { webhookBoot, werr = rie.Build(ctx, "./functions/webhook") })
	wg.Go(func() { forwarderBoot, ferr = rie.Build(ctx, "./functions/forwarder") })
	wg.Wait()
	for _, err := range []error{werr, ferr} {
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
	return stacktest.RunTests(m)
}

// waitOutput waits until fn's output holds every one of wants and returns
// it. The emulator's output reaches the test through a pipe, copied
// asynchronously: a line the function wrote before it answered may still
// be on its way when the answer arrives.
func waitOutput(t *testing.T, fn *lambdarie.Function, wants ...string) string {
	t.Helper()
	var out string
	testwait.Eventually(t, invokeWait, func() error {
		out = fn.Output()
		var missing []string
		for _, w := range wants {
			if !strings.Contains(out, w) {
				missing = append(missing, w)
			}
		}
		if len(missing) > 0 {
			return fmt.Errorf("function output lacks %s", strings.Join(missing, ", "))
		}
		return nil
	})
	return out
}

// fork gives a test queues and a secret of its own on the shared kumo.
func fork(t *testing.T, o stack.Options) *stack.Stack {
	t.Helper()
	return stacktest.ForTest(t, o)
}

// start runs a bootstrap under the emulator with env (a stack's
// FunctionEnv), killed when the test ends.
func start(t *testing.T, bootstrap string, env map[string]string) *lambdarie.Function {
	t.Helper()
	return lambdarietest.Run(t, rie, bootstrap, env)
}
