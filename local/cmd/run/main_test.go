package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/logistos-sync/logistos-sync/internal/testwait"
	"github.com/logistos-sync/logistos-sync/local/stack"
	"github.com/logistos-sync/logistos-sync/local/syncbuf"
)

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
}

// waitFor waits until the runner's output shows what.
func waitFor(t *testing.T, out *syncbuf.Buffer, what string) {
	t.Helper()
	testwait.Eventually(t, 20*time.Second, func() error {
		if s := out.String(); !strings.Contains(s, what) {
			return fmt.Errorf("output does not show %q:\n%s", what, s)
		}
		return nil
	})
}

var (
	curlURL    = regexp.MustCompile(`curl -sS -w '[^']*' '([^']+)'`)
	curlHeader = regexp.MustCompile(`-H '([^:]+): ([^']*)'`)
	curlData   = regexp.MustCompile(`--data-binary @'([^']+)'`)
	redriveCmd = regexp.MustCompile(`make redrive ARGS="-queue-url (\S+) -dlq-url (\S+)"`)
)

// The runner starts, its banner's curl command delivers an order that
// reaches the printed Logistos capture, and cancelling stops it cleanly.
func TestRunBannerCurlReachesLogistos(t *testing.T) {
	t.Setenv(envPort, freePort(t))
	awsPort := freePort(t)
	t.Setenv(envAWSPort, awsPort)
	t.Setenv("LOGISTOS_ORDERS_URL", "")
	t.Setenv("WEBHOOK_SECRET", "")
	t.Setenv("STORE_URL", "")
	shopPort := freePort(t)
	t.Setenv(envShopPort, shopPort)
	out := &syncbuf.Buffer{}
	logs := &syncbuf.Buffer{}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- run(ctx, slog.New(slog.NewJSONHandler(logs, nil)), out) }()
	waitFor(t, out, "Ctrl-C stops everything.")

	banner := out.String()
	// The redrive command names the queues on the port the emulator is
	// exposed on, not kumo's fixed 4566.
	redrive := redriveCmd.FindStringSubmatch(banner)
	local := "http://127.0.0.1:" + awsPort + "/000000000000/"
	if redrive == nil || redrive[1] != local+stack.QueueName || redrive[2] != local+stack.DLQName {
		t.Errorf("banner's redrive command %q, want the queues at %s:\n%s", redrive, local, banner)
	}

	// Send what the banner's curl command sends.
	url := curlURL.FindStringSubmatch(banner)
	data := curlData.FindStringSubmatch(banner)
	if url == nil || data == nil {
		t.Fatalf("banner has no complete curl command:\n%s", banner)
	}
	body, err := os.ReadFile(data[1])
	if err != nil {
		t.Fatalf("the curl command's body file: %v", err)
	}
	req, _ := http.NewRequest(http.MethodPost, url[1], bytes.NewReader(body))
	for _, h := range curlHeader.FindAllStringSubmatch(banner, -1) {
		req.Header.Set(h[1], h[2])
	}
	// The delivery names the shop make run serves (its STORE_URL) as its
	// source, as WooCommerce would.
	if got, want := req.Header.Get("X-WC-Webhook-Source"), "http://127.0.0.1:"+shopPort+"/"; got != want {
		t.Errorf("the curl command's X-WC-Webhook-Source is %q, want the stand-in shop %q", got, want)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	answer, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("the banner's curl command got %d %s\nlogs:\n%s", resp.StatusCode, answer, logs.String())
	}
	waitFor(t, out, "Logistos received POST /integration/woo_commerce_orders")
	waitFor(t, out, `"total": "1849.00"`)
	if !strings.Contains(out.String(), "Idempotency-Key: ") {
		t.Error("the printout lacks the Idempotency-Key")
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("run returned %v after cancel", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("run did not stop after cancel")
	}
	if !strings.Contains(logs.String(), "local pipeline stopped") {
		t.Error("no log line for the stop")
	}
}

// -h prints the settings and is not a failure; anything else on the
// command line is refused with the usage.
func TestArgs(t *testing.T) {
	for _, tc := range []struct {
		args     []string
		code     int
		done     bool
		wantOut  string
		wantErrs string
	}{
		{nil, 0, false, "", ""},
		{[]string{"-h"}, 0, true, "AWS_PORT", ""},
		{[]string{"--help"}, 0, true, "AWS_PORT", ""},
		{[]string{"-port", "3001"}, 2, true, "", "flag provided but not defined"},
		{[]string{"extra"}, 2, true, "", "unexpected arguments"},
	} {
		var out, errOut bytes.Buffer
		code, done := parseArgs(tc.args, &out, &errOut)
		if code != tc.code || done != tc.done || !strings.Contains(out.String(), tc.wantOut) || !strings.Contains(errOut.String(), tc.wantErrs) {
			t.Errorf("%q: exit %d (done %v), want %d (%v); stdout %q, stderr %q", tc.args, code, done, tc.code, tc.done, out.String(), errOut.String())
		}
	}
}
