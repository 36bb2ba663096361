package fakewoo

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// callbackServer answers the key callback with status and records bodies.
func callbackServer(t *testing.T, status int) (*httptest.Server, *[]string) {
	t.Helper()
	var bodies []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/done" { // the browser's return_url
			_, _ = io.WriteString(w, "returned")
			return
		}
		b, _ := io.ReadAll(r.Body)
		if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json;charset=UTF-8" {
			t.Errorf("callback %s with Content-Type %q", r.Method, r.Header.Get("Content-Type"))
		}
		bodies = append(bodies, string(b))
		w.WriteHeader(status)
	}))
	t.Cleanup(srv.Close)
	return srv, &bodies
}

func authorizeURL(shop, app, scope, state, ret, cb string) string {
	return shop + PathAuthorize + "?" + url.Values{"app_name": {app}, "scope": {scope}, "user_id": {state},
		"return_url": {ret}, "callback_url": {cb}}.Encode()
}

func TestAuthorizeApprove(t *testing.T) {
	shop := Start(Options{AllowLoopbackHTTPCallback: true})
	defer shop.Close()
	cb, bodies := callbackServer(t, http.StatusOK)
	resp, err := Click(http.DefaultClient, authorizeURL(shop.URL, "App", ReadWrite, "st/1", cb.URL+"/done", cb.URL+"/cb"), true)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Request.URL.Query().Get("success") != "1" || resp.Request.URL.Query().Get("user_id") != "st/1" {
		t.Fatalf("landed on %s (%d)", resp.Request.URL, resp.StatusCode)
	}
	auths := shop.Authorizations()
	if len(auths) != 1 || !auths[0].Kept {
		t.Fatalf("%+v", auths)
	}
	// WooCommerce's body: these five keys in this order, user_id echoed
	// (with PHP's escaped slash).
	want := `{"key_id":1,"user_id":"st\/1","consumer_key":"` + auths[0].Key + `","consumer_secret":"` + auths[0].Secret + `","key_permissions":"read_write"}`
	if len(*bodies) < 1 || (*bodies)[0] != want {
		t.Fatalf("callback body %q, want %q", *bodies, want)
	}
	// The new key works on the REST API.
	req, _ := http.NewRequest(http.MethodGet, shop.URL+"/wp-json/wc/v3/orders", nil)
	req.SetBasicAuth(auths[0].Key, auths[0].Secret)
	if r, err := http.DefaultClient.Do(req); err != nil || r.StatusCode != 200 {
		t.Fatalf("the generated key: %v %v", err, r.StatusCode)
	}
}

func TestAuthorizeKeyDeletedUnless200(t *testing.T) {
	shop := Start(Options{AllowLoopbackHTTPCallback: true})
	defer shop.Close()
	cb, _ := callbackServer(t, http.StatusCreated) // 2xx is not enough
	resp, err := Click(http.DefaultClient, authorizeURL(shop.URL, "App", ReadWrite, "s", cb.URL+"/done", cb.URL+"/cb"), true)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(string(page), "unable to send the consumer data") {
		t.Fatalf("%d %s", resp.StatusCode, page)
	}
	a := shop.Authorizations()
	req, _ := http.NewRequest(http.MethodGet, shop.URL+"/wp-json/wc/v3/orders", nil)
	req.SetBasicAuth(a[0].Key, a[0].Secret)
	if r, _ := http.DefaultClient.Do(req); a[0].Kept || r.StatusCode != http.StatusUnauthorized {
		t.Errorf("the key survived a failed callback")
	}
}

func TestAuthorizeDenyAndBadRequests(t *testing.T) {
	shop := Start(Options{})
	defer shop.Close()
	cb, bodies := callbackServer(t, http.StatusOK)
	// Without the local option, plain http is refused as WooCommerce does.
	r, err := http.Get(authorizeURL(shop.URL, "App", ReadWrite, "s", cb.URL+"/done", cb.URL+"/cb"))
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(r.Body)
	r.Body.Close()
	if r.StatusCode != 400 || !strings.Contains(string(page), "The callback_url needs to be over SSL") {
		t.Errorf("http callback: %d %s", r.StatusCode, page)
	}
	for _, q := range []string{"scope=read_write", authorizeURL("", "App", "admin", "s", "https://x/r", "https://x/c")[len(PathAuthorize)+1:]} {
		r, _ := http.Get(shop.URL + PathAuthorize + "?" + q)
		page, _ := io.ReadAll(r.Body)
		r.Body.Close()
		if r.StatusCode != 400 || !strings.Contains(string(page), "Error: ") {
			t.Errorf("%s: %d %s", q, r.StatusCode, page)
		}
	}
	// Deny: back to return_url with success=0, no callback, no key.
	shop2 := Start(Options{AllowLoopbackHTTPCallback: true})
	defer shop2.Close()
	resp, err := Click(http.DefaultClient, authorizeURL(shop2.URL, "App", ReadWrite, "s", cb.URL+"/done", cb.URL+"/cb"), false)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Request.URL.Query().Get("success") != "0" || len(shop2.Authorizations()) != 0 {
		t.Errorf("deny landed on %s", resp.Request.URL)
	}
	if len(*bodies) != 0 {
		t.Errorf("callbacks were made: %q", *bodies)
	}
}
