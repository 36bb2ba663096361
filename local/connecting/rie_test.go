//go:build linux

package connecting

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/logistos-sync/logistos-sync/internal/testwait"
	"github.com/logistos-sync/logistos-sync/local/apigw"
	"github.com/logistos-sync/logistos-sync/local/lambdarie/lambdarietest"
	"github.com/logistos-sync/logistos-sync/local/stack"
	"github.com/logistos-sync/logistos-sync/local/stacktest"
	"github.com/logistos-sync/logistos-sync/shared/connect"
	"github.com/logistos-sync/logistos-sync/shared/state"
	"github.com/logistos-sync/logistos-sync/shared/wookey"
)

const apiBase = "https://abc123.execute-api.us-east-1.amazonaws.com"

// invocations records what kumo's Lambda hands the activate function.
type invocations struct {
	mu       sync.Mutex
	payloads []string
}

func (i *invocations) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	i.mu.Lock()
	i.payloads = append(i.payloads, string(b))
	i.mu.Unlock()
	_, _ = io.WriteString(w, `{"ok":true}`)
}

func (i *invocations) all() []string {
	i.mu.Lock()
	defer i.mu.Unlock()
	return append([]string(nil), i.payloads...)
}

// TestConnectBinaryUnderRIE: the real connect binary, built as for Lambda,
// under the runtime interface emulator, configured only through its
// environment as the template configures it, invoked with the API Gateway
// v2 events of the three routes, with kumo as Secrets Manager, DynamoDB and
// Lambda (activate registered there by name).
func TestConnectBinaryUnderRIE(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	st := stacktest.ForTest(t, stack.Options{Tables: true})
	inv := &invocations{}
	activateSrv := httptest.NewServer(inv)
	defer activateSrv.Close()
	activateName := "activate-connect-rie-" + fmt.Sprint(time.Now().UnixNano())
	stacktest.RegisterFunction(t, activateName, activateSrv.URL)

	fn := lambdarietest.Start(t, ctx, "./functions/connect", st.FunctionEnv(stack.Connect, map[string]string{
		"STORE_URL": "https://shop.example", "ACTIVATE_FUNCTION": activateName,
		"AWS_LAMBDA_FUNCTION_NAME": "connect-rie", "AWS_LAMBDA_FUNCTION_TIMEOUT": "20",
	}))
	var states []string
	defer func() {
		out := fn.Output()
		for _, s := range append(states, "ck_", "cs_") {
			if s != "" && strings.Contains(out, s) {
				t.Errorf("the function's output holds %q", s)
			}
		}
	}()

	invoke := func(method, path, body string) events.APIGatewayV2HTTPResponse {
		t.Helper()
		req := httptest.NewRequest(method, apiBase+path, strings.NewReader(body))
		if body != "" {
			req.Header.Set("Content-Type", "application/json;charset=UTF-8")
		}
		ev, err := apigw.NewRequest(req, method+" "+strings.SplitN(path, "?", 2)[0])
		if err != nil {
			t.Fatal(err)
		}
		var resp events.APIGatewayV2HTTPResponse
		if err := fn.InvokeJSON(ctx, ev, &resp); err != nil {
			t.Fatal(err)
		}
		return resp
	}

	// GET /woocommerce/connect: 302 to the shop with the five parameters.
	resp := invoke(http.MethodGet, connect.PathConnect, "")
	loc, err := url.Parse(resp.Headers["location"])
	if resp.StatusCode != http.StatusFound || err != nil || !strings.HasPrefix(loc.String(), "https://shop.example/wc-auth/v1/authorize?") {
		t.Fatalf("connect answered %d %v", resp.StatusCode, resp.Headers)
	}
	q := loc.Query()
	if q.Get("scope") != "read_write" || q.Get("return_url") != apiBase+connect.PathConnected ||
		q.Get("callback_url") != apiBase+connect.PathCallback || q.Get("app_name") == "" || len(q.Get("user_id")) < 22 {
		t.Fatalf("authorize parameters %v", q)
	}
	st0 := q.Get("user_id")
	states = append(states, st0)

	body := func(st, perms string) string {
		return fmt.Sprintf(`{"key_id":7,"user_id":%q,"consumer_key":"ck_rie0123456789","consumer_secret":"cs_rie0123456789","key_permissions":%q}`, st, perms)
	}
	unknown, _ := connect.NewState()
	states = append(states, unknown)
	for name, c := range map[string]struct {
		body   string
		status int
	}{
		"read only":     {body(st0, "read"), http.StatusForbidden},
		"unknown state": {body(unknown, "read_write"), http.StatusForbidden},
		"malformed":     {`{"key_id":`, http.StatusBadRequest},
		"huge":          {`{"pad":"` + strings.Repeat("x", 64<<10) + `"}`, http.StatusRequestEntityTooLarge},
	} {
		if resp := invoke(http.MethodPost, connect.PathCallback, c.body); resp.StatusCode != c.status {
			t.Errorf("%s: %d %s, want %d", name, resp.StatusCode, resp.Body, c.status)
		}
	}
	if len(inv.all()) != 0 {
		t.Fatal("a bad callback started activation")
	}

	// The genuine callback: 200, the key pending in the state table (not
	// in the credentials secret: activation proves it first), activate
	// invoked with its reference.
	if resp := invoke(http.MethodPost, connect.PathCallback, body(st0, "read_write")); resp.StatusCode != 200 {
		t.Fatalf("callback: %d %s", resp.StatusCode, resp.Body)
	}
	e := &env{t: t, st: st}
	if k := e.storedKey(); k.ConsumerKey != "" {
		t.Error("connect wrote the key to the credentials secret")
	}
	pending := wookey.Pending{States: &state.DynamoDBOnce{Client: st.DynamoDB, Table: st.StateTable}}
	if k, err := pending.Get(ctx, wookey.Ref(st0), ""); err != nil || k.ConsumerKey != "ck_rie0123456789" || k.ConsumerSecret != "cs_rie0123456789" || k.KeyID != 7 {
		t.Errorf("the key is not pending in the state table: %v", err)
	}
	testwait.Eventually(t, 30*time.Second, func() error {
		if p := inv.all(); len(p) != 1 {
			return fmt.Errorf("activate invoked %d times, want 1", len(p))
		}
		return nil
	})
	var ev map[string]any
	if err := json.Unmarshal([]byte(inv.all()[0]), &ev); err != nil || len(ev) != 1 || ev["pending_key"] != wookey.Ref(st0) {
		t.Errorf("activate got %s, want only the pending key's reference (all steps)", inv.all()[0])
	}
	// Replayed: spent.
	if resp := invoke(http.MethodPost, connect.PathCallback, body(st0, "read_write")); resp.StatusCode != http.StatusForbidden {
		t.Errorf("replay: %d", resp.StatusCode)
	}
	// The pages.
	if resp := invoke(http.MethodGet, connect.PathConnected+"?success=1&user_id="+st0, ""); resp.StatusCode != 200 ||
		!strings.Contains(resp.Body, "Your shop is connected") || !strings.HasPrefix(resp.Headers["content-type"], "text/html") {
		t.Errorf("connected page: %d %s", resp.StatusCode, resp.Body)
	}
	if resp := invoke(http.MethodGet, connect.PathConnected+"?success=0&user_id="+st0, ""); !strings.Contains(resp.Body, "was not connected") {
		t.Errorf("denied page: %d %s", resp.StatusCode, resp.Body)
	}
}
