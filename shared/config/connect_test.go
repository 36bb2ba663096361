package config

import (
	"strings"
	"testing"
)

func TestLoadConnect(t *testing.T) {
	base := map[string]string{StoreURL: "https://shop.example/", WooCredentialsSecretARN: "arn:woo", ActivateFunction: "stack-activate"}
	c, err := LoadConnect(FromMap(base))
	if err != nil || c.StoreURL != "https://shop.example" || c.WooCredentialsARN != "arn:woo" ||
		c.ActivateFunction != "stack-activate" || c.StateTable != "" || c.LogLevel != DefaultLogLevel {
		t.Fatalf("%+v %v", c, err)
	}
	for _, name := range []string{StoreURL, WooCredentialsSecretARN, ActivateFunction} {
		m := map[string]string{}
		for k, v := range base {
			if k != name {
				m[k] = v
			}
		}
		if _, err := LoadConnect(FromMap(m)); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("without %s: %v", name, err)
		}
	}
	// The owner's browser goes to the shop: plain http only for loopback.
	insecure := map[string]string{StoreURL: "http://shop.example", WooCredentialsSecretARN: "arn:woo", ActivateFunction: "a"}
	if _, err := LoadConnect(FromMap(insecure)); err == nil {
		t.Error("http store URL accepted")
	}
}
