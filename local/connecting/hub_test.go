package connecting

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/lambda"

	"github.com/logistos-sync/logistos-sync/local/fakewoo"
	"github.com/logistos-sync/logistos-sync/local/pipeline"
	"github.com/logistos-sync/logistos-sync/local/stack"
	"github.com/logistos-sync/logistos-sync/local/stacktest"
	"github.com/logistos-sync/logistos-sync/local/syncbuf"
	"github.com/logistos-sync/logistos-sync/shared/activate"
	"github.com/logistos-sync/logistos-sync/shared/config"
	"github.com/logistos-sync/logistos-sync/shared/connect"
	"github.com/logistos-sync/logistos-sync/shared/logging"
	"github.com/logistos-sync/logistos-sync/shared/shop"
	"github.com/logistos-sync/logistos-sync/shared/state"
	"github.com/logistos-sync/logistos-sync/shared/wookey"
)

// lambdaEvents records the events connect's LambdaStarter sends to
// activate, as Lambda would queue them.
type lambdaEvents struct {
	mu     sync.Mutex
	events []activate.Event
}

func (l *lambdaEvents) Invoke(_ context.Context, in *lambda.InvokeInput, _ ...func(*lambda.Options)) (*lambda.InvokeOutput, error) {
	dec := json.NewDecoder(strings.NewReader(string(in.Payload)))
	dec.DisallowUnknownFields()
	var ev activate.Event
	if err := dec.Decode(&ev); err != nil {
		return nil, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.events = append(l.events, ev)
	return &lambda.InvokeOutput{StatusCode: http.StatusAccepted}, nil
}

func (l *lambdaEvents) all() []activate.Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]activate.Event(nil), l.events...)
}

// connectAPI serves connect, built by the local stack as its function is,
// on st with STORE_URL storeURL ("" for a hub); activation is started
// through the real LambdaStarter into events.
func connectAPI(t *testing.T, st *stack.Stack, storeURL string, events *lambdaEvents) (string, *syncbuf.Buffer) {
	t.Helper()
	logs := &syncbuf.Buffer{}
	log := logging.New(logs, "info")
	c, err := pipeline.NewConnect(context.Background(), st, map[string]string{config.StoreURL: storeURL}, log, nil)
	if err != nil {
		t.Fatal(err)
	}
	c.Handler.Activate = connect.LambdaStarter{Client: events, FunctionName: "activate"}
	srv := httptest.NewServer(pipeline.Routes(nil, c.Handler, log))
	t.Cleanup(srv.Close)
	return srv.URL, logs
}

// open asks connect for a shop, without following a redirect.
func open(t *testing.T, api, storeURL string) *http.Response {
	t.Helper()
	u := api + connect.PathConnect
	if storeURL != "" {
		u += "?" + connect.ParamStoreURL + "=" + url.QueryEscape(storeURL)
	}
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noFollow.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// TestHubConnectsTwoShops: through one hub, two shops connect; each state
// is bound to its shop in the state table, each callback's key is pending
// for its own shop only, and activate is started with that shop's
// store_url. The owners approve in the other order than they started.
func TestHubConnectsTwoShops(t *testing.T) {
	st := stacktest.ForTest(t, stack.Options{Tables: true})
	shopA := fakewoo.Start(fakewoo.Options{AllowLoopbackHTTPCallback: true})
	t.Cleanup(shopA.Close)
	shopB := fakewoo.Start(fakewoo.Options{AllowLoopbackHTTPCallback: true})
	t.Cleanup(shopB.Close)
	events := &lambdaEvents{}
	api, logs := connectAPI(t, st, "", events)

	// Without a shop: the form.
	resp := open(t, api, "")
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") ||
		!strings.Contains(string(body), `name="store_url" type="url" required`) ||
		!strings.Contains(resp.Header.Get("Content-Security-Policy"), "form-action 'self'") {
		t.Fatalf("form: %s %v\n%s", resp.Status, resp.Header, body)
	}

	type connecting struct {
		shop      *fakewoo.Shop
		url       string // normalised
		authorize *url.URL
		state     string
	}
	var owners []*connecting
	for _, s := range []*fakewoo.Shop{shopA, shopB} {
		norm, err := shop.Normalize(s.URL)
		if err != nil {
			t.Fatal(err)
		}
		// The owner types the address with a trailing slash, in capitals.
		resp := open(t, api, strings.ToUpper(s.URL)+"/")
		resp.Body.Close()
		if resp.StatusCode != http.StatusFound {
			t.Fatalf("connect %s: %s", s.URL, resp.Status)
		}
		loc, err := url.Parse(resp.Header.Get("Location"))
		if err != nil || loc.Scheme+"://"+loc.Host+loc.Path != norm+connect.PathAuthorize {
			t.Fatalf("connect %s sent the browser to %s", s.URL, loc)
		}
		owners = append(owners, &connecting{shop: s, url: norm, authorize: loc, state: loc.Query().Get("user_id")})
	}
	browser := &http.Client{}
	for _, o := range []*connecting{owners[1], owners[0]} {
		resp, err := fakewoo.Click(browser, o.authorize.String(), true)
		status, page := page(t, resp, err)
		if status != http.StatusOK || !strings.Contains(page, "Your shop is connected") {
			t.Fatalf("%s: %d %s", o.url, status, page)
		}
	}

	ctx := context.Background()
	pending := wookey.Pending{States: &state.DynamoDBOnce{Client: st.DynamoDB, Table: st.StateTable}}
	byRef := map[string]activate.Event{}
	for _, ev := range events.all() {
		byRef[ev.PendingKey] = ev
	}
	if len(byRef) != 2 {
		t.Fatalf("activate started %d times, want once per shop: %+v", len(events.all()), events.all())
	}
	for i, o := range owners {
		other := owners[1-i]
		ref := wookey.Ref(o.state)
		auths := o.shop.Authorizations()
		if len(auths) != 1 || !auths[0].Kept {
			t.Fatalf("%s generated %+v", o.url, auths)
		}
		// The state table recorded the shop when the state was issued.
		item, err := st.DynamoDB.GetItem(ctx, &dynamodb.GetItemInput{TableName: &st.StateTable,
			Key: map[string]types.AttributeValue{state.AttrID: &types.AttributeValueMemberS{Value: wookey.StatePrefix + ref}}})
		if b, ok := item.Item[state.AttrBound].(*types.AttributeValueMemberS); err != nil || !ok || b.Value != o.url {
			t.Errorf("%s's state item records %v, %v", o.url, item.Item[state.AttrBound], err)
		}
		// Its key is pending for it, and for no other shop.
		k, err := pending.Get(ctx, ref, o.url)
		if err != nil || k.ConsumerKey != auths[0].Key || k.StoreURL != o.url {
			t.Errorf("%s's pending key: %v (key %v)", o.url, err, err == nil && k.ConsumerKey == auths[0].Key)
		}
		for _, wrong := range []string{other.url, ""} {
			if _, err := pending.Get(ctx, ref, wrong); !errors.Is(err, wookey.ErrNoPendingKey) {
				t.Errorf("%s's key is readable as %q's: %v", o.url, wrong, err)
			}
		}
		if ev := byRef[ref]; ev.StoreURL != o.url || len(ev.Steps) != 0 {
			t.Errorf("activation of %s's key started with %+v", o.url, ev)
		}
	}
	for _, a := range append(shopA.Authorizations(), shopB.Authorizations()...) {
		if strings.Contains(logs.String(), a.Key) || strings.Contains(logs.String(), a.Secret) {
			t.Error("a key or secret is in the log")
		}
	}
	for _, o := range owners {
		if strings.Contains(logs.String(), o.state) {
			t.Error("a state is in the log")
		}
		if !strings.Contains(logs.String(), `"shop":"`+shop.ID(o.url)+`"`) {
			t.Errorf("no log line names shop %s", shop.ID(o.url))
		}
	}
}

// TestHubRefusesOverHTTP: what the unit tests refuse, refused through the
// local API too: 400, no redirect, nothing in the state table, and the
// typed markup escaped.
func TestHubRefusesOverHTTP(t *testing.T) {
	st := stacktest.ForTest(t, stack.Options{Tables: true})
	events := &lambdaEvents{}
	api, _ := connectAPI(t, st, "", events)
	for _, typed := range []string{"https://evil.example/?x", "https://user@evil.example", "javascript:alert(1)", `"><script>alert(1)</script>`} {
		resp := open(t, api, typed)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Location") != "" || strings.Contains(string(body), "<script>") {
			t.Errorf("%q: %s location %q\n%s", typed, resp.Status, resp.Header.Get("Location"), body)
		}
	}
	if n := stateItems(t, st); n != 0 {
		t.Errorf("%d states issued for refused addresses", n)
	}
}

// TestHomeShopStackRefusesAnotherShop: a single-shop stack sends the
// browser to its own shop only: another store_url is a 403 with no state
// and no redirect, its own address (however written) today's redirect.
func TestHomeShopStackRefusesAnotherShop(t *testing.T) {
	st := stacktest.ForTest(t, stack.Options{Tables: true})
	home := fakewoo.Start(fakewoo.Options{AllowLoopbackHTTPCallback: true})
	t.Cleanup(home.Close)
	other := fakewoo.Start(fakewoo.Options{AllowLoopbackHTTPCallback: true})
	t.Cleanup(other.Close)
	api, _ := connectAPI(t, st, home.URL, &lambdaEvents{})
	for _, typed := range []string{other.URL, "https://evil.example", home.URL + "/?x"} {
		resp := open(t, api, typed)
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden || resp.Header.Get("Location") != "" {
			t.Errorf("%s: %s location %q", typed, resp.Status, resp.Header.Get("Location"))
		}
	}
	if n := stateItems(t, st); n != 0 {
		t.Errorf("%d states issued for another shop", n)
	}
	for _, typed := range []string{"", home.URL, strings.ToUpper(home.URL) + "/"} {
		resp := open(t, api, typed)
		resp.Body.Close()
		loc, _ := url.Parse(resp.Header.Get("Location"))
		if resp.StatusCode != http.StatusFound || loc == nil || loc.Scheme+"://"+loc.Host+loc.Path != home.URL+connect.PathAuthorize {
			t.Errorf("%q: %s to %v", typed, resp.Status, loc)
		}
	}
}

// stateItems counts the items in the state table.
func stateItems(t *testing.T, st *stack.Stack) int {
	t.Helper()
	out, err := st.DynamoDB.Scan(context.Background(), &dynamodb.ScanInput{TableName: &st.StateTable})
	if err != nil {
		t.Fatal(err)
	}
	return len(out.Items)
}
