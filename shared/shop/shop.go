// Package shop is the domain of a hub: which shop a request, an order or a
// sweep belongs to. A shop is its normalised store URL; its id, derived from
// that URL, names it in its webhook URL and partitions everything kept per
// shop. Stores of shops (DynamoDB, memory) implement Store.
package shop

import (
	"context"
	"crypto/sha256"
	"encoding/base32"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/logistos-sync/logistos-sync/shared/outbound"
)

// Status is where a shop stands with the stack.
type Status string

// A shop is pending from connect's callback until activation proves its key,
// connected from then on, and disconnected when its key stops working or the
// operator disconnects it.
const (
	Pending      Status = "pending"
	Connected    Status = "connected"
	Disconnected Status = "disconnected"
)

// Shop is one shop of a hub: who it is and how it stands. Its secrets are
// kept apart (Secrets) so that listing shops never touches them.
type Shop struct {
	ID          string
	URL         string
	Status      Status
	ConnectedAt time.Time // zero until activation first succeeds
	UpdatedAt   time.Time
}

// Secrets are what the stack holds for one shop: the secret its webhook
// deliveries are signed with and its REST API key. Never logged.
type Secrets struct {
	WebhookSecret string `json:"webhook_secret,omitempty"`
	// PreviousWebhookSecret is the secret a reconnect replaced, still taken
	// until activation has given the shop's webhook the new one: deliveries
	// the shop signs meanwhile are not refused.
	PreviousWebhookSecret string `json:"previous_webhook_secret,omitempty"`
	ConsumerKey           string `json:"consumer_key,omitempty"`
	ConsumerSecret        string `json:"consumer_secret,omitempty"`
}

// ErrNotFound means no shop has that id.
var ErrNotFound = errors.New("no such shop")

// Store keeps the shops of a hub and their secrets.
type Store interface {
	// Get returns the shop with that id, or ErrNotFound.
	Get(ctx context.Context, id string) (Shop, error)
	// Put creates or replaces the shop's record, leaving its secrets as they are.
	Put(ctx context.Context, s Shop) error
	// Secrets returns the shop's secrets, or ErrNotFound.
	Secrets(ctx context.Context, id string) (Secrets, error)
	// SetSecrets replaces the shop's secrets; the shop must exist.
	SetSecrets(ctx context.Context, id string, sec Secrets) error
	// List returns every shop, in no particular order.
	List(ctx context.Context) ([]Shop, error)
}

// Refresher is a Store that caches secrets: Refresh makes its next
// Secrets(id) read them again, at most once per interval, and reports
// whether it will. A delivery whose signature does not match asks for it,
// since the shop may have reconnected with a new webhook secret; the bound
// keeps a stranger's bad signatures from costing a read each.
type Refresher interface {
	Refresh(id string) bool
}

// IDLength is the length of a shop's id: 80 bits of SHA-256, so that two
// shops of one hub never share one.
const IDLength = 16

var idEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// ID derives a shop's id from its normalised URL: lower-case letters and
// digits, safe in a URL path and a DynamoDB key, the same for ever.
func ID(normalised string) string {
	sum := sha256.Sum256([]byte(normalised))
	return idEncoding.EncodeToString(sum[:10])
}

// ValidID reports whether s has the shape of an id, so that a request's path
// is checked before it reaches a store.
func ValidID(s string) bool {
	if len(s) != IDLength {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= '2' && c <= '7') {
			return false
		}
	}
	return true
}

// Normalize returns the shop's URL as the stack knows it: https (plain http
// only to a loopback host, for local runs), lower-case host without a
// trailing dot or a default port, the path without trailing slashes, no
// user info, query or fragment. An address typed without a scheme is taken
// as https. Whether the host may be dialled is decided later, at dial time.
func Normalize(raw string) (string, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return "", errors.New("the shop's address is empty")
	}
	if !strings.Contains(raw, "://") {
		raw = "https://" + raw
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("the shop's address is not a URL: %w", err)
	}
	switch {
	case u.Scheme != "https" && u.Scheme != "http":
		return "", fmt.Errorf("the shop's address must start with https:// (got %q)", u.Scheme)
	case u.User != nil:
		return "", errors.New("the shop's address must not contain a user name or password")
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		return "", errors.New("the shop's address must not contain ? or #: give the address of the shop's home page")
	case u.Opaque != "":
		return "", errors.New("the shop's address is not a URL with a host")
	}
	host := strings.TrimSuffix(strings.ToLower(u.Hostname()), ".")
	if host == "" {
		return "", errors.New("the shop's address has no host name")
	}
	if u.Scheme == "http" && !outbound.IsLoopback(host) {
		return "", errors.New("the shop's address must use https (plain http is accepted only for localhost)")
	}
	port := u.Port()
	if (u.Scheme == "https" && port == "443") || (u.Scheme == "http" && port == "80") {
		port = ""
	}
	hostport := host
	if strings.Contains(host, ":") { // an IPv6 literal
		hostport = "[" + host + "]"
	}
	if port != "" {
		hostport = net.JoinHostPort(host, port)
	}
	path := strings.TrimRight(u.EscapedPath(), "/")
	return u.Scheme + "://" + hostport + path, nil
}

// Scoped names a document kept per shop (a state table id such as the
// backfill's checkpoint or reconcile's mark): the shop's id, a slash and
// the name. The empty id is a single-shop stack's home shop, whose
// documents keep their names, so that an upgraded stack finds them.
func Scoped(id, name string) string {
	if id == "" {
		return name
	}
	return id + "/" + name
}
