package pipeline

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"sync"
	"time"

	"github.com/logistos-sync/logistos-sync/local/apigw"
	"github.com/logistos-sync/logistos-sync/local/stack"
	"github.com/logistos-sync/logistos-sync/shared/activate"
	"github.com/logistos-sync/logistos-sync/shared/config"
	"github.com/logistos-sync/logistos-sync/shared/connect"
	"github.com/logistos-sync/logistos-sync/shared/metrics"
	"github.com/logistos-sync/logistos-sync/shared/webhook"
)

// ConnectTimeout is the connect function's timeout, as template.yaml sets it.
const ConnectTimeout = 20 * time.Second

// localActivateFunction names activate locally; connect's configuration
// requires a name, which the in-process Activation makes unused.
const localActivateFunction = "local-activate"

// Connect is connect built on the local stack with activation run in this
// process, and the configuration each was built from.
type Connect struct {
	Handler        *connect.Handler
	Activation     *Activation
	ConnectConfig  config.Connect
	ActivateConfig config.Activate
}

// NewConnect builds connect and activate as functions/connect and
// functions/activate build them, on st: the state table (where connect
// keeps a key pending) and the credentials secret (where activation puts it
// once proven) are the stack's (st.FunctionEnv). vars are what a
// deployment's template gives them (STORE_URL, WEBHOOK_URL,
// LOGISTOS_CREDENTIALS_URL, LOG_LEVEL, ...). When connect starts
// activation, it runs here, in the background of ctx, as Lambda's
// asynchronous invoke would run it; a backfill's continuations run one
// after the other.
func NewConnect(ctx context.Context, st *stack.Stack, vars map[string]string, log *slog.Logger, metricsOut io.Writer) (*Connect, error) {
	connectVars := map[string]string{config.ActivateFunction: localActivateFunction}
	maps.Copy(connectVars, vars)
	connectEnv := st.FunctionEnv(stack.Connect, connectVars)
	activateEnv := st.FunctionEnv(stack.Activate, vars)
	if metricsOut == nil {
		metricsOut = io.Discard
	}
	var c Connect
	var err error
	if c.ConnectConfig, err = config.LoadConnect(config.FromMap(connectEnv)); err != nil {
		return nil, err
	}
	if c.Handler, err = connect.New(c.ConnectConfig, st.AWS, log.With("function", "connect"), metrics.New(metricsOut, "connect")); err != nil {
		return nil, err
	}
	alog := log.With("function", "activate")
	c.Activation = &Activation{ctx: context.WithoutCancel(ctx), Log: alog}
	// A shop activate cannot work with (plain http elsewhere than this
	// machine) still connects: the key is kept pending and starting activation
	// fails, as a broken activate function would in AWS.
	if c.ActivateConfig, c.Activation.Err = config.LoadActivate(config.FromMap(activateEnv)); c.Activation.Err == nil {
		c.Activation.Handler, c.Activation.Err = activate.New(c.ActivateConfig, st.AWS, alog, metrics.New(metricsOut, "activate"))
	}
	c.Handler.Activate = c.Activation
	return &c, nil
}

// Activation runs activate in this process when connect starts it.
type Activation struct {
	Handler *activate.Handler
	// Err is why activate cannot run here (its configuration); Start then
	// fails with it.
	Err error
	Log *slog.Logger
	// OnReport, when set, is called with each run's shop (its store_url,
	// "" for the home shop) and final report.
	OnReport func(storeURL string, rep activate.Report)

	ctx     context.Context
	wg      sync.WaitGroup
	mu      sync.Mutex
	reports []activate.Report
}

// Start runs activation for the key pending under ref (all steps) for the
// shop storeURL ("" for the home shop) in the background and returns at
// once, as an asynchronous invoke does.
func (a *Activation) Start(_ context.Context, ref, storeURL string) error {
	if a.Err != nil {
		return fmt.Errorf("activate cannot run: %w", a.Err)
	}
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		ev := activate.Event{PendingKey: ref, StoreURL: storeURL}
		for {
			rep, _ := a.Handler.Handle(a.ctx, ev) // the handler logs its report
			if rep.Next == nil || a.ctx.Err() != nil {
				a.mu.Lock()
				a.reports = append(a.reports, rep)
				a.mu.Unlock()
				if a.OnReport != nil {
					a.OnReport(storeURL, rep)
				}
				return
			}
			ev = *rep.Next
		}
	}()
	return nil
}

// Reports returns the final reports of the runs finished so far.
func (a *Activation) Reports() []activate.Report {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]activate.Report(nil), a.reports...)
}

// Wait returns once every started run has finished.
func (a *Activation) Wait() { a.wg.Wait() }

// Routes is the HTTP API: the webhook's route and connect's three, each
// answering as API Gateway does (404 for other paths, 405 for other
// methods). Either handler may be nil: its routes are then not served.
func Routes(wh *webhook.Handler, c *connect.Handler, log *slog.Logger) http.Handler {
	mux := http.NewServeMux()
	if wh != nil {
		mux.Handle(WebhookPath, Serve(wh, log))
		mux.Handle(WebhookPath+"/", Serve(wh, log)) // a hub's shops' routes
	}
	if c != nil {
		for method, path := range map[string]string{
			http.MethodGet:  connect.PathConnect,
			http.MethodPost: connect.PathCallback,
		} {
			mux.Handle(path, apigw.Route(method, path, &apigw.Handler{Func: c.Handle, Timeout: ConnectTimeout, Log: log}))
		}
		mux.Handle(connect.PathConnected, apigw.Route(http.MethodGet, connect.PathConnected,
			&apigw.Handler{Func: c.Handle, Timeout: ConnectTimeout, Log: log}))
	}
	// Any other path: API Gateway's 404 (this route never matches its path).
	mux.Handle("/", apigw.Route(http.MethodPost, "", &apigw.Handler{Log: log}))
	return mux
}
