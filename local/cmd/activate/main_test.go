package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/logistos-sync/logistos-sync/internal/testwait"
	"github.com/logistos-sync/logistos-sync/local/fakewoo"
	"github.com/logistos-sync/logistos-sync/local/stack"
	"github.com/logistos-sync/logistos-sync/local/syncbuf"
	"github.com/logistos-sync/logistos-sync/shared/activate"
)

// envChild makes the test binary run the command itself (main), so that a
// test can run it as a child process and interrupt it as Ctrl-C does.
const envChild = "ACTIVATE_TEST_RUN_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(envChild) == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// child is the command as a process, with args and extra environment.
func child(args []string, env ...string) (*exec.Cmd, *syncbuf.Buffer, *syncbuf.Buffer) {
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(append(os.Environ(), envChild+"=1"), env...)
	out, errOut := &syncbuf.Buffer{}, &syncbuf.Buffer{}
	cmd.Stdout, cmd.Stderr = out, errOut
	return cmd, out, errOut
}

// logLines are the JSON log lines of out with the given msg.
func logLines(out, msg string) []map[string]any {
	var lines []map[string]any
	for _, line := range strings.Split(out, "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil && m["msg"] == msg {
			lines = append(lines, m)
		}
	}
	return lines
}

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
		err := run(context.Background(), []string{"-aws-endpoint", st.Endpoint, "-fake-shop", "1200", "-fake-shop-port", "0", "-fake-latency", "5ms"}, getenv, &out, &errOut, false)
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
		if v, _, _ := st.Depth(context.Background(), st.BackfillQueueURL); v != 1200 {
			t.Errorf("queue holds %d orders, want 1200", v)
		}
	})

	t.Run("terminal output, dry run", func(t *testing.T) {
		var out, errOut bytes.Buffer
		err := run(context.Background(), []string{"-aws-endpoint", st.Endpoint, "-fake-shop", "300", "-dry-run"}, env(map[string]string{"FAKE_SHOP_PORT": "0"}), &out, &errOut, true)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(out.String(), `"outcome": "would_do"`) || strings.Contains(out.String(), `"level"`) {
			t.Errorf("terminal output:\n%s", out.String())
		}
	})

	t.Run("no stack", func(t *testing.T) {
		var out bytes.Buffer
		err := run(context.Background(), []string{"-aws-endpoint", "http://127.0.0.1:1", "-fake-shop", "1"}, env(nil), &out, &out, false)
		if err == nil || !strings.Contains(err.Error(), "make run") {
			t.Errorf("err %v", err)
		}
	})

	// Ctrl-C in the middle of a backfill of the stand-in shop, then the
	// same command again: the second run serves the shop on the port the
	// first one chose (kept in the state table) and resumes where the first
	// stopped.
	t.Run("interrupted, then resumed", func(t *testing.T) {
		ctx := context.Background()
		if _, err := st.SQS.PurgeQueue(ctx, &sqs.PurgeQueueInput{QueueUrl: aws.String(st.BackfillQueueURL)}); err != nil {
			t.Fatal(err)
		}
		const orders = 6000
		args := []string{"-aws-endpoint", st.Endpoint, "-fake-shop", fmt.Sprint(orders), "-fake-latency", "100ms", "-steps", "handoff,backfill"}
		env := []string{"STATE_TABLE=resume-state", "LOG_LEVEL=info"}

		first, firstOut, firstErr := child(args, env...)
		if err := first.Start(); err != nil {
			t.Fatal(err)
		}
		defer first.Process.Kill()
		// 20 pages on the queue: pages are enqueued out of order, but at
		// most 16 at once, so the first ones are done and checkpointed.
		testwait.Eventually(t, 60*time.Second, func() error {
			if v, _, _ := st.Depth(ctx, st.BackfillQueueURL); v < 2000 {
				return fmt.Errorf("%d orders on the queue, waiting for 2000", v)
			}
			return nil
		})
		if err := first.Process.Signal(os.Interrupt); err != nil {
			t.Fatal(err)
		}
		err := first.Wait()
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != 1 {
			t.Fatalf("interrupted run: %v, want exit status 1\n%s", err, firstErr.String())
		}
		msg := firstErr.String()
		if !strings.Contains(msg, "interrupted after page ") || !strings.Contains(msg, "run the same command again") ||
			strings.Count(msg, "again") != 1 {
			t.Errorf("interrupted run says %q: want where it stopped and, once, how to resume", msg)
		}
		stopped, _, _ := st.Depth(ctx, st.BackfillQueueURL)

		second, out, secondErr := child(args, env...)
		if err := second.Run(); err != nil {
			t.Fatalf("second run: %v\n%s\n%s", err, secondErr.String(), out.String())
		}
		shopLine := func(out string) string {
			for _, line := range strings.Split(out, "\n") {
				if strings.HasPrefix(line, "stand-in WooCommerce with") {
					return line
				}
			}
			return ""
		}
		if a, b := shopLine(firstOut.String()), shopLine(out.String()); a == "" || a != b {
			t.Errorf("the runs' stand-in shops: %q, then %q; want the same URL", a, b)
		}
		started := logLines(out.String(), "backfill started")
		if len(started) != 1 || started[0]["resumed"] != true || started[0]["page"].(float64) <= 1 {
			t.Fatalf("second run's start %v: want resumed from a page after the first\n%s", started, out.String())
		}
		reports := logLines(out.String(), "activation report")
		if len(reports) != 1 {
			t.Fatalf("no report:\n%s", out.String())
		}
		b := reports[0]["report"].(map[string]any)["backfill"].(map[string]any)
		if b["outcome"] != activate.OutcomeComplete || b["orders_enqueued"] != float64(orders) || b["invocations"] != float64(2) ||
			b["orders_enqueued_this_invocation"].(float64) >= orders {
			t.Errorf("second run's backfill %v: want complete, %d orders in 2 runs, fewer in this one", b, orders)
		}
		// Resumed, not restarted: the orders the first run queued are not
		// queued again (at most the pages after its last checkpoint write).
		if v, _, _ := st.Depth(ctx, st.BackfillQueueURL); v < orders || v >= orders+stopped {
			t.Errorf("queue holds %d orders after both runs (%d after the first): want %d plus at most a few pages sent twice", v, stopped, orders)
		}
	})
}

// -h prints the usage, including how to try the command, and is not a
// failure; with no shop configured the error says how to try it.
func TestUsage(t *testing.T) {
	for _, tc := range []struct {
		name     string
		args     []string
		wantExit int
		wantOut  string
		wantErr  string
	}{
		{"help", []string{"-h"}, 0, `make activate ARGS="-fake-shop 500"`, ""},
		{"unknown flag", []string{"-nope"}, 2, "Usage: make activate", ""},
		{"no shop", []string{"-aws-endpoint", "http://127.0.0.1:1"}, 1, "", `STORE_URL, WOO_CONSUMER_KEY and WOO_CONSUMER_SECRET`},
		{"stray argument", []string{"500"}, 1, "", `ARGS="-fake-shop 500 -dry-run"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmd, out, errOut := child(tc.args, "STORE_URL=")
			err := cmd.Run()
			code := 0
			var exit *exec.ExitError
			if errors.As(err, &exit) {
				code = exit.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			all := out.String() + errOut.String()
			if code != tc.wantExit || !strings.Contains(all, tc.wantOut) || !strings.Contains(errOut.String(), tc.wantErr) {
				t.Errorf("exit %d, want %d; output:\n%s", code, tc.wantExit, all)
			}
			if tc.name == "no shop" && !strings.Contains(errOut.String(), tryIt) {
				t.Errorf("no hint to try it with %s:\n%s", tryIt, errOut.String())
			}
		})
	}
	if _, err := parse([]string{"-h"}, func(string) string { return "" }, &bytes.Buffer{}); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("parse -h: %v", err)
	}
}

// The stand-in shop serves the same orders with the same dates on every
// run, so a checkpoint's cut-off still holds for it.
func TestFakeShopIsTheSameOnEveryRun(t *testing.T) {
	get := func() string {
		url, stop, err := startFakeShop(context.Background(), nil, "", options{fakeShop: 3})
		if err != nil {
			t.Fatal(err)
		}
		defer stop()
		req, _ := http.NewRequest(http.MethodGet, url+"/wp-json/wc/v3/orders?per_page=100", nil)
		req.SetBasicAuth(fakewoo.Key, fakewoo.Secret)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var orders []struct {
			ID      int64  `json:"id"`
			Created string `json:"date_created_gmt"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&orders); err != nil || len(orders) != 3 {
			t.Fatalf("orders %v: %v", orders, err)
		}
		return fmt.Sprint(orders)
	}
	if a, b := get(), get(); a != b {
		t.Errorf("two runs' shops differ: %s, then %s", a, b)
	}
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

// On a terminal, warnings start on a line of their own below the progress
// bar, and the report (printed as indented JSON) is not logged as well.
func TestTerminalLog(t *testing.T) {
	var out, errOut bytes.Buffer
	bar := &progressBar{w: &out}
	log := slog.New(skipMsg{slog.NewJSONHandler(lineBreaker{bar, &errOut}, nil), reportMsg}).With("run_id", "r1")
	for _, tc := range []struct {
		msg  string
		kept bool
	}{
		{reportMsg, false},
		{"backfill checkpoint is for another shop or status filter; starting over", true},
	} {
		out.Reset()
		errOut.Reset()
		bar.update(activate.Progress{PagesDone: 1, PagesTotal: 2, Final: true})
		log.Warn(tc.msg)
		if got := strings.Contains(errOut.String(), tc.msg); got != tc.kept {
			t.Errorf("%q logged: %v, want %v", tc.msg, got, tc.kept)
		}
		if tc.kept && !strings.HasSuffix(out.String(), "\n") {
			t.Errorf("the bar's line was not ended before the log line: %q", out.String())
		}
	}
}

// What an interrupted run says, with and without a checkpoint table.
func TestInterruptedMessage(t *testing.T) {
	rep := activate.Report{Backfill: &activate.BackfillReport{PagesDone: 25, PagesTotal: 200, OrdersEnqueued: 2500}}
	for _, tc := range []struct {
		table string
		rep   activate.Report
		want  string
	}{
		{"local-state", rep, "interrupted after page 25 of 200 (2500 orders on the queue); the checkpoint is in the local stack's state table local-state: run the same command again (same shop, same `make run`) to resume from page 26"},
		{"", rep, "interrupted after page 25 of 200 (2500 orders on the queue); without STATE_TABLE the progress lived in this process only, so a new run starts over: set STATE_TABLE=local-state to make an interrupted run resumable"},
		{"local-state", activate.Report{}, "interrupted; the checkpoint is in the local stack's state table local-state: run the same command again (same shop, same `make run`) to resume"},
	} {
		if got := interrupted(tc.rep, tc.table).Error(); got != tc.want {
			t.Errorf("table %q:\n got %s\nwant %s", tc.table, got, tc.want)
		}
	}
}
