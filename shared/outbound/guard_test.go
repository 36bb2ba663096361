package outbound

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestClassify(t *testing.T) {
	for addr, want := range map[string]string{
		// IPv4
		"127.0.0.1": "loopback", "127.8.9.1": "loopback",
		"10.0.0.5": "private", "172.16.0.1": "private", "172.31.255.255": "private", "192.168.1.1": "private",
		"169.254.0.1": "link-local", "169.254.169.254": "metadata",
		"100.64.0.1": "shared (CGNAT)", "100.127.255.254": "shared (CGNAT)",
		"0.0.0.0": "this-network", "0.1.2.3": "this-network",
		"224.0.0.1": "multicast", "239.255.255.250": "multicast",
		"8.8.8.8": "", "192.0.2.1": "", "172.32.0.1": "", "100.128.0.1": "", "169.255.0.1": "", "11.0.0.1": "",
		// IPv6
		"::1": "loopback", "::": "unspecified", "fc00::1": "private", "fd12:3456::1": "private",
		"fe80::1": "link-local", "fd00:ec2::254": "metadata",
		"64:ff9b::a9fe:a9fe": "metadata", "64:ff9b::7f00:1": "loopback", "64:ff9b::808:808": "", "ff02::1": "multicast",
		"2001:db8::1": "", "2606:4700::1111": "",
		// IPv4 written as IPv6: judged as the IPv4 address
		"::ffff:127.0.0.1": "loopback", "::ffff:10.0.0.5": "private", "::ffff:169.254.169.254": "metadata",
		"::ffff:100.64.0.1": "shared (CGNAT)", "::ffff:0.0.0.0": "this-network", "::ffff:8.8.8.8": "",
	} {
		if got := Classify(netip.MustParseAddr(addr)); got != want {
			t.Errorf("Classify(%s) = %q, want %q", addr, got, want)
		}
	}
	if got := Classify(netip.Addr{}); got == "" {
		t.Error("the zero address is allowed")
	}
}

// changingResolver answers each lookup with the next of its answers, the
// last one for ever: a shop's DNS that changes after it was connected.
type changingResolver struct {
	answers []netip.Addr
	calls   atomic.Int32
}

func (r *changingResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	n := int(r.calls.Add(1)) - 1
	if host != "shop.example" {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	return []netip.Addr{r.answers[min(n, len(r.answers)-1)]}, nil
}

// counting is a real server on loopback that counts what reaches it.
func counting(t *testing.T) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	hits := new(atomic.Int32)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	t.Cleanup(srv.Close)
	return srv, hits
}

func guarded(r Resolver) *http.Client {
	return NewHTTPClient(Limits{Request: time.Second, Dial: 200 * time.Millisecond, IdlePerHost: 1, Guard: &Guard{Resolver: r}})
}

// A shop's name that resolved to a public address when it connected and
// to this machine later is refused at the later dial, before anything is
// sent. 192.0.2.1 (TEST-NET-1) stands for the public address: allowed, but
// nothing answers there, so the first request fails as a dial, not as a
// refusal.
func TestGuardChecksEveryDial(t *testing.T) {
	srv, hits := counting(t)
	port := srv.Listener.Addr().(*net.TCPAddr).Port
	r := &changingResolver{answers: []netip.Addr{netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("127.0.0.1")}}
	c := guarded(r)
	target := "http://shop.example:" + strconv.Itoa(port) + "/wp-json/wc/v3/orders"

	_, err := c.Get(target)
	if err == nil || errors.Is(err, ErrForbiddenAddress) {
		t.Fatalf("first request (public address) = %v, want a dial failure, not a refusal", err)
	}
	_, err = c.Get(target)
	if !errors.Is(err, ErrForbiddenAddress) {
		t.Fatalf("second request (now loopback) = %v, want ErrForbiddenAddress", err)
	}
	if want := "shop address shop.example resolves to 127.0.0.1, a loopback address: refused"; !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not say %q", err, want)
	}
	var fe *ForbiddenAddressError
	if !errors.As(err, &fe) || fe.Host != "shop.example" || fe.Kind != "loopback" {
		t.Errorf("error %#v, want a *ForbiddenAddressError for shop.example", fe)
	}
	if r.calls.Load() != 2 || hits.Load() != 0 {
		t.Errorf("%d lookups, %d requests reached the server; want 2 and 0", r.calls.Load(), hits.Load())
	}
}

// With the guard off (ALLOW_PRIVATE_SHOPS, local runs) a shop on loopback
// is reached.
func TestNoGuardReachesLoopback(t *testing.T) {
	srv, hits := counting(t)
	resp, err := NewHTTPClient(Limits{Request: time.Second, Dial: time.Second}).Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if hits.Load() != 1 {
		t.Errorf("%d requests reached the server, want 1", hits.Load())
	}
}

// An address written in the URL is checked as a resolved one, without
// asking DNS.
func TestGuardRefusesLiteralAddresses(t *testing.T) {
	srv, hits := counting(t)
	port := strconv.Itoa(srv.Listener.Addr().(*net.TCPAddr).Port)
	r := &changingResolver{answers: []netip.Addr{netip.MustParseAddr("192.0.2.1")}}
	c := guarded(r)
	for target, want := range map[string]string{
		"http://10.0.0.1/":                            "shop address 10.0.0.1 is a private address: refused",
		"http://127.0.0.1:" + port + "/":              "shop address 127.0.0.1 is a loopback address: refused",
		"http://[::1]:" + port + "/":                  "shop address ::1 is a loopback address: refused",
		"http://[::ffff:127.0.0.1]:" + port + "/":     "shop address ::ffff:127.0.0.1 resolves to 127.0.0.1, a loopback address: refused",
		"http://169.254.169.254/latest/meta-data/":    "a metadata address: refused",
		"https://[fd00:ec2::254]/latest/meta-data/":   "a metadata address: refused",
		"http://0.0.0.0:" + port + "/":                "a this-network address: refused",
		"https://100.64.0.1/wp-json/wc/v3/":           "a shared (CGNAT) address: refused",
		"http://[fe80::1%25lo]:" + port + "/":         "link-local address: refused",
		"https://[::ffff:192.168.0.1]/wp-json/wc/v3/": "resolves to 192.168.0.1, a private address: refused",
	} {
		_, err := c.Get(target)
		if !errors.Is(err, ErrForbiddenAddress) || !strings.Contains(err.Error(), want) {
			t.Errorf("GET %s = %v, want ErrForbiddenAddress saying %q", target, err, want)
		}
	}
	if r.calls.Load() != 0 || hits.Load() != 0 {
		t.Errorf("%d lookups, %d requests reached the server; want 0 and 0", r.calls.Load(), hits.Load())
	}
}

// firstHop answers the shop's own request with a redirect to inside, and
// passes everything else to the guarded transport: the shop itself cannot
// be served from a public address in a test.
type firstHop struct {
	location string
	next     http.RoundTripper
}

func (f firstHop) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.URL.Host != "shop.example" {
		return f.next.RoundTrip(r)
	}
	h := http.Header{"Location": {f.location}}
	return &http.Response{StatusCode: http.StatusFound, Header: h, Body: http.NoBody, Request: r}, nil
}

// A redirect does not take a shop's request inside: the shop client does
// not follow redirects at all, and a client that did would still be
// refused at the dial.
func TestRedirectInsideIsRefused(t *testing.T) {
	srv, hits := counting(t)
	tr := guarded(&changingResolver{answers: []netip.Addr{netip.MustParseAddr("192.0.2.1")}}).Transport
	hop := firstHop{location: srv.URL + "/latest/meta-data/", next: tr}

	shop := NewHTTPClient(Limits{Request: time.Second, Dial: time.Second, Guard: &Guard{}})
	shop.Transport = hop
	resp, err := shop.Get("https://shop.example/wp-json/wc/v3/orders")
	if err != nil || resp.StatusCode != http.StatusFound {
		t.Fatalf("shop client: %v, %v; want the redirect as the answer", resp, err)
	}
	resp.Body.Close()

	following := &http.Client{Transport: hop, Timeout: time.Second}
	_, err = following.Get("https://shop.example/wp-json/wc/v3/orders")
	var ue *url.Error
	if !errors.Is(err, ErrForbiddenAddress) || !errors.As(err, &ue) || !strings.HasPrefix(ue.URL, srv.URL) {
		t.Fatalf("following the redirect = %v, want ErrForbiddenAddress at %s", err, srv.URL)
	}
	if hits.Load() != 0 {
		t.Errorf("%d requests reached the server, want 0", hits.Load())
	}
}

// The socket's own address is checked again as it connects, whatever
// chose it.
func TestControlRechecksTheSocketAddress(t *testing.T) {
	for addr, forbidden := range map[string]bool{
		"127.0.0.1:80": true, "[::1]:443": true, "[::ffff:10.1.2.3]:443": true, "169.254.169.254:80": true,
		"192.0.2.1:443": false, "[2001:db8::1]:443": false,
	} {
		if err := control("tcp", addr, nil); errors.Is(err, ErrForbiddenAddress) != forbidden {
			t.Errorf("control(%s) = %v, want forbidden %v", addr, err, forbidden)
		}
	}
	srv, hits := counting(t)
	d := &net.Dialer{Timeout: time.Second, Control: control}
	if c, err := d.Dial("tcp", srv.Listener.Addr().String()); !errors.Is(err, ErrForbiddenAddress) {
		if c != nil {
			c.Close()
		}
		t.Fatalf("dial %s = %v, want ErrForbiddenAddress", srv.Listener.Addr(), err)
	}
	if hits.Load() != 0 {
		t.Errorf("%d requests reached the server, want 0", hits.Load())
	}
}

// A proxy would resolve and dial the shop itself, past the guard: a
// guarded client has none, whatever HTTP_PROXY says; others keep the
// environment's.
func TestGuardedClientUsesNoProxy(t *testing.T) {
	if p := guarded(nil).Transport.(*http.Transport).Proxy; p != nil {
		t.Error("a guarded client takes its proxy from the environment")
	}
	if p := NewHTTPClient(Limits{}).Transport.(*http.Transport).Proxy; p == nil {
		t.Error("an unguarded client ignores the environment's proxy")
	}
}
