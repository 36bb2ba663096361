package config

import (
	"strings"
	"testing"
)

// ALLOW_PRIVATE_SHOPS is off unless set to exactly "true" or "false"; any
// other value stops the function, naming the variable, rather than guess
// which way a security switch was meant.
func TestAllowPrivateShops(t *testing.T) {
	base := map[string]string{
		StoreURL: "https://shop.example", QueueURL: "q", BackfillQueueURL: "bq", DLQURL: "dlq", WaitingQueueURL: "wq",
		WebhookSecretARN: "arn:ws", WooCredentialsSecretARN: "arn:woo", WebhookURL: "https://api.example/woocommerce/webhook",
		ActivateFunction: "stack-activate",
	}
	load := map[string]func(m map[string]string) (bool, error){
		"activate": func(m map[string]string) (bool, error) {
			c, err := LoadActivate(FromMap(m))
			return c.AllowPrivateShops, err
		},
		"reconcile": func(m map[string]string) (bool, error) {
			c, err := LoadReconcile(FromMap(m))
			return c.AllowPrivateShops, err
		},
		"connect": func(m map[string]string) (bool, error) {
			c, err := LoadConnect(FromMap(m))
			return c.AllowPrivateShops, err
		},
	}
	for fn, load := range load {
		for value, want := range map[string]bool{"": false, "false": false, "true": true, " true ": true} {
			m := map[string]string{AllowPrivateShops: value}
			for k, v := range base {
				m[k] = v
			}
			if got, err := load(m); err != nil || got != want {
				t.Errorf("%s: %s=%q: %v, %v; want %v", fn, AllowPrivateShops, value, got, err, want)
			}
		}
		for _, bad := range []string{"yes", "1", "TRUE", "on"} {
			m := map[string]string{AllowPrivateShops: bad}
			for k, v := range base {
				m[k] = v
			}
			if got, err := load(m); err == nil || got || !strings.Contains(err.Error(), AllowPrivateShops+`: "`+bad+`" is not true or false`) {
				t.Errorf("%s: %s=%q: %v, %v; want an error naming it, and off", fn, AllowPrivateShops, bad, got, err)
			}
		}
	}
}
