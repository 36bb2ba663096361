package config

import (
	"slices"
	"strings"
	"testing"
)

func TestLoadActivate(t *testing.T) {
	base := func() map[string]string {
		return map[string]string{
			StoreURL: "https://shop.example/", BackfillQueueURL: "https://sqs/backfill", DLQURL: "https://sqs/dlq", WebhookSecretARN: "arn:ws",
			WooCredentialsSecretARN: "arn:woo", WebhookURL: "https://api.example/woocommerce/webhook",
		}
	}
	c, err := LoadActivate(FromMap(base()))
	if err != nil {
		t.Fatal(err)
	}
	if c.StoreURL != "https://shop.example" || c.WooCredentials.ARN != "arn:woo" || c.CredentialsURL != DefaultLogistosCredentialsURL ||
		c.DLQURL != "https://sqs/dlq" || c.BackfillQueueURL != "https://sqs/backfill" || c.BackfillConcurrency != DefaultBackfillConcurrency ||
		strings.Join(c.BackfillStatuses, ",") != "any" || c.StateTable != "" ||
		strings.Join(c.Topics, ",") != "order.created" {
		t.Errorf("defaults: %+v", c)
	}

	literal := base()
	delete(literal, WooCredentialsSecretARN)
	literal[WooConsumerKey], literal[WooConsumerSecret] = "ck_1", "cs_1"
	literal[BackfillStatus], literal[BackfillConcurrency], literal[StateTable] = "processing, completed", "8", "table"
	literal[ForwardTopics] = "order.created,order.updated"
	if c, err := LoadActivate(FromMap(literal)); err != nil || c.ConsumerKey != "ck_1" || c.ConsumerSecret != "cs_1" ||
		len(c.BackfillStatuses) != 2 || c.BackfillConcurrency != 8 || c.StateTable != "table" || len(c.Topics) != 2 {
		t.Errorf("literal key: %+v %v", c, err)
	}

	for name, change := range map[string]func(m map[string]string){
		WooCredentialsSecretARN: func(m map[string]string) { m[WooConsumerKey] = "ck_1" }, // both ways set
		WooConsumerSecret:       func(m map[string]string) { delete(m, WooCredentialsSecretARN); m[WooConsumerKey] = "ck_1" },
		"STORE_URL":             func(m map[string]string) { m[StoreURL] = "http://shop.example" }, // credentials in clear
		WebhookURL:              func(m map[string]string) { delete(m, WebhookURL) },
		DLQURL:                  func(m map[string]string) { delete(m, DLQURL) }, // oversized orders go there
		BackfillQueueURL:        func(m map[string]string) { delete(m, BackfillQueueURL) },
		BackfillConcurrency:     func(m map[string]string) { m[BackfillConcurrency] = "64" },
		LogistosCredentialsURL:  func(m map[string]string) { m[LogistosCredentialsURL] = "http://logistos.example/x" },
	} {
		m := base()
		change(m)
		if _, err := LoadActivate(FromMap(m)); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// A hub (STORE_URL empty) has no home shop and so no home secrets: no
// webhook secret or REST key of its own (its shops' are in the shops
// store), and its loader does not read them.
func TestLoadActivateHub(t *testing.T) {
	hub := map[string]string{BackfillQueueURL: "https://sqs/backfill", DLQURL: "https://sqs/dlq",
		WebhookURL: "https://api.example/woocommerce/webhook"}
	e := FromMap(hub)
	c, err := LoadActivate(e)
	if err != nil || c.StoreURL != "" || c.WooCredentials.ARN != "" || c.ConsumerKey != "" || c.WebhookSecret != (Secret{}) {
		t.Fatalf("%+v %v", c, err)
	}
	for _, name := range []string{WebhookSecretARN, WebhookSecret, WooCredentialsSecretARN, WooConsumerKey, WooConsumerSecret} {
		if slices.Contains(e.Read(), name) {
			t.Errorf("a hub's activate reads %s", name)
		}
	}
}
