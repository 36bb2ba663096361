package config

import (
	"maps"
	"slices"
	"strings"
	"testing"
)

func TestLoadWebhook(t *testing.T) {
	env := FromMap(map[string]string{
		StoreURL: "https://shop.example/", QueueURL: "https://sqs.ap-south-1.amazonaws.com/1/orders",
		WebhookSecretARN: "arn:aws:secretsmanager:ap-south-1:1:secret:wh", ForwardTopics: " order.created, order.updated ,",
	})
	c, err := LoadWebhook(env)
	if err != nil {
		t.Fatal(err)
	}
	if c.StoreURL != "https://shop.example" || c.Secret.ARN == "" || c.Secret.Literal != "" || !slices.Equal(c.Topics, []string{"order.created", "order.updated"}) || c.LogLevel != "info" {
		t.Fatalf("%+v", c)
	}
	want := []string{StoreURL, QueueURL, WebhookSecretARN, WebhookSecret, ForwardTopics, FunctionName, LogLevel, LedgerTable, ShopsTable, ShopsKeyID}
	if !slices.Equal(env.Read(), want) {
		t.Fatalf("read %v, want %v", env.Read(), want)
	}
	if c.Hub() || c.Shops != (Shops{}) {
		t.Fatalf("a home-shop stack is a hub: %+v", c)
	}
}

// STORE_URL empty is a hub: no webhook secret of its own, the shops in
// the table named (or in memory when none is, locally).
func TestLoadWebhookHub(t *testing.T) {
	c, err := LoadWebhook(FromMap(map[string]string{QueueURL: "q", ShopsTable: "shops", ShopsKeyID: "arn:aws:kms:ap-south-1:1:key/k"}))
	if err != nil {
		t.Fatal(err)
	}
	if !c.Hub() || c.Shops != (Shops{Table: "shops", KeyID: "arn:aws:kms:ap-south-1:1:key/k"}) {
		t.Fatalf("%+v", c)
	}
	// The template gives a hub the stack's webhook secret too; it is not used.
	if c, err := LoadWebhook(FromMap(map[string]string{QueueURL: "q", WebhookSecretARN: "arn"})); err != nil || !c.Hub() || c.Shops.Table != "" {
		t.Fatalf("a local hub: %+v, %v", c, err)
	}
	for name, m := range map[string]map[string]string{
		"SHOPS_KEY_ID: is required": {QueueURL: "q", ShopsTable: "shops"},
		"SHOPS_TABLE: is required":  {QueueURL: "q", ShopsKeyID: "k"},
		"SHOPS_TABLE: is for a hub": {QueueURL: "q", StoreURL: "https://s", WebhookSecret: "x", ShopsTable: "shops", ShopsKeyID: "k"},
	} {
		if _, err := LoadWebhook(FromMap(m)); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("want %q, got %v", name, err)
		}
	}
}

// A hub's reconcile needs its sweep queue and no home-shop secret; a
// single-shop stack's keeps needing its key and secret, and has no sweep
// queue.
func TestLoadReconcileHub(t *testing.T) {
	base := map[string]string{QueueURL: "q", DLQURL: "d", WaitingQueueURL: "w", WebhookURL: "https://api.example/woocommerce/webhook"}
	with := func(kv ...string) map[string]string {
		m := maps.Clone(base)
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	c, err := LoadReconcile(FromMap(with(SweepQueueURL, "sweep", ShopsTable, "shops", ShopsKeyID, "k")))
	if err != nil || !c.Hub() || c.SweepQueueURL != "sweep" || c.Shops != (Shops{Table: "shops", KeyID: "k"}) || c.WooCredentials.ARN != "" {
		t.Fatalf("hub: %+v %v", c, err)
	}
	c, err = LoadReconcile(FromMap(with(StoreURL, "https://shop.example", WebhookSecretARN, "a", WooCredentialsSecretARN, "b")))
	if err != nil || c.Hub() || c.SweepQueueURL != "" || c.WooCredentials.ARN != "b" {
		t.Fatalf("single shop: %+v %v", c, err)
	}
	for want, m := range map[string]map[string]string{
		"SWEEP_QUEUE_URL: is required":  with(),
		"SWEEP_QUEUE_URL: is for a hub": with(StoreURL, "https://shop.example", WebhookSecretARN, "a", WooCredentialsSecretARN, "b", SweepQueueURL, "s"),
		"WOO_CREDENTIALS_SECRET_ARN or": with(StoreURL, "https://shop.example", WebhookSecretARN, "a"),
		"SHOPS_TABLE: is for a hub":     with(StoreURL, "https://shop.example", WebhookSecretARN, "a", WooCredentialsSecretARN, "b", ShopsTable, "t", ShopsKeyID, "k"),
	} {
		if _, err := LoadReconcile(FromMap(m)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("want %q, got %v", want, err)
		}
	}
}

func TestLoadForwarderDefaults(t *testing.T) {
	base := func() map[string]string {
		return map[string]string{StoreURL: "http://127.0.0.1:8088", DLQURL: "http://localhost:4566/000000000000/dlq",
			BackfillQueueARN: "arn:aws:sqs:ap-south-1:000000000000:backfill"}
	}
	c, err := LoadForwarder(FromMap(base()))
	if err != nil {
		t.Fatal(err)
	}
	if c.OrdersURL != "https://admin.logistos.in/integration/woo_commerce_orders" || !slices.Equal(c.Topics, []string{"order.created"}) ||
		c.BackfillQueueARN != "arn:aws:sqs:ap-south-1:000000000000:backfill" || c.BackfillRate != DefaultBackfillRate {
		t.Fatalf("%+v", c)
	}
	// Without the backfill queue's ARN nothing would be paced: the
	// backfill would reach Logistos as fast as the forwarder can send.
	for name, change := range map[string]func(m map[string]string){
		BackfillQueueARN + ": is required": func(m map[string]string) { delete(m, BackfillQueueARN) },
		BackfillRate + `: "0"`:             func(m map[string]string) { m[BackfillRate] = "0" },
		BackfillRate + `: "51"`:            func(m map[string]string) { m[BackfillRate] = "51" },
	} {
		m := base()
		change(m)
		if _, err := LoadForwarder(FromMap(m)); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("want %q, got %v", name, err)
		}
	}
	m := base()
	m[BackfillRate] = "25"
	if c, err := LoadForwarder(FromMap(m)); err != nil || c.BackfillRate != 25 {
		t.Errorf("BACKFILL_RATE=25: %d, %v", c.BackfillRate, err)
	}
	// A hub's forwarder has no home shop: each message names its own.
	m = base()
	delete(m, StoreURL)
	if c, err := LoadForwarder(FromMap(m)); err != nil || c.StoreURL != "" {
		t.Errorf("a hub's forwarder: %+v, %v", c, err)
	}
}

func TestErrorsNameEveryVariable(t *testing.T) {
	cases := []struct {
		name string
		env  map[string]string
		want []string
	}{
		{"nothing set", nil, []string{"QUEUE_URL: is required"}},
		{"home without a secret", map[string]string{StoreURL: "https://s", QueueURL: "q"}, []string{"WEBHOOK_SECRET_ARN or WEBHOOK_SECRET: one is required"}},
		{"both secrets", map[string]string{StoreURL: "https://s", QueueURL: "q", WebhookSecretARN: "arn", WebhookSecret: "x"}, []string{"WEBHOOK_SECRET_ARN and WEBHOOK_SECRET: set only one"}},
		{"relative store", map[string]string{StoreURL: "shop.example", QueueURL: "q", WebhookSecret: "x"}, []string{"STORE_URL:", "not an absolute"}},
		{"ftp store", map[string]string{StoreURL: "ftp://shop.example", QueueURL: "q", WebhookSecret: "x"}, []string{"STORE_URL:"}},
		{"empty topics", map[string]string{StoreURL: "https://s", QueueURL: "q", WebhookSecret: "x", ForwardTopics: " , "}, []string{"FORWARD_TOPICS: is empty"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := LoadWebhook(FromMap(c.env))
			if err == nil {
				t.Fatal("loaded")
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error spans lines: %q", err)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

func TestSecureURL(t *testing.T) {
	for raw, ok := range map[string]bool{
		"https://admin.logistos.in/x": true, "http://127.0.0.1:9000/x": true, "http://localhost:9/x": true, "http://[::1]:9/x": true,
		"http://admin.logistos.in/x": false, "http://127.0.0.1.evil.example/x": false, "logistos.in": false, "": false,
	} {
		e := FromMap(map[string]string{"U": raw})
		e.SecureURL("U", "", true)
		if (e.Err() == nil) != ok {
			t.Errorf("%q: err %v, want ok=%v", raw, e.Err(), ok)
		}
	}
}

func TestIntAndDuration(t *testing.T) {
	e := FromMap(map[string]string{"N": "17", "BAD": "four", "D": "90s"})
	if e.Int("N", 4, 1, 16) != 4 || e.Int("BAD", 4, 1, 16) != 4 || e.Int("UNSET", 4, 1, 16) != 4 {
		t.Fatal("out-of-range or malformed values must fall back to the default")
	}
	if e.Duration("D", 0, 0, 0) != 0 {
		t.Fatal("duration outside its range accepted")
	}
	if msg := e.Err().Error(); !strings.Contains(msg, "N:") || !strings.Contains(msg, "BAD:") || !strings.Contains(msg, "D:") {
		t.Fatalf("errors %q", msg)
	}
}
