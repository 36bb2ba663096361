// Command run is `make run`: the whole hot path on this machine. The real
// webhook handler behind an API Gateway emulation on 127.0.0.1:3000, the
// orders queue and its DLQ in embedded kumo (also on 127.0.0.1:4566 for the
// aws CLI and the other make targets), the real forwarder fed by an
// emulated SQS event source mapping, and Logistos: LOGISTOS_ORDERS_URL, or a
// local stand-in that prints each payload it receives.
//
// When a shop is configured (STORE_URL with WOO_CONSUMER_KEY and
// WOO_CONSUMER_SECRET), reconcile also runs every RECONCILE_EVERY (default
// 1m), on the state and ledger tables the stack creates in kumo; `make
// activate` with STATE_TABLE and LEDGER_TABLE set to them fixes the cut-off
// it starts from.
//
// It also serves connect's three routes on the same port. Without STORE_URL
// it starts a stand-in shop (SHOP_PORT, default 8089, with SHOP_ORDERS
// orders) whose app authorization screen approves or
// denies; when the key arrives, activation runs in this process, so the
// whole connect → handoff → webhook → backfill chain runs on one machine.
//
// HUB=true runs it as a hub instead (hub.go): no STORE_URL, the shops
// table sealed under a KMS key, two stand-in shops (SHOP_PORT and
// SHOP_PORT+1) to connect through connect's routes, each shop's webhook
// route, and reconcile's sweeps fanned out per shop on the sweep queue.
//
// Settings come from the functions' variables (STORE_URL, FORWARD_TOPICS,
// LOGISTOS_ORDERS_URL, WEBHOOK_SECRET, WOO_CONSUMER_KEY, WOO_CONSUMER_SECRET,
// RECONCILE_GRACE, LOG_LEVEL) plus PORT, AWS_PORT, RECONCILE_EVERY and HUB.
// Ctrl-C stops everything and exits 0.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/logistos-sync/logistos-sync/local/delivery"
	"github.com/logistos-sync/logistos-sync/local/fakelogistos"
	"github.com/logistos-sync/logistos-sync/local/fakewoo"
	"github.com/logistos-sync/logistos-sync/local/pipeline"
	"github.com/logistos-sync/logistos-sync/local/stack"
	"github.com/logistos-sync/logistos-sync/shared/activate"
	"github.com/logistos-sync/logistos-sync/shared/config"
	"github.com/logistos-sync/logistos-sync/shared/connect"
	"github.com/logistos-sync/logistos-sync/shared/logging"
	"github.com/logistos-sync/logistos-sync/shared/metrics"
	"github.com/logistos-sync/logistos-sync/shared/reconcile"
)

// Runner settings beyond the functions' own variables.
const (
	envPort    = "PORT"     // the webhook's port
	envAWSPort = "AWS_PORT" // the emulator's port
	// envReconcileEvery is how often reconcile sweeps locally: shorter than
	// the template's 15 minutes, so a local test of a missed delivery
	// does not wait long.
	envReconcileEvery = "RECONCILE_EVERY"
	// envRetryEvery replaces the forwarder's retry schedule (seconds to
	// minutes, then hours while Logistos is down) with one fixed delay, so
	// that an order reaches the waiting queue in seconds when the stand-in
	// Logistos is taken down.
	envRetryEvery = "RETRY_EVERY"
	// envHub runs make run as a hub (hub.go).
	envHub = "HUB"
	// envShopPort and envShopOrders shape the stand-in shop started when
	// STORE_URL is unset (make activate's stand-ins take other, free ports).
	envShopPort           = "SHOP_PORT"
	envShopOrders         = "SHOP_ORDERS"
	defaultFakeShopPort   = fakewoo.Port
	defaultFakeShopOrders = 20
	maxFakeShopOrders     = 1000000
	defaultReconcileEvery = time.Minute
	defaultPort           = 3000
	loopback              = "127.0.0.1"
	maxPort               = 65535
	exitMessage           = "make run cannot start"
)

const usage = `Usage: make run   (or: go -C local run ./cmd/run)

Runs the whole pipeline on this machine: the webhook on 127.0.0.1:$PORT, the
orders queue and its DLQ in an embedded AWS emulator on 127.0.0.1:$AWS_PORT,
the forwarder, and a Logistos stand-in that prints what it receives; and
connect's routes on the same port, with a stand-in shop to approve on and
activation run here when the key arrives. Ctrl-C stops everything.

It takes no flags; settings are environment variables:
  PORT                 the API's port: webhook and connect routes (3000)
  AWS_PORT             the AWS emulator's port (4566); make activate then needs
                       AWS_ENDPOINT_URL=http://127.0.0.1:$AWS_PORT
  STORE_URL            the shop (default: a stand-in shop on 127.0.0.1:$SHOP_PORT)
  SHOP_PORT            the stand-in shop's port (8089)
  SHOP_ORDERS          the stand-in shop's orders, which activation backfills (20)
  WEBHOOK_SECRET       the webhook secret (local-webhook-secret)
  FORWARD_TOPICS       topics forwarded (order.created)
  LOGISTOS_ORDERS_URL  send payloads there instead of printing them
  RECONCILE_EVERY      how often reconcile runs (1m): its sweep, and the canary
                       that brings back the orders waiting for Logistos
  RETRY_EVERY          a fixed delay between a failed POST and its retry instead
                       of the schedule (10s, 30s, 90s, 8m; slower while Logistos
                       is down), e.g. 2s to watch an outage in a minute
  LOG_LEVEL            info; debug also prints the metric lines
  HUB                  true runs a hub (STORE_URL unset): two stand-in shops on
                       $SHOP_PORT and $SHOP_PORT+1, each connected through
                       connect's routes, its orders sent with its own store_url
`

func main() {
	if code, done := parseArgs(os.Args[1:], os.Stdout, os.Stderr); done {
		os.Exit(code)
	}
	log := logging.New(os.Stderr, os.Getenv(config.LogLevel))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, log, os.Stdout); err != nil {
		logging.Exit(log, exitMessage, err)
	}
}

// parseArgs handles the command line, which only asks for help: it returns
// the exit code and true when the command should exit without running.
func parseArgs(args []string, out, errOut io.Writer) (int, bool) {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(io.Discard) // the messages are written below, once
	err := fs.Parse(args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		fmt.Fprint(out, usage)
		return 0, true
	case err != nil:
		fmt.Fprintf(errOut, "run: %v\n\n%s", err, usage)
		return 2, true
	case fs.NArg() > 0:
		fmt.Fprintf(errOut, "run: unexpected arguments %q\n\n%s", fs.Args(), usage)
		return 2, true
	}
	return 0, false
}

func run(ctx context.Context, log *slog.Logger, out io.Writer) error {
	env := config.FromOS()
	port := env.Int(envPort, defaultPort, 1, maxPort)
	awsPort := env.Int(envAWSPort, stack.DefaultPort, 1, maxPort)
	secretValue := env.String(config.WebhookSecret, stack.DefaultWebhookSecret)
	every := env.Duration(envReconcileEvery, defaultReconcileEvery, time.Second, 24*time.Hour)
	retryEvery := env.Duration(envRetryEvery, 0, time.Second, 12*time.Hour)
	shopPort := env.Int(envShopPort, defaultFakeShopPort, 1, maxPort)
	shopOrders := env.Int(envShopOrders, defaultFakeShopOrders, 0, maxFakeShopOrders)
	hub := env.Bool(envHub, false)
	if err := env.Err(); err != nil {
		return err
	}
	if hub {
		return runHub(ctx, log, out, hubSettings{port: port, awsPort: awsPort, shopPort: shopPort, shopOrders: shopOrders,
			secret: secretValue, every: every, retryEvery: retryEvery})
	}

	// The listener first, so a busy port fails before anything starts.
	ln, err := listenAPI(port)
	if err != nil {
		return err
	}
	defer ln.Close()

	capture, err := startCapture(out)
	if err != nil {
		return err
	}
	if capture != nil {
		defer capture.Close()
	}

	shopLine, standIn := "STORE_URL (not started here)", ""
	if os.Getenv(config.StoreURL) == "" {
		stop, err := standInShop(shopPort, shopOrders, false)
		if err != nil {
			// The rest works without it (another make run or make activate
			// may hold the port): say so and go on.
			shopLine = fmt.Sprintf("off: %v (choose another port with %s)", err, envShopPort)
		} else {
			defer stop()
			standIn = localShopURL(shopPort)
			shopLine = fmt.Sprintf("stand-in WooCommerce with %d orders at %s", shopOrders, standIn)
		}
	}

	st, err := stack.Start(ctx, stack.Options{Port: awsPort, WebhookSecret: secretValue, Tables: true})
	if err != nil {
		return err
	}
	defer st.Close()

	metricsOut := metricsWriter()
	vars := settings(capture, shopPort)
	fns, err := pipeline.New(st, vars, log, metricsOut)
	if err != nil {
		return err
	}
	cfg := fns.ForwarderConfig
	if retryEvery > 0 {
		for _, h := range append(fns.Backfill, fns.Forwarder) {
			h.Backoff = func(int) time.Duration { return retryEvery }
		}
	}

	url := "http://" + ln.Addr().String() + pipeline.WebhookPath
	rec, err := reconciler(st, url, standIn, cfg.OrdersURL, log, metricsOut)
	if err != nil {
		return err
	}
	conn, err := connector(ctx, st, vars, url, capture, log, metricsOut, out)
	if err != nil {
		return err
	}
	if err := banner(out, url, st, capture, cfg, secretValue); err != nil {
		return err
	}
	connectURL := strings.TrimSuffix(url, pipeline.WebhookPath) + connect.PathConnect
	fmt.Fprintf(out, "Connect      open %s in a browser and click Approve\n             shop: %s\n\n", connectURL, shopLine)
	if conn.Activation.Err != nil {
		fmt.Fprintf(out, "Activation   off: %v\n             (a connect keeps the key pending but cannot start activation)\n\n", conn.Activation.Err)
	}
	if rec != nil {
		fmt.Fprintf(out, "Reconcile    every %s against %s (tables %s, %s): run `STATE_TABLE=%s LEDGER_TABLE=%s make activate` once first\n\n",
			every, rec.StoreURL, st.StateTable, st.LedgerTable, st.StateTable, st.LedgerTable)
		go reconcileEvery(ctx, rec, every)
	} else {
		fmt.Fprintf(out, "Reconcile    off: set STORE_URL, WOO_CONSUMER_KEY and WOO_CONSUMER_SECRET to run it every %s\n"+
			"             (orders waiting for Logistos are then not brought back: make redrive does it by hand)\n\n", every)
	}
	log.Info("local pipeline ready", "webhook", url, "aws_endpoint", st.Endpoint, "logistos", cfg.OrdersURL)
	err = pipeline.Run(ctx, ln, pipeline.Routes(fns.Webhook, conn.Handler, log), fns.Pollers(st, log), log)
	conn.Activation.Wait()
	log.Info("local pipeline stopped")
	return err
}

// listenAPI listens on the API's port, or says how to choose another.
func listenAPI(port int) (net.Listener, error) {
	ln, err := net.Listen("tcp", net.JoinHostPort(loopback, strconv.Itoa(port)))
	if err != nil {
		return nil, fmt.Errorf("listen for the webhook on port %d: %w (another `make run` running? choose another port with %s, e.g. %s=%d make run, "+
			"and give make demo and make activate WEBHOOK_URL=http://127.0.0.1:%d%s)", port, err, envPort, envPort, port+1, port+1, pipeline.WebhookPath)
	}
	return ln, nil
}

// reconciler builds reconcile as functions/reconcile does, on the local
// stack's tables, when a shop is configured, or else for the stand-in shop
// at standIn when it runs; nil otherwise.
// Its canary goes where the forwarder sends orders (logistosURL).
func reconciler(st *stack.Stack, webhookURL, standIn, logistosURL string, log *slog.Logger, metricsOut io.Writer) (*reconcile.Handler, error) {
	vars := map[string]string{config.WebhookURL: webhookURL, config.LogistosOrdersURL: logistosURL}
	if standIn != "" {
		vars[config.StoreURL], vars[config.WooConsumerKey], vars[config.WooConsumerSecret] = standIn, fakewoo.Key, fakewoo.Secret
	}
	for _, name := range []string{config.StoreURL, config.WooConsumerKey, config.WooConsumerSecret, config.ForwardTopics,
		config.ReconcileGrace, config.LogLevel, config.BackfillRate} {
		if v := os.Getenv(name); v != "" {
			vars[name] = v
		}
	}
	if vars[config.StoreURL] == "" || vars[config.WooConsumerKey] == "" || vars[config.WooConsumerSecret] == "" {
		return nil, nil
	}
	cfg, err := config.LoadReconcile(config.FromMap(st.FunctionEnv(stack.Reconcile, vars)))
	if err != nil {
		return nil, err
	}
	return reconcile.New(cfg, st.AWS, log.With("function", "reconcile"), metrics.New(metricsOut, "reconcile"))
}

// reconcileEvery sweeps every interval until ctx ends, as the template's
// schedule does; each sweep logs its report.
func reconcileEvery(ctx context.Context, h *reconcile.Handler, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			_, _ = h.Handle(ctx, reconcile.Event{})
		}
	}
}

// settings are the functions' variables as this shell sets them, with a
// local shop by default and the capture standing in for an unset Logistos
// URL.
func settings(capture *fakelogistos.Server, shopPort int) map[string]string {
	vars := map[string]string{config.StoreURL: localShopURL(shopPort)}
	for _, name := range []string{config.StoreURL, config.ForwardTopics, config.LogistosOrdersURL, config.BackfillRate, config.LogLevel} {
		if v := os.Getenv(name); v != "" {
			vars[name] = v
		}
	}
	if capture != nil {
		vars[config.LogistosOrdersURL] = capture.OrdersURL()
	}
	return vars
}

// startCapture starts the stand-in Logistos that prints what it receives,
// unless LOGISTOS_ORDERS_URL names a real one (nil then).
func startCapture(out io.Writer) (*fakelogistos.Server, error) {
	if os.Getenv(config.LogistosOrdersURL) != "" {
		return nil, nil
	}
	capture := &fakelogistos.Server{Print: out}
	if err := capture.Start(net.JoinHostPort(loopback, "0")); err != nil {
		return nil, err
	}
	return capture, nil
}

// localShopURL is the stand-in shop's URL.
func localShopURL(port int) string { return "http://" + net.JoinHostPort(loopback, strconv.Itoa(port)) }

// standInShop serves a stand-in WooCommerce with n orders on port; its app
// authorization may call back make run's plain-http callback on this
// machine. With placeOrders it also serves fakewoo.PathPlaceOrder.
func standInShop(port, n int, placeOrders bool) (func(), error) {
	ln, err := net.Listen("tcp", net.JoinHostPort(loopback, strconv.Itoa(port)))
	if err != nil {
		return nil, fmt.Errorf("stand-in shop: %w", err)
	}
	shop := fakewoo.New(fakewoo.Options{Orders: n, AllowLoopbackHTTPCallback: true, PlaceOrderRoute: placeOrders})
	shop.URL = localShopURL(port)
	srv := &http.Server{Handler: shop, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return func() { _ = srv.Close() }, nil
}

// connector builds connect with activation in this process, as the
// deployed stack starts activate; each activation's outcome is printed.
func connector(ctx context.Context, st *stack.Stack, vars map[string]string, webhookURL string, capture *fakelogistos.Server,
	log *slog.Logger, metricsOut io.Writer, out io.Writer) (*pipeline.Connect, error) {
	cv := map[string]string{config.WebhookURL: webhookURL}
	for k, v := range vars {
		cv[k] = v
	}
	if v := os.Getenv(config.LogistosCredentialsURL); v != "" {
		cv[config.LogistosCredentialsURL] = v
	} else if capture != nil {
		cv[config.LogistosCredentialsURL] = capture.CredentialsURL()
	}
	c, err := pipeline.NewConnect(ctx, st, cv, log, metricsOut)
	if err != nil {
		return nil, err
	}
	c.Activation.OnReport = func(storeURL string, rep activate.Report) { printActivation(out, storeURL, rep) }
	return c, nil
}

// printActivation tells the make run terminal what the activation that a
// connect started did (its full report is in the logs); a hub's names its
// shop (storeURL, "" for the home shop).
func printActivation(out io.Writer, storeURL string, rep activate.Report) {
	name := "Activation"
	if storeURL != "" {
		name += " of " + storeURL
	}
	switch {
	case rep.Outcome != "":
		fmt.Fprintf(out, "── %s: %s: %s\n", name, rep.Outcome, rep.Detail)
	case !rep.OK:
		fmt.Fprintf(out, "── %s failed: %s\n", name, rep.Error)
	default:
		line := "── " + name + " done:"
		if rep.Key != nil {
			line += " key " + rep.Key.Outcome + ","
		}
		if rep.Handoff != nil {
			line += " handoff " + rep.Handoff.Outcome + ","
		}
		if rep.Webhook != nil {
			line += " webhook " + rep.Webhook.Outcome + ","
		}
		if rep.Backfill != nil {
			line += fmt.Sprintf(" backfill %s (%d orders)", rep.Backfill.Outcome, rep.Backfill.OrdersEnqueued)
		}
		fmt.Fprintln(out, line)
	}
}

// banner tells the user where everything is, how to send an order and how
// to redrive the DLQ. The redrive command's queue URLs are on the port the
// emulator is exposed on (kumo's own always say 4566), so that it works
// with any AWS_PORT.
func banner(out io.Writer, url string, st *stack.Stack, capture *fakelogistos.Server, cfg config.Forwarder, secretValue string) error {
	ordersURL := cfg.OrdersURL
	body, path, err := delivery.ReadFixture(delivery.SampleOrder)
	if err != nil {
		return fmt.Errorf("sample order for the banner: %w", err)
	}
	logistosLine := "sent to " + ordersURL + " (LOGISTOS_ORDERS_URL)"
	outage := ""
	if capture != nil {
		logistosLine = "printed below (local stand-in at " + ordersURL + "; set LOGISTOS_ORDERS_URL to send them elsewhere)"
		outage = fmt.Sprintf(`An outage: take the stand-in Logistos down, send orders, bring it back:
  curl -sS -X POST '%s?state=down'    then    curl -sS -X POST '%s?state=up'
Failed orders wait on %s after 5 tries (RETRY_EVERY=2s make run: seconds);
the next reconcile run (RECONCILE_EVERY) sends one and, once it goes through, moves the rest back.

`, capture.SwitchURL(), capture.SwitchURL(), stack.WaitingQueueName)
	}
	_, err = fmt.Fprintf(out, `
logistos-sync is running locally

  Webhook      POST %s
  Logistos     %s
  AWS (kumo)   %s   queue %s, backfill %s (%d POSTs a second, BACKFILL_RATE), waiting %s, DLQ %s
               AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local AWS_DEFAULT_REGION=%s \
                 aws --endpoint-url %s sqs get-queue-attributes --attribute-names All --queue-url %s
  Secret       Secrets Manager %s (value from WEBHOOK_SECRET, default %q)
  Redrive      make redrive ARGS="-queue-url %s -dlq-url %s"

Send a correctly signed sample order (or run `+"`make demo`"+` in another terminal):

%s

The ping: curl -sS -d webhook_id=1 %s
Ctrl-C stops everything.

%s`, url, logistosLine, st.Endpoint, stack.QueueName, stack.BackfillQueueName, cfg.BackfillRate, stack.WaitingQueueName, stack.DLQName, stack.Region, st.Endpoint, st.QueueURL,
		stack.WebhookSecretName, stack.DefaultWebhookSecret, st.ReachableURL(st.QueueURL), st.ReachableURL(st.DLQURL),
		// From the shop configured, as WooCommerce sends it (with a slash).
		delivery.Delivery{Source: strings.TrimSuffix(cfg.StoreURL, "/") + "/"}.Curl(url, path, body, secretValue), url, outage)
	return err
}
