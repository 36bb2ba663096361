package outbound

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"syscall"
)

// ErrForbiddenAddress is what a guarded client's dial fails with when the
// shop's address is inside a network (loopback, private, link-local, cloud
// metadata, ...): the URL is someone else's to choose, so reaching those
// would let a shop's owner make this stack call its own infrastructure.
// It is permanent: the same address will be refused again.
var ErrForbiddenAddress = errors.New("address inside a private network")

// ForbiddenAddressError says which host resolved to which address of what
// kind. It wraps ErrForbiddenAddress.
type ForbiddenAddressError struct {
	Host string     // the host that was dialled, a name or an address
	Addr netip.Addr // the address refused
	Kind string     // "loopback", "private", "metadata", ...
}

func (e *ForbiddenAddressError) Error() string {
	if e.Host == e.Addr.String() {
		return fmt.Sprintf("shop address %s is a %s address: refused", e.Host, e.Kind)
	}
	return fmt.Sprintf("shop address %s resolves to %s, a %s address: refused", e.Host, e.Addr, e.Kind)
}

func (e *ForbiddenAddressError) Unwrap() error { return ErrForbiddenAddress }

// Resolver finds a host's addresses; *net.Resolver is one.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// Guard is the dial-time check of the clients that call shops. A shop's
// URL is checked when it is connected, but DNS may answer differently
// later, so the check happens at every dial, on the address actually
// dialled: the host is resolved once, every answer checked, and the checked
// address itself dialled, so nothing re-resolves between check and dial.
type Guard struct {
	// Resolver finds the shop's addresses; net.DefaultResolver when nil.
	Resolver Resolver
}

// forbidden are the networks a shop may not be in, beyond what netip's
// predicates name (loopback, private, link-local, multicast, unspecified),
// each with the word the error uses. The metadata addresses come first:
// they are inside link-local and private ranges, and the more precise
// word tells the operator what the shop was after.
var forbidden = []struct {
	prefix netip.Prefix
	kind   string
}{
	{netip.MustParsePrefix("169.254.169.254/32"), "metadata"},  // EC2, ECS, most clouds
	{netip.MustParsePrefix("fd00:ec2::254/128"), "metadata"},   // EC2 over IPv6
	{netip.MustParsePrefix("0.0.0.0/8"), "this-network"},       // "this host" to many stacks
	{netip.MustParsePrefix("100.64.0.0/10"), "shared (CGNAT)"}, // carrier-grade NAT, VPC-internal in places
}

// nat64 is the well-known NAT64 prefix (RFC 6052), whose addresses carry
// an IPv4 address in their last 32 bits.
var nat64 = netip.MustParsePrefix("64:ff9b::/96")

// Classify returns what kind of inside address ip is ("loopback",
// "private", "link-local", "metadata", ...), or "" when a shop may be
// there. An IPv4 address written in IPv6 (::ffff:10.0.0.1) is judged as
// the IPv4 address it is, since that is where the connection goes.
func Classify(ip netip.Addr) string {
	ip = ip.Unmap()
	// A NAT64 gateway connects 64:ff9b::a.b.c.d to a.b.c.d: judge that.
	if nat64.Contains(ip) {
		b := ip.As16()
		ip = netip.AddrFrom4([4]byte(b[12:]))
	}
	for _, f := range forbidden {
		if f.prefix.Contains(ip) {
			return f.kind
		}
	}
	switch {
	case !ip.IsValid():
		return "invalid"
	case ip.IsUnspecified():
		return "unspecified"
	case ip.IsLoopback():
		return "loopback"
	case ip.IsPrivate():
		return "private"
	case ip.IsLinkLocalUnicast():
		return "link-local"
	case ip.IsMulticast():
		return "multicast"
	}
	return ""
}

// check returns a *ForbiddenAddressError when host's address ip is forbidden.
func check(host string, ip netip.Addr) error {
	if kind := Classify(ip); kind != "" {
		return &ForbiddenAddressError{Host: host, Addr: ip.Unmap(), Kind: kind}
	}
	return nil
}

// control re-checks the address the socket is about to connect to.
// DialContext's dial already dials only checked addresses; this catches
// any path that reaches the socket otherwise, at the last moment it can be
// stopped.
func control(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("shop address %q: %w", address, err)
	}
	return check(ap.Addr().String(), ap.Addr())
}

// DialContext returns a dial function for http.Transport that refuses
// forbidden addresses and otherwise dials with d.
func (g *Guard) DialContext(d *net.Dialer) func(ctx context.Context, network, addr string) (net.Conn, error) {
	guarded := *d
	// ControlContext would take precedence over Control: none but ours.
	guarded.Control, guarded.ControlContext = control, nil
	var r Resolver = net.DefaultResolver
	if g.Resolver != nil {
		r = g.Resolver
	}
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		host, port, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, err
		}
		var ips []netip.Addr
		if ip, err := netip.ParseAddr(host); err == nil {
			ips = []netip.Addr{ip}
		} else if ips, err = r.LookupNetIP(ctx, lookupNetwork(network), host); err != nil {
			return nil, err
		}
		// One forbidden answer refuses them all: a name that mixes a
		// public address with an inside one is no shop's.
		for _, ip := range ips {
			if err := check(host, ip); err != nil {
				return nil, err
			}
		}
		if len(ips) == 0 {
			return nil, fmt.Errorf("shop address %s: no addresses", host)
		}
		for _, ip := range ips {
			var c net.Conn
			if c, err = guarded.DialContext(ctx, network, net.JoinHostPort(ip.Unmap().String(), port)); err == nil {
				return c, nil
			}
		}
		return nil, err
	}
}

// lookupNetwork is the resolver's network for a dial's: "ip4" for "tcp4",
// "ip6" for "tcp6", "ip" otherwise.
func lookupNetwork(network string) string {
	switch network {
	case "tcp4", "udp4":
		return "ip4"
	case "tcp6", "udp6":
		return "ip6"
	}
	return "ip"
}
