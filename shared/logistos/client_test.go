package logistos

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/logistos-sync/logistos-sync/shared/version"
)

func testPayload(t *testing.T) *Payload {
	o, err := ParseOrder([]byte(`{"id":313,"date_modified_gmt":"2026-11-28T02:06:16","total":"33.99"}`))
	if err != nil {
		t.Fatal(err)
	}
	return &Payload{Source: Source, StoreURL: "http://127.0.0.1:8088", Event: "order.created", Orders: []Order{o}}
}

func TestPostOrdersRequest(t *testing.T) {
	var got *http.Request
	var body []byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, body = r, must(io.ReadAll(r.Body))
		w.WriteHeader(201)
	}))
	defer srv.Close()
	c := &Client{HTTP: NewHTTPClient(), OrdersURL: srv.URL + "/integration/woo_commerce_orders"}
	p := testPayload(t)
	if err := c.PostOrders(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	if got.Method != "POST" || got.URL.Path != "/integration/woo_commerce_orders" {
		t.Errorf("%s %s", got.Method, got.URL.Path)
	}
	for h, want := range map[string]string{
		"Content-Type":    "application/json",
		"User-Agent":      version.UserAgent(),
		"Idempotency-Key": "b92352d16e5f25089592a511215220eef24e2d8ffb9dc30925f040140ce22b4f",
	} {
		if v := got.Header.Get(h); v != want {
			t.Errorf("%s = %q, want %q", h, v, want)
		}
	}
	var sent map[string]any
	if err := json.Unmarshal(body, &sent); err != nil || sent["store_url"] != "http://127.0.0.1:8088" || sent["source"] != "woocommerce" {
		t.Errorf("body %s (%v)", body, err)
	}
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}

func TestPostClassification(t *testing.T) {
	cases := []struct {
		status    int
		transient bool
	}{
		{200, false}, {202, false}, {301, false}, {302, false}, {400, false}, {401, false}, {403, false}, {404, false},
		{408, true}, {409, false}, {422, false}, {429, true}, {500, true}, {502, true}, {503, true}, {504, true},
	}
	for _, c := range cases {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if c.status/100 == 3 {
				w.Header().Set("Location", "/elsewhere")
			}
			w.WriteHeader(c.status)
			io.WriteString(w, `{"error":"`+strings.Repeat("x", 2000)+`"}`)
		}))
		err := (&Client{HTTP: NewHTTPClient(), OrdersURL: srv.URL}).PostOrders(context.Background(), testPayload(t))
		srv.Close()
		if c.status/100 == 2 {
			if err != nil {
				t.Errorf("%d: %v", c.status, err)
			}
			continue
		}
		var le *Error
		if !errors.As(err, &le) || le.StatusCode != c.status || le.Transient != c.transient || IsTransient(err) != c.transient {
			t.Errorf("%d: err %v, want status error transient=%v", c.status, err, c.transient)
			continue
		}
		if len(le.Detail) > maxErrorBody {
			t.Errorf("%d: detail of %d bytes kept", c.status, len(le.Detail))
		}
	}
}

func TestPostNetworkFailuresAreTransient(t *testing.T) {
	// Connection reset: accept, then close without answering.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			if tc, ok := conn.(*net.TCPConn); ok {
				tc.SetLinger(0) // RST, not FIN
			}
			conn.Close()
		}
	}()
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(2 * time.Second):
		case <-r.Context().Done():
		}
	}))
	defer slow.Close()
	closed := httptest.NewServer(http.NotFoundHandler())
	refused := closed.URL
	closed.Close()

	cases := map[string]struct {
		url     string
		timeout time.Duration
	}{
		"reset":   {"http://" + ln.Addr().String(), time.Second},
		"timeout": {slow.URL, 100 * time.Millisecond},
		"refused": {refused, time.Second},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
			defer cancel()
			err := (&Client{HTTP: NewHTTPClient(), OrdersURL: c.url}).PostOrders(ctx, testPayload(t))
			if err == nil || !IsTransient(err) {
				t.Fatalf("err %v, want transient", err)
			}
		})
	}
}

func TestPostCredentials(t *testing.T) {
	var got map[string]string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Idempotency-Key") != "" {
			t.Error("credentials POST carries an order idempotency key")
		}
		json.NewDecoder(r.Body).Decode(&got)
	}))
	defer srv.Close()
	cred := Credentials{StoreURL: "https://shop.example", ConsumerKey: "ck_1", ConsumerSecret: "cs_2"}
	if err := (&Client{HTTP: NewHTTPClient(), CredentialsURL: srv.URL}).PostCredentials(context.Background(), cred); err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got["store_url"] != "https://shop.example" || got["consumer_key"] != "ck_1" || got["consumer_secret"] != "cs_2" {
		t.Fatalf("credentials payload %v", got)
	}
}

func TestPostOrdersOneOrderPerPayload(t *testing.T) {
	var calls int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { calls++ }))
	defer srv.Close()
	c := &Client{HTTP: srv.Client(), OrdersURL: srv.URL}
	a, _ := ParseOrder([]byte(`{"id":1}`))
	b, _ := ParseOrder([]byte(`{"id":2}`))
	for _, orders := range [][]Order{nil, {a, b}} {
		err := c.PostOrders(context.Background(), &Payload{StoreURL: "https://shop.example", Orders: orders})
		if err == nil || IsTransient(err) {
			t.Errorf("%d orders: err %v, want a permanent error", len(orders), err)
		}
	}
	if calls != 0 {
		t.Fatalf("%d requests sent for payloads that cannot carry one key", calls)
	}
}
