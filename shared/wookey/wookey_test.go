package wookey

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/logistos-sync/logistos-sync/shared/secret"
)

func TestSecret(t *testing.T) {
	k, err := Secret{Source: secret.Literal(`{"consumer_key":"ck_a","consumer_secret":"cs_b"}`)}.Key(context.Background(), true)
	if err != nil || k.ConsumerKey != "ck_a" || k.ConsumerSecret != "cs_b" {
		t.Fatalf("%+v %v", k, err)
	}
	// Empty or malformed: not connected yet, and the value is never echoed.
	for _, v := range []string{"", "{}", `cs_leaked`} {
		_, err := Secret{Source: secret.Literal(v)}.Key(context.Background(), false)
		if !errors.Is(err, ErrNoKey) || (v != "" && strings.Contains(err.Error(), v) && v != "{}") {
			t.Errorf("%q: %v", v, err)
		}
	}
}
