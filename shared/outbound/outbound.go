// Package outbound builds the HTTP clients this project calls other
// services with (the shop, Logistos): every limit explicit, connections
// kept alive, redirects reported instead of followed. It also holds the
// rules for the URLs they call: absolute http(s), and https for anything
// that carries orders or credentials, plain http only to this machine; and
// the Guard that keeps calls to shops' URLs, which are not the operator's
// to choose, out of loopback, private and metadata addresses.
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
	// Guard, when set, refuses at every dial the addresses a shop may not
	// have (see Guard); nil dials anything, for services whose URL is the
	// operator's own setting (Logistos) and for stand-in shops on loopback.
	Guard *Guard
}

// NewHTTPClient returns a client to share for the life of the process.
// Redirects come back as answers: Go would turn a redirected POST into a
// GET and lose the body, and drop credentials on a redirect to another
// host; the caller says what to fix instead.
//
// A guarded client ignores HTTP_PROXY and HTTPS_PROXY: through a proxy the
// proxy resolves and dials the shop, and the guard would only see the
// proxy's address. Lambda needs no proxy to reach the internet; an egress
// proxy would have to enforce the same rule itself, so a guarded client
// never uses one rather than trust that it does.
func NewHTTPClient(l Limits) *http.Client {
	dialer := &net.Dialer{Timeout: l.Dial, KeepAlive: KeepAlive}
	proxy, dial := http.ProxyFromEnvironment, dialer.DialContext
	if l.Guard != nil {
		proxy, dial = nil, l.Guard.DialContext(dialer)
	}
	return &http.Client{
		Timeout: l.Request,
		Transport: &http.Transport{
			Proxy:                 proxy,
			DialContext:           dial,
			TLSHandshakeTimeout:   l.Dial,
			ResponseHeaderTimeout: l.Request,
			MaxIdleConnsPerHost:   l.IdlePerHost,
			IdleConnTimeout:       IdleConnTimeout,
			ForceAttemptHTTP2:     true,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}
