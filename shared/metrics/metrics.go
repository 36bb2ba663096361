// Package metrics writes CloudWatch metrics as Embedded Metric Format (EMF)
// log lines: Lambda ships stdout to CloudWatch Logs, which extracts the
// metrics, with no API call and no latency on the request path.
package metrics

import (
	"io"
	"os"
	"strconv"
	"sync"
	"time"
)

// Namespace holds every metric of this project.
const Namespace = "LogistosSync"

// DimensionName is the one dimension: the Lambda function's name, which is
// unique per stack, so several shops' stacks in one account never mix.
const DimensionName = "FunctionName"

// Metric names; the template's alarms use them.
const (
	// webhook
	OrdersEnqueued    = "OrdersEnqueued"    // put on the orders queue
	OrdersDropped     = "OrdersDropped"     // authentic but unusable: answered 200, not queued
	SignatureRejected = "SignatureRejected" // answered 401: signed, but not with our secret
	SignatureMissing  = "SignatureMissing"  // answered 401: unsigned (scanners, hand-made requests)
	BodyTooLarge      = "BodyTooLarge"      // answered 413
	BodyMalformed     = "BodyMalformed"     // answered 400: flagged base64 but not
	EnqueueFailed     = "EnqueueFailed"     // answered 503: SQS did not take the order
	SecretUnavailable = "SecretUnavailable" // answered 503: the webhook secret could not be read
	// forwarder
	OrdersForwarded       = "OrdersForwarded"
	OrdersFailedTransient = "OrdersFailedTransient" // left for SQS to redeliver
	OrdersFailedPermanent = "OrdersFailedPermanent" // sent to the DLQ
	OrdersSkipped         = "OrdersSkipped"         // a topic no longer forwarded: sent to the DLQ
	ValuesDropped         = "ValuesDropped"         // objects or arrays where the allow-list keeps a scalar
	// activate
	OrdersBackfilled           = "OrdersBackfilled"
	OrdersBackfillDeadLettered = "OrdersBackfillDeadLettered" // too large for the queue even compressed: on the DLQ by id
	// ShopConnected: a key that arrived through connect worked against the
	// shop and became the key in use.
	ShopConnected = "ShopConnected"
	// ConnectKeyRejected: a key that arrived through connect did not work
	// against the shop and was discarded (a stranger's, most likely: states
	// are public). Not alarmed: a flood of them must not page the owner.
	ConnectKeyRejected = "ConnectKeyRejected"
	// ledger (webhook, activate, reconcile)
	LedgerWriteFailed = "LedgerWriteFailed" // orders queued but not recorded: reconcile may queue them once more
	// reconcile
	OrdersRecovered = "OrdersRecovered" // orders the webhook missed, queued by reconcile
	WebhookRepaired = "WebhookRepaired" // the webhook was missing, disabled or duplicated, and was put right
	ReconcileFailed = "ReconcileFailed" // a sweep could not finish (shop unreachable, key revoked, ...)
	OrdersReleased  = "OrdersReleased"  // orders that waited out a Logistos outage, moved back to the orders queue
	// ShopsDisconnected: a hub shop's key was refused (401) on
	// reconcile.DisconnectAfter sweeps in a row, so the shop was
	// disconnected and is no longer swept. Stack-wide: the shop's id is in
	// the log line, never a dimension.
	ShopsDisconnected = "ShopsDisconnected"
	// connect
	ConnectStarted          = "ConnectStarted"          // an owner was sent to the shop's authorization screen
	ConnectKeyReceived      = "ConnectKeyReceived"      // a key arrived and is pending until activation proves it
	ConnectRejected         = "ConnectRejected"         // answered 4xx: bad state, body or permissions
	ConnectFailed           = "ConnectFailed"           // answered 503: the state table failed
	ConnectActivationFailed = "ConnectActivationFailed" // the key is pending but activation did not start
)

// Units.
const (
	Count        = "Count"
	Milliseconds = "Milliseconds"
)

// Emitter writes EMF lines for one function. The zero value is unusable;
// build it with New. Safe for concurrent use.
type Emitter struct {
	w        io.Writer
	function string
	now      func() time.Time

	mu  sync.Mutex
	buf []byte
}

// New returns an emitter writing to w (os.Stdout when nil) for the named
// function: config's Function, the deployed function's name; "local" when
// empty (local runs and tests).
func New(w io.Writer, function string) *Emitter {
	if w == nil {
		w = os.Stdout
	}
	if function == "" {
		function = "local"
	}
	return &Emitter{w: w, function: function, now: time.Now}
}

// Metric is one value of one metric.
type Metric struct {
	Name  string
	Unit  string
	Value float64
}

// One is a count of one occurrence of name.
func One(name string) Metric { return Metric{Name: name, Unit: Count, Value: 1} }

// Count records n occurrences of name.
func (e *Emitter) Count(name string, n int) { e.Emit(Metric{name, Count, float64(n)}) }

// Emit writes metrics in one EMF line: one log event, however many metrics
// an event moves.
func (e *Emitter) Emit(ms ...Metric) {
	if e == nil || len(ms) == 0 {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	b := e.buf[:0]
	b = append(b, `{"_aws":{"Timestamp":`...)
	b = strconv.AppendInt(b, e.now().UnixMilli(), 10)
	b = append(b, `,"CloudWatchMetrics":[{"Namespace":"`+Namespace+`","Dimensions":[["`+DimensionName+`"]],"Metrics":[`...)
	for i, m := range ms {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"Name":"`...)
		b = append(b, m.Name...)
		b = append(b, `","Unit":"`...)
		b = append(b, m.Unit...)
		b = append(b, `"}`...)
	}
	b = append(b, `]}]},"`+DimensionName+`":`...)
	b = strconv.AppendQuote(b, e.function)
	for _, m := range ms {
		b = append(b, `,"`...)
		b = append(b, m.Name...)
		b = append(b, `":`...)
		b = strconv.AppendFloat(b, m.Value, 'f', -1, 64)
	}
	b = append(b, "}\n"...)
	e.buf = b
	_, _ = e.w.Write(b)
}
