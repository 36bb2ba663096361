package outbound

import (
	"fmt"
	"net"
	"net/url"
)

// CheckURL reports whether raw is an absolute http(s) URL.
func CheckURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("not a URL: %v", err)
	}
	if u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return fmt.Errorf("%q is not an absolute http(s) URL (want https://host/...)", raw)
	}
	return nil
}

// CheckSecureURL reports whether raw is an absolute https URL, or an http
// URL to a loopback host.
func CheckSecureURL(raw string) error {
	if err := CheckURL(raw); err != nil {
		return err
	}
	u, _ := url.Parse(raw)
	if u.Scheme == "http" && !IsLoopback(u.Hostname()) {
		return fmt.Errorf("%q must use https (plain http is accepted only for localhost)", raw)
	}
	return nil
}

// IsLoopback reports whether host names this machine: the one place plain
// http is accepted for requests carrying orders or credentials (local runs
// against stand-ins).
func IsLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
