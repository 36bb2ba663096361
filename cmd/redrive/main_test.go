package main

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/logistos-sync/logistos-sync/shared/config"
)

// envRunMain makes the test binary run main instead of the tests, so that
// exit statuses and the split between stdout and stderr are checked on the
// real entry point without building anything.
const envRunMain = "REDRIVE_TEST_RUN_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(envRunMain) != "" {
		os.Args = append(os.Args[:1], strings.Fields(os.Getenv(envRunMain))[1:]...)
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// runMain runs main with args in a child process with only env set.
func runMain(t *testing.T, args string, env ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append([]string{envRunMain + "=redrive " + args, "HOME=" + t.TempDir()}, env...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatal(err)
	}
	return o.String(), e.String(), cmd.ProcessState.ExitCode()
}

func TestHelpExitsZero(t *testing.T) {
	for _, arg := range []string{"-h", "-help", "--help"} {
		out, errOut, code := runMain(t, arg)
		if code != 0 || errOut != "" {
			t.Errorf("%s: exit %d, stderr %q; want 0 and nothing", arg, code, errOut)
		}
		for _, want := range []string{"Usage: redrive", "-queue-url", "-dlq-url", "-rate", "-poll", "OrdersQueueUrl", "describe-stacks", "make run"} {
			if !strings.Contains(out, want) {
				t.Errorf("%s: usage lacks %q:\n%s", arg, want, out)
			}
		}
	}
}

func TestErrorsGoToStderrWithStatus1(t *testing.T) {
	tests := []struct {
		name, args string
		env        []string
		want       []string
	}{
		{"no URLs", "", nil, []string{"-queue-url or QUEUE_URL", "-dlq-url or DLQ_URL", "OrdersQueueUrl", "DeadLetterQueueUrl", "describe-stacks", "make run"}},
		{"DLQ from env only", "", []string{config.DLQURL + "=https://sqs.eu-west-1.amazonaws.com/123456789012/dlq"}, []string{"the orders queue URL (-queue-url or QUEUE_URL)"}},
		{"unknown flag", "-queue", nil, []string{"flag provided but not defined", "redrive -h"}},
		{"mismatched accounts", "-queue-url https://sqs.eu-west-1.amazonaws.com/123456789012/q -dlq-url https://sqs.eu-west-1.amazonaws.com/210987654321/d", nil, []string{"account 123456789012", "account 210987654321"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, errOut, code := runMain(t, tt.args, tt.env...)
			if code != 1 || out != "" {
				t.Errorf("exit %d, stdout %q; want 1 and nothing", code, out)
			}
			if !strings.HasPrefix(errOut, "redrive: ") {
				t.Errorf("stderr %q does not start with redrive:", errOut)
			}
			for _, w := range tt.want {
				if !strings.Contains(errOut, w) {
					t.Errorf("stderr lacks %q:\n%s", w, errOut)
				}
			}
		})
	}
}

func TestParseQueueURL(t *testing.T) {
	tests := []struct {
		url                    string
		account, region, local string
	}{
		{"https://sqs.eu-west-1.amazonaws.com/123456789012/logistos-sync-orders", "123456789012", "eu-west-1", ""},
		{"https://sqs.ap-south-1.amazonaws.com/123456789012/orders-dlq/", "123456789012", "ap-south-1", ""},
		{"https://eu-central-1.queue.amazonaws.com/123456789012/orders", "123456789012", "eu-central-1", ""},
		{"https://queue.amazonaws.com/123456789012/orders", "123456789012", "us-east-1", ""},
		{"https://sqs.cn-north-1.amazonaws.com.cn/123456789012/orders", "123456789012", "cn-north-1", ""},
		{"https://sqs-fips.us-gov-west-1.amazonaws.com/123456789012/orders", "123456789012", "us-gov-west-1", ""},
		{"https://vpce-0abc-1def.sqs.us-west-2.vpce.amazonaws.com/123456789012/orders", "123456789012", "us-west-2", ""},
		{"https://SQS.US-EAST-2.AMAZONAWS.COM/123456789012/orders", "123456789012", "us-east-2", ""},
		{"http://localhost:4566/000000000000/logistos-sync-orders", "000000000000", "", "http://localhost:4566"},
		{"http://127.0.0.1:4570/000000000000/logistos-sync-orders-dlq", "000000000000", "", "http://127.0.0.1:4570"},
		{"https://sqs.example.internal/123456789012/orders", "123456789012", "", ""},
	}
	for _, tt := range tests {
		q, err := parseQueueURL(tt.url)
		if err != nil {
			t.Errorf("%s: %v", tt.url, err)
			continue
		}
		if q.Account != tt.account || q.Region != tt.region || q.Local != tt.local || q.URL != tt.url {
			t.Errorf("%s: got %+v, want account %q region %q local %q", tt.url, q, tt.account, tt.region, tt.local)
		}
	}
	for _, bad := range []string{
		"", "sqs.eu-west-1.amazonaws.com/123456789012/orders", "ftp://sqs.eu-west-1.amazonaws.com/123456789012/orders",
		"https://sqs.eu-west-1.amazonaws.com/orders", "https://sqs.eu-west-1.amazonaws.com/12345/orders",
		"https://sqs.eu-west-1.amazonaws.com/123456789012/", "https://sqs.eu-west-1.amazonaws.com/123456789012/a/b",
		"arn:aws:sqs:eu-west-1:123456789012:orders",
	} {
		if q, err := parseQueueURL(bad); err == nil {
			t.Errorf("%q parsed as %+v, want an error", bad, q)
		}
	}
}

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestPlan(t *testing.T) {
	const (
		q   = "https://sqs.eu-west-1.amazonaws.com/123456789012/logistos-sync-orders"
		dlq = "https://sqs.eu-west-1.amazonaws.com/123456789012/logistos-sync-orders-dlq"
		lq  = "http://localhost:4566/000000000000/logistos-sync-orders"
		ldl = "http://localhost:4566/000000000000/logistos-sync-orders-dlq"
	)
	t.Run("AWS", func(t *testing.T) {
		tg, err := plan(q, "https://eu-west-1.queue.amazonaws.com/123456789012/logistos-sync-orders-dlq", env(nil))
		if err != nil {
			t.Fatal(err)
		}
		if tg.Local || tg.Endpoint != "" || tg.Account != "123456789012" || tg.Region != "eu-west-1" {
			t.Errorf("%+v", tg)
		}
		d := tg.describe()
		for _, w := range []string{"account 123456789012", "region eu-west-1", "AWS", "from dead-letter queue " + tg.DLQ.URL, "to orders queue        " + q} {
			if !strings.Contains(d, w) {
				t.Errorf("description lacks %q:\n%s", w, d)
			}
		}
	})
	t.Run("local stack", func(t *testing.T) {
		tg, err := plan(lq, ldl, env(nil))
		if err != nil {
			t.Fatal(err)
		}
		if !tg.Local || tg.Endpoint != "http://localhost:4566" || tg.Account != "000000000000" || tg.Region != config.LocalRegion {
			t.Errorf("%+v", tg)
		}
		if d := tg.describe(); !strings.Contains(d, "local stack at http://localhost:4566") || !strings.Contains(d, "region "+config.LocalRegion) {
			t.Errorf("description:\n%s", d)
		}
	})
	t.Run("loopback URLs with AWS_ENDPOINT_URL", func(t *testing.T) {
		tg, err := plan(lq, ldl, env(map[string]string{envEndpoint: "http://127.0.0.1:9324"}))
		if err != nil {
			t.Fatal(err)
		}
		if tg.Local || tg.Endpoint != "http://127.0.0.1:9324" || tg.Region != "" {
			t.Errorf("AWS_ENDPOINT_URL must win over the URLs' host: %+v", tg)
		}
	})
	for _, tt := range []struct {
		name, q, dlq string
		want         []string
	}{
		{"missing orders queue", "", dlq, []string{"orders queue URL (-queue-url or QUEUE_URL)", "OrdersQueueUrl"}},
		{"missing both", "", "", []string{"-queue-url", "-dlq-url", "make run"}},
		{"other account", q, "https://sqs.eu-west-1.amazonaws.com/210987654321/logistos-sync-orders-dlq", []string{"account 123456789012", "account 210987654321"}},
		{"other region", q, "https://sqs.us-east-1.amazonaws.com/123456789012/logistos-sync-orders-dlq", []string{"region eu-west-1", "region us-east-1"}},
		{"local and AWS", "http://localhost:4566/123456789012/logistos-sync-orders", dlq, []string{"region (none named)", "region eu-west-1"}},
		{"two local stacks", lq, "http://127.0.0.1:4567/000000000000/logistos-sync-orders-dlq", []string{"http://localhost:4566", "http://127.0.0.1:4567"}},
		{"same queue twice", q, q, []string{"same queue"}},
		{"not a queue URL", "arn:aws:sqs:eu-west-1:123456789012:orders", dlq, []string{"orders queue:", "not an absolute"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := plan(tt.q, tt.dlq, env(nil))
			if err == nil {
				t.Fatal("planned")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q: %v", w, err)
				}
			}
		})
	}
}

// A local target needs no AWS setup, and when nothing answers the error
// says to start `make run`.
func TestLocalStackNotRunning(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String() + "/000000000000/"
	ln.Close()
	t.Setenv("AWS_PROFILE", "no-such-profile")
	t.Setenv("AWS_CONFIG_FILE", "/nonexistent")

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out bytes.Buffer
	err = run(ctx, []string{"-queue-url", base + "orders", "-dlq-url", base + "orders-dlq"}, env(nil), &out)
	if err == nil || !strings.Contains(err.Error(), "is `make run` running?") {
		t.Fatalf("err %v, want one saying to start make run", err)
	}
	if !strings.Contains(out.String(), "account 000000000000, region "+config.LocalRegion+": the local stack at") {
		t.Errorf("the target was not printed first:\n%s", out.String())
	}
}

func TestUnexpectedArguments(t *testing.T) {
	err := run(context.Background(), []string{"now"}, env(nil), &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "unexpected arguments") {
		t.Fatalf("err %v", err)
	}
}
