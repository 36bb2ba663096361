package wooapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"
)

// What went wrong with a REST call, for errors.Is. An *Error wraps one of
// these when the shop's answer told us.
var (
	// ErrWrongKey: the shop refused the API key (unknown key, wrong secret,
	// or the key never reached WooCommerce).
	ErrWrongKey = errors.New("the shop refused the WooCommerce API key")
	// ErrReadOnlyKey: the key may read but not write (webhooks need Read/Write).
	ErrReadOnlyKey = errors.New("the WooCommerce API key is read-only")
	// ErrForbidden: the key's user lacks a capability.
	ErrForbidden = errors.New("the WooCommerce API key's user is not allowed to do this")
	// ErrNoRESTAPI: nothing answers at /wp-json/wc/v3.
	ErrNoRESTAPI = errors.New("the shop's REST API is not reachable at /wp-json/wc/v3")
	// ErrNotJSON: an HTML page (or other non-JSON) came back instead of JSON.
	ErrNotJSON = errors.New("the shop answered with a web page instead of JSON")
	// ErrRedirected: the shop redirects STORE_URL elsewhere.
	ErrRedirected = errors.New("the shop redirected the request")
	// ErrUnavailable: 429 or 5xx after every attempt.
	ErrUnavailable = errors.New("the shop is overloaded or down")
	// ErrNoSuchOrder: the order does not exist (deleted for good).
	ErrNoSuchOrder = errors.New("the shop has no such order")
	// ErrNoTimeToRetry: a transient failure was not retried because the
	// wait would outlive the context's deadline; a later run may succeed.
	ErrNoTimeToRetry = errors.New("no time left before the deadline to retry")
)

// Hints: what a shop owner should do. They name settings, never values.
const (
	hintUnreachable = "check that STORE_URL is right and the shop is online"
	hintWrongSecret = "the consumer secret does not belong to the consumer key: copy both again from WooCommerce → Settings → Advanced → REST API (they are shown once, when the key is created)"
	hintUnknownKey  = "WooCommerce did not recognise the consumer key: check the key (ck_...) and secret (cs_...) in WooCommerce → Settings → Advanced → REST API, or create a new Read/Write key; if they are right, the web server drops the Authorization header (Apache with PHP-FPM/CGI: add `SetEnvIf Authorization \"(.*)\" HTTP_AUTHORIZATION=$1` to .htaccess)"
	hintPlainHTTP   = "; over plain http WooCommerce ignores HTTP Basic authentication (it wants OAuth 1.0a): use the shop's https address"
	hintReadOnly    = "the key is read-only: edit it in WooCommerce → Settings → Advanced → REST API and set Permissions to Read/Write (registering the webhook needs write access)"
	hintForbidden   = "the key's WordPress user may not do this: create the key for an Administrator (or a Shop Manager with manage_woocommerce)"
	hintNoRoute     = "WordPress answered but has no WooCommerce v3 route: check that WooCommerce is installed, active and at least version 3.5"
	hintNoREST      = "nothing answers at /wp-json/: in WordPress → Settings → Permalinks choose any structure but \"Plain\", and make sure no plugin disables the REST API"
	hintHTML        = "a security plugin, firewall/CDN challenge or maintenance page is in the way: allow requests to /wp-json/wc/v3/ (the User-Agent starts with logistos-sync/), or finish maintenance, then run again"
	hintUnavailable = "the shop is overloaded or down: run again later; if it keeps happening lower BACKFILL_CONCURRENCY"
	hintRedirect    = "set STORE_URL to the address the shop redirects to"
	// hintForbiddenAddress: the shop's name resolves inside a network, which
	// a shop on the internet never does; a DNS change or a mistyped URL.
	hintForbiddenAddress = "the shop's address must be public: loopback, private, link-local and cloud metadata addresses are refused; check the shop's DNS and STORE_URL (ALLOW_PRIVATE_SHOPS=true allows them for local runs only)"
)

// Error is a failed REST call, classified once: Transient errors (network,
// 429, 5xx) may succeed later; the rest will not until someone fixes
// something, which Hint names.
type Error struct {
	Op         string // what was being done: "list orders page 3"
	StatusCode int    // 0 when no answer arrived
	Code       string // WooCommerce's error code, e.g. woocommerce_rest_authentication_error
	Message    string // WooCommerce's message or the page title, shortened
	Hint       string // what to fix
	Transient  bool
	Attempts   int
	RetryAfter time.Duration // the shop's Retry-After, when it sent one
	Err        error
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Op)
	b.WriteString(": ")
	switch {
	case e.StatusCode != 0:
		fmt.Fprintf(&b, "shop answered %d %s", e.StatusCode, http.StatusText(e.StatusCode))
		if e.Code != "" || e.Message != "" {
			fmt.Fprintf(&b, " (%s)", strings.Trim(e.Code+": "+e.Message, ": "))
		}
	case e.Err != nil:
		b.WriteString(e.Err.Error())
	default:
		b.WriteString("failed")
	}
	if e.Attempts > 1 {
		fmt.Fprintf(&b, " after %d attempts", e.Attempts)
	}
	if e.Hint != "" {
		b.WriteString(": ")
		b.WriteString(e.Hint)
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// IsTransient reports whether err may go away if the call is made later.
func IsTransient(err error) bool {
	var we *Error
	return errors.As(err, &we) && we.Transient
}

// restError is WooCommerce's error body.
type restError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// classify turns an answer into an *Error, or nil when it is a JSON success.
func classify(op string, secure bool, resp *http.Response, body []byte) *Error {
	status := resp.StatusCode
	html := looksHTML(resp.Header, body)
	if status >= 200 && status < 300 {
		if html || !looksJSON(body) {
			return &Error{Op: op, StatusCode: status, Message: pageTitle(body), Hint: hintHTML, Err: ErrNotJSON}
		}
		return nil
	}
	e := &Error{Op: op, StatusCode: status}
	if status >= 300 && status < 400 {
		e.Err, e.Hint = ErrRedirected, hintRedirect
		if loc, err := url.Parse(resp.Header.Get("Location")); err == nil && loc.Host != "" {
			e.Hint = fmt.Sprintf("%s (%s://%s)", hintRedirect, loc.Scheme, loc.Host)
		}
		return e
	}
	var re restError
	if !html && json.Unmarshal(body, &re) == nil {
		e.Code, e.Message = re.Code, shorten(re.Message)
	} else if html {
		e.Message = pageTitle(body)
	}
	e.Transient = status == http.StatusTooManyRequests || (status >= 500 && status != http.StatusNotImplemented)
	if e.Transient {
		e.RetryAfter = retryAfter(resp.Header, time.Now())
	}
	switch {
	case status == http.StatusUnauthorized && strings.Contains(strings.ToLower(re.Message), "write permission"):
		e.Err, e.Hint = ErrReadOnlyKey, hintReadOnly
	case status == http.StatusUnauthorized && re.Code == "woocommerce_rest_authentication_error":
		e.Err, e.Hint = ErrWrongKey, hintWrongSecret
	case status == http.StatusUnauthorized:
		e.Err, e.Hint = ErrWrongKey, hintUnknownKey
		if !secure {
			e.Hint += hintPlainHTTP
		}
	case status == http.StatusNotFound && re.Code == "woocommerce_rest_shop_order_invalid_id":
		e.Err = ErrNoSuchOrder
	case status == http.StatusNotFound && re.Code == "rest_no_route":
		e.Err, e.Hint = ErrNoRESTAPI, hintNoRoute
	case status == http.StatusNotFound && e.Code == "":
		e.Err, e.Hint = ErrNoRESTAPI, hintNoREST
	case html:
		e.Err, e.Hint = ErrNotJSON, hintHTML
	case status == http.StatusForbidden:
		e.Err, e.Hint = ErrForbidden, hintForbidden
	case e.Transient:
		e.Err, e.Hint = ErrUnavailable, hintUnavailable
	}
	return e
}

// looksHTML reports whether an answer is a web page: what security plugins,
// CDN challenges and maintenance modes send instead of JSON.
func looksHTML(h http.Header, body []byte) bool {
	if strings.Contains(strings.ToLower(h.Get("Content-Type")), "text/html") {
		return true
	}
	b := bytes.TrimLeft(body, " \t\r\n\ufeff")
	return len(b) > 0 && b[0] == '<'
}

func looksJSON(body []byte) bool {
	b := bytes.TrimLeft(body, " \t\r\n\ufeff")
	return len(b) > 0 && (b[0] == '[' || b[0] == '{')
}

var titleRE = regexp.MustCompile(`(?is)<title[^>]*>(.*?)</title>`)

// pageTitle is an HTML page's title ("Maintenance", "Just a moment..."):
// enough to recognise what is in the way, without echoing the page.
func pageTitle(body []byte) string {
	m := titleRE.FindSubmatch(body[:min(len(body), 8<<10)])
	if m == nil {
		return ""
	}
	return shorten(strings.Join(strings.Fields(string(m[1])), " "))
}

// shorten keeps at most maxDetail bytes of s, cut at a character boundary.
func shorten(s string) string {
	for i := range s {
		if i > maxDetail {
			return s[:i] + "…"
		}
	}
	return s
}
