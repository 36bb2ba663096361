// Package wookey gives the shop's WooCommerce REST API key: from the
// credentials secret in AWS (which connect or the template fills), or
// literally for local runs. activate and reconcile read it the same way.
package wookey

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-secretsmanager-caching-go/v2/secretcache"

	"github.com/logistos-sync/logistos-sync/shared/secret"
	"github.com/logistos-sync/logistos-sync/shared/wooapi"
)

// Source gives the shop's REST API key.
type Source interface {
	// Key returns the key; refresh asks for a fresh read, so that a key
	// fixed after a failed run is used at once.
	Key(ctx context.Context, refresh bool) (wooapi.Key, error)
}

// ErrNoKey means the credentials secret holds no key yet: the shop is not
// connected (connect has not run, or the template's key parameters were
// left empty).
var ErrNoKey = errors.New("no WooCommerce API key yet")

// Static is a key given literally (local runs, tests).
type Static wooapi.Key

// Key returns k.
func (k Static) Key(context.Context, bool) (wooapi.Key, error) { return wooapi.Key(k), nil }

// Secret reads the key from a secret holding
// {"consumer_key":"ck_...","consumer_secret":"cs_..."}.
type Secret struct{ Source secret.Source }

// Key reads and parses the secret's current value.
func (s Secret) Key(ctx context.Context, refresh bool) (wooapi.Key, error) {
	if refresh {
		s.Source.Refresh(ctx)
	}
	vals, err := s.Source.Values(ctx)
	if err != nil {
		return wooapi.Key{}, fmt.Errorf("read the WooCommerce credentials secret: %w", err)
	}
	var k wooapi.Key
	if len(vals) == 0 || json.Unmarshal(vals[0], &k) != nil || k.ConsumerKey == "" || k.ConsumerSecret == "" {
		// Never echo the value: it is a credential.
		return wooapi.Key{}, fmt.Errorf(`%w: the WooCommerce credentials secret must be JSON {"consumer_key":"ck_...","consumer_secret":"cs_..."}`, ErrNoKey)
	}
	return k, nil
}

// Open returns the key's source: the credentials secret when arn is set,
// else the literal key (local runs).
func Open(sm secretcache.SecretsManagerAPIClient, arn, key, sec string) (Source, error) {
	if arn == "" {
		return Static{ConsumerKey: key, ConsumerSecret: sec}, nil
	}
	src, err := secret.NewManager(sm, arn)
	if err != nil {
		return nil, fmt.Errorf("WooCommerce credentials secret: %w", err)
	}
	// A new key from connect must be used by the activation it starts at
	// once, even in a container that read the old key seconds ago.
	return Secret{Source: src.Unthrottled()}, nil
}

// Shop is what activate and reconcile need to reach the shop: a REST
// client without a key, and where the key comes from (read per invocation,
// so that a key fixed after a failed run is used at once).
type Shop struct {
	Client *wooapi.Client
	Keys   Source
}

// OpenShop builds the client for the shop at storeURL and its key's source
// (see Open). The client refuses the shop's address when it is inside a
// network unless allowPrivate (ALLOW_PRIVATE_SHOPS, local runs).
func OpenShop(sm secretcache.SecretsManagerAPIClient, storeURL, arn, key, sec string, allowPrivate bool) (Shop, error) {
	keys, err := Open(sm, arn, key, sec)
	if err != nil {
		return Shop{}, err
	}
	client, err := wooapi.NewClient(wooapi.NewHTTPClient(allowPrivate), storeURL, wooapi.Key{})
	if err != nil {
		return Shop{}, err
	}
	return Shop{Client: client, Keys: keys}, nil
}

// ConnectPath is connect's route that starts connecting the shop; the
// stack outputs its URL as ConnectUrl.
const ConnectPath = "/woocommerce/connect"

// webhookPath is the webhook's route on the same HTTP API.
const webhookPath = "/woocommerce/webhook"

// ConnectURL is the stack's ConnectUrl, found from its WebhookUrl: both are
// routes of the same HTTP API, so activate and reconcile can name it
// without a setting of their own.
func ConnectURL(webhookURL string) string {
	return strings.TrimSuffix(webhookURL, webhookPath) + ConnectPath
}

// NotConnected says plainly what to do when there is no key yet.
func NotConnected(webhookURL string) string {
	return "the shop is not connected yet (no REST API key): open the ConnectUrl " + ConnectURL(webhookURL) +
		" (a stack output) in a browser logged in to the shop's WP admin and click Approve; activation then runs by itself"
}
