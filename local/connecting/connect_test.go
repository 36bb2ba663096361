// Package connecting tests connect end to end on this machine: the real
// connect and activate handlers built as their functions build them, the
// stand-in WooCommerce's app authorization driven like a browser, embedded
// kumo (Secrets Manager, DynamoDB, SQS), the forwarder and the stand-in
// Logistos; and the real connect binary under the Lambda RIE.
package connecting

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/logistos-sync/logistos-sync/internal/testwait"
	"github.com/logistos-sync/logistos-sync/local/fakelogistos"
	"github.com/logistos-sync/logistos-sync/local/fakewoo"
	"github.com/logistos-sync/logistos-sync/local/pipeline"
	"github.com/logistos-sync/logistos-sync/local/stack"
	"github.com/logistos-sync/logistos-sync/local/stacktest"
	"github.com/logistos-sync/logistos-sync/local/syncbuf"
	"github.com/logistos-sync/logistos-sync/shared/activate"
	"github.com/logistos-sync/logistos-sync/shared/config"
	"github.com/logistos-sync/logistos-sync/shared/connect"
	"github.com/logistos-sync/logistos-sync/shared/logging"
	"github.com/logistos-sync/logistos-sync/shared/logistos"
	"github.com/logistos-sync/logistos-sync/shared/wooapi"
	"github.com/logistos-sync/logistos-sync/shared/wookey"
)

func TestMain(m *testing.M) { os.Exit(stacktest.RunTests(m)) }

// env is the local deployment: API (webhook + connect), forwarder,
// in-process activation, a shop and Logistos.
type env struct {
	t        *testing.T
	shop     *fakewoo.Shop
	st       *stack.Stack
	logistos *fakelogistos.Server
	c        *pipeline.Connect
	api      string // the HTTP API's base URL
	logs     *syncbuf.Buffer
	metrics  *syncbuf.Buffer // the EMF lines of every function
	browser  *http.Client
}

func newEnv(t *testing.T, orders int) *env {
	t.Helper()
	e := &env{t: t, logistos: &fakelogistos.Server{}, logs: &syncbuf.Buffer{}, metrics: &syncbuf.Buffer{},
		shop: fakewoo.Start(fakewoo.Options{Orders: orders, AllowLoopbackHTTPCallback: true})}
	t.Cleanup(e.shop.Close)
	lsrv := httptest.NewServer(e.logistos)
	t.Cleanup(lsrv.Close)
	e.st = stacktest.ForTest(t, stack.Options{Tables: true})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e.api = "http://" + ln.Addr().String()
	log := logging.New(e.logs, "info")
	vars := map[string]string{
		config.StoreURL:               e.shop.URL,
		config.LogistosOrdersURL:      lsrv.URL + fakelogistos.OrdersPath,
		config.LogistosCredentialsURL: lsrv.URL + fakelogistos.CredentialsPath,
		config.WebhookURL:             e.api + pipeline.WebhookPath,
		config.LedgerTable:            e.st.LedgerTable,
	}
	fns, err := pipeline.New(e.st, vars, log, e.metrics)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if e.c, err = pipeline.NewConnect(ctx, e.st, vars, log, e.metrics); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		done <- pipeline.Run(ctx, ln, pipeline.Routes(fns.Webhook, e.c.Handler, log), fns.Pollers(e.st, log), log)
	}()
	t.Cleanup(func() {
		cancel()
		e.c.Activation.Wait()
		<-done
		if t.Failed() {
			t.Logf("logs:\n%s", e.logs.String())
		}
	})
	e.browser = &http.Client{Timeout: 90 * time.Second}
	return e
}

// storedKey reads the credentials secret as activate does.
func (e *env) storedKey() wooapi.Key {
	e.t.Helper()
	out, err := e.st.Secrets.GetSecretValue(context.Background(), &secretsmanager.GetSecretValueInput{SecretId: &e.st.WooCredentialsSecretARN})
	if err != nil {
		e.t.Fatal(err)
	}
	var k wooapi.Key
	if err := json.Unmarshal([]byte(*out.SecretString), &k); err != nil {
		e.t.Fatal(err)
	}
	return k
}

// authorizeURL opens the connect URL without following the redirect and
// returns where it points and the state in it.
func (e *env) authorizeURL() (*url.URL, string) {
	e.t.Helper()
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noFollow.Get(e.api + connect.PathConnect)
	if err != nil {
		e.t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		e.t.Fatalf("connect answered %s", resp.Status)
	}
	u, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		e.t.Fatal(err)
	}
	return u, u.Query().Get("user_id")
}

// click plays the owner on the shop's authorize screen.
func (e *env) click(authorize *url.URL, approve bool) (int, string) {
	e.t.Helper()
	resp, err := fakewoo.Click(e.browser, authorize.String(), approve)
	return page(e.t, resp, err)
}

// page reads what the browser shows at the end.
func page(t *testing.T, resp *http.Response, err error) (int, string) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// activated waits for the n-th activation run to finish and returns its report.
func (e *env) activated(n int) activate.Report {
	e.t.Helper()
	var rep activate.Report
	testwait.Eventually(e.t, 2*time.Minute, func() error {
		reps := e.c.Activation.Reports()
		if len(reps) < n {
			return fmt.Errorf("%d activation runs finished, want %d", len(reps), n)
		}
		rep = reps[n-1]
		return nil
	})
	return rep
}

// credentialsSent lists the keys handed to Logistos, in order.
func (e *env) credentialsSent() []logistos.Credentials {
	var out []logistos.Credentials
	for _, r := range e.logistos.Requests() {
		if r.Path == fakelogistos.CredentialsPath {
			var c logistos.Credentials
			_ = json.Unmarshal(r.Body, &c)
			out = append(out, c)
		}
	}
	return out
}

// backfilled counts the orders Logistos accepted, by id.
func (e *env) received() map[int64]bool {
	ids := map[int64]bool{}
	for _, r := range e.logistos.Delivered() {
		var p struct {
			Orders []struct {
				ID int64 `json:"id"`
			} `json:"orders"`
		}
		_ = json.Unmarshal(r.Body, &p)
		for _, o := range p.Orders {
			ids[o.ID] = true
		}
	}
	return ids
}

// noSecretsLogged fails if a key, secret or state is in any log line.
func (e *env) noSecretsLogged(states ...string) {
	e.t.Helper()
	logs := e.logs.String()
	secrets := append([]string{"ck_", "cs_"}, states...)
	for _, a := range e.shop.Authorizations() {
		secrets = append(secrets, a.Key, a.Secret)
	}
	for _, s := range secrets {
		if s != "" && strings.Contains(logs, s) {
			e.t.Errorf("a log line holds %q", s)
		}
	}
}

// TestConnectChain: the owner opens the connect URL and approves; the key
// WooCommerce generated is stored, activation hands it to Logistos,
// registers the webhook and backfills every order, and a new order then
// arrives by webhook. A second connect replaces the key and hands it over
// again.
func TestConnectChain(t *testing.T) {
	const orders = 30
	e := newEnv(t, orders)
	if k := e.storedKey(); k.ConsumerKey != "" {
		t.Fatalf("connected before connecting: %q", k.ConsumerKey[:3])
	}
	authorize, st1 := e.authorizeURL()
	status, body := e.click(authorize, true)
	if status != 200 || !strings.Contains(body, "Your shop is connected") {
		t.Fatalf("final page %d:\n%s", status, body)
	}
	auths := e.shop.Authorizations()
	if len(auths) != 1 || !auths[0].Kept || auths[0].Permissions != fakewoo.ReadWrite || auths[0].AppName != connect.AppName {
		t.Fatalf("shop authorizations %+v", auths)
	}
	rep := e.activated(1)
	if !rep.OK || rep.Key == nil || rep.Key.Outcome != activate.KeyProven || rep.Handoff == nil || rep.Handoff.Outcome != activate.OutcomeDone ||
		rep.Backfill == nil || rep.Backfill.Outcome != activate.OutcomeComplete {
		t.Fatalf("activation report %+v", rep)
	}
	if k := e.storedKey(); k.ConsumerKey != auths[0].Key || k.ConsumerSecret != auths[0].Secret {
		t.Fatal("the key in use is not the one the shop generated")
	}
	if c := e.credentialsSent(); len(c) != 1 || c[0].ConsumerKey != auths[0].Key || c[0].StoreURL != e.shop.URL {
		t.Fatalf("Logistos got credentials %d times", len(c))
	}
	hooks := e.shop.Webhooks()
	if len(hooks) != 1 || hooks[0].DeliveryURL != e.api+pipeline.WebhookPath || hooks[0].Status != "active" {
		t.Fatalf("shop webhooks %+v", hooks)
	}
	testwait.Eventually(t, time.Minute, func() error {
		if n := len(e.received()); n != orders {
			return fmt.Errorf("Logistos has %d of %d backfilled orders", n, orders)
		}
		return nil
	})
	ids := e.shop.PlaceOrders(1)
	testwait.Eventually(t, time.Minute, func() error {
		if !e.received()[ids[0]] {
			return fmt.Errorf("order %d placed after connecting has not reached Logistos", ids[0])
		}
		return nil
	})

	// Connect again: a new key replaces the old one and is handed over again.
	authorize2, st2 := e.authorizeURL()
	if status, body := e.click(authorize2, true); status != 200 || !strings.Contains(body, "is connected") {
		t.Fatalf("second connect %d:\n%s", status, body)
	}
	auths = e.shop.Authorizations()
	if len(auths) != 2 || auths[1].Key == auths[0].Key {
		t.Fatalf("shop authorizations %+v", auths)
	}
	rep = e.activated(2)
	if !rep.OK || rep.Handoff == nil || rep.Handoff.Outcome != activate.OutcomeDone {
		t.Fatalf("second activation %+v", rep)
	}
	if k := e.storedKey(); k.ConsumerKey != auths[1].Key {
		t.Fatal("the second key did not replace the first")
	}
	if c := e.credentialsSent(); len(c) != 2 || c[1].ConsumerKey != auths[1].Key {
		t.Fatalf("Logistos got credentials %d times, want the new key handed over", len(c))
	}
	if hooks := e.shop.Webhooks(); len(hooks) != 1 {
		t.Errorf("%d webhooks after connecting twice, want 1", len(hooks))
	}
	e.noSecretsLogged(st1, st2)
}

// TestReplayedCallback: WooCommerce's callback, sent again with the same
// (spent) state, is refused and changes nothing.
func TestReplayedCallback(t *testing.T) {
	e := newEnv(t, 0)
	authorize, st := e.authorizeURL()
	if status, _ := e.click(authorize, true); status != 200 {
		t.Fatal(status)
	}
	e.activated(1)
	first := e.storedKey()
	body := fmt.Sprintf(`{"key_id":99,"user_id":%q,"consumer_key":"ck_replayed0","consumer_secret":"cs_replayed0","key_permissions":"read_write"}`, st)
	resp, err := http.Post(e.api+connect.PathCallback, "application/json;charset=UTF-8", strings.NewReader(body))
	if status, _ := page(t, resp, err); status != http.StatusForbidden {
		t.Errorf("replay answered %d, want 403", status)
	}
	if e.storedKey() != first {
		t.Error("a replay changed the stored key")
	}
	if n := len(e.c.Activation.Reports()); n != 1 {
		t.Errorf("%d activation runs, want 1", n)
	}
	e.noSecretsLogged(st)
}

// TestDenied: the owner chooses Deny; the shop calls nothing back and the
// page says not connected; nothing is stored.
func TestDenied(t *testing.T) {
	e := newEnv(t, 0)
	authorize, st := e.authorizeURL()
	status, body := e.click(authorize, false)
	if status != 200 || !strings.Contains(body, "was not connected") {
		t.Fatalf("final page %d:\n%s", status, body)
	}
	if len(e.shop.Authorizations()) != 0 || e.storedKey().ConsumerKey != "" || len(e.c.Activation.Reports()) != 0 {
		t.Error("something was stored or started on Deny")
	}
	e.noSecretsLogged(st)
}

// TestReadOnlyKeyRefused: a key with read permissions only (the scope
// tampered with on the way) is refused; WooCommerce then deletes it.
func TestReadOnlyKeyRefused(t *testing.T) {
	e := newEnv(t, 0)
	authorize, st := e.authorizeURL()
	q := authorize.Query()
	q.Set("scope", fakewoo.Read)
	authorize.RawQuery = q.Encode()
	status, body := e.click(authorize, true)
	if status == 200 || !strings.Contains(body, "unable to send the consumer data") {
		t.Fatalf("final page %d:\n%s", status, body)
	}
	auths := e.shop.Authorizations()
	if len(auths) != 1 || auths[0].Kept || auths[0].Permissions != fakewoo.Read {
		t.Fatalf("shop authorizations %+v: want the read key generated and deleted", auths)
	}
	if e.storedKey().ConsumerKey != "" || len(e.c.Activation.Reports()) != 0 {
		t.Error("a read-only key was stored or activation started")
	}
	// The state was not spent: the owner can still approve properly.
	q.Set("scope", fakewoo.ReadWrite)
	authorize.RawQuery = q.Encode()
	if status, _ := e.click(authorize, true); status != 200 {
		t.Errorf("approve after a refused read key: %d", status)
	}
	e.activated(1)
	e.noSecretsLogged(st)
}

// TestUnknownAndForgedStates: states connect never issued are refused
// before anything is stored, whatever their shape.
func TestUnknownAndForgedStates(t *testing.T) {
	e := newEnv(t, 0)
	unknown, _ := connect.NewState()
	for _, st := range []string{unknown, "1", "", strings.Repeat("A", 43), "../../etc"} {
		body := fmt.Sprintf(`{"key_id":1,"user_id":%q,"consumer_key":"ck_forged0","consumer_secret":"cs_forged0","key_permissions":"read_write"}`, st)
		resp, err := http.Post(e.api+connect.PathCallback, "application/json;charset=UTF-8", strings.NewReader(body))
		if status, _ := page(t, resp, err); status != http.StatusForbidden {
			t.Errorf("state %q answered %d, want 403", st, status)
		}
	}
	if e.storedKey().ConsumerKey != "" {
		t.Error("a forged callback stored a key")
	}
	e.noSecretsLogged(unknown)
}

// TestBadBodies: huge and malformed bodies get a 4xx and store nothing;
// API Gateway's own 10 MB limit answers beyond it.
func TestBadBodies(t *testing.T) {
	e := newEnv(t, 0)
	_, st := e.authorizeURL()
	for name, c := range map[string]struct {
		body   string
		status int
	}{
		"huge":      {`{"user_id":"` + st + `","pad":"` + strings.Repeat("x", 1<<20) + `"}`, http.StatusRequestEntityTooLarge},
		"html form": {"user_id=" + st + "&consumer_key=ck_a", http.StatusBadRequest},
		"not json":  {"\x00\x01\x02", http.StatusBadRequest},
		"array":     {"[]", http.StatusBadRequest},
	} {
		resp, err := http.Post(e.api+connect.PathCallback, "application/json", strings.NewReader(c.body))
		if status, _ := page(t, resp, err); status != c.status {
			t.Errorf("%s: %d, want %d", name, status, c.status)
		}
	}
	if e.storedKey().ConsumerKey != "" {
		t.Error("a bad body stored a key")
	}
	e.noSecretsLogged(st)
}

// TestConcurrentReplays: of many callbacks with one state at once against
// the DynamoDB state table, exactly one is accepted.
func TestConcurrentReplays(t *testing.T) {
	e := newEnv(t, 0)
	_, st := e.authorizeURL()
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok := 0
	for i := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			body := fmt.Sprintf(`{"key_id":%d,"user_id":%q,"consumer_key":"ck_c%d","consumer_secret":"cs_c%d","key_permissions":"read_write"}`, i, st, i, i)
			resp, err := http.Post(e.api+connect.PathCallback, "application/json", strings.NewReader(body))
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == 200 {
					mu.Lock()
					ok++
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	if ok != 1 {
		t.Errorf("%d callbacks accepted, want 1", ok)
	}
	e.activated(1)
}

// TestKeyKeptWhenActivationCannotStart: a shop activate refuses (plain
// http elsewhere than this machine) still connects: the callback answers
// 200, so WooCommerce keeps the key, which stays pending; the failure to
// start activation is logged as an error naming the pending key.
func TestKeyKeptWhenActivationCannotStart(t *testing.T) {
	st := stacktest.ForTest(t, stack.Options{Tables: true})
	logs := &syncbuf.Buffer{}
	c, err := pipeline.NewConnect(context.Background(), st, map[string]string{
		config.StoreURL: "http://wp.example", config.WebhookURL: "http://127.0.0.1:9/woocommerce/webhook",
	}, logging.New(logs, "info"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Activation.Err == nil {
		t.Fatal("activate accepted a plain-http shop")
	}
	api := httptest.NewServer(pipeline.Routes(nil, c.Handler, logging.New(logs, "info")))
	defer api.Close()
	e := &env{t: t, st: st, api: api.URL, logs: logs}
	authorize, state := e.authorizeURL()
	if !strings.HasPrefix(authorize.String(), "http://wp.example/wc-auth/v1/authorize?") {
		t.Fatalf("redirect to %s", authorize)
	}
	body := fmt.Sprintf(`{"key_id":3,"user_id":%q,"consumer_key":"ck_kept0","consumer_secret":"cs_kept0","key_permissions":"read_write"}`, state)
	resp, err := http.Post(api.URL+connect.PathCallback, "application/json;charset=UTF-8", strings.NewReader(body))
	if status, _ := page(t, resp, err); status != 200 {
		t.Fatalf("callback answered %d, want 200 (any other answer makes WooCommerce delete the key)", status)
	}
	if k, err := c.Handler.Pending.Get(context.Background(), wookey.Ref(state), ""); err != nil || k.ConsumerKey != "ck_kept0" {
		t.Errorf("the key is not pending: %v", err)
	}
	if !strings.Contains(logs.String(), `"outcome":"activation_not_started"`) || !strings.Contains(logs.String(), `"level":"ERROR"`) ||
		!strings.Contains(logs.String(), `"pending_key":"`+wookey.Ref(state)+`"`) {
		t.Errorf("no error logged naming the pending key:\n%s", logs.String())
	}
	if strings.Contains(logs.String(), "cs_kept0") || strings.Contains(logs.String(), state) {
		t.Error("a secret or the state was logged")
	}
}
