// Package pipeline assembles the hot path for a local run or a test: the
// real webhook and forwarder handlers, built by webhook.New and forwarder.New
// from their configuration exactly as functions/webhook and
// functions/forwarder build them, but with the local stack in place of AWS;
// the webhook served over HTTP as API Gateway would, and the forwarder fed by
// emulated SQS event source mappings: one for the orders queue, and one for
// the backfill queue running forwarder.BackfillInvocations invocations at
// once, as template.yaml's MaximumConcurrency does.
package pipeline

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/logistos-sync/logistos-sync/local/apigw"
	"github.com/logistos-sync/logistos-sync/local/esm"
	"github.com/logistos-sync/logistos-sync/local/stack"
	"github.com/logistos-sync/logistos-sync/shared/config"
	"github.com/logistos-sync/logistos-sync/shared/forwarder"
	"github.com/logistos-sync/logistos-sync/shared/metrics"
	"github.com/logistos-sync/logistos-sync/shared/webhook"
)

// Function timeouts and the route, as template.yaml sets them.
const (
	WebhookTimeout   = 10 * time.Second
	ForwarderTimeout = 60 * time.Second
	WebhookPath      = webhook.PathHome
	// ShopWebhookPath is a hub shop's route: WebhookPath, a slash and
	// the shop's id.
	ShopWebhookPath = WebhookPath + "/{" + webhook.PathParamShop + "}"
	// readHeaderTimeout bounds a client that never finishes its headers.
	readHeaderTimeout = 10 * time.Second
)

// Functions are the two hot-path handlers and the configuration each was
// built from.
type Functions struct {
	Webhook   *webhook.Handler
	Forwarder *forwarder.Handler
	// Backfill are the forwarder's warm containers for the backfill queue,
	// forwarder.BackfillInvocations of them, each with a pacer of its own
	// as each Lambda container has.
	Backfill        []*forwarder.Handler
	WebhookConfig   config.Webhook
	ForwarderConfig config.Forwarder
}

// New builds both functions on st. vars are the settings a deployment's
// template would give them (STORE_URL, FORWARD_TOPICS, LOGISTOS_ORDERS_URL,
// LOG_LEVEL); the stack supplies the rest (st.FunctionEnv): the queue URLs,
// the webhook secret's ARN, read through Secrets Manager as in AWS, and the
// ledger table when the stack has one. log receives both handlers' logs,
// metrics their EMF lines (discarded when nil).
func New(st *stack.Stack, vars map[string]string, log *slog.Logger, metricsOut io.Writer) (*Functions, error) {
	if metricsOut == nil {
		metricsOut = io.Discard
	}
	var f Functions
	var err error
	if f.WebhookConfig, err = config.LoadWebhook(config.FromMap(st.FunctionEnv(stack.Webhook, vars))); err != nil {
		return nil, err
	}
	if f.ForwarderConfig, err = config.LoadForwarder(config.FromMap(st.FunctionEnv(stack.Forwarder, vars))); err != nil {
		return nil, err
	}
	if f.Webhook, err = webhook.New(f.WebhookConfig, st.AWS, log.With("function", "webhook"), metrics.New(metricsOut, "webhook")); err != nil {
		return nil, err
	}
	f.Forwarder = forwarder.New(f.ForwarderConfig, st.AWS, log.With("function", "forwarder"), metrics.New(metricsOut, "forwarder"))
	for range forwarder.BackfillInvocations {
		f.Backfill = append(f.Backfill, forwarder.New(f.ForwarderConfig, st.AWS, log.With("function", "forwarder"), metrics.New(metricsOut, "forwarder")))
	}
	return &f, nil
}

// Serve returns the webhook's HTTP API: POST WebhookPath and POST
// ShopWebhookPath (the shop's id as a path parameter), 404/405 otherwise.
// Both routes exist in every stack, as in template.yaml; the handler
// answers 404 on the one its kind of stack does not use.
func Serve(h *webhook.Handler, log *slog.Logger) http.Handler {
	home := apigw.Route(http.MethodPost, WebhookPath, &apigw.Handler{Func: h.Handle, Timeout: WebhookTimeout, Log: log})
	perShop := apigw.Route(http.MethodPost, ShopWebhookPath, &apigw.Handler{Func: h.Handle, Timeout: WebhookTimeout, Log: log})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := apigw.Match(ShopWebhookPath, r); ok {
			perShop.ServeHTTP(w, r)
			return
		}
		home.ServeHTTP(w, r)
	})
}

// Poller feeds st's orders queue to h as the event source mapping does.
func Poller(st *stack.Stack, h *forwarder.Handler, log *slog.Logger) *esm.Poller {
	return poller(st, st.QueueURL, st.QueueARN, h, log)
}

// Pollers are the forwarder's event sources on st: the orders queue's, fed
// to f.Forwarder, and the backfill queue's, one poller per container of
// f.Backfill, so that as many backfill batches are in flight at once as in
// AWS.
func (f *Functions) Pollers(st *stack.Stack, log *slog.Logger) []*esm.Poller {
	ps := []*esm.Poller{Poller(st, f.Forwarder, log)}
	for _, h := range f.Backfill {
		ps = append(ps, poller(st, st.BackfillQueueURL, st.BackfillQueueARN, h, log))
	}
	return ps
}

func poller(st *stack.Stack, url, arn string, h *forwarder.Handler, log *slog.Logger) *esm.Poller {
	return &esm.Poller{
		Client:          st.SQS,
		QueueURL:        url,
		QueueARN:        arn,
		Region:          stack.Region,
		Handler:         h.Handle,
		FunctionTimeout: ForwarderTimeout,
		Log:             log,
	}
}

// Run serves the webhook on ln and polls the queues until ctx ends, then
// shuts everything down: requests in flight finish, the batches in flight
// are settled. It returns once everything has stopped.
func Run(ctx context.Context, ln net.Listener, srv http.Handler, pollers []*esm.Poller, log *slog.Logger) error {
	hs := &http.Server{Handler: srv, ReadHeaderTimeout: readHeaderTimeout}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	pctx, stopPoll := context.WithCancel(ctx)
	var polling sync.WaitGroup
	for _, p := range pollers {
		polling.Go(func() { _ = p.Run(pctx) })
	}

	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
		err = fmt.Errorf("webhook server on %s: %w", ln.Addr(), err)
	}
	shutCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), WebhookTimeout)
	defer cancel()
	if serr := hs.Shutdown(shutCtx); serr != nil {
		log.Warn("webhook server shutdown", "error", serr.Error())
	}
	stopPoll()
	polling.Wait()
	return err
}
