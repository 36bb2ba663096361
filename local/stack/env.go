package stack

import (
	"maps"

	"github.com/logistos-sync/logistos-sync/shared/config"
)

// Function names one of template.yaml's functions, for FunctionEnv.
type Function string

// The template's functions.
const (
	Webhook   Function = "webhook"
	Forwarder Function = "forwarder"
	Activate  Function = "activate"
	Reconcile Function = "reconcile"
	Connect   Function = "connect"
)

// Env is what a process needs to use this stack through the SDK's standard
// variables: endpoint, region and fake credentials.
func (s *Stack) Env() map[string]string {
	return map[string]string{
		"AWS_ENDPOINT_URL":      s.Endpoint,
		"AWS_REGION":            Region,
		"AWS_ACCESS_KEY_ID":     config.LocalAccessKeyID,
		"AWS_SECRET_ACCESS_KEY": config.LocalSecretAccessKey,
	}
}

// FunctionEnv is the environment fn gets on this stack, whether it runs in
// this process (config.FromMap) or as its binary: Env, then what
// template.yaml wires from the stack's resources into fn (the queues, the
// secrets by ARN, the tables when the stack has them), then vars, a
// deployment's settings (STORE_URL, WEBHOOK_URL, ...), which win. Two
// exceptions keep one source for each secret: the webhook secret is always
// the stack's, read by ARN as in AWS (a WEBHOOK_SECRET in vars is dropped),
// and a shop key given as literals (WOO_CONSUMER_KEY, WOO_CONSUMER_SECRET)
// replaces the credentials secret's ARN. The functions that call shops get
// ALLOW_PRIVATE_SHOPS=true (vars may say false): locally the shop is a
// stand-in on 127.0.0.1, which a deployed stack refuses to dial.
func (s *Stack) FunctionEnv(fn Function, vars map[string]string) map[string]string {
	env := s.Env()
	for name, value := range s.wiring(fn) {
		if value != "" {
			env[name] = value
		}
	}
	if fn == Activate || fn == Reconcile || fn == Connect {
		env[config.AllowPrivateShops] = "true"
	}
	maps.Copy(env, vars)
	delete(env, config.WebhookSecret)
	if env[config.WooConsumerKey] != "" || env[config.WooConsumerSecret] != "" {
		delete(env, config.WooCredentialsSecretARN)
	}
	return env
}

// wiring is what template.yaml gives fn from the stack's resources (pinned
// to the template by local/templatecheck).
func (s *Stack) wiring(fn Function) map[string]string {
	w := s.wiringOf(fn)
	if s.ShopsTable != "" {
		// A hub has no home shop: its shops' secrets are in the shops
		// table, and the home shop's two secrets are not made.
		delete(w, config.WebhookSecretARN)
		delete(w, config.WooCredentialsSecretARN)
	}
	return w
}

func (s *Stack) wiringOf(fn Function) map[string]string {
	switch fn {
	case Webhook:
		return map[string]string{config.QueueURL: s.QueueURL, config.WebhookSecretARN: s.WebhookSecretARN, config.LedgerTable: s.LedgerTable,
			config.ShopsTable: s.ShopsTable, config.ShopsKeyID: s.ShopsKeyID}
	case Forwarder:
		return map[string]string{config.DLQURL: s.DLQURL, config.BackfillQueueARN: s.BackfillQueueARN}
	case Activate:
		return map[string]string{
			config.BackfillQueueURL: s.BackfillQueueURL, config.DLQURL: s.DLQURL, config.WebhookSecretARN: s.WebhookSecretARN,
			config.WooCredentialsSecretARN: s.WooCredentialsSecretARN, config.StateTable: s.StateTable, config.LedgerTable: s.LedgerTable,
			config.ShopsTable: s.ShopsTable, config.ShopsKeyID: s.ShopsKeyID,
		}
	case Reconcile:
		w := map[string]string{
			config.QueueURL: s.QueueURL, config.DLQURL: s.DLQURL, config.WebhookSecretARN: s.WebhookSecretARN,
			config.WooCredentialsSecretARN: s.WooCredentialsSecretARN, config.StateTable: s.StateTable, config.LedgerTable: s.LedgerTable,
			config.WaitingQueueURL: s.WaitingQueueURL,
		}
		if s.ShopsTable != "" {
			// A hub: its schedule fans out on the sweep queue.
			w[config.ShopsTable], w[config.ShopsKeyID], w[config.SweepQueueURL] = s.ShopsTable, s.ShopsKeyID, s.SweepQueueURL
		}
		return w
	case Connect:
		return map[string]string{config.StateTable: s.StateTable}
	}
	return nil
}
