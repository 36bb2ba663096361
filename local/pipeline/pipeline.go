// Package pipeline assembles the hot path for a local run or a test: the
// real webhook and forwarder handlers, built as functions/webhook and
// functions/forwarder build them, wired to a local stack instead of AWS, with
// the webhook served over HTTP as API Gateway would and the forwarder fed by
// an emulated SQS event source mapping.
package pipeline

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/logistos-sync/logistos-sync/local/apigw"
	"github.com/logistos-sync/logistos-sync/local/esm"
	"github.com/logistos-sync/logistos-sync/local/stack"
	"github.com/logistos-sync/logistos-sync/shared/config"
	"github.com/logistos-sync/logistos-sync/shared/forwarder"
	"github.com/logistos-sync/logistos-sync/shared/logistos"
	"github.com/logistos-sync/logistos-sync/shared/metrics"
	"github.com/logistos-sync/logistos-sync/shared/queue"
	"github.com/logistos-sync/logistos-sync/shared/secret"
	"github.com/logistos-sync/logistos-sync/shared/webhook"
)

// Function timeouts and the route, as template.yaml sets them.
const (
	WebhookTimeout   = 10 * time.Second
	ForwarderTimeout = 60 * time.Second
	WebhookPath      = "/woocommerce/webhook"
	// readHeaderTimeout bounds a client that never finishes its headers.
	readHeaderTimeout = 10 * time.Second
)

// Options are what differs between a local run and a test.
type Options struct {
	StoreURL  string   // STORE_URL
	Topics    []string // FORWARD_TOPICS
	OrdersURL string   // LOGISTOS_ORDERS_URL
	// Log receives both handlers' logs; Metrics their EMF lines (discarded
	// when nil).
	Log     *slog.Logger
	Metrics io.Writer
}

// Webhook builds the webhook handler on st: the secret is read through
// Secrets Manager (the path a deployment takes), messages go to st's queue.
func Webhook(st *stack.Stack, o Options) (*webhook.Handler, error) {
	secrets, err := secret.Open(st.Secrets, st.WebhookSecretARN, "")
	if err != nil {
		return nil, fmt.Errorf("webhook secret: %w", err)
	}
	return &webhook.Handler{
		Secrets:  secrets,
		Queue:    &queue.Sender{Client: st.SQS, QueueURL: st.QueueURL},
		Topics:   config.Set(o.Topics),
		StoreURL: o.StoreURL,
		Log:      o.log().With("function", "webhook"),
		Metrics:  metrics.New(o.metrics(), "webhook"),
	}, nil
}

// Forwarder builds the forwarder handler on st, posting to o.OrdersURL.
func Forwarder(st *stack.Stack, o Options) *forwarder.Handler {
	return &forwarder.Handler{
		Logistos: &logistos.Client{HTTP: logistos.NewHTTPClient(), OrdersURL: o.OrdersURL},
		Queues:   &forwarder.Queues{Client: st.SQS, DLQURL: st.DLQURL},
		StoreURL: logistos.StoreURL(o.StoreURL),
		Topics:   config.Set(o.Topics),
		Log:      o.log().With("function", "forwarder"),
		Metrics:  metrics.New(o.metrics(), "forwarder"),
	}
}

// Serve returns the webhook's HTTP API: POST WebhookPath, 404/405 otherwise.
func Serve(h *webhook.Handler, log *slog.Logger) http.Handler {
	return apigw.Route(http.MethodPost, WebhookPath, &apigw.Handler{Func: h.Handle, Timeout: WebhookTimeout, Log: log})
}

// Poller feeds st's orders queue to h as the event source mapping does.
func Poller(st *stack.Stack, h *forwarder.Handler, log *slog.Logger) *esm.Poller {
	return &esm.Poller{
		Client:          st.SQS,
		QueueURL:        st.QueueURL,
		QueueARN:        st.QueueARN,
		Region:          stack.Region,
		Handler:         h.Handle,
		FunctionTimeout: ForwarderTimeout,
		Log:             log,
	}
}

func (o Options) log() *slog.Logger {
	if o.Log != nil {
		return o.Log
	}
	return slog.New(slog.DiscardHandler)
}

func (o Options) metrics() io.Writer {
	if o.Metrics != nil {
		return o.Metrics
	}
	return io.Discard
}

// Run serves the webhook on ln and polls the queue until ctx ends, then
// shuts both down: requests in flight finish, the batch in flight is
// settled. It returns once everything has stopped.
func Run(ctx context.Context, ln net.Listener, srv http.Handler, p *esm.Poller, log *slog.Logger) error {
	hs := &http.Server{Handler: srv, ReadHeaderTimeout: readHeaderTimeout}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	pollDone := make(chan struct{})
	pctx, stopPoll := context.WithCancel(ctx)
	go func() { defer close(pollDone); _ = p.Run(pctx) }()

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
	<-pollDone
	return err
}
