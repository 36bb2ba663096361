package connect

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/logistos-sync/logistos-sync/shared/wookey"
)

// TestHubForm: a hub asked without a shop answers a small form that asks
// for one, and issues nothing.
func TestHubForm(t *testing.T) {
	f := newHub(t)
	resp := f.do(t, req(http.MethodGet, PathConnect, "", ""))
	if resp.StatusCode != http.StatusOK || resp.Headers["location"] != "" || f.states.issued() != 0 {
		t.Fatalf("%d, location %q, %d states issued", resp.StatusCode, resp.Headers["location"], f.states.issued())
	}
	checkHTMLHeaders(t, resp.Headers, "form-action 'self'")
	for _, want := range []string{
		`<form method="get" action="` + PathConnect + `">`,
		`<label for="store_url">`,
		`id="store_url" name="store_url" type="url" required`,
		`<button type="submit">`,
	} {
		if !strings.Contains(resp.Body, want) {
			t.Errorf("the form lacks %s:\n%s", want, resp.Body)
		}
	}
	if strings.Count(resp.Body, "<form") != 1 || strings.Count(resp.Body, "<input") != 1 {
		t.Error("want one form with one field")
	}
	if resp.Body != PageShopForm.HTML() {
		t.Error("the form differs from the page make pages renders")
	}
}

// checkHTMLHeaders: every page is HTML, never cached, never framed, loads
// nothing and runs nothing.
func checkHTMLHeaders(t *testing.T, h map[string]string, formAction string) {
	t.Helper()
	csp := h["content-security-policy"]
	if h["content-type"] != "text/html; charset=utf-8" || h["cache-control"] != "no-store" ||
		h["x-content-type-options"] != "nosniff" || h["referrer-policy"] != "no-referrer" ||
		!strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "frame-ancestors 'none'") ||
		!strings.Contains(csp, formAction) || strings.Contains(csp, "script-src") {
		t.Errorf("headers %v", h)
	}
}

// TestHubBindsTheStateToTheShop: the state is issued for the shop the
// owner named, normalised, and the browser goes to that shop's authorize
// screen with today's five parameters and nothing else.
func TestHubBindsTheStateToTheShop(t *testing.T) {
	cases := []struct{ typed, shop string }{
		{"shop-a.example", "https://shop-a.example"},
		{"  HTTPS://Shop-A.Example./  ", "https://shop-a.example"},
		{"https://shop-a.example:443", "https://shop-a.example"},
		{"https://shop-b.example:8443/wordpress/", "https://shop-b.example:8443/wordpress"},
		{"https://xn--shp-sna.example", "https://xn--shp-sna.example"},
		{"https://93.184.215.14", "https://93.184.215.14"},
	}
	for _, c := range cases {
		t.Run(c.typed, func(t *testing.T) {
			f := newHub(t)
			st, loc := f.beginFor(t, c.typed, c.shop)
			if got := loc.Scheme + "://" + loc.Host + strings.TrimSuffix(loc.Path, PathAuthorize); got != c.shop ||
				!strings.HasSuffix(loc.Path, PathAuthorize) || loc.User != nil || loc.Fragment != "" {
				t.Errorf("sent to %s, want %s%s", loc, c.shop, PathAuthorize)
			}
			q := loc.Query()
			if len(q) != 5 || q.Get("app_name") != AppName || q.Get("scope") != Scope ||
				q.Get("callback_url") != "https://"+apiDomain+PathCallback || q.Get("return_url") != "https://"+apiDomain+PathConnected {
				t.Errorf("parameters %v", q)
			}
			if resp := f.do(t, req(http.MethodPost, PathCallback, "", callbackBody(st, "read_write"))); resp.StatusCode != 200 {
				t.Fatalf("callback %d", resp.StatusCode)
			}
			if k := f.kept(t); len(k) != 1 || k[0].StoreURL != c.shop {
				t.Errorf("kept %+v, want one key pending for %s", k, c.shop)
			}
			if shop, ok := f.start.shopOf(wookey.Ref(st)); !ok || shop != c.shop {
				t.Errorf("activation started for %q (%v), want %s", shop, ok, c.shop)
			}
		})
	}
}

// TestHubTwoShopsKeepTheirOwnKeys: states opened for A and B, answered in
// the other order, each deliver a key pending for their own shop only; a
// callback body naming the other shop changes nothing.
func TestHubTwoShopsKeepTheirOwnKeys(t *testing.T) {
	const a, b = "https://a.example", "https://b.example"
	f := newHub(t)
	stA, _ := f.beginFor(t, a, a)
	stB, _ := f.beginFor(t, b, b)
	for _, st := range []string{stB, stA} {
		body := strings.Replace(callbackBody(st, "read_write"), `"key_id":12`, `"key_id":12,"store_url":"`+b+`","shop":"`+b+`"`, 1)
		if resp := f.do(t, req(http.MethodPost, PathCallback, "", body)); resp.StatusCode != 200 {
			t.Fatalf("callback %d %s", resp.StatusCode, resp.Body)
		}
	}
	ctx := context.Background()
	for st, own := range map[string]string{stA: a, stB: b} {
		other := map[string]string{a: b, b: a}[own]
		if k, err := f.h.Pending.Get(ctx, wookey.Ref(st), own); err != nil || k.StoreURL != own {
			t.Errorf("%s's key: %+v %v", own, k, err)
		}
		for _, wrong := range []string{other, ""} {
			if _, err := f.h.Pending.Get(ctx, wookey.Ref(st), wrong); !errors.Is(err, wookey.ErrNoPendingKey) {
				t.Errorf("%s's key read as %q's: %v", own, wrong, err)
			}
		}
		if shop, _ := f.start.shopOf(wookey.Ref(st)); shop != own {
			t.Errorf("activation of %s's key started for %q", own, shop)
		}
	}
	if !strings.Contains(f.logs.String(), `"store_url":"`+a+`"`) {
		t.Errorf("the callback's log line does not name the shop:\n%s", f.logs.String())
	}
}

// TestHubRefusesAddresses: anything that is not a normalised https shop
// on the internet gets the form again with a 400, no state and no
// redirect, so the redirect can never point anywhere an attacker chose
// beyond a shop's own address.
func TestHubRefusesAddresses(t *testing.T) {
	cases := []string{
		"https://evil.example/?x",
		"https://evil.example/?",
		"https://evil.example/#x",
		"https://user@evil.example",
		"https://user:pw@evil.example",
		"https://shop.example\\@evil.example",
		"https://owner:pa ss@evil.example",
		"javascript:alert(1)",
		"javascript://evil.example/%0aalert(1)",
		"data:text/html,<script>alert(1)</script>",
		"ftp://evil.example",
		"http://evil.example",
		"//evil.example",
		"https://",
		"https://127.0.0.1",
		"http://127.0.0.1:8080",
		"https://localhost",
		"http://localhost:3000",
		"https://shop.localhost",
		"https://[::1]",
		"https://10.0.0.1",
		"https://192.168.1.10:8443",
		"https://169.254.169.254",
		"https://[fd00:ec2::254]",
		"https://[::ffff:10.0.0.1]",
		"https://100.64.0.1",
		"https://0.0.0.0",
		"https://2130706433",
		"https://0x7f.1",
		"https://shop.example.017",
		`https://sh"op.example`,
		"https://sh<op.example",
		"https://shöp.example",
		"https://a.example,https://b.example",
		"https://shop.example/" + strings.Repeat("a", MaxStoreURL),
		" ",
		"",
	}
	for _, typed := range cases {
		t.Run(typed, func(t *testing.T) {
			f := newHub(t)
			t.Cleanup(func() {
				// What the owner typed may hold a password: never logged.
				if typed != "" && typed != " " && strings.Contains(f.logs.String(), typed) {
					t.Errorf("the log quotes the typed address:\n%s", f.logs.String())
				}
			})
			resp := f.do(t, req(http.MethodGet, PathConnect, ParamStoreURL+"="+url.QueryEscape(typed), ""))
			if resp.StatusCode != http.StatusBadRequest || resp.Headers["location"] != "" || f.states.issued() != 0 {
				t.Fatalf("%d, location %q, %d states issued", resp.StatusCode, resp.Headers["location"], f.states.issued())
			}
			checkHTMLHeaders(t, resp.Headers, "form-action 'self'")
			if !strings.Contains(resp.Body, `role="alert"`) || !strings.Contains(resp.Body, `<form method="get"`) {
				t.Errorf("want the form again with the problem:\n%s", resp.Body)
			}
			if !strings.Contains(f.emf.String(), "ConnectRejected") {
				t.Error("no ConnectRejected metric")
			}
		})
	}
}

// TestHubPrivateAddressesWhenAllowed: ALLOW_PRIVATE_SHOPS (local runs)
// lets a stand-in shop on this machine connect.
func TestHubPrivateAddressesWhenAllowed(t *testing.T) {
	for typed, shop := range map[string]string{
		"http://127.0.0.1:8080/": "http://127.0.0.1:8080",
		"https://10.0.0.1":       "https://10.0.0.1",
		"http://localhost:3000":  "http://localhost:3000",
	} {
		f := newHub(t)
		f.h.AllowPrivateShops = true
		if _, loc := f.beginFor(t, typed, shop); loc.Scheme+"://"+loc.Host != shop {
			t.Errorf("%s: sent to %s", typed, loc)
		}
	}
}

// tags is a page's markup without the field's value: its tags, in order.
// Escaping that failed shows as a tag or attribute more than the page has.
var (
	tagPattern   = regexp.MustCompile(`<[^>]*>`)
	valuePattern = regexp.MustCompile(`value="[^"<>]*"`)
)

func tags(page string) []string {
	var out []string
	for _, tag := range tagPattern.FindAllString(page, -1) {
		out = append(out, valuePattern.ReplaceAllString(tag, `value=""`))
	}
	return out
}

// TestPagesEscapeTheTypedAddress: the address goes back into the form
// escaped, in the text and in the field's value, so a link that carries
// markup in store_url adds no tag or attribute to the hub's page.
func TestPagesEscapeTheTypedAddress(t *testing.T) {
	want := tags(f400(t, "https://plain.example/?x").Body)
	for _, typed := range []string{
		`"><script>alert(1)</script>`,
		`<svg onload=alert(1)>`,
		`javascript:"><img src=x onerror=alert(1)>`,
		`https://evil.example/?"><b>x</b>`,
		`https://evil.example/?" autofocus onfocus="alert(1)`,
		`https://evil.example/?' autofocus onfocus='alert(1)`,
		`https://user:<script>@evil.example`,
		"https://evil.example/?\r\nSet-Cookie: a=b",
	} {
		t.Run(typed, func(t *testing.T) {
			resp := f400(t, typed)
			if got := tags(resp.Body); strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("the typed address changed the page's markup:\n%s", resp.Body)
			}
			if strings.Contains(resp.Body, "<script") || strings.Contains(resp.Body, "<svg") || strings.Contains(resp.Body, "<img") {
				t.Errorf("unescaped markup:\n%s", resp.Body)
			}
			for k, v := range resp.Headers {
				if strings.ContainsAny(v, "\r\n") || strings.Contains(strings.ToLower(k), "cookie") {
					t.Errorf("header %s: %q", k, v)
				}
			}
		})
	}
	// The escaped address is there for the owner to correct.
	resp := f400(t, `https://x.example/?a="b"&<c>`)
	if !strings.Contains(resp.Body, `value="https://x.example/?a=&#34;b&#34;&amp;&lt;c&gt;"`) {
		t.Errorf("the field does not hold the typed address, escaped:\n%s", resp.Body)
	}
}

// f400 asks a hub to connect typed, which it must refuse.
func f400(t *testing.T, typed string) events.APIGatewayV2HTTPResponse {
	t.Helper()
	f := newHub(t)
	resp := f.do(t, req(http.MethodGet, PathConnect, ParamStoreURL+"="+url.QueryEscape(typed), ""))
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("%q: %d", typed, resp.StatusCode)
	}
	return resp
}

// TestHomeShopStackConnectsOnlyItsShop: a single-shop stack sends the
// browser to its home shop only. Another store_url gets 403 with no state
// and no redirect; the home shop's own address, however written, is
// today's redirect, with the state bound to nothing (the home shop).
func TestHomeShopStackConnectsOnlyItsShop(t *testing.T) {
	cases := []struct {
		typed string
		ok    bool
	}{
		{"https://shop.example", true},
		{"SHOP.example/", true},
		{"https://shop.example:443/", true},
		{"https://evil.example", false},
		{"https://shop.example.evil.example", false},
		{"https://shop.example/other", false},
		{"https://shop.example/?x", false},
		{"https://user@shop.example", false},
		{"http://shop.example", false},
		{"https://127.0.0.1", false},
		{"javascript:alert(1)", false},
		{`"><script>alert(1)</script>`, false},
		{"", false},
	}
	for _, c := range cases {
		t.Run(c.typed, func(t *testing.T) {
			f := newFixture(t)
			resp := f.do(t, req(http.MethodGet, PathConnect, ParamStoreURL+"="+url.QueryEscape(c.typed), ""))
			if !c.ok {
				if resp.StatusCode != http.StatusForbidden || resp.Headers["location"] != "" || f.states.issued() != 0 {
					t.Fatalf("%d, location %q, %d states issued", resp.StatusCode, resp.Headers["location"], f.states.issued())
				}
				checkHTMLHeaders(t, resp.Headers, "form-action 'none'")
				if resp.Body != PageOtherShop.HTML() {
					t.Error("the refusal echoes something of the request")
				}
				return
			}
			st, loc := f.beginFor(t, c.typed, "")
			if loc.Scheme+"://"+loc.Host+loc.Path != f.h.StoreURL+PathAuthorize {
				t.Errorf("sent to %s", loc)
			}
			f.do(t, req(http.MethodPost, PathCallback, "", callbackBody(st, "read_write")))
			if k := f.kept(t); len(k) != 1 || k[0].StoreURL != "" {
				t.Errorf("kept %+v, want the home shop's key", k)
			}
			if shop, ok := f.start.shopOf(wookey.Ref(st)); !ok || shop != "" {
				t.Errorf("activation started for %q, want the home shop (no store_url)", shop)
			}
		})
	}
}

// TestHubStartFailureNamesTheShop: the error line tells the operator the
// event to start activation by hand, store_url included.
func TestHubStartFailureNamesTheShop(t *testing.T) {
	f := newHub(t)
	f.start.err = errors.New("invoke stack-activate: AccessDenied")
	st, _ := f.beginFor(t, "https://a.example", "https://a.example")
	if resp := f.do(t, req(http.MethodPost, PathCallback, "", callbackBody(st, "read_write"))); resp.StatusCode != 200 {
		t.Fatalf("%d", resp.StatusCode)
	}
	if !strings.Contains(f.logs.String(), `"store_url":"https://a.example"`) || !strings.Contains(f.logs.String(), `\"store_url\"`) {
		t.Errorf("the error line does not say how to start activation for the shop:\n%s", f.logs.String())
	}
}
