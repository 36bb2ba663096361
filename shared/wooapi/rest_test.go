package wooapi

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

const realDir = "../../testdata/woocommerce/real-wc-8.9.1/"

func readFixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(realDir + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// shop serves handler and returns a client for it: a stand-in shop on
// loopback, so private addresses are allowed, as in local runs.
func shop(t *testing.T, handler http.HandlerFunc) *Client {
	t.Helper()
	srv := httptest.NewServer(handler)
	t.Cleanup(srv.Close)
	c, err := NewClient(NewHTTPClient(true), srv.URL, Key{ConsumerKey: "ck_test", ConsumerSecret: "cs_test"})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// recordWaits makes c retry at once and returns the waits the production
// backoff (RetryDelay) would have slept, in order.
func recordWaits(c *Client) *[]time.Duration {
	waits := new([]time.Duration)
	c.RetryDelay = func(attempt int, retryAfter time.Duration) time.Duration {
		*waits = append(*waits, RetryDelay(attempt, retryAfter))
		return 0
	}
	return waits
}

func TestListOrdersKeepsBytesAndReadsHeaders(t *testing.T) {
	page := readFixture(t, "orders-page.json")
	var got *http.Request
	c := shop(t, func(w http.ResponseWriter, r *http.Request) {
		got = r
		w.Header().Set("Content-Type", "application/json; charset=UTF-8")
		w.Header().Set("X-WP-Total", "311")
		w.Header().Set("X-WP-TotalPages", "156")
		w.Header().Set("Date", "Sat, 28 Nov 2026 02:09:31 GMT")
		w.Write(page)
	})
	cut := time.Date(2026, 11, 28, 2, 9, 32, 0, time.UTC)
	p, err := c.ListOrders(context.Background(), OrdersQuery{Page: 3, PerPage: 2, Before: cut, OrderBy: "id", Order: "asc"})
	if err != nil {
		t.Fatal(err)
	}
	if p.Total != 311 || p.TotalPages != 156 || len(p.IDs) != 2 || p.IDs[0] != 17 || p.IDs[1] != 18 {
		t.Fatalf("page: total %d pages %d ids %v", p.Total, p.TotalPages, p.IDs)
	}
	if !p.Date.Equal(time.Date(2026, 11, 28, 2, 9, 31, 0, time.UTC)) {
		t.Errorf("date %v", p.Date)
	}
	// The orders are the page's bytes exactly: escapes and all.
	joined := append(append(append([]byte("["), p.Orders[0]...), ','), p.Orders[1]...)
	if !bytes.Equal(append(joined, ']'), bytes.TrimSpace(page)) {
		t.Error("orders are not the listed bytes")
	}
	q := got.URL.Query()
	for k, want := range map[string]string{"page": "3", "per_page": "2", "status": "any", "orderby": "id", "order": "asc",
		"before": "2026-11-28T02:09:32", "dates_are_gmt": "true"} {
		if q.Get(k) != want {
			t.Errorf("query %s = %q, want %q", k, q.Get(k), want)
		}
	}
	if u, p, ok := got.BasicAuth(); !ok || u != "ck_test" || p != "cs_test" {
		t.Error("no HTTP Basic credentials")
	}
	if !strings.HasPrefix(got.UserAgent(), "logistos-sync/") || got.URL.Path != "/wp-json/wc/v3/orders" {
		t.Errorf("UA %q path %q", got.UserAgent(), got.URL.Path)
	}
}

func TestNewClientRefusesPlainHTTPToOtherHosts(t *testing.T) {
	for url, ok := range map[string]bool{
		"https://shop.example":    true,
		"http://127.0.0.1:8080":   true,
		"http://localhost:1":      true,
		"http://[::1]:1":          true,
		"http://shop.example":     false,
		"ftp://shop.example":      false,
		"shop.example/wp-json/wc": false,
	} {
		_, err := NewClient(NewHTTPClient(true), url, Key{})
		if (err == nil) != ok {
			t.Errorf("%s: err %v", url, err)
		}
	}
}

func TestRetries(t *testing.T) {
	t.Run("Retry-After is capped", func(t *testing.T) {
		if d := RetryDelay(1, time.Hour); d != MaxRetryAfter {
			t.Errorf("Retry-After of an hour: waits %s", d)
		}
	})
	t.Run("5xx then success", func(t *testing.T) {
		var n atomic.Int32
		c := shop(t, func(w http.ResponseWriter, r *http.Request) {
			if n.Add(1) < 3 {
				w.WriteHeader(500)
				return
			}
			w.Write([]byte("[]"))
		})
		waits := recordWaits(c)
		if _, err := c.ListOrders(context.Background(), OrdersQuery{}); err != nil || n.Load() != 3 {
			t.Fatalf("err %v after %d calls", err, n.Load())
		}
		// Exponential with jitter: half to all of 500 ms, then of 1 s.
		for i, w := range *waits {
			if d := RetryBaseDelay << i; w < d/2 || w > d {
				t.Errorf("wait %d of %v: want %v to %v", i+1, *waits, d/2, d)
			}
		}
		if len(*waits) != 2 {
			t.Errorf("waits %v, want one before each of the 2 retries", *waits)
		}
	})
	t.Run("429 honours Retry-After", func(t *testing.T) {
		var first time.Time
		var waited time.Duration
		c := shop(t, func(w http.ResponseWriter, r *http.Request) {
			if first.IsZero() {
				first = time.Now()
				w.Header().Set("Retry-After", "1")
				w.WriteHeader(429)
				return
			}
			waited = time.Since(first)
			w.Write([]byte("[]"))
		})
		if _, err := c.ListOrders(context.Background(), OrdersQuery{}); err != nil {
			t.Fatal(err)
		}
		if waited < time.Second {
			t.Errorf("retried after %s, Retry-After said 1s", waited)
		}
	})
	t.Run("no sleeping past the deadline", func(t *testing.T) {
		var n atomic.Int32
		c := shop(t, func(w http.ResponseWriter, r *http.Request) {
			n.Add(1)
			w.Header().Set("Retry-After", "30")
			w.WriteHeader(503)
		})
		// Time for the first call however slow the machine, not for
		// the 30 s the shop asks to wait.
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		_, err := c.ListOrders(ctx, OrdersQuery{})
		if !errors.Is(err, ErrNoTimeToRetry) || !IsTransient(err) || n.Load() != 1 {
			t.Fatalf("err %v after %d calls", err, n.Load())
		}
	})
	t.Run("creating is not retried after a 5xx", func(t *testing.T) {
		var n atomic.Int32
		c := shop(t, func(w http.ResponseWriter, r *http.Request) {
			n.Add(1)
			w.WriteHeader(502)
		})
		if _, err := c.CreateWebhook(context.Background(), WebhookChange{Topic: "order.created"}); err == nil || n.Load() != 1 {
			t.Fatalf("err %v after %d calls", err, n.Load())
		}
	})
	t.Run("4xx is not retried", func(t *testing.T) {
		var n atomic.Int32
		c := shop(t, func(w http.ResponseWriter, r *http.Request) {
			n.Add(1)
			w.WriteHeader(400)
			w.Write([]byte(`{"code":"rest_invalid_param","message":"Invalid parameter(s): per_page","data":{"status":400}}`))
		})
		if _, err := c.ListOrders(context.Background(), OrdersQuery{}); err == nil || IsTransient(err) || n.Load() != 1 {
			t.Fatalf("err %v after %d calls", err, n.Load())
		}
	})
}

func TestErrorsSayWhatToFix(t *testing.T) {
	unknownKey := readFixture(t, "error-401-unknown-key.json")
	cases := []struct {
		name   string
		status int
		ctype  string
		body   string
		header map[string]string
		write  bool
		want   error
		hint   string
	}{
		{"wrong secret", 401, "application/json", `{"code":"woocommerce_rest_authentication_error","message":"Consumer secret is invalid.","data":{"status":401}}`, nil, false, ErrWrongKey, "consumer secret does not belong"},
		{"unknown key (real 8.9.1 body)", 401, "application/json", string(unknownKey), nil, false, ErrWrongKey, "did not recognise the consumer key"},
		{"read-only key", 401, "application/json", `{"code":"woocommerce_rest_authentication_error","message":"The API key provided does not have write permissions.","data":{"status":401}}`, nil, true, ErrReadOnlyKey, "Read/Write"},
		{"no such user capability", 403, "application/json", `{"code":"woocommerce_rest_cannot_create","message":"Sorry, you are not allowed to create resources.","data":{"status":403}}`, nil, true, ErrForbidden, "Administrator"},
		{"REST API off (theme 404 page)", 404, "text/html", `<html><title>Page not found</title></html>`, nil, false, ErrNoRESTAPI, "Permalinks"},
		{"WooCommerce route missing", 404, "application/json", `{"code":"rest_no_route","message":"No route was found matching the URL and request method.","data":{"status":404}}`, nil, false, ErrNoRESTAPI, "WooCommerce is installed"},
		{"security challenge page", 200, "text/html", `<!DOCTYPE html><html><head><title>Just a moment...</title></head></html>`, nil, false, ErrNotJSON, "security plugin"},
		{"firewall block page", 403, "text/html; charset=UTF-8", `<html><head><title>Access denied</title></head></html>`, nil, false, ErrNotJSON, "firewall"},
		{"redirect", 301, "text/html", ``, map[string]string{"Location": "https://www.shop.example/wp-json/wc/v3/orders"}, false, ErrRedirected, "https://www.shop.example"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := shop(t, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", tc.ctype)
				for k, v := range tc.header {
					w.Header().Set(k, v)
				}
				w.WriteHeader(tc.status)
				w.Write([]byte(tc.body))
			})
			var err error
			if tc.write {
				_, err = c.UpdateWebhook(context.Background(), 1, WebhookChange{Secret: "x"})
			} else {
				err = c.CheckKey(context.Background())
			}
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.hint) {
				t.Errorf("got %v\nwant %v with hint %q", err, tc.want, tc.hint)
			}
			if strings.Contains(err.Error(), "cs_test") || strings.Contains(err.Error(), "ck_test") {
				t.Error("the error leaks the key")
			}
		})
	}
}

func TestMaintenancePageAfterRetries(t *testing.T) {
	var n atomic.Int32
	c := shop(t, func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(503)
		w.Write([]byte(`<html><head><title>Maintenance</title></head><body>Briefly unavailable for scheduled maintenance.</body></html>`))
	})
	waits := recordWaits(c)
	err := c.CheckKey(context.Background())
	var we *Error
	if !errors.As(err, &we) || we.Attempts != MaxAttempts || !errors.Is(err, ErrNotJSON) || we.Message != "Maintenance" || int(n.Load()) != MaxAttempts {
		t.Fatalf("err %v after %d calls", err, n.Load())
	}
	if !strings.Contains(err.Error(), "maintenance page") {
		t.Errorf("hint missing: %v", err)
	}
	// The backoff grows between attempts and stays under its cap.
	for i, w := range *waits {
		if w > RetryMaxDelay || (i > 0 && w < (*waits)[i-1]/2) {
			t.Errorf("waits %v", *waits)
		}
	}
}

func TestPlainHTTPHint(t *testing.T) {
	c := shop(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(401)
		w.Write([]byte(`{"code":"woocommerce_rest_cannot_view","message":"Sorry, you cannot list resources.","data":{"status":401}}`))
	})
	if err := c.CheckKey(context.Background()); !strings.Contains(err.Error(), "OAuth 1.0a") {
		t.Errorf("a 401 over plain http should say Basic auth needs https: %v", err)
	}
}
