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
	OrdersReceived    = "OrdersReceived"    // signed order deliveries
	OrdersEnqueued    = "OrdersEnqueued"    // put on the orders queue
	OrdersDropped     = "OrdersDropped"     // authentic but unusable: answered 200, not queued
	SignatureRejected = "SignatureRejected" // answered 401
	BodyTooLarge      = "BodyTooLarge"      // answered 413
	EnqueueFailed     = "EnqueueFailed"     // answered 503
	// forwarder
	OrdersForwarded       = "OrdersForwarded"
	OrdersFailedTransient = "OrdersFailedTransient" // left for SQS to redeliver
	OrdersFailedPermanent = "OrdersFailedPermanent" // sent to the DLQ
	ForwardLatency        = "ForwardLatency"        // milliseconds per Logistos POST
	// activate
	OrdersBackfilled = "OrdersBackfilled"
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
// function (AWS_LAMBDA_FUNCTION_NAME when empty).
func New(w io.Writer, function string) *Emitter {
	if w == nil {
		w = os.Stdout
	}
	if function == "" {
		function = os.Getenv("AWS_LAMBDA_FUNCTION_NAME")
	}
	if function == "" {
		function = "local"
	}
	return &Emitter{w: w, function: function, now: time.Now}
}

// Count records n occurrences of name.
func (e *Emitter) Count(name string, n int) { e.emit(name, Count, float64(n)) }

// Duration records d under name, in milliseconds.
func (e *Emitter) Duration(name string, d time.Duration) {
	e.emit(name, Milliseconds, float64(d.Microseconds())/1000)
}

func (e *Emitter) emit(name, unit string, v float64) {
	if e == nil {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	b := e.buf[:0]
	b = append(b, `{"_aws":{"Timestamp":`...)
	b = strconv.AppendInt(b, e.now().UnixMilli(), 10)
	b = append(b, `,"CloudWatchMetrics":[{"Namespace":"`+Namespace+`","Dimensions":[["`+DimensionName+`"]],"Metrics":[{"Name":"`...)
	b = append(b, name...)
	b = append(b, `","Unit":"`...)
	b = append(b, unit...)
	b = append(b, `"}]}]},"`+DimensionName+`":`...)
	b = strconv.AppendQuote(b, e.function)
	b = append(b, `,"`...)
	b = append(b, name...)
	b = append(b, `":`...)
	b = strconv.AppendFloat(b, v, 'f', -1, 64)
	b = append(b, "}\n"...)
	e.buf = b
	_, _ = e.w.Write(b)
}
