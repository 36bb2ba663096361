package config

import "time"

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
	StateTable              = "STATE_TABLE"
	LedgerTable             = "LEDGER_TABLE"
	ReconcileGrace          = "RECONCILE_GRACE"
	BackfillConcurrency     = "BACKFILL_CONCURRENCY"
	BackfillStatus          = "BACKFILL_STATUS"
	LogLevel                = "LOG_LEVEL"
	// BackfillQueueURL is the backfill queue, where activate puts the
	// shop's existing orders, apart from the live ones on QUEUE_URL.
	BackfillQueueURL = "BACKFILL_QUEUE_URL"
	// BackfillQueueARN names that queue to the forwarder: the records
	// whose event source it is are paced at BACKFILL_RATE.
	BackfillQueueARN = "BACKFILL_QUEUE_ARN"
	// BackfillRate is the most POSTs a second the forwarder sends for the
	// backfill queue, all its invocations together.
	BackfillRate = "BACKFILL_RATE"
	// WaitingQueueURL is the queue SQS moves an order to once its retries
	// are spent on transient failures; reconcile moves them back when
	// Logistos answers again.
	WaitingQueueURL = "WAITING_QUEUE_URL"
	// SweepQueueURL is a hub's sweep queue: its scheduled reconcile run
	// puts one job per connected shop there, and reconcile consumes it.
	SweepQueueURL = "SWEEP_QUEUE_URL"
	// ActivateFunction names the function connect starts once a key is
	// stored.
	ActivateFunction = "ACTIVATE_FUNCTION"
	// AllowPrivateShops, when "true", lets shop URLs reach loopback,
	// private and link-local addresses: for local runs and tests against
	// stand-in shops on this machine. The template never sets it.
	AllowPrivateShops = "ALLOW_PRIVATE_SHOPS"
	// ShopsTable is a hub's shops table (shared/shops): each shop's
	// record and its sealed secrets. Unset in a home-shop stack.
	ShopsTable = "SHOPS_TABLE"
	// ShopsKeyID is the KMS key the shops' secrets are sealed under.
	ShopsKeyID = "SHOPS_KEY_ID"
	// FunctionName is set by Lambda itself: the deployed function's name,
	// which names its metrics and lets activate invoke itself.
	FunctionName = "AWS_LAMBDA_FUNCTION_NAME"
)

// Defaults of the variables above, as docs/architecture.md's configuration table
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

// Shops is where a hub keeps its shops: the table and the KMS key their
// secrets are sealed under. The zero value keeps them in memory (a local
// hub run); a deployed hub always has both.
type Shops struct {
	Table string
	KeyID string
}

// shops reads SHOPS_TABLE and SHOPS_KEY_ID: both or neither, and neither
// in a home-shop stack (home is STORE_URL's value), which accepts no
// other shop.
func (e *Env) shops(home string) Shops {
	s := Shops{Table: e.String(ShopsTable, ""), KeyID: e.String(ShopsKeyID, "")}
	switch {
	case home != "" && (s.Table != "" || s.KeyID != ""):
		e.fail(ShopsTable, "is for a hub, but STORE_URL names the stack's one shop; leave STORE_URL empty for a hub, or unset %s and %s", ShopsTable, ShopsKeyID)
	case s.Table != "" && s.KeyID == "":
		e.fail(ShopsKeyID, "is required with %s: the shops' secrets are sealed under that KMS key", ShopsTable)
	case s.Table == "" && s.KeyID != "":
		e.fail(ShopsTable, "is required with %s", ShopsKeyID)
	}
	return s
}

// Webhook is the webhook function's configuration. With StoreURL set the
// stack is that shop's (the home shop): deliveries come to the plain
// route, signed with Secret. With StoreURL empty it is a hub: each shop's
// deliveries come to its own route, signed with its own secret from the
// shops table, and Secret is not used.
type Webhook struct {
	// StoreURL is the home shop, "" in a hub.
	StoreURL string
	QueueURL string
	Secret   Secret
	// Shops is the hub's shops table; the zero value in a home-shop stack,
	// and in a local hub run (shops in memory).
	Shops  Shops
	Topics []string
	// LedgerTable is the DynamoDB ledger of orders queued; empty keeps it
	// in memory (local runs).
	LedgerTable string
	// Function is the name of the deployed function ("" in local runs).
	Function string
	LogLevel string
}

// Hub reports whether the stack serves any shop that connects rather than
// one home shop.
func (c Webhook) Hub() bool { return c.StoreURL == "" }

// LoadWebhook reads the webhook function's configuration. STORE_URL empty
// makes a hub: the webhook secret is then optional (a hub has no home
// shop; the template still creates the secret, which activate and
// reconcile name), and SHOPS_TABLE with SHOPS_KEY_ID name the shops, or
// neither keeps them in memory for a local run.
func LoadWebhook(e *Env) (Webhook, error) {
	c := Webhook{
		StoreURL: e.URL(StoreURL, "", false),
		QueueURL: e.Required(QueueURL),
	}
	if c.StoreURL != "" {
		c.Secret = e.secret(WebhookSecretARN, WebhookSecret)
	} else {
		c.Secret = Secret{ARN: e.String(WebhookSecretARN, ""), Literal: e.String(WebhookSecret, "")}
	}
	c.Topics = e.List(ForwardTopics, DefaultForwardTopics)
	c.Function = e.String(FunctionName, "")
	c.LogLevel = e.String(LogLevel, DefaultLogLevel)
	c.LedgerTable = e.String(LedgerTable, "")
	c.Shops = e.shops(c.StoreURL)
	return c, e.Err()
}

// Limits of the backfill's rate to Logistos (BACKFILL_RATE, the template's
// BackfillRate parameter), in POSTs per second.
const (
	// DefaultBackfillRate sends a 100,000-order history in under 3 hours
	// while adding at most 10 requests a second to what Logistos gets
	// from the shop's live orders.
	DefaultBackfillRate = 10
	// MaxBackfillRate keeps a mistyped setting from flooding Logistos; two
	// backfill invocations of 10 POSTs each reach about 20 ÷ Logistos's
	// latency in seconds anyway (66 a second at 300 ms).
	MaxBackfillRate = 50
)

// Forwarder is the forwarder function's configuration.
type Forwarder struct {
	StoreURL  string
	DLQURL    string
	OrdersURL string
	Topics    []string
	// BackfillQueueARN is the backfill queue's ARN: records from it are
	// paced so that the backfill sends at most BackfillRate POSTs a second.
	BackfillQueueARN string
	BackfillRate     int
	Function         string // the deployed function's name ("" in local runs)
	LogLevel         string
}

// LoadForwarder reads the forwarder function's configuration.
func LoadForwarder(e *Env) (Forwarder, error) {
	c := Forwarder{
		// Empty in a hub: each order's shop is its message's wc-source.
		StoreURL:         e.URL(StoreURL, "", false),
		DLQURL:           e.Required(DLQURL),
		OrdersURL:        e.SecureURL(LogistosOrdersURL, DefaultLogistosOrdersURL, true),
		Topics:           e.List(ForwardTopics, DefaultForwardTopics),
		BackfillQueueARN: e.Required(BackfillQueueARN),
		BackfillRate:     e.Int(BackfillRate, DefaultBackfillRate, 1, MaxBackfillRate),
		Function:         e.String(FunctionName, ""),
		LogLevel:         e.String(LogLevel, DefaultLogLevel),
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
	// BackfillQueueURL takes the backfill's orders: a queue of its own,
	// which the forwarder drains at BACKFILL_RATE, so that live orders on
	// the orders queue never wait behind the shop's history.
	BackfillQueueURL string
	// DLQURL receives, by id, the orders the backfill cannot queue (too
	// large for an SQS message even compressed).
	DLQURL        string
	WebhookSecret Secret
	// WooCredentials is a secret holding {"consumer_key","consumer_secret"}
	// (ARN), or, for local runs, the two literals.
	WooCredentials Secret
	ConsumerKey    string
	ConsumerSecret string
	// Shops is a hub's shops table and key (STORE_URL empty): where each
	// shop's key and webhook secret go once activation proves the key; the
	// zero value in a home-shop stack, and in a local hub run (in memory).
	Shops               Shops
	WebhookURL          string
	CredentialsURL      string
	StateTable          string // DynamoDB table of state documents; empty keeps them in memory
	LedgerTable         string // DynamoDB ledger of orders queued; empty keeps it in memory
	BackfillConcurrency int
	BackfillStatuses    []string
	// Topics forwarded: activate registers a webhook for each that is a
	// webhook topic (order.created, order.updated), as reconcile repairs.
	Topics []string
	// Function is the deployed function's name, which continues a long
	// backfill by invoking itself; "" in local runs, whose runner loops on
	// the report's next event instead.
	Function string
	// AllowPrivateShops lets the shop client dial loopback and private
	// addresses (ALLOW_PRIVATE_SHOPS; local runs and tests only).
	AllowPrivateShops bool
	LogLevel          string
}

// LoadActivate reads the activate function's configuration. STORE_URL,
// WEBHOOK_URL and LOGISTOS_CREDENTIALS_URL receive credentials or orders,
// so they must be https (http only for loopback). STORE_URL empty makes
// the stack a hub, whose shops' keys are in the shops store: the REST key's
// source is then optional.
func LoadActivate(e *Env) (Activate, error) {
	c := Activate{
		StoreURL:            e.SecureURL(StoreURL, "", false),
		BackfillQueueURL:    e.Required(BackfillQueueURL),
		DLQURL:              e.Required(DLQURL),
		WebhookURL:          e.SecureURL(WebhookURL, "", true),
		CredentialsURL:      e.SecureURL(LogistosCredentialsURL, DefaultLogistosCredentialsURL, true),
		StateTable:          e.String(StateTable, ""),
		LedgerTable:         e.String(LedgerTable, ""),
		BackfillConcurrency: e.Int(BackfillConcurrency, DefaultBackfillConcurrency, 1, MaxBackfillConcurrency),
		BackfillStatuses:    e.List(BackfillStatus, DefaultBackfillStatus),
		Topics:              e.List(ForwardTopics, DefaultForwardTopics),
		Function:            e.String(FunctionName, ""),
		AllowPrivateShops:   e.Bool(AllowPrivateShops, false),
		LogLevel:            e.String(LogLevel, DefaultLogLevel),
	}
	// A hub (STORE_URL unset or empty; a bad one is an error above) has no
	// home shop, and so no home secrets: each shop's are in the shops table.
	if e.get(StoreURL) != "" {
		c.WebhookSecret = e.secret(WebhookSecretARN, WebhookSecret)
		c.WooCredentials, c.ConsumerKey, c.ConsumerSecret = e.wooCredentials()
	}
	c.Shops = e.shops(c.StoreURL)
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

// wooCredentials reads the REST API key's source: a secret's ARN, or (local
// runs) the two literals; exactly one of the two.
func (e *Env) wooCredentials() (src Secret, key, secret string) {
	arn, key, sec := e.get(WooCredentialsSecretARN), e.get(WooConsumerKey), e.get(WooConsumerSecret)
	switch {
	case arn != "" && (key != "" || sec != ""):
		e.fail(WooCredentialsSecretARN, "set either it or %s and %s, not both", WooConsumerKey, WooConsumerSecret)
	case arn != "":
		return Secret{ARN: arn}, "", ""
	case key == "" && sec == "":
		e.fail(WooCredentialsSecretARN+" or "+WooConsumerKey+" and "+WooConsumerSecret, "one is required but none is set")
	case key == "":
		e.fail(WooConsumerKey, "is required with %s", WooConsumerSecret)
	case sec == "":
		e.fail(WooConsumerSecret, "is required with %s", WooConsumerKey)
	default:
		return Secret{}, key, sec
	}
	return Secret{}, "", ""
}

// Limits of reconcile's settings.
const (
	// DefaultReconcileGrace: WooCommerce's deliveries run from Action
	// Scheduler and can lag minutes behind the order on a quiet shop.
	DefaultReconcileGrace = 15 * time.Minute
	// MaxReconcileGrace keeps a mistyped setting from leaving orders
	// unrecovered for days.
	MaxReconcileGrace = 24 * time.Hour
)

// Reconcile is the reconcile function's configuration.
type Reconcile struct {
	StoreURL string
	QueueURL string
	// DLQURL receives, by id, the missed orders reconcile cannot queue (too
	// large for an SQS message even compressed), as Activate's, and a
	// waiting order Logistos refuses when it is tried as the canary.
	DLQURL string
	// WaitingQueueURL holds the orders whose retries ran out while Logistos
	// failed; each run tries one of them against OrdersURL and, when it goes
	// through, moves the rest back to QueueURL at ReleaseRate a second.
	WaitingQueueURL string
	OrdersURL       string
	ReleaseRate     int
	WebhookSecret   Secret
	// WooCredentials, ConsumerKey, ConsumerSecret: as Activate's.
	WooCredentials Secret
	ConsumerKey    string
	ConsumerSecret string
	WebhookURL     string
	StateTable     string // empty keeps state in memory (local runs)
	LedgerTable    string // empty keeps the ledger in memory (local runs)
	// Grace is how long after an order its webhook delivery may still
	// arrive: the window ends this long before now.
	Grace time.Duration
	// Topics forwarded: with order.updated, modified orders are recovered
	// too, and its webhook is repaired beside order.created's.
	Topics   []string
	Function string
	// AllowPrivateShops: as Activate's.
	AllowPrivateShops bool
	// SweepQueueURL is a hub's sweep queue ("" in a single-shop stack): the
	// schedule's run queues a job per connected shop, each swept on its own.
	SweepQueueURL string
	// Shops is the hub's shops table: which shops to sweep, their keys and
	// webhook secrets, and where a shop is marked disconnected. The zero
	// value in a single-shop stack, and in a local hub run (in memory).
	Shops    Shops
	LogLevel string
}

// LoadReconcile reads the reconcile function's configuration. STORE_URL and
// WEBHOOK_URL receive credentials or orders, so they must be https (http
// only for loopback). STORE_URL empty makes the stack a hub: its shops'
// keys and webhook secrets are in the shops store, so the home shop's
// sources are optional, and SWEEP_QUEUE_URL is required (the schedule's
// fan-out).
func LoadReconcile(e *Env) (Reconcile, error) {
	c := Reconcile{
		StoreURL: e.SecureURL(StoreURL, "", false),
		QueueURL: e.Required(QueueURL),
		DLQURL:   e.Required(DLQURL),
		// Waiting orders go back at the backfill's rate: the pace the owner
		// chose for what is not a live order.
		WaitingQueueURL:   e.Required(WaitingQueueURL),
		OrdersURL:         e.SecureURL(LogistosOrdersURL, DefaultLogistosOrdersURL, true),
		ReleaseRate:       e.Int(BackfillRate, DefaultBackfillRate, 1, MaxBackfillRate),
		WebhookURL:        e.SecureURL(WebhookURL, "", true),
		StateTable:        e.String(StateTable, ""),
		LedgerTable:       e.String(LedgerTable, ""),
		Grace:             e.Duration(ReconcileGrace, DefaultReconcileGrace, 0, MaxReconcileGrace),
		Topics:            e.List(ForwardTopics, DefaultForwardTopics),
		Function:          e.String(FunctionName, ""),
		AllowPrivateShops: e.Bool(AllowPrivateShops, false),
		LogLevel:          e.String(LogLevel, DefaultLogLevel),
	}
	if c.StoreURL != "" {
		c.WebhookSecret = e.secret(WebhookSecretARN, WebhookSecret)
		c.WooCredentials, c.ConsumerKey, c.ConsumerSecret = e.wooCredentials()
		c.SweepQueueURL = e.String(SweepQueueURL, "")
		if c.SweepQueueURL != "" {
			e.fail(SweepQueueURL, "is for a hub, but STORE_URL names the stack's one shop")
		}
	} else {
		// A hub has no home shop: its shops' secrets are in the shops store.
		c.WebhookSecret = Secret{ARN: e.String(WebhookSecretARN, ""), Literal: e.String(WebhookSecret, "")}
		keySet := e.get(WooCredentialsSecretARN) != "" || e.get(WooConsumerKey) != "" || e.get(WooConsumerSecret) != ""
		if keySet {
			c.WooCredentials, c.ConsumerKey, c.ConsumerSecret = e.wooCredentials()
		}
		c.SweepQueueURL = e.Required(SweepQueueURL)
	}
	c.Shops = e.shops(c.StoreURL)
	return c, e.Err()
}

// Hub reports whether the stack serves any shop that connects rather than
// one home shop.
func (c Reconcile) Hub() bool { return c.StoreURL == "" }

// Connect is the connect function's configuration.
type Connect struct {
	// StoreURL is the home shop, the only one a single-shop stack connects;
	// empty makes the stack a hub, which connects any shop its owner names.
	StoreURL string
	// ActivateFunction is started asynchronously once a key is pending: it
	// proves the key and makes it the key in use (connect never writes a
	// secret).
	ActivateFunction string
	StateTable       string // the connect states; empty keeps them in memory (local runs)
	Function         string
	// AllowPrivateShops: as Activate's. Connect sends a shop nothing, but a
	// hub refuses a store_url whose host is a loopback or private address
	// unless it is set, so that activation is never started for one.
	AllowPrivateShops bool
	LogLevel          string
}

// LoadConnect reads the connect function's configuration. STORE_URL is
// only where the owner's browser is sent to approve the key: connect sends
// the shop nothing (the key comes to the https callback), so a plain-http
// shop is the shop's own choice here, unlike for activate and reconcile,
// which send it the key. Unset or empty, the stack is a hub.
func LoadConnect(e *Env) (Connect, error) {
	c := Connect{
		StoreURL:          e.URL(StoreURL, "", false),
		ActivateFunction:  e.Required(ActivateFunction),
		StateTable:        e.String(StateTable, ""),
		Function:          e.String(FunctionName, ""),
		AllowPrivateShops: e.Bool(AllowPrivateShops, false),
		LogLevel:          e.String(LogLevel, DefaultLogLevel),
	}
	return c, e.Err()
}
