// Command activate is `make activate`: the activate function's handler run
// on this machine against a shop, with the local stack of `make run` as AWS
// (its orders queue and webhook secret). The backfill has no Lambda
// deadline here, so it runs to the end in one go.
//
// The shop is STORE_URL with WOO_CONSUMER_KEY and WOO_CONSUMER_SECRET, or a
// stand-in WooCommerce started in this process with -fake-shop N. Logistos
// is LOGISTOS_CREDENTIALS_URL, or by default a local stand-in that only
// says what it received (nothing real is contacted unless configured).
// WEBHOOK_URL defaults to make run's webhook. BACKFILL_CHECKPOINT names a
// table in the local DynamoDB (created when missing), which makes an
// interrupted run resumable; unset, progress lives in this process only.
//
//	make activate                                   # STORE_URL etc. from the environment
//	cd local && go run ./cmd/activate -fake-shop 20000 -steps backfill
//	cd local && go run ./cmd/activate -dry-run
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http/httptest"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	dtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/logistos-sync/logistos-sync/local/fakelogistos"
	"github.com/logistos-sync/logistos-sync/local/fakewoo"
	"github.com/logistos-sync/logistos-sync/local/stack"
	"github.com/logistos-sync/logistos-sync/shared/activate"
	"github.com/logistos-sync/logistos-sync/shared/config"
	"github.com/logistos-sync/logistos-sync/shared/logging"
	"github.com/logistos-sync/logistos-sync/shared/metrics"
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
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr, isTerminal(os.Stdout)); err != nil {
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
	fakeLatency    time.Duration
}

func parse(args []string, getenv func(string) string, out io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("activate", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.StringVar(&o.steps, "steps", getenv("ACTIVATE_STEPS"), "comma list of steps: handoff,webhook,backfill (default all); env ACTIVATE_STEPS")
	fs.BoolVar(&o.dryRun, "dry-run", getenv("DRY_RUN") == "1" || getenv("DRY_RUN") == "true", "report what would happen, write nothing; env DRY_RUN=1")
	fs.BoolVar(&o.force, "force", false, "hand the credentials to Logistos again even if already done")
	fs.BoolVar(&o.restart, "restart", false, "backfill from the start even if a backfill completed or is part-way")
	fs.StringVar(&o.endpoint, "aws-endpoint", firstOf(getenv("AWS_ENDPOINT_URL"), defaultEndpoint), "the local stack of `make run`; env AWS_ENDPOINT_URL")
	fs.IntVar(&o.fakeShop, "fake-shop", 0, "start a stand-in WooCommerce with this many orders in this process, instead of STORE_URL")
	fs.DurationVar(&o.fakeLatency, "fake-latency", 50*time.Millisecond, "how long the stand-in shop takes per page of orders")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	return o, nil
}

func firstOf(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}

func run(ctx context.Context, args []string, getenv func(string) string, out, errOut io.Writer, tty bool) error {
	o, err := parse(args, getenv, out)
	if err != nil {
		return err
	}
	dctx, cancel := context.WithTimeout(ctx, dialTimeout)
	st, err := stack.Dial(dctx, o.endpoint)
	cancel()
	if err != nil {
		return fmt.Errorf("%w (start `make run` in another terminal first)", err)
	}

	vars := map[string]string{}
	for _, name := range []string{config.StoreURL, config.WooConsumerKey, config.WooConsumerSecret, config.WebhookURL,
		config.LogistosCredentialsURL, config.BackfillCheckpoint, config.BackfillConcurrency, config.BackfillStatus, config.LogLevel} {
		if v := getenv(name); v != "" {
			vars[name] = v
		}
	}
	vars[config.QueueURL], vars[config.DLQURL], vars[config.WebhookSecret] = st.QueueURL, st.DLQURL, st.WebhookSecret
	if vars[config.WebhookURL] == "" {
		vars[config.WebhookURL] = defaultWebhookURL
	}
	if o.fakeShop > 0 {
		shop := fakewoo.Start(fakewoo.Options{Orders: o.fakeShop, Latency: o.fakeLatency})
		defer shop.Close()
		vars[config.StoreURL], vars[config.WooConsumerKey], vars[config.WooConsumerSecret] = shop.URL, fakewoo.Key, fakewoo.Secret
		fmt.Fprintf(out, "stand-in WooCommerce with %d orders at %s\n", o.fakeShop, shop.URL)
	}
	if vars[config.LogistosCredentialsURL] == "" {
		capture := &fakelogistos.Server{}
		srv := httptest.NewServer(capture)
		defer srv.Close()
		defer reportCaptured(out, capture)
		vars[config.LogistosCredentialsURL] = srv.URL + fakelogistos.CredentialsPath
	}
	if table := vars[config.BackfillCheckpoint]; table != "" {
		if err := ensureTable(ctx, dynamodb.NewFromConfig(st.AWS), table); err != nil {
			return err
		}
	}
	cfg, err := config.LoadActivate(config.FromMap(vars))
	if err != nil {
		return err
	}

	// On a terminal the progress bar owns stdout and only warnings are
	// logged (to stderr); otherwise the JSON log lines are the output.
	logOut, level := out, cfg.LogLevel
	if tty {
		logOut, level = errOut, "warn"
	}
	h, err := activate.New(cfg, st.AWS, logging.New(logOut, level), metrics.New(io.Discard, "activate-local"))
	if err != nil {
		return err
	}
	bar := &progressBar{w: out}
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
				return fmt.Errorf("interrupted: %w (with BACKFILL_CHECKPOINT set, run again to resume)", err)
			}
			return err
		}
		if rep.Next == nil {
			return nil
		}
		ev = *rep.Next // a local run never hits a Lambda deadline, but loop as Lambda would
	}
}

// ensureTable creates the checkpoint table in the local DynamoDB as the
// template does, unless it exists.
func ensureTable(ctx context.Context, db *dynamodb.Client, name string) error {
	if _, err := db.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: &name}); err == nil {
		return nil
	}
	_, err := db.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName:            &name,
		BillingMode:          dtypes.BillingModePayPerRequest,
		AttributeDefinitions: []dtypes.AttributeDefinition{{AttributeName: aws.String("id"), AttributeType: dtypes.ScalarAttributeTypeS}},
		KeySchema:            []dtypes.KeySchemaElement{{AttributeName: aws.String("id"), KeyType: dtypes.KeyTypeHash}},
	})
	if err != nil {
		return fmt.Errorf("create checkpoint table %s in the local stack: %w", name, err)
	}
	return nil
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
