// Package fakelogistos is a stand-in for the Logistos integration API: it
// records every request it receives, answers as told (including faults a
// real network produces: errors, slowness, resets, garbage), and can print
// each payload for a human watching `make run`.
package fakelogistos

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The paths of the real Logistos URLs (see config.DefaultLogistosOrdersURL).
const (
	OrdersPath      = "/integration/woo_commerce_orders"
	CredentialsPath = "/integration/integrate_woo_commerce"
	// SwitchPath takes the stand-in down (POST ?state=down: every request
	// answered 503, as in a maintenance window) and up again (?state=up),
	// to watch orders wait out an outage and come back.
	SwitchPath = "/_standin/logistos"
)

// maxBody bounds what one request may carry; payloads are at most a few MB.
const maxBody = 64 << 20

// Request is one request as received.
type Request struct {
	N      int // 1 for the first request the server received
	Method string
	Path   string
	Header http.Header
	Body   []byte
	// Received is when the request arrived, before any Delay: when the
	// order reached Logistos, for measuring how long it took to get there.
	Received time.Time
	// Status is what the server answered; 0 for a reset, a malformed
	// answer, or a client that gave up before a slow answer.
	Status int
}

// IdempotencyKey returns the request's Idempotency-Key header.
func (r *Request) IdempotencyKey() string { return r.Header.Get("Idempotency-Key") }

// Response is how the server answers one request.
type Response struct {
	Status int    // 200 when zero
	Body   string // `{"status":"ok"}` when empty and Status is 2xx
	// Delay holds the answer back, e.g. past the client's timeout. A client
	// that gives up ends the wait.
	Delay time.Duration
	// Reset closes the connection without answering.
	Reset bool
	// Malformed writes bytes that are not an HTTP response, then closes.
	Malformed bool
}

// Common answers.
var (
	OK          = Response{Status: http.StatusOK}
	Unavailable = Response{Status: http.StatusServiceUnavailable, Body: `{"error":"maintenance"}`}
	ServerError = Response{Status: http.StatusInternalServerError, Body: `{"error":"internal"}`}
	TooMany     = Response{Status: http.StatusTooManyRequests, Body: `{"error":"slow down"}`}
	Invalid     = Response{Status: http.StatusUnprocessableEntity, Body: `{"error":"invalid order"}`}
	BadRequest  = Response{Status: http.StatusBadRequest, Body: `{"error":"bad request"}`}
	Reset       = Response{Reset: true}
	Malformed   = Response{Malformed: true}
)

// Slow is an OK answer held back for d.
func Slow(d time.Duration) Response { return Response{Status: http.StatusOK, Delay: d} }

// Responder decides the answer to a request.
type Responder func(r *Request) Response

// Sequence answers the nth request with rs[n-1], and OK once rs runs out.
func Sequence(rs ...Response) Responder {
	return func(r *Request) Response {
		if r.N <= len(rs) {
			return rs[r.N-1]
		}
		return OK
	}
}

// Always answers every request with r.
func Always(resp Response) Responder { return func(*Request) Response { return resp } }

// Server is the fake Logistos; its zero value answers every request 200.
// It is an http.Handler, for httptest.NewServer, or Start it on an address.
type Server struct {
	// Respond decides answers; nil answers OK.
	Respond Responder
	// Print, when set, receives each accepted payload pretty-printed: the
	// first FullPayloads of a burst, then counts and rates every
	// SummaryEvery until the burst ends (see summary.go).
	Print io.Writer
	// Now is the server's clock (Request.Received, the printout);
	// time.Now when nil (tests set it).
	Now func() time.Time

	mu      sync.Mutex
	down    bool
	arrived int
	reqs    []*Request
	notify  chan struct{}
	printMu sync.Mutex
	burst   burst
	srv     *http.Server
	url     string
}

// SetRespond changes the answers of requests from now on.
func (s *Server) SetRespond(r Responder) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.Respond = r
}

// ServeHTTP records the request and answers it as Respond says.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == SwitchPath && r.Method == http.MethodPost {
		s.toggle(w, r.URL.Query().Get("state"))
		return
	}
	if r.URL.Path != OrdersPath && r.URL.Path != CredentialsPath {
		http.Error(w, `{"error":"not found"}`, http.StatusNotFound)
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, `{"error":"method not allowed"}`, http.StatusMethodNotAllowed)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody))
	if err != nil {
		return // the client went away mid-body; nothing was delivered
	}
	req := &Request{Method: r.Method, Path: r.URL.Path, Header: r.Header.Clone(), Body: body, Received: s.clock()}
	s.mu.Lock()
	s.arrived++
	req.N = s.arrived
	respond, down := s.Respond, s.down
	s.mu.Unlock()

	resp := OK
	switch {
	case down:
		resp = Unavailable
	case respond != nil:
		resp = respond(req)
	}
	req.Status = s.answer(w, r, resp)
	if s.Print != nil && req.Status >= 200 && req.Status < 300 {
		s.print(req)
	}
	s.mu.Lock()
	s.reqs = append(s.reqs, req)
	s.signal()
	s.mu.Unlock()
}

// toggle takes the server down or up (SwitchPath).
func (s *Server) toggle(w http.ResponseWriter, state string) {
	if state != "down" && state != "up" {
		http.Error(w, `want ?state=down or ?state=up`, http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	s.down = state == "down"
	s.mu.Unlock()
	msg := "Logistos stand-in is up: POSTs are answered again\n"
	if state == "down" {
		msg = "Logistos stand-in is down: every POST is answered 503 until ?state=up\n"
	}
	if s.Print != nil {
		s.printMu.Lock()
		fmt.Fprint(s.Print, "\n"+msg)
		s.printMu.Unlock()
	}
	_, _ = io.WriteString(w, msg)
}

// SwitchURL is where to take the server down and up (SwitchPath).
func (s *Server) SwitchURL() string { return s.url + SwitchPath }

// answer writes resp and returns the status the client got, or 0.
func (s *Server) answer(w http.ResponseWriter, r *http.Request, resp Response) int {
	if resp.Delay > 0 {
		t := time.NewTimer(resp.Delay)
		defer t.Stop()
		select {
		case <-r.Context().Done():
			return 0
		case <-t.C:
		}
	}
	if resp.Reset || resp.Malformed {
		conn, buf, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return 0
		}
		if resp.Malformed {
			_, _ = buf.WriteString("HTTP/1.1 2OO Okay?\r\nContent-Length: banana\r\n\r\n{\"stat")
			_ = buf.Flush()
		} else if tc, ok := conn.(*net.TCPConn); ok {
			_ = tc.SetLinger(0) // RST, not FIN: a reset as the client sees it
		}
		_ = conn.Close()
		return 0
	}
	status := resp.Status
	if status == 0 {
		status = http.StatusOK
	}
	body := resp.Body
	if body == "" && status >= 200 && status < 300 {
		body = `{"status":"ok"}`
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
	return status
}

// signal wakes Wait callers; s.mu must be held.
func (s *Server) signal() {
	if s.notify != nil {
		close(s.notify)
		s.notify = nil
	}
}

// Requests returns the requests answered so far (resets and give-ups
// included), in the order their answers ended.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Request, 0, len(s.reqs))
	for _, r := range s.reqs {
		out = append(out, *r)
	}
	return out
}

// Delivered returns the orders requests that were answered 2xx: what
// Logistos accepted.
func (s *Server) Delivered() []Request {
	var out []Request
	for _, r := range s.Requests() {
		if r.Path == OrdersPath && r.Status >= 200 && r.Status < 300 {
			out = append(out, r)
		}
	}
	return out
}

// Wait blocks until cond holds for the requests answered so far, or ctx ends.
func (s *Server) Wait(ctx context.Context, cond func([]Request) bool) error {
	for {
		s.mu.Lock()
		if s.notify == nil {
			s.notify = make(chan struct{})
		}
		ch := s.notify
		s.mu.Unlock()
		if cond(s.Requests()) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("fake logistos: condition not met: %w", ctx.Err())
		case <-ch:
		}
	}
}

// print writes one accepted payload for a human, or counts it in a burst.
func (s *Server) print(r *Request) {
	s.printMu.Lock()
	defer s.printMu.Unlock()
	s.printBurst(r, func() { s.printFull(r) })
}

// printFull writes the payload pretty-printed.
func (s *Server) printFull(r *Request) {
	body := r.Body
	if r.Path == CredentialsPath {
		body = maskCredentials(body)
	}
	var pretty bytes.Buffer
	if json.Indent(&pretty, body, "", "  ") != nil {
		pretty.Reset()
		pretty.Write(body)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "\n── Logistos received POST %s (%d bytes)\n", r.Path, len(r.Body))
	if k := r.IdempotencyKey(); k != "" {
		fmt.Fprintf(&b, "   Idempotency-Key: %s\n", k)
	}
	fmt.Fprintf(&b, "   User-Agent: %s\n%s\n", r.Header.Get("User-Agent"), pretty.String())
	_, _ = io.WriteString(s.Print, b.String())
}

// maskCredentials shortens the key and secret in a credentials payload to
// their first characters: the terminal shows that a key arrived, never the
// key (with make run connected to a real shop it would be the real one).
func maskCredentials(body []byte) []byte {
	var c map[string]any
	if json.Unmarshal(body, &c) != nil {
		return []byte(`"(not JSON; not shown)"`)
	}
	for _, k := range []string{"consumer_key", "consumer_secret"} {
		if v, ok := c[k].(string); ok && len(v) > 0 {
			c[k] = v[:min(len(v), 2)] + "… (" + strconv.Itoa(len(v)) + " characters, not shown)"
		}
	}
	out, _ := json.Marshal(c)
	return out
}

// Start serves on addr (e.g. "127.0.0.1:0") until Close.
func (s *Server) Start(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("fake logistos: listen on %s: %w", addr, err)
	}
	s.srv = &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	s.url = "http://" + ln.Addr().String()
	go func() { _ = s.srv.Serve(ln) }()
	return nil
}

// URL is the base URL of a started server.
func (s *Server) URL() string { return s.url }

// OrdersURL is the orders endpoint of a started server.
func (s *Server) OrdersURL() string { return s.url + OrdersPath }

// CredentialsURL is the credentials endpoint of a started server.
func (s *Server) CredentialsURL() string { return s.url + CredentialsPath }

// Close stops a started server, ending requests in flight.
func (s *Server) Close() error {
	s.printMu.Lock()
	s.endBurst() // the last counts of a burst still arriving
	s.printMu.Unlock()
	if s.srv == nil {
		return nil
	}
	return s.srv.Close()
}
