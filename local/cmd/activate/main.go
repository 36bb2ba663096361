// Command activate is `make activate`: the activate function's handler run
// on this machine against a shop, with the local stack of `make run` as AWS
// (its backfill queue and webhook secret). The backfill has no Lambda
// deadline here, so it runs to the end in one go.
//
// The shop is STORE_URL with WOO_CONSUMER_KEY and WOO_CONSUMER_SECRET, or a
// stand-in WooCommerce started in this process with -fake-shop N. Logistos
// is LOGISTOS_CREDENTIALS_URL, or by default a local stand-in that only
// says what it received (nothing real is contacted unless configured).
// WEBHOOK_URL defaults to make run's webhook. STATE_TABLE names a
// table in the local DynamoDB (created when missing), which makes an
// interrupted run resumable and gives make run's reconcile its cut-off;
// unset, progress lives in this process only. LEDGER_TABLE likewise records
// what the backfill queued, for reconcile.
//
// The stand-in shop's orders and clock are the same on every run. It
// listens on a free port, or -fake-shop-port (env FAKE_SHOP_PORT); with
// STATE_TABLE, on the port the table's last run used, so that a re-run is
// the same shop (the same URL) and resumes from the checkpoint.
//
//	make activate                                   # STORE_URL etc. from the environment
//	make activate ARGS="-fake-shop 20000 -steps backfill"
//	make activate ARGS="-fake-shop 500 -dry-run"
package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	dtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/logistos-sync/logistos-sync/local/fakelogistos"
	"github.com/logistos-sync/logistos-sync/local/fakewoo"
	"github.com/logistos-sync/logistos-sync/local/stack"
	"github.com/logistos-sync/logistos-sync/shared/activate"
	"github.com/logistos-sync/logistos-sync/shared/config"
	"github.com/logistos-sync/logistos-sync/shared/ledger"
	"github.com/logistos-sync/logistos-sync/shared/logging"
	"github.com/logistos-sync/logistos-sync/shared/metrics"
	"github.com/logistos-sync/logistos-sync/shared/state"
)

const (
	// defaultWebhookURL is make run's webhook.
	defaultWebhookURL = "http://127.0.0.1:3000/woocommerce/webhook"
	// defaultEndpoint is make run's AWS emulator.
	defaultEndpoint = "http://127.0.0.1:4566"
	// dialTimeout bounds the look for the local stack.
	dialTimeout = 5 * time.Second
	// plainProgressEvery is how often progress is logged without a terminal.
	plainProgressEvery = 5 * time.Second
	// envFakeShopPort sets the stand-in shop's port, as -fake-shop-port.
	envFakeShopPort = "FAKE_SHOP_PORT"
	// envSteps and envDryRun are the flags' environment forms.
	envSteps  = "ACTIVATE_STEPS"
	envDryRun = "DRY_RUN"
	// tryIt is how to try the command without a shop.
	tryIt = `make activate ARGS="-fake-shop 500"`
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr, isTerminal(os.Stdout))
	switch {
	case errors.Is(err, flag.ErrHelp):
		// -h: the usage is printed; asking for it is not a failure.
	case errors.Is(err, errUsage):
		os.Exit(2)
	case err != nil:
		fmt.Fprintln(os.Stderr, "activate:", err)
		os.Exit(1)
	}
}

// isTerminal reports whether f is a terminal (a character device).
func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// options are the command's flags.
type options struct {
	steps          string
	dryRun         bool
	force, restart bool
	endpoint       string
	fakeShop       int
	fakeShopPort   int
	fakeLatency    time.Duration
}

// errUsage is a command line the flag package refused (it has said why).
var errUsage = errors.New("bad command line")

const usageHeader = `Usage: make activate ARGS="[flags]"   (or: cd local && go run ./cmd/activate [flags])

Runs activation (handoff, webhook, backfill) on this machine, with the local
stack of a running ` + "`make run`" + ` as AWS. The shop is STORE_URL with
WOO_CONSUMER_KEY and WOO_CONSUMER_SECRET, or a stand-in with -fake-shop N:

  make activate ARGS="-fake-shop 500"            # try it: a stand-in shop with 500 orders
  make activate ARGS="-fake-shop 500 -dry-run"   # what it would do, writing nothing

Environment: STORE_URL, WOO_CONSUMER_KEY, WOO_CONSUMER_SECRET, WEBHOOK_URL,
LOGISTOS_CREDENTIALS_URL, STATE_TABLE (set it, e.g. to
local-state, to make an interrupted run resumable), LEDGER_TABLE, BACKFILL_CONCURRENCY,
BACKFILL_STATUS, LOG_LEVEL, and the flags' variables named below.

Flags:
`

func parse(args []string, getenv func(string) string, out io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("activate", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), usageHeader)
		fs.PrintDefaults()
	}
	shopPort := 0
	if v := getenv(envFakeShopPort); v != "" {
		p, err := strconv.Atoi(v)
		if err != nil || p < 0 || p > 65535 {
			return o, fmt.Errorf("%s=%q: want a port number (0 = chosen as without it)", envFakeShopPort, v)
		}
		shopPort = p
	}
	fs.StringVar(&o.steps, "steps", getenv(envSteps), "comma list of steps: handoff,webhook,backfill (default all); env "+envSteps)
	fs.BoolVar(&o.dryRun, "dry-run", getenv(envDryRun) == "1" || getenv(envDryRun) == "true", "report what would happen, write nothing; env "+envDryRun+"=1")
	fs.BoolVar(&o.force, "force", false, "hand the credentials to Logistos again even if already done")
	fs.BoolVar(&o.restart, "restart", false, "backfill from the start even if a backfill completed or is part-way")
	fs.StringVar(&o.endpoint, "aws-endpoint", cmp.Or(getenv("AWS_ENDPOINT_URL"), defaultEndpoint), "the AWS endpoint of make run's local stack; env AWS_ENDPOINT_URL")
	fs.IntVar(&o.fakeShop, "fake-shop", 0, "start a stand-in WooCommerce with this many orders in this process, instead of STORE_URL")
	fs.IntVar(&o.fakeShopPort, "fake-shop-port", shopPort, "the stand-in shop's port on 127.0.0.1 (default: a free one; with STATE_TABLE, the one the table's last run used, so that a re-run resumes); env "+envFakeShopPort)
	fs.DurationVar(&o.fakeLatency, "fake-latency", 50*time.Millisecond, "how long the stand-in shop takes per page of orders")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return o, err
		}
		return o, errUsage
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments %q (flags go in ARGS: make activate ARGS=\"-fake-shop 500 -dry-run\")", fs.Args())
	}
	return o, nil
}

func run(ctx context.Context, args []string, getenv func(string) string, out, errOut io.Writer, tty bool) error {
	o, err := parse(args, getenv, out)
	if err != nil {
		return err
	}
	if o.fakeShop == 0 && getenv(config.StoreURL) == "" {
		return fmt.Errorf("no shop to activate: set %s, %s and %s to a shop and its REST API key, or try it with a stand-in shop: %s",
			config.StoreURL, config.WooConsumerKey, config.WooConsumerSecret, tryIt)
	}
	dctx, cancel := context.WithTimeout(ctx, dialTimeout)
	st, err := stack.Dial(dctx, o.endpoint)
	cancel()
	if err != nil {
		return fmt.Errorf("%w (start `make run` in another terminal first; if it runs with AWS_PORT=N, set AWS_ENDPOINT_URL=http://127.0.0.1:N here)", err)
	}

	vars := map[string]string{}
	for _, name := range []string{config.StoreURL, config.WooConsumerKey, config.WooConsumerSecret, config.WebhookURL,
		config.LogistosCredentialsURL, config.StateTable, config.LedgerTable, config.BackfillConcurrency, config.BackfillStatus, config.LogLevel} {
		if v := getenv(name); v != "" {
			vars[name] = v
		}
	}
	if vars[config.WebhookURL] == "" {
		vars[config.WebhookURL] = defaultWebhookURL
	}
	if table := vars[config.StateTable]; table != "" {
		if err := stack.EnsureTable(ctx, st.DynamoDB, table, state.AttrID, dtypes.ScalarAttributeTypeS); err != nil {
			return err
		}
	}
	if table := vars[config.LedgerTable]; table != "" {
		if err := stack.EnsureTable(ctx, st.DynamoDB, table, ledger.AttrOrderID, dtypes.ScalarAttributeTypeN); err != nil {
			return err
		}
	}
	if o.fakeShop > 0 {
		url, stopShop, err := startFakeShop(ctx, st, vars[config.StateTable], o)
		if err != nil {
			return err
		}
		defer stopShop()
		vars[config.StoreURL], vars[config.WooConsumerKey], vars[config.WooConsumerSecret] = url, fakewoo.Key, fakewoo.Secret
		fmt.Fprintf(out, "stand-in WooCommerce with %d orders at %s\n", o.fakeShop, url)
	}
	if vars[config.LogistosCredentialsURL] == "" {
		capture := &fakelogistos.Server{}
		srv := httptest.NewServer(capture)
		defer srv.Close()
		defer reportCaptured(out, capture)
		vars[config.LogistosCredentialsURL] = srv.URL + fakelogistos.CredentialsPath
	}
	cfg, err := config.LoadActivate(config.FromMap(st.FunctionEnv(stack.Activate, vars)))
	if err != nil {
		return err
	}

	// On a terminal the progress bar owns stdout and only warnings are
	// logged (to stderr); otherwise the JSON log lines are the output.
	bar := &progressBar{w: out}
	log := logging.New(out, cfg.LogLevel)
	if tty {
		// Warnings on their own line below the bar; the report is printed
		// as indented JSON, not logged as well.
		log = slog.New(skipMsg{logging.New(lineBreaker{bar, errOut}, "warn").Handler(), reportMsg})
	}
	h, err := activate.New(cfg, st.AWS, log, metrics.New(io.Discard, "activate-local"))
	if err != nil {
		return err
	}
	if tty {
		h.Progress = bar.update
	} else {
		h.ProgressEvery = plainProgressEvery
	}

	ev := activate.Event{DryRun: o.dryRun, Force: o.force, Restart: o.restart}
	if o.steps != "" {
		ev.Steps = strings.Split(o.steps, ",")
	}
	for {
		rep, err := h.Handle(ctx, ev)
		if tty {
			bar.done()
			printReport(out, rep)
		}
		if err != nil {
			if errors.Is(ctx.Err(), context.Canceled) {
				return interrupted(rep, vars[config.StateTable])
			}
			return err
		}
		if rep.Next == nil {
			return nil
		}
		ev = *rep.Next // a local run never hits a Lambda deadline, but loop as Lambda would
	}
}

// reportMsg is the log line that carries the whole report.
const reportMsg = "activation report"

// skipMsg drops the records with one message.
type skipMsg struct {
	slog.Handler
	msg string
}

func (h skipMsg) Handle(ctx context.Context, r slog.Record) error {
	if r.Message == h.msg {
		return nil
	}
	return h.Handler.Handle(ctx, r)
}

func (h skipMsg) WithAttrs(as []slog.Attr) slog.Handler {
	return skipMsg{h.Handler.WithAttrs(as), h.msg}
}
func (h skipMsg) WithGroup(name string) slog.Handler {
	return skipMsg{h.Handler.WithGroup(name), h.msg}
}

// lineBreaker ends the progress bar's line before a log line is written.
type lineBreaker struct {
	bar *progressBar
	w   io.Writer
}

func (l lineBreaker) Write(p []byte) (int, error) {
	l.bar.done()
	return l.w.Write(p)
}

// interrupted says where an interrupted run stopped and whether running the
// same command again resumes it.
func interrupted(rep activate.Report, table string) error {
	where, from := "", ""
	if b := rep.Backfill; b != nil && b.PagesTotal > 0 {
		where = fmt.Sprintf(" after page %d of %d (%d orders on the queue)", b.PagesDone, b.PagesTotal, b.OrdersEnqueued)
		from = fmt.Sprintf(" from page %d", b.PagesDone+1)
	}
	if table == "" {
		return fmt.Errorf("interrupted%s; without %s the progress lived in this process only, so a new run starts over: "+
			"set %s=local-state to make an interrupted run resumable", where, config.StateTable, config.StateTable)
	}
	return fmt.Errorf("interrupted%s; the checkpoint is in the local stack's state table %s: run the same command again "+
		"(same shop, same `make run`) to resume%s", where, table, from)
}

// reportCaptured says what the local Logistos stand-in received, without
// the secret.
func reportCaptured(out io.Writer, capture *fakelogistos.Server) {
	for _, r := range capture.Requests() {
		var c struct {
			StoreURL    string `json:"store_url"`
			ConsumerKey string `json:"consumer_key"`
		}
		_ = json.Unmarshal(r.Body, &c)
		fmt.Fprintf(out, "Logistos (local stand-in) received the credentials of %s, key %s…, secret withheld here\n",
			c.StoreURL, c.ConsumerKey[:min(len(c.ConsumerKey), 7)])
	}
}

// printReport writes the report as indented JSON.
func printReport(out io.Writer, rep activate.Report) {
	b, _ := json.MarshalIndent(rep, "", "  ")
	fmt.Fprintf(out, "%s\n", b)
}
