// Package testwait lets tests wait for a condition instead of for a stretch
// of wall-clock time, so that a slow machine makes them slower, not red.
//
// It imports testing: only tests may import it, never a Lambda function.
package testwait

import (
	"testing"
	"time"
)

// Poll intervals: short at first, so that a fast condition costs little
// time, then longer, so that a slow one does not spin a starved machine.
const (
	firstInterval = 10 * time.Millisecond
	maxInterval   = 250 * time.Millisecond
)

// Eventually calls cond until it returns nil and fails t, with cond's last
// error, if timeout passes first. cond says why the condition does not
// hold yet; that is the failure message, so make it say what was expected
// and what was seen. cond is checked once more at the timeout, however
// long the last wait took, so a starved scheduler cannot fail the test
// while the condition holds.
//
// Choose a timeout far beyond the condition's normal wait: it only decides
// how long a broken test takes to fail. Call Eventually from the test's
// goroutine, as t.Fatal requires.
func Eventually(t testing.TB, timeout time.Duration, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	interval := firstInterval
	for {
		err := cond()
		if err == nil {
			return
		}
		left := time.Until(deadline)
		if left <= 0 {
			t.Fatalf("not so after %s: %v", timeout, err)
			return // for a t whose Fatalf returns
		}
		time.Sleep(min(interval, left))
		interval = min(2*interval, maxInterval)
	}
}
