package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/logistos-sync/logistos-sync/local/stack"
	"github.com/logistos-sync/logistos-sync/shared/activate"
)

// startStack is the local stack of `make run`, on kumo's random port.
func startStack(t *testing.T) *stack.Stack {
	t.Helper()
	st, err := stack.Start(context.Background(), stack.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	return st
}

// One process, one kumo: both cases share the stack.
func TestCommand(t *testing.T) {
	st := startStack(t)
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

	t.Run("plain output with a fake shop", func(t *testing.T) {
		var out, errOut bytes.Buffer
		getenv := env(map[string]string{"STATE_TABLE": "local-state"})
		err := run(context.Background(), []string{"-aws-endpoint", st.Endpoint, "-fake-shop", "1200", "-fake-latency", "5ms"}, getenv, &out, &errOut, false)
		if err != nil {
			t.Fatalf("%v\n%s", err, out.String())
		}
		var report map[string]any
		for _, line := range strings.Split(out.String(), "\n") {
			var m map[string]any
			if json.Unmarshal([]byte(line), &m) == nil && m["msg"] == "activation report" {
				report = m["report"].(map[string]any)
			}
		}
		if report == nil || report["ok"] != true || report["backfill"].(map[string]any)["orders_enqueued"] != float64(1200) {
			t.Fatalf("no successful report in the output:\n%s", out.String())
		}
		if !strings.Contains(out.String(), "Logistos (local stand-in) received the credentials") || strings.Contains(out.String(), "cs_fake") {
			t.Errorf("credentials summary missing or showing the secret:\n%s", out.String())
		}
		if v, _, _ := st.Depth(context.Background(), st.QueueURL); v != 1200 {
			t.Errorf("queue holds %d orders, want 1200", v)
		}
	})

	t.Run("terminal output, dry run", func(t *testing.T) {
		var out, errOut bytes.Buffer
		err := run(context.Background(), []string{"-aws-endpoint", st.Endpoint, "-fake-shop", "300", "-dry-run"}, env(nil), &out, &errOut, true)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(out.String(), `"outcome": "would_do"`) || strings.Contains(out.String(), `"level"`) {
			t.Errorf("terminal output:\n%s", out.String())
		}
	})

	t.Run("no stack", func(t *testing.T) {
		var out bytes.Buffer
		err := run(context.Background(), []string{"-aws-endpoint", "http://127.0.0.1:1"}, env(nil), &out, &out, false)
		if err == nil || !strings.Contains(err.Error(), "make run") {
			t.Errorf("err %v", err)
		}
	})
}

func TestProgressLine(t *testing.T) {
	line := render(activate.Progress{PagesDone: 25, PagesTotal: 100, OrdersEnqueued: 2500, RatePerSecond: 812, ETA: 95 * time.Second})
	for _, want := range []string{"[#######-----", " 25%", "page 25/100", "2500 orders", "812/s", "ETA 1:35"} {
		if !strings.Contains(line, want) {
			t.Errorf("%q lacks %q", line, want)
		}
	}
	var buf bytes.Buffer
	bar := &progressBar{w: &buf}
	bar.update(activate.Progress{PagesDone: 1, PagesTotal: 2})
	bar.update(activate.Progress{PagesDone: 1, PagesTotal: 2}) // too soon: not drawn
	bar.update(activate.Progress{PagesDone: 2, PagesTotal: 2, Final: true})
	bar.done()
	if n := strings.Count(buf.String(), "\r"); n != 2 || !strings.HasSuffix(buf.String(), "\n") {
		t.Errorf("%d redraws: %q", n, buf.String())
	}
}
