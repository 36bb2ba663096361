// Command reconcile is `make reconcile`: one reconcile sweep, the reconcile
// function's handler run on this machine against a shop, with the local
// stack of `make run` as AWS (its orders queue, webhook secret, state and
// ledger tables). It prints the sweep's report.
//
// The shop is STORE_URL with WOO_CONSUMER_KEY and WOO_CONSUMER_SECRET: the
// sweep starts from the cut-off `make activate` stored (run it with
// STATE_TABLE=logistos-sync-state LEDGER_TABLE=logistos-sync-ledger). Or
// -fake-shop N starts a stand-in WooCommerce in this process with N orders,
// activates it on tables of its own, then places -fake-missed orders whose
// webhook deliveries fail (7 failures make the shop disable the webhook), so
// the sweep shows what it recovers and repairs.
//
//	make run                                              # in another terminal
//	make reconcile ARGS="-fake-shop 100 -fake-missed 12"
//	make reconcile ARGS="-dry-run"                        # STORE_URL etc. from the environment
package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/logistos-sync/logistos-sync/local/fakewoo"
	"github.com/logistos-sync/logistos-sync/local/stack"
	"github.com/logistos-sync/logistos-sync/shared/activate"
	"github.com/logistos-sync/logistos-sync/shared/config"
	"github.com/logistos-sync/logistos-sync/shared/logging"
	"github.com/logistos-sync/logistos-sync/shared/metrics"
	"github.com/logistos-sync/logistos-sync/shared/reconcile"
)

const (
	// defaultWebhookURL is make run's webhook.
	defaultWebhookURL = "http://127.0.0.1:3000/woocommerce/webhook"
	// defaultEndpoint is make run's AWS emulator.
	defaultEndpoint = "http://127.0.0.1:4566"
	// dialTimeout bounds the look for the local stack.
	dialTimeout = 5 * time.Second
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	switch {
	case errors.Is(err, flag.ErrHelp):
		// -h: the usage is printed; asking for it is not a failure.
	case err != nil:
		fmt.Fprintln(os.Stderr, "reconcile:", err)
		os.Exit(1)
	}
}

// options are the command's flags.
type options struct {
	dryRun     bool
	since      string
	endpoint   string
	fakeShop   int
	fakeMissed int
}

func parse(args []string, getenv func(string) string, out io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("reconcile", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.BoolVar(&o.dryRun, "dry-run", false, "report what the sweep would queue and repair; write nothing")
	fs.StringVar(&o.since, "since", "", "start the window here (RFC 3339) instead of at the high-water mark")
	fs.StringVar(&o.endpoint, "aws-endpoint", cmp.Or(getenv("AWS_ENDPOINT_URL"), defaultEndpoint), "the local stack of `make run`; env AWS_ENDPOINT_URL")
	fs.IntVar(&o.fakeShop, "fake-shop", 0, "start a stand-in WooCommerce with this many orders in this process, instead of STORE_URL")
	fs.IntVar(&o.fakeMissed, "fake-missed", 12, "with -fake-shop: orders placed whose webhook deliveries fail")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	return o, nil
}

func run(ctx context.Context, args []string, getenv func(string) string, out, errOut io.Writer) error {
	o, err := parse(args, getenv, out)
	if err != nil {
		return err
	}
	ev := reconcile.Event{DryRun: o.dryRun}
	if o.since != "" {
		t, err := time.Parse(time.RFC3339, o.since)
		if err != nil {
			return fmt.Errorf("-since %q: want RFC 3339, e.g. 2026-11-01T00:00:00Z", o.since)
		}
		ev.Since = &t
	}
	dctx, cancel := context.WithTimeout(ctx, dialTimeout)
	st, err := stack.Dial(dctx, o.endpoint)
	cancel()
	if err != nil {
		return fmt.Errorf("%w (start `make run` in another terminal first)", err)
	}

	vars := map[string]string{config.StateTable: stack.StateTableName, config.LedgerTable: stack.LedgerTableName,
		config.WebhookURL: defaultWebhookURL}
	for _, name := range []string{config.StoreURL, config.WooConsumerKey, config.WooConsumerSecret, config.WebhookURL,
		config.StateTable, config.LedgerTable, config.ReconcileGrace, config.ForwardTopics, config.LogLevel} {
		if v := getenv(name); v != "" {
			vars[name] = v
		}
	}
	log := logging.New(errOut, cmp.Or(vars[config.LogLevel], "warn"))

	var shop *fakewoo.Shop
	if o.fakeShop > 0 {
		// The stand-in's clock runs behind by more than the grace, so the
		// orders it places are old enough to be reconciled at once.
		behind := time.Now().Add(-config.MaxReconcileGrace)
		shop = fakewoo.Start(fakewoo.Options{Orders: o.fakeShop, Now: func() time.Time { return behind }, DeliveryTimeout: time.Second})
		defer shop.Close()
		vars[config.StoreURL], vars[config.WooConsumerKey], vars[config.WooConsumerSecret] = shop.URL, fakewoo.Key, fakewoo.Secret
		// Tables of this run's own: a stand-in shop's ids would collide
		// with a real shop's in make run's tables.
		suffix := fmt.Sprintf("-fake-%d", time.Now().UnixNano())
		vars[config.StateTable], vars[config.LedgerTable] = stack.StateTableName+suffix, stack.LedgerTableName+suffix
	}
	if err := st.EnsureTables(ctx, vars[config.StateTable], vars[config.LedgerTable]); err != nil {
		return err
	}
	cfg, err := config.LoadReconcile(config.FromMap(st.FunctionEnv(stack.Reconcile, vars)))
	if err != nil {
		return err
	}
	h, err := reconcile.New(cfg, st.AWS, log, metrics.New(io.Discard, "reconcile-local"))
	if err != nil {
		return err
	}
	if shop != nil {
		if err := prepare(ctx, shop, vars, st, o.fakeMissed, out); err != nil {
			return err
		}
	}
	rep, err := h.Handle(ctx, ev)
	b, _ := json.MarshalIndent(rep, "", "  ")
	fmt.Fprintf(out, "%s\n", b)
	if err != nil && errors.Is(ctx.Err(), context.Canceled) {
		return fmt.Errorf("interrupted: %w (the next sweep covers the window again)", err)
	}
	return err
}

// prepare activates the stand-in shop (webhook and backfill, on the same
// tables), then places missed orders whose deliveries fail.
func prepare(ctx context.Context, shop *fakewoo.Shop, vars map[string]string, st *stack.Stack, missed int, out io.Writer) error {
	cfg, err := config.LoadActivate(config.FromMap(st.FunctionEnv(stack.Activate, vars)))
	if err != nil {
		return err
	}
	a, err := activate.New(cfg, st.AWS, logging.New(io.Discard, "warn"), metrics.New(io.Discard, "activate-local"))
	if err != nil {
		return err
	}
	if _, err := a.Handle(ctx, activate.Event{Steps: []string{activate.StepWebhook, activate.StepBackfill}}); err != nil {
		return fmt.Errorf("activate the stand-in shop: %w", err)
	}
	// As if the endpoint were unreachable from the shop while they were
	// placed: no delivery arrives, each counts as failed.
	shop.FailDeliveries(true)
	shop.PlaceOrders(missed)
	shop.FailDeliveries(false)
	status := shop.Webhooks()[0].Status
	fmt.Fprintf(out, "stand-in WooCommerce at %s: %d orders backfilled, %d placed while deliveries failed (webhook now %s)\n",
		shop.URL, shop.MaxID()-int64(missed), missed, status)
	return nil
}
