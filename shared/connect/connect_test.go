package connect

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/logistos-sync/logistos-sync/shared/logging"
	"github.com/logistos-sync/logistos-sync/shared/metrics"
	"github.com/logistos-sync/logistos-sync/shared/state"
	"github.com/logistos-sync/logistos-sync/shared/wookey"
)

const (
	testKey    = "ck_0123456789abcdef0123456789abcdef01234567"
	testSecret = "cs_89abcdef0123456789abcdef0123456789abcdef"
	apiDomain  = "abc123.execute-api.eu-west-1.amazonaws.com"
)

// starter records the pending keys activation was started for, and for
// which shop.
type starter struct {
	mu    sync.Mutex
	refs  []string
	shops []string
	err   error
}

func (s *starter) Start(_ context.Context, ref, storeURL string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refs = append(s.refs, ref)
	s.shops = append(s.shops, storeURL)
	return s.err
}

// shopOf returns the shop activation was started for with ref.
func (s *starter) shopOf(ref string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, r := range s.refs {
		if r == ref {
			return s.shops[i], true
		}
	}
	return "", false
}

func (s *starter) started() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.refs...)
}

type fixture struct {
	h      *Handler
	start  *starter
	logs   *bytes.Buffer
	emf    *bytes.Buffer
	now    time.Time
	states *countingOnce
	issued []string
	shopOf map[string]string // the shop each issued state was opened for
}

// countingOnce counts the states issued.
type countingOnce struct {
	state.Once
	mu     sync.Mutex
	issues int
}

func (c *countingOnce) Issue(ctx context.Context, id, bound string, expires time.Time) error {
	c.mu.Lock()
	c.issues++
	c.mu.Unlock()
	return c.Once.Issue(ctx, id, bound, expires)
}

func (c *countingOnce) issued() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.issues
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{start: &starter{}, logs: &bytes.Buffer{}, emf: &bytes.Buffer{},
		now: time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC), shopOf: map[string]string{}}
	f.states = &countingOnce{Once: &state.MemoryOnce{Now: func() time.Time { return f.now }}}
	f.h = &Handler{StoreURL: "https://shop.example", Pending: wookey.Pending{States: f.states}, Activate: f.start,
		Log: logging.New(f.logs, "debug"), Metrics: metrics.New(f.emf, "test"), Now: func() time.Time { return f.now }}
	t.Cleanup(func() {
		// Whatever a test did, no key, secret or state reaches a log line.
		for _, s := range append([]string{testKey, testSecret, "ck_", "cs_"}, f.issued...) {
			if strings.Contains(f.logs.String(), s) {
				t.Errorf("log leaks %q:\n%s", s, f.logs.String())
			}
		}
	})
	return f
}

// newHub is a fixture of a hub: no home shop.
func newHub(t *testing.T) *fixture {
	f := newFixture(t)
	f.h.StoreURL = ""
	return f
}

// issued lists the states handed out, for the log check.
func (f *fixture) remember(st string) { f.issued = append(f.issued, st) }

// kept returns the keys pending, whether or not activation started, each
// read for the shop its state was opened for.
func (f *fixture) kept(t *testing.T) []wookey.PendingKey {
	t.Helper()
	var out []wookey.PendingKey
	for _, st := range f.issued {
		if k, err := f.h.Pending.Get(context.Background(), wookey.Ref(st), f.shopOf[st]); err == nil {
			out = append(out, k)
		}
	}
	return out
}

func req(method, path, query, body string) events.APIGatewayV2HTTPRequest {
	q, _ := url.ParseQuery(query)
	qs := map[string]string{}
	for k := range q {
		qs[k] = q.Get(k)
	}
	return events.APIGatewayV2HTTPRequest{
		RawPath: path, RawQueryString: query, QueryStringParameters: qs, Body: body,
		Headers: map[string]string{"content-type": "application/json;charset=UTF-8"},
		RequestContext: events.APIGatewayV2HTTPRequestContext{DomainName: apiDomain,
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: method, Path: path}},
	}
}

func (f *fixture) do(t *testing.T, r events.APIGatewayV2HTTPRequest) events.APIGatewayV2HTTPResponse {
	t.Helper()
	resp, err := f.h.Handle(context.Background(), r)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// begin opens the connect URL and returns the state sent to the shop.
func (f *fixture) begin(t *testing.T) string {
	t.Helper()
	st, _ := f.beginFor(t, "", "")
	return st
}

// beginFor opens the connect URL with store_url=typed (none when typed is
// empty) and returns the state and where the browser was sent; want is
// the shop the state is for.
func (f *fixture) beginFor(t *testing.T, typed, want string) (string, *url.URL) {
	t.Helper()
	query := ""
	if typed != "" {
		query = ParamStoreURL + "=" + url.QueryEscape(typed)
	}
	resp := f.do(t, req(http.MethodGet, PathConnect, query, ""))
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("connect: %d %s", resp.StatusCode, resp.Body)
	}
	loc, err := url.Parse(resp.Headers["location"])
	if err != nil {
		t.Fatal(err)
	}
	st := loc.Query().Get("user_id")
	f.remember(st)
	f.shopOf[st] = want
	return st, loc
}

func callbackBody(st, perms string) string {
	return fmt.Sprintf(`{"key_id":12,"user_id":%q,"consumer_key":%q,"consumer_secret":%q,"key_permissions":%q}`,
		st, testKey, testSecret, perms)
}

func TestRedirect(t *testing.T) {
	f := newFixture(t)
	resp := f.do(t, req(http.MethodGet, PathConnect, "", ""))
	if resp.StatusCode != http.StatusFound || resp.Headers["cache-control"] != "no-store" {
		t.Fatalf("%+v", resp)
	}
	loc, _ := url.Parse(resp.Headers["location"])
	if loc.Scheme != "https" || loc.Host != "shop.example" || loc.Path != PathAuthorize {
		t.Errorf("location %s", loc)
	}
	q := loc.Query()
	want := map[string]string{
		"app_name": AppName, "scope": "read_write",
		"return_url":   "https://" + apiDomain + PathConnected,
		"callback_url": "https://" + apiDomain + PathCallback,
	}
	for k, v := range want {
		if q.Get(k) != v {
			t.Errorf("%s = %q, want %q", k, q.Get(k), v)
		}
	}
	if len(q) != 5 {
		t.Errorf("parameters %v, want exactly five", q)
	}
	st := q.Get("user_id")
	f.remember(st)
	if raw, err := base64.RawURLEncoding.DecodeString(st); err != nil || len(raw) < 16 {
		t.Errorf("state %q is not ≥128 random bits", st)
	}
	// Fresh every time.
	if other := f.begin(t); other == st {
		t.Error("the same state twice")
	}
}

func TestCallbackKeepsKeyPendingAndStartsActivation(t *testing.T) {
	f := newFixture(t)
	st := f.begin(t)
	resp := f.do(t, req(http.MethodPost, PathCallback, "", callbackBody(st, "read_write")))
	if resp.StatusCode != 200 {
		t.Fatalf("%d %s", resp.StatusCode, resp.Body)
	}
	k := f.kept(t)
	if len(k) != 1 || k[0].ConsumerKey != testKey || k[0].ConsumerSecret != testSecret || k[0].KeyID != 12 || !k[0].ArrivedAt.Equal(f.now) {
		t.Errorf("kept %+v", k)
	}
	if refs := f.start.started(); len(refs) != 1 || refs[0] != wookey.Ref(st) {
		t.Errorf("activation started for %v, want the pending key's reference", refs)
	}
	if !strings.Contains(f.emf.String(), metrics.ConnectKeyReceived) {
		t.Error("no ConnectKeyReceived metric")
	}
	// Replayed: the state is spent, and the first key stays the pending one.
	body := strings.Replace(callbackBody(st, "read_write"), testSecret, "cs_replayed", 1)
	resp = f.do(t, req(http.MethodPost, PathCallback, "", body))
	if resp.StatusCode != http.StatusForbidden || len(f.start.started()) != 1 {
		t.Errorf("replay: %d, activation started %d times", resp.StatusCode, len(f.start.started()))
	}
	if k := f.kept(t); len(k) != 1 || k[0].ConsumerSecret != testSecret {
		t.Error("a replay replaced the pending key")
	}
}

func TestCallbackBase64Body(t *testing.T) {
	f := newFixture(t)
	r := req(http.MethodPost, PathCallback, "", base64.StdEncoding.EncodeToString([]byte(callbackBody(f.begin(t), "read_write"))))
	r.IsBase64Encoded = true
	if resp := f.do(t, r); resp.StatusCode != 200 || len(f.kept(t)) != 1 {
		t.Fatalf("%d", resp.StatusCode)
	}
}

func TestCallbackRejections(t *testing.T) {
	forged, _ := NewState()
	cases := []struct {
		name   string
		body   func(f *fixture, st string) string
		b64    bool
		status int
	}{
		{"unknown state", func(f *fixture, _ string) string { return callbackBody(forged, "read_write") }, false, 403},
		{"forged shape", func(f *fixture, _ string) string { return callbackBody("1", "read_write") }, false, 403},
		{"expired state", func(f *fixture, st string) string { f.now = f.now.Add(StateTTL); return callbackBody(st, "read_write") }, false, 403},
		{"read only", func(f *fixture, st string) string { return callbackBody(st, "read") }, false, 403},
		{"write only", func(f *fixture, st string) string { return callbackBody(st, "write") }, false, 403},
		{"not json", func(f *fixture, st string) string { return "key_id=1&user_id=" + st }, false, 400},
		{"truncated", func(f *fixture, st string) string { return callbackBody(st, "read_write")[:40] }, false, 400},
		{"two documents", func(f *fixture, st string) string { return callbackBody(st, "read_write") + "{}" }, false, 400},
		{"no key", func(f *fixture, st string) string {
			return strings.Replace(callbackBody(st, "read_write"), testKey, "", 1)
		}, false, 400},
		{"odd key", func(f *fixture, st string) string {
			return strings.Replace(callbackBody(st, "read_write"), testKey, `ck_a\"b`, 1)
		}, false, 400},
		{"empty", func(f *fixture, st string) string { return "" }, false, 400},
		{"huge", func(f *fixture, st string) string {
			return strings.Replace(callbackBody(st, "read_write"), `"key_id":12`, `"pad":"`+strings.Repeat("x", 1<<20)+`","key_id":12`, 1)
		}, false, 413},
		{"huge base64", func(f *fixture, st string) string {
			return base64.StdEncoding.EncodeToString(bytes.Repeat([]byte("x"), 1<<20))
		}, true, 413},
		{"bad base64", func(f *fixture, st string) string { return "%%%" }, true, 400},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t)
			st := f.begin(t)
			r := req(http.MethodPost, PathCallback, "", c.body(f, st))
			r.IsBase64Encoded = c.b64
			resp := f.do(t, r)
			if resp.StatusCode != c.status {
				t.Errorf("status %d %s, want %d", resp.StatusCode, resp.Body, c.status)
			}
			if len(f.kept(t)) != 0 || len(f.start.started()) != 0 {
				t.Error("kept a key or started activation on a bad callback")
			}
			if !strings.Contains(f.emf.String(), metrics.ConnectRejected) {
				t.Error("no ConnectRejected metric")
			}
			if strings.Contains(resp.Body, st) {
				t.Error("the answer echoes the state")
			}
		})
	}
}

func TestRejectedBodyDoesNotSpendState(t *testing.T) {
	// A bad body never spends the state: the genuine callback still works.
	f := newFixture(t)
	st := f.begin(t)
	f.do(t, req(http.MethodPost, PathCallback, "", callbackBody(st, "read")))
	if resp := f.do(t, req(http.MethodPost, PathCallback, "", callbackBody(st, "read_write"))); resp.StatusCode != 200 {
		t.Fatalf("%d", resp.StatusCode)
	}
}

func TestConcurrentReplaysStoreOnce(t *testing.T) {
	f := newFixture(t)
	st := f.begin(t)
	var wg sync.WaitGroup
	var ok atomic.Int32
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, _ := f.h.Handle(context.Background(), req(http.MethodPost, PathCallback, "", callbackBody(st, "read_write")))
			if resp.StatusCode == 200 {
				ok.Add(1)
			}
		}()
	}
	wg.Wait()
	if ok.Load() != 1 || len(f.kept(t)) != 1 || len(f.start.started()) != 1 {
		t.Errorf("%d answered 200, %d keys kept, %d activations", ok.Load(), len(f.kept(t)), len(f.start.started()))
	}
}

// TestActivationStartFailureStillAnswers200: the key is kept, so the answer
// stays 200; the error line names the pending key's reference, which the
// operator passes to activate by hand.
func TestActivationStartFailureStillAnswers200(t *testing.T) {
	f := newFixture(t)
	f.start.err = errors.New("invoke stack-activate: AccessDenied")
	st := f.begin(t)
	resp := f.do(t, req(http.MethodPost, PathCallback, "", callbackBody(st, "read_write")))
	if resp.StatusCode != 200 || len(f.kept(t)) != 1 {
		t.Fatalf("%d", resp.StatusCode)
	}
	if !strings.Contains(f.emf.String(), metrics.ConnectActivationFailed) || !strings.Contains(f.logs.String(), `"level":"ERROR"`) {
		t.Errorf("no error log or metric:\n%s", f.logs.String())
	}
	if !strings.Contains(f.logs.String(), `"pending_key":"`+wookey.Ref(st)+`"`) || !strings.Contains(f.logs.String(), `{\"pending_key\"`) {
		t.Errorf("the error line does not say how to start activation for the pending key:\n%s", f.logs.String())
	}
}

func TestStoreFailures(t *testing.T) {
	f := newFixture(t)
	st := f.begin(t)
	f.h.Pending = wookey.Pending{States: failingStates{}}
	if resp := f.do(t, req(http.MethodPost, PathCallback, "", callbackBody(st, "read_write"))); resp.StatusCode != 503 || len(f.start.started()) != 0 {
		t.Errorf("state table down at the callback: %d", resp.StatusCode)
	}
	if resp := f.do(t, req(http.MethodGet, PathConnect, "", "")); resp.StatusCode != 503 || !strings.Contains(resp.Body, "<html") {
		t.Errorf("state table down at connect: %d", resp.StatusCode)
	}
	if !strings.Contains(f.emf.String(), metrics.ConnectFailed) {
		t.Error("no ConnectFailed metric")
	}
}

type failingStates struct{}

var errTableDown = errors.New("table down")

func (failingStates) Issue(context.Context, string, string, time.Time) error { return errTableDown }
func (failingStates) Spend(context.Context, string, []byte, time.Time) (string, error) {
	return "", errTableDown
}
func (failingStates) Held(context.Context, string) ([]byte, string, error) {
	return nil, "", errTableDown
}
func (failingStates) Discard(context.Context, string) error { return errTableDown }

func TestConnectedPage(t *testing.T) {
	f := newFixture(t)
	st, _ := NewState()
	f.remember(st)
	for q, want := range map[string]string{"success=1&user_id=" + st: "is connected", "success=0&user_id=" + st: "not connected", "": "Nothing to show"} {
		resp := f.do(t, req(http.MethodGet, PathConnected, q, ""))
		if !strings.Contains(resp.Body, want) || !strings.HasPrefix(resp.Headers["content-type"], "text/html") {
			t.Errorf("%q: %d %s", q, resp.StatusCode, resp.Body)
		}
		if strings.Contains(resp.Body, st) {
			t.Errorf("%q: the page echoes the state", q)
		}
	}
	if resp := f.do(t, req(http.MethodGet, "/woocommerce/other", "", "")); resp.StatusCode != 404 {
		t.Errorf("unknown route: %d", resp.StatusCode)
	}
}

// TestPagesArePlain: readable on a phone, no script of any kind, nothing
// loaded from elsewhere.
func TestPagesArePlain(t *testing.T) {
	forbidden := regexp.MustCompile(`(?i)<script|javascript:|\son[a-z]+\s*=|<iframe|<link|<img|@import|src=`)
	for _, p := range Pages {
		html := p.HTML()
		if !strings.Contains(html, `<meta name="viewport" content="width=device-width, initial-scale=1">`) ||
			!strings.HasPrefix(html, "<!doctype html>") || !strings.Contains(html, `<html lang="en">`) ||
			!strings.Contains(html, "<h1") || !strings.Contains(html, "<title>") {
			t.Errorf("%s: not a complete phone-ready page", p)
		}
		if m := forbidden.FindString(html); m != "" {
			t.Errorf("%s: has %q", p, m)
		}
		if strings.Count(html, "<") != strings.Count(html, ">") {
			t.Errorf("%s: unbalanced tags", p)
		}
	}
}

func TestLocalBaseURL(t *testing.T) {
	r := req(http.MethodGet, PathConnect, "", "")
	r.RequestContext.DomainName = "127.0.0.1:3000"
	if got := baseURL(r); got != "http://127.0.0.1:3000" {
		t.Error(got)
	}
	r.Headers["x-forwarded-proto"] = "https"
	if got := baseURL(r); got != "https://127.0.0.1:3000" {
		t.Error(got)
	}
	r.RequestContext.DomainName = "evil.example"
	delete(r.Headers, "x-forwarded-proto")
	if got := baseURL(r); got != "https://evil.example" {
		t.Error(got)
	}
}

// A key_id of another JSON type still stores the key: refusing it would
// make WooCommerce delete a good key over a field connect does not need.
func TestCallbackKeyIDAnyType(t *testing.T) {
	f := newFixture(t)
	body := strings.Replace(callbackBody(f.begin(t), "read_write"), `"key_id":12`, `"key_id":"12"`, 1)
	if resp := f.do(t, req(http.MethodPost, PathCallback, "", body)); resp.StatusCode != 200 || len(f.kept(t)) != 1 {
		t.Fatalf("%d %s", resp.StatusCode, resp.Body)
	}
}
