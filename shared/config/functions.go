package config

// Variable names: part of the interface, set by template.yaml.
const (
	StoreURL                = "STORE_URL"
	QueueURL                = "QUEUE_URL"
	DLQURL                  = "DLQ_URL"
	WebhookSecretARN        = "WEBHOOK_SECRET_ARN"
	WebhookSecret           = "WEBHOOK_SECRET"
	WooCredentialsSecretARN = "WOO_CREDENTIALS_SECRET_ARN"
	WooConsumerKey          = "WOO_CONSUMER_KEY"
	WooConsumerSecret       = "WOO_CONSUMER_SECRET"
	WebhookURL              = "WEBHOOK_URL"
	LogistosOrdersURL       = "LOGISTOS_ORDERS_URL"
	LogistosCredentialsURL  = "LOGISTOS_CREDENTIALS_URL"
	ForwardTopics           = "FORWARD_TOPICS"
	BackfillCheckpoint      = "BACKFILL_CHECKPOINT"
	BackfillConcurrency     = "BACKFILL_CONCURRENCY"
	BackfillStatus          = "BACKFILL_STATUS"
	LogLevel                = "LOG_LEVEL"
	// FunctionName is set by Lambda itself: the deployed function's name,
	// which names its metrics and lets activate invoke itself.
	FunctionName = "AWS_LAMBDA_FUNCTION_NAME"
)

// Defaults of the variables above, as DESIGN.md's configuration table
// gives them.
const (
	DefaultLogistosOrdersURL      = "https://admin.logistos.in/integration/woo_commerce_orders"
	DefaultLogistosCredentialsURL = "https://admin.logistos.in/integration/integrate_woo_commerce"
	// DefaultForwardTopics is the webhook topic registered and forwarded.
	DefaultForwardTopics = "order.created"
	// DefaultBackfillStatus is WooCommerce's "every status but trash".
	DefaultBackfillStatus = "any"
	DefaultLogLevel       = "info"
)

// Secret is where a secret comes from: a Secrets Manager ARN in AWS, or
// the literal value for local runs.
type Secret struct {
	ARN     string
	Literal string
}

// secret reads the ARN/literal pair, requiring exactly one.
func (e *Env) secret(arnName, literalName string) Secret {
	switch e.OneOf(arnName, literalName) {
	case arnName:
		return Secret{ARN: e.get(arnName)}
	case literalName:
		return Secret{Literal: e.get(literalName)}
	}
	return Secret{}
}

// Webhook is the webhook function's configuration.
type Webhook struct {
	StoreURL string
	QueueURL string
	Secret   Secret
	Topics   []string
	// Function is the name of the deployed function ("" in local runs).
	Function string
	LogLevel string
}

// LoadWebhook reads the webhook function's configuration.
func LoadWebhook(e *Env) (Webhook, error) {
	c := Webhook{
		StoreURL: e.URL(StoreURL, "", true),
		QueueURL: e.Required(QueueURL),
		Secret:   e.secret(WebhookSecretARN, WebhookSecret),
		Topics:   e.List(ForwardTopics, DefaultForwardTopics),
		Function: e.String(FunctionName, ""),
		LogLevel: e.String(LogLevel, DefaultLogLevel),
	}
	return c, e.Err()
}

// Forwarder is the forwarder function's configuration.
type Forwarder struct {
	StoreURL  string
	DLQURL    string
	OrdersURL string
	Topics    []string
	Function  string // the deployed function's name ("" in local runs)
	LogLevel  string
}

// LoadForwarder reads the forwarder function's configuration.
func LoadForwarder(e *Env) (Forwarder, error) {
	c := Forwarder{
		StoreURL:  e.URL(StoreURL, "", true),
		DLQURL:    e.Required(DLQURL),
		OrdersURL: e.SecureURL(LogistosOrdersURL, DefaultLogistosOrdersURL, true),
		Topics:    e.List(ForwardTopics, DefaultForwardTopics),
		Function:  e.String(FunctionName, ""),
		LogLevel:  e.String(LogLevel, DefaultLogLevel),
	}
	return c, e.Err()
}

// Limits of the activate function's settings.
const (
	// DefaultBackfillConcurrency is how many order pages the backfill
	// fetches at once: quick enough, gentle on a shop on shared hosting.
	DefaultBackfillConcurrency = 4
	// MaxBackfillConcurrency keeps a mistyped setting from flooding the shop.
	MaxBackfillConcurrency = 16
)

// Activate is the activate function's configuration.
type Activate struct {
	StoreURL string
	QueueURL string
	// DLQURL receives, by id, the orders the backfill cannot queue (too
	// large for an SQS message even compressed).
	DLQURL        string
	WebhookSecret Secret
	// WooCredentials is a secret holding {"consumer_key","consumer_secret"}
	// (ARN), or, for local runs, the two literals.
	WooCredentials      Secret
	ConsumerKey         string
	ConsumerSecret      string
	WebhookURL          string
	CredentialsURL      string
	Checkpoint          string // DynamoDB table; empty keeps the checkpoint in memory
	BackfillConcurrency int
	BackfillStatuses    []string
	// Function is the deployed function's name, which continues a long
	// backfill by invoking itself; "" in local runs, whose runner loops on
	// the report's next event instead.
	Function string
	LogLevel string
}

// LoadActivate reads the activate function's configuration. STORE_URL,
// WEBHOOK_URL and LOGISTOS_CREDENTIALS_URL receive credentials or orders,
// so they must be https (http only for loopback).
func LoadActivate(e *Env) (Activate, error) {
	c := Activate{
		StoreURL:            e.SecureURL(StoreURL, "", true),
		QueueURL:            e.Required(QueueURL),
		DLQURL:              e.Required(DLQURL),
		WebhookSecret:       e.secret(WebhookSecretARN, WebhookSecret),
		WebhookURL:          e.SecureURL(WebhookURL, "", true),
		CredentialsURL:      e.SecureURL(LogistosCredentialsURL, DefaultLogistosCredentialsURL, true),
		Checkpoint:          e.String(BackfillCheckpoint, ""),
		BackfillConcurrency: e.Int(BackfillConcurrency, DefaultBackfillConcurrency, 1, MaxBackfillConcurrency),
		BackfillStatuses:    e.List(BackfillStatus, DefaultBackfillStatus),
		Function:            e.String(FunctionName, ""),
		LogLevel:            e.String(LogLevel, DefaultLogLevel),
	}
	arn, key, sec := e.get(WooCredentialsSecretARN), e.get(WooConsumerKey), e.get(WooConsumerSecret)
	switch {
	case arn != "" && (key != "" || sec != ""):
		e.fail(WooCredentialsSecretARN, "set either it or %s and %s, not both", WooConsumerKey, WooConsumerSecret)
	case arn != "":
		c.WooCredentials = Secret{ARN: arn}
	case key == "" && sec == "":
		e.fail(WooCredentialsSecretARN+" or "+WooConsumerKey+" and "+WooConsumerSecret, "one is required but none is set")
	case key == "":
		e.fail(WooConsumerKey, "is required with %s", WooConsumerSecret)
	case sec == "":
		e.fail(WooConsumerSecret, "is required with %s", WooConsumerKey)
	default:
		c.ConsumerKey, c.ConsumerSecret = key, sec
	}
	return c, e.Err()
}

// Set turns a list into a set.
func Set(list []string) map[string]bool {
	s := make(map[string]bool, len(list))
	for _, v := range list {
		s[v] = true
	}
	return s
}
