package fakelogistos

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
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

// Received is when a request arrived, on the server's clock, before its
// answer was decided or held back: the moment an order reached Logistos.
func TestReceivedIsTheArrival(t *testing.T) {
	start := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	now := start
	f := &Server{
		Now: func() time.Time { mu.Lock(); defer mu.Unlock(); return now },
		// Deciding the answer takes an hour on the server's clock.
		Respond: func(*Request) Response { mu.Lock(); defer mu.Unlock(); now = now.Add(time.Hour); return OK },
	}
	srv := httptest.NewServer(f)
	defer srv.Close()
	c := &logistos.Client{HTTP: logistos.NewHTTPClient(), OrdersURL: srv.URL + OrdersPath}
	if err := c.PostOrders(context.Background(), payload(t)); err != nil {
		t.Fatal(err)
	}
	if got := f.Requests()[0].Received; !got.Equal(start) {
		t.Errorf("Received %s, want the arrival %s", got, start)
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

// A backfill's payloads are counted, not printed, after the first few of a
// burst; a payload after a quiet spell is printed in full again.
func TestPrintSummarisesBursts(t *testing.T) {
	backfill := func(first int) string {
		var orders []string
		for id := first; id < first+10; id++ {
			orders = append(orders, fmt.Sprintf(`{"id":%d,"total":"10.00"}`, id))
		}
		return `{"source":"woocommerce","event":"order.backfill","orders":[` + strings.Join(orders, ",") + `]}`
	}
	created := `{"source":"woocommerce","event":"order.created","orders":[{"id":9001,"total":"1849.00"}]}`
	type post struct {
		at   time.Duration // on the test's clock
		body string
	}
	// A hub's two shops backfilling at once: the counts name each shop.
	hub := func(n int, every time.Duration) []post {
		var ps []post
		for i := range n {
			shop := []string{"http://a.example", "http://b.example"}[i%2]
			body := strings.Replace(backfill(10*i), `"source":"woocommerce",`, `"source":"woocommerce","store_url":"`+shop+`",`, 1)
			ps = append(ps, post{time.Duration(i) * every, body})
		}
		return ps
	}
	burst := func(n int, start, every time.Duration) []post {
		var ps []post
		for i := range n {
			ps = append(ps, post{start + time.Duration(i)*every, backfill(10 * i)})
		}
		return ps
	}
	for _, tc := range []struct {
		name      string
		posts     []post
		flushAt   time.Duration
		full      int      // payloads printed in full
		summaries int      // count lines
		want      []string // in the output
	}{
		{"a few orders by hand", []post{{0, created}, {5 * time.Second, created}}, 10 * time.Second, 2, 0, []string{`"id": 9001`}},
		{"a burst", burst(25, 0, 100*time.Millisecond), 5 * time.Second, FullPayloads, 2, []string{
			"more payloads are arriving: from now on counted every 2s, not printed",
			"── Logistos received 21 POSTs, 210 orders (order.backfill 210), 6 KB, 105 orders/s; 210 orders in this burst so far",
			"── Logistos received 1 POSTs, 10 orders (order.backfill 10)",
			"burst over: 220 orders counted in 2.1s, not printed (the first 3 payloads were)",
		}},
		{"two shops' backfills", hub(10, 100*time.Millisecond), 5 * time.Second, FullPayloads, 1, []string{
			"── Logistos received 7 POSTs, 70 orders (order.backfill 70), 2 KB, 117 orders/s, from http://a.example 30, http://b.example 40; 70 orders in this burst so far",
		}},
		{"an order by hand after a burst", append(burst(5, 0, 100*time.Millisecond), post{10 * time.Second, created}), 20 * time.Second, FullPayloads + 1, 1, []string{
			"burst over: 20 orders counted", `"id": 9001`,
		}},
		{"still arriving: not over", burst(5, 0, 100*time.Millisecond), 1 * time.Second, FullPayloads, 0, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			var now time.Duration
			start := time.Date(2026, 11, 29, 0, 0, 0, 0, time.UTC)
			f := &Server{Print: &out, Now: func() time.Time { return start.Add(now) }}
			for _, p := range tc.posts {
				now = p.at
				rec := httptest.NewRecorder()
				f.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, OrdersPath, strings.NewReader(p.body)))
				if rec.Code != http.StatusOK {
					t.Fatalf("answered %d", rec.Code)
				}
			}
			now = tc.flushAt
			f.FlushSummary()
			if tc.name == "still arriving: not over" {
				if strings.Contains(out.String(), "burst over") {
					t.Fatalf("a burst still arriving was ended:\n%s", out.String())
				}
				f.Close() // stopping ends it, with its counts
				if !strings.Contains(out.String(), "burst over: 20 orders counted") {
					t.Errorf("Close did not print the burst's counts:\n%s", out.String())
				}
				return
			}
			s := out.String()
			if n := strings.Count(s, "── Logistos received POST"); n != tc.full {
				t.Errorf("%d payloads printed in full, want %d:\n%s", n, tc.full, s)
			}
			if n := strings.Count(s, "── Logistos received ") - strings.Count(s, "── Logistos received POST"); n != tc.summaries {
				t.Errorf("%d count lines, want %d:\n%s", n, tc.summaries, s)
			}
			for _, w := range tc.want {
				if !strings.Contains(s, w) {
					t.Errorf("output lacks %q:\n%s", w, s)
				}
			}
		})
	}
}

// Down, every POST is answered 503 whatever Respond says; up, as before.
func TestSwitchDownAndUp(t *testing.T) {
	s := &Server{}
	srv := httptest.NewServer(s)
	defer srv.Close()
	post := func(path string) int {
		t.Helper()
		resp, err := http.Post(srv.URL+path, "application/json", strings.NewReader(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	steps := []struct {
		path string
		want int
	}{
		{OrdersPath, 200},
		{SwitchPath + "?state=down", 200},
		{OrdersPath, 503},
		{CredentialsPath, 503},
		{SwitchPath + "?state=sideways", 400},
		{OrdersPath, 503},
		{SwitchPath + "?state=up", 200},
		{OrdersPath, 200},
	}
	for _, st := range steps {
		if got := post(st.path); got != st.want {
			t.Errorf("POST %s: %d, want %d", st.path, got, st.want)
		}
	}
	if n := len(s.Requests()); n != 5 {
		t.Errorf("%d requests recorded, want the 5 to Logistos's paths", n)
	}
}
