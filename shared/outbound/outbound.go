// Package outbound builds the HTTP clients this project calls other
// services with (the shop, Logistos): every limit explicit, connections
// kept alive, redirects reported instead of followed. It also holds the
// rules for the URLs they call: absolute http(s), and https for anything
// that carries orders or credentials, plain http only to this machine.
package outbound

import (
	"net"
	"net/http"
	"time"
)

// Connection reuse, the same for every service.
const (
	KeepAlive       = 30 * time.Second
	IdleConnTimeout = 60 * time.Second
)

// Limits of one client.
type Limits struct {
	// Request bounds one request, answer included; it also bounds the wait
	// for the answer's headers.
	Request time.Duration
	// Dial bounds connecting and the TLS handshake.
	Dial time.Duration
	// IdlePerHost is how many kept-alive connections per host are kept.
	IdlePerHost int
}

// NewHTTPClient returns a client to share for the life of the process.
// Redirects come back as answers: Go would turn a redirected POST into a
// GET and lose the body, and drop credentials on a redirect to another
// host; the caller says what to fix instead.
func NewHTTPClient(l Limits) *http.Client {
	return &http.Client{
		Timeout: l.Request,
		Transport: &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			DialContext:           (&net.Dialer{Timeout: l.Dial, KeepAlive: KeepAlive}).DialContext,
			TLSHandshakeTimeout:   l.Dial,
			ResponseHeaderTimeout: l.Request,
			MaxIdleConnsPerHost:   l.IdlePerHost,
			IdleConnTimeout:       IdleConnTimeout,
			ForceAttemptHTTP2:     true,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}
