package apigw

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
)

// capture is a handler that records the event it got and answers 200.
type capture struct {
	got   events.APIGatewayV2HTTPRequest
	calls int
}

func (c *capture) handle(_ context.Context, ev events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	c.got = ev
	c.calls++
	return events.APIGatewayV2HTTPResponse{StatusCode: 200, Body: "ok"}, nil
}

func serve(t *testing.T, f Func) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(Route(http.MethodPost, "/woocommerce/webhook", &Handler{Func: f, Log: slog.New(slog.DiscardHandler)}))
	t.Cleanup(srv.Close)
	return srv
}

func TestRequestBodyEncoding(t *testing.T) {
	order := []byte(`{"id":313,"name":"Caf\u00e9 \/ ☕"}`)
	ping := []byte("webhook_id=1")
	binary := []byte{0x1f, 0x8b, 0x00, 0xff}
	cases := []struct {
		name        string
		contentType string
		body        []byte
		wantBase64  bool
	}{
		{"woocommerce delivery", "application/json", order, false},
		{"json with charset", "application/json; charset=utf-8", order, false},
		{"problem json", "application/problem+json", order, false},
		{"text", "text/plain", []byte("hello"), false},
		{"woocommerce ping", "application/x-www-form-urlencoded", ping, true},
		{"binary", "application/octet-stream", binary, true},
		{"no content type", "", order, true},
		{"empty body", "application/json", nil, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := &capture{}
			srv := serve(t, c.handle)
			req, _ := http.NewRequest(http.MethodPost, srv.URL+"/woocommerce/webhook", bytes.NewReader(tc.body))
			if tc.contentType != "" {
				req.Header.Set("Content-Type", tc.contentType)
			} else {
				req.Header["Content-Type"] = nil
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != 200 || c.calls != 1 {
				t.Fatalf("status %d, calls %d", resp.StatusCode, c.calls)
			}
			if c.got.IsBase64Encoded != tc.wantBase64 {
				t.Errorf("isBase64Encoded = %v, want %v", c.got.IsBase64Encoded, tc.wantBase64)
			}
			got := []byte(c.got.Body)
			if c.got.IsBase64Encoded {
				if got, err = base64.StdEncoding.DecodeString(c.got.Body); err != nil {
					t.Fatalf("body is not base64: %v", err)
				}
			}
			if !bytes.Equal(got, tc.body) {
				t.Errorf("body = %q, want %q", got, tc.body)
			}
		})
	}
}

func TestRequestShape(t *testing.T) {
	c := &capture{}
	srv := serve(t, c.handle)
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/woocommerce/webhook?a=1&a=2&b=x%20y", strings.NewReader(`{"id":1}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "WooCommerce/8.9.1 Hookshot (WordPress/6.5.3)")
	req.Header.Set("X-WC-Webhook-Signature", "HiJZcT5uKfhpdoASYLx7MPoPzlNs7GWGMEJPv3anATA=")
	req.Header.Add("X-Multi", "one")
	req.Header.Add("X-Multi", "two")
	req.AddCookie(&http.Cookie{Name: "c1", Value: "v1"})
	before := time.Now().UnixMilli()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	ev := c.got
	checks := []struct{ name, got, want string }{
		{"version", ev.Version, "2.0"},
		{"routeKey", ev.RouteKey, "POST /woocommerce/webhook"},
		{"rawPath", ev.RawPath, "/woocommerce/webhook"},
		{"rawQueryString", ev.RawQueryString, "a=1&a=2&b=x%20y"},
		{"query a", ev.QueryStringParameters["a"], "1,2"},
		{"query b", ev.QueryStringParameters["b"], "x y"},
		{"signature header", ev.Headers["x-wc-webhook-signature"], "HiJZcT5uKfhpdoASYLx7MPoPzlNs7GWGMEJPv3anATA="},
		{"joined header", ev.Headers["x-multi"], "one,two"},
		{"content-type", ev.Headers["content-type"], "application/json"},
		{"content-length", ev.Headers["content-length"], "8"},
		{"host", ev.Headers["host"], strings.TrimPrefix(srv.URL, "http://")},
		{"cookie header", ev.Headers["cookie"], ""},
		{"method", ev.RequestContext.HTTP.Method, "POST"},
		{"path", ev.RequestContext.HTTP.Path, "/woocommerce/webhook"},
		{"protocol", ev.RequestContext.HTTP.Protocol, "HTTP/1.1"},
		{"sourceIp", ev.RequestContext.HTTP.SourceIP, "127.0.0.1"},
		{"userAgent", ev.RequestContext.HTTP.UserAgent, "WooCommerce/8.9.1 Hookshot (WordPress/6.5.3)"},
		{"stage", ev.RequestContext.Stage, "$default"},
	}
	for _, ck := range checks {
		if ck.got != ck.want {
			t.Errorf("%s = %q, want %q", ck.name, ck.got, ck.want)
		}
	}
	if len(ev.Cookies) != 1 || ev.Cookies[0] != "c1=v1" {
		t.Errorf("cookies = %q", ev.Cookies)
	}
	for k := range ev.Headers {
		if k != strings.ToLower(k) {
			t.Errorf("header %q is not lower-cased", k)
		}
	}
	if ev.RequestContext.TimeEpoch < before || ev.RequestContext.TimeEpoch > time.Now().UnixMilli() {
		t.Errorf("timeEpoch %d not the time of the request", ev.RequestContext.TimeEpoch)
	}
	if _, err := time.Parse(timeLayout, ev.RequestContext.Time); err != nil {
		t.Errorf("time %q: %v", ev.RequestContext.Time, err)
	}
	if ev.RequestContext.RequestID == "" || resp.Header.Get(headerRequestID) != ev.RequestContext.RequestID {
		t.Errorf("requestId %q, response header %q", ev.RequestContext.RequestID, resp.Header.Get(headerRequestID))
	}
}

func TestPayloadLimit(t *testing.T) {
	cases := []struct {
		name    string
		size    int
		chunked bool
		want    int
	}{
		{"at the limit", MaxPayloadBytes, false, 200},
		{"over, with content-length", MaxPayloadBytes + 1, false, 413},
		{"over, chunked", MaxPayloadBytes + 1, true, 413},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := &capture{}
			srv := serve(t, c.handle)
			var body io.Reader = bytes.NewReader(bytes.Repeat([]byte("a"), tc.size))
			if tc.chunked {
				body = io.MultiReader(body) // hides the length
			}
			resp, err := http.Post(srv.URL+"/woocommerce/webhook", "text/plain", body)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Fatalf("status %d, want %d (%s)", resp.StatusCode, tc.want, b)
			}
			if wantCalls := map[bool]int{true: 1, false: 0}[tc.want == 200]; c.calls != wantCalls {
				t.Errorf("handler called %d times, want %d", c.calls, wantCalls)
			}
			if tc.want == 413 && string(b) != bodyTooLarge {
				t.Errorf("body %q", b)
			}
		})
	}
}

func TestResponse(t *testing.T) {
	cases := []struct {
		name       string
		resp       events.APIGatewayV2HTTPResponse
		err        error
		panic      bool
		wantStatus int
		wantBody   string
		wantHeader map[string][]string
	}{
		{
			name: "json", resp: events.APIGatewayV2HTTPResponse{StatusCode: 401, Headers: map[string]string{"content-type": "application/json"}, Body: `{"error":"x"}`},
			wantStatus: 401, wantBody: `{"error":"x"}`, wantHeader: map[string][]string{"Content-Type": {"application/json"}},
		},
		{
			name: "base64 body, multi-value headers and cookies",
			resp: events.APIGatewayV2HTTPResponse{
				StatusCode: 200, Body: base64.StdEncoding.EncodeToString([]byte{0, 1, 2}), IsBase64Encoded: true,
				MultiValueHeaders: map[string][]string{"x-v": {"a", "b"}}, Cookies: []string{"s=1", "t=2"},
			},
			wantStatus: 200, wantBody: "\x00\x01\x02", wantHeader: map[string][]string{"X-V": {"a", "b"}, "Set-Cookie": {"s=1", "t=2"}},
		},
		{name: "handler error", err: errors.New("boom"), wantStatus: 500, wantBody: bodyInternal},
		{name: "handler panic", panic: true, wantStatus: 500, wantBody: bodyInternal},
		{name: "no status", resp: events.APIGatewayV2HTTPResponse{Body: "x"}, wantStatus: 500, wantBody: bodyInternal},
		{name: "bad base64", resp: events.APIGatewayV2HTTPResponse{StatusCode: 200, Body: "%%", IsBase64Encoded: true}, wantStatus: 500, wantBody: bodyInternal},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := serve(t, func(context.Context, events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
				if tc.panic {
					panic("handler bug")
				}
				return tc.resp, tc.err
			})
			resp, err := http.Post(srv.URL+"/woocommerce/webhook", "application/json", strings.NewReader("{}"))
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.wantStatus || string(b) != tc.wantBody {
				t.Errorf("got %d %q, want %d %q", resp.StatusCode, b, tc.wantStatus, tc.wantBody)
			}
			for k, want := range tc.wantHeader {
				if got := resp.Header.Values(k); strings.Join(got, "|") != strings.Join(want, "|") {
					t.Errorf("header %s = %q, want %q", k, got, want)
				}
			}
		})
	}
}

func TestRoute(t *testing.T) {
	c := &capture{}
	srv := serve(t, c.handle)
	cases := []struct {
		method, path string
		want         int
	}{
		{http.MethodPost, "/woocommerce/webhook", 200},
		{http.MethodGet, "/woocommerce/webhook", 405},
		{http.MethodPut, "/woocommerce/webhook", 405},
		{http.MethodPost, "/woocommerce/webhook/", 404},
		{http.MethodPost, "/", 404},
	}
	for _, tc := range cases {
		req, _ := http.NewRequest(tc.method, srv.URL+tc.path, strings.NewReader("{}"))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("%s %s: %d, want %d", tc.method, tc.path, resp.StatusCode, tc.want)
		}
		if tc.want == 405 && resp.Header.Get("Allow") != http.MethodPost {
			t.Errorf("%s %s: Allow %q", tc.method, tc.path, resp.Header.Get("Allow"))
		}
	}
	if c.calls != 1 {
		t.Errorf("handler called %d times, want 1", c.calls)
	}
}

// A route with a {name} segment takes any one segment there and passes it
// as a path parameter, as API Gateway does; the event's RouteKey is the
// route's, with the braces.
func TestRouteWithPathParameter(t *testing.T) {
	var got []events.APIGatewayV2HTTPRequest
	h := &Handler{Func: func(_ context.Context, ev events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
		got = append(got, ev)
		return events.APIGatewayV2HTTPResponse{StatusCode: 200}, nil
	}}
	srv := httptest.NewServer(Route(http.MethodPost, "/woocommerce/webhook/{shop}", h))
	defer srv.Close()
	for _, tc := range []struct {
		method, path string
		want         int
		shop         string
	}{
		{http.MethodPost, "/woocommerce/webhook/6yl2jw2oonj5nngm", 200, "6yl2jw2oonj5nngm"},
		{http.MethodPost, "/woocommerce/webhook/a%20b", 200, "a b"},
		{http.MethodGet, "/woocommerce/webhook/6yl2jw2oonj5nngm", 405, ""},
		{http.MethodPost, "/woocommerce/webhook", 404, ""},
		{http.MethodPost, "/woocommerce/webhook/", 404, ""},
		{http.MethodPost, "/woocommerce/webhook/a/b", 404, ""},
		{http.MethodPost, "/woocommerce/webhook/a%2Fb", 200, "a/b"},
		{http.MethodPost, "/woocommerce/hooks/x", 404, ""},
	} {
		got = nil
		req, _ := http.NewRequest(tc.method, srv.URL+tc.path, strings.NewReader("{}"))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("%s %s: %d, want %d", tc.method, tc.path, resp.StatusCode, tc.want)
		}
		if tc.want != 200 {
			continue
		}
		if len(got) != 1 || got[0].PathParameters["shop"] != tc.shop || got[0].RouteKey != "POST /woocommerce/webhook/{shop}" {
			t.Errorf("%s: events %+v", tc.path, got)
		}
	}
}

func TestHandlerDeadline(t *testing.T) {
	var left time.Duration
	h := &Handler{Timeout: 3 * time.Second, Func: func(ctx context.Context, _ events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
		d, _ := ctx.Deadline()
		left = time.Until(d)
		return events.APIGatewayV2HTTPResponse{StatusCode: 204}, nil
	}}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/", nil))
	if rec.Code != 204 || left <= 0 || left > 3*time.Second {
		t.Errorf("status %d, time left %v", rec.Code, left)
	}
}
