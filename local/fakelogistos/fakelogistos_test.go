package fakelogistos

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/logistos-sync/logistos-sync/shared/logistos"
	"github.com/logistos-sync/logistos-sync/shared/version"
)

func payload(t *testing.T) *logistos.Payload {
	t.Helper()
	o, err := logistos.ParseOrder([]byte(`{"id":4821,"total":"1849.00","date_modified_gmt":"2026-11-20T13:12:09","billing":{"first_name":"\u092a\u094d\u0930\u093f\u092f\u093e"}}`))
	if err != nil {
		t.Fatal(err)
	}
	return &logistos.Payload{Source: logistos.Source, StoreURL: "https://shop.example.in", Event: "order.created", Orders: []logistos.Order{o}}
}

// The real Logistos client against each fault: the fake must produce the
// failures the forwarder classifies.
func TestFaultsAsTheClientSeesThem(t *testing.T) {
	cases := []struct {
		name          string
		resp          Response
		wantErr       bool
		wantTransient bool
		wantStatus    int // recorded answer
	}{
		{"ok", OK, false, false, 200},
		{"503", Unavailable, true, true, 503},
		{"500", ServerError, true, true, 500},
		{"429", TooMany, true, true, 429},
		{"422", Invalid, true, false, 422},
		{"400", BadRequest, true, false, 400},
		{"slow", Slow(2 * time.Second), true, true, 0},
		{"reset", Reset, true, true, 0},
		{"malformed", Malformed, true, true, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := &Server{Respond: Always(tc.resp)}
			srv := httptest.NewServer(f)
			defer srv.Close()
			c := &logistos.Client{HTTP: logistos.NewHTTPClient(), OrdersURL: srv.URL + OrdersPath}
			// A generous deadline, but for a slow answer, which must
			// outlast it: the client times out, not the machine.
			timeout := time.Minute
			if tc.resp.Delay > 0 {
				timeout = tc.resp.Delay / 4
			}
			ctx, cancel := context.WithTimeout(context.Background(), timeout)
			defer cancel()
			p := payload(t)
			err := c.PostOrders(ctx, p)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want error %v", err, tc.wantErr)
			}
			if err != nil && logistos.IsTransient(err) != tc.wantTransient {
				t.Errorf("transient = %v, want %v (%v)", logistos.IsTransient(err), tc.wantTransient, err)
			}
			var le *logistos.Error
			if tc.wantStatus >= 300 && (!errors.As(err, &le) || le.StatusCode != tc.wantStatus) {
				t.Errorf("error %v does not carry status %d", err, tc.wantStatus)
			}
			// The slow answer is recorded once its delay is over.
			waitCtx, cancelWait := context.WithTimeout(context.Background(), time.Minute)
			defer cancelWait()
			if err := f.Wait(waitCtx, func(rs []Request) bool { return len(rs) >= 1 }); err != nil {
				t.Fatal(err)
			}
			r := f.Requests()[0]
			if r.Status != tc.wantStatus {
				t.Errorf("recorded status %d, want %d", r.Status, tc.wantStatus)
			}
			if r.Path != OrdersPath || r.Method != http.MethodPost || r.IdempotencyKey() != p.IdempotencyKey() ||
				r.Header.Get("User-Agent") != version.UserAgent() || r.Header.Get("Content-Type") != "application/json" {
				t.Errorf("recorded %s %s key %q UA %q CT %q", r.Method, r.Path, r.IdempotencyKey(), r.Header.Get("User-Agent"), r.Header.Get("Content-Type"))
			}
			want, _ := p.Marshal()
			if !bytes.Equal(r.Body, want) {
				t.Errorf("recorded body %s, want %s", r.Body, want)
			}
			if got := len(f.Delivered()); got != map[bool]int{true: 1, false: 0}[tc.wantStatus == 200] {
				t.Errorf("Delivered() has %d requests", got)
			}
		})
	}
}

func TestSequenceAndEndpoints(t *testing.T) {
	f := &Server{Respond: Sequence(Unavailable, Invalid)}
	if err := f.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	c := &logistos.Client{HTTP: logistos.NewHTTPClient(), OrdersURL: f.OrdersURL(), CredentialsURL: f.CredentialsURL()}
	ctx := context.Background()
	var statuses []int
	for range 3 {
		err := c.PostOrders(ctx, payload(t))
		var le *logistos.Error
		switch {
		case err == nil:
			statuses = append(statuses, 200)
		case errors.As(err, &le):
			statuses = append(statuses, le.StatusCode)
		}
	}
	if err := c.PostCredentials(ctx, logistos.Credentials{StoreURL: "https://shop.example", ConsumerKey: "ck_x", ConsumerSecret: "cs_y"}); err != nil {
		t.Fatal(err)
	}
	if got := statuses; len(got) != 3 || got[0] != 503 || got[1] != 422 || got[2] != 200 {
		t.Errorf("statuses %v, want [503 422 200]", got)
	}
	rs := f.Requests()
	if len(rs) != 4 || rs[3].Path != CredentialsPath || !strings.Contains(string(rs[3].Body), `"consumer_key":"ck_x"`) {
		t.Errorf("requests %+v", rs)
	}
	for _, tc := range []struct {
		method, path string
		want         int
	}{{"GET", OrdersPath, 405}, {"POST", "/other", 404}} {
		req, _ := http.NewRequest(tc.method, f.URL()+tc.path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("%s %s: %d, want %d", tc.method, tc.path, resp.StatusCode, tc.want)
		}
	}
}

func TestPrint(t *testing.T) {
	var out bytes.Buffer
	f := &Server{Print: &out, Respond: Sequence(Invalid)}
	srv := httptest.NewServer(f)
	defer srv.Close()
	c := &logistos.Client{HTTP: logistos.NewHTTPClient(), OrdersURL: srv.URL + OrdersPath}
	p := payload(t)
	_ = c.PostOrders(context.Background(), p) // 422: not printed
	if out.Len() != 0 {
		t.Errorf("a rejected payload was printed: %s", out.String())
	}
	if err := c.PostOrders(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	s := out.String()
	for _, want := range []string{"Idempotency-Key: " + p.IdempotencyKey(), "\n  \"store_url\": \"https://shop.example.in\"", "प्रिया", `"total": "1849.00"`} {
		if !strings.Contains(s, want) {
			t.Errorf("printout lacks %q:\n%s", want, s)
		}
	}
}
