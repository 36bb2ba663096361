package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// Mistakes are answered before any AWS call, saying what to do.
func TestRunRefusesBeforeActing(t *testing.T) {
	env := map[string]string{"SHOPS_TABLE": "s", "SHOPS_KEY_ID": "k", "STATE_TABLE": "st", "LEDGER_TABLE": "l", "WEBHOOK_URL": "https://h.example/woocommerce/webhook"}
	for name, c := range map[string]struct {
		args string
		env  map[string]string
		want string
	}{
		"nothing to do":        {"", env, "say what to do"},
		"unknown command":      {"remove x", env, `unexpected arguments ["remove" "x"]`},
		"show without a shop":  {"show", env, "unexpected arguments"},
		"no tables":            {"list", map[string]string{}, "-shops-table, -state-table, -ledger-table not set"},
		"disconnect, no key":   {"-yes disconnect a.example", map[string]string{"SHOPS_TABLE": "s", "STATE_TABLE": "st", "LEDGER_TABLE": "l", "WEBHOOK_URL": "x"}, "-shops-key not set"},
		"disconnect, not -yes": {"disconnect a.example", env, "run it again with -yes"},
		"bad flag":             {"-nope list", env, "flag provided but not defined"},
	} {
		t.Run(name, func(t *testing.T) {
			var out bytes.Buffer
			err := run(context.Background(), strings.Fields(c.args), func(k string) string { return c.env[k] }, &out)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err %v; want it to say %q", err, c.want)
			}
		})
	}
}

func TestHelp(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), []string{"-h"}, func(string) string { return "" }, &out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"shops [flags] list", "ShopsTableName", "-allow-private-shops", "describe-stacks"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("help lacks %q:\n%s", want, out.String())
		}
	}
}
