package config

import (
	"strings"
	"testing"
)

func TestLoadConnect(t *testing.T) {
	base := map[string]string{StoreURL: "https://shop.example/", ActivateFunction: "stack-activate"}
	c, err := LoadConnect(FromMap(base))
	if err != nil || c.StoreURL != "https://shop.example" ||
		c.ActivateFunction != "stack-activate" || c.StateTable != "" || c.LogLevel != DefaultLogLevel {
		t.Fatalf("%+v %v", c, err)
	}
	for _, name := range []string{ActivateFunction} {
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
	// Only the owner's browser goes to the shop: a plain-http shop is
	// allowed (activate refuses to send it the key), a malformed URL not.
	plain := map[string]string{StoreURL: "http://shop.example", ActivateFunction: "a"}
	if c, err := LoadConnect(FromMap(plain)); err != nil || c.StoreURL != "http://shop.example" {
		t.Errorf("http store URL: %v", err)
	}
	// Without STORE_URL the stack is a hub: any shop may connect.
	hub := map[string]string{ActivateFunction: "a"}
	for _, v := range []string{"", "  "} {
		hub[StoreURL] = v
		if c, err := LoadConnect(FromMap(hub)); err != nil || c.StoreURL != "" {
			t.Errorf("hub (STORE_URL %q): %+v %v", v, c, err)
		}
	}
	delete(hub, StoreURL)
	if c, err := LoadConnect(FromMap(hub)); err != nil || c.StoreURL != "" {
		t.Errorf("hub (STORE_URL unset): %+v %v", c, err)
	}
	plain[StoreURL] = "shop.example"
	if _, err := LoadConnect(FromMap(plain)); err == nil {
		t.Error("a store URL without scheme accepted")
	}
}
