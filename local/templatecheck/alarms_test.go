package templatecheck

import (
	"encoding/json"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/logistos-sync/logistos-sync/shared/activate"
	"github.com/logistos-sync/logistos-sync/shared/metrics"
)

// emitted are the metrics the code writes, by the function that writes them.
var emitted = map[string][]string{
	"WebhookFunction": {metrics.OrdersEnqueued, metrics.OrdersDropped,
		metrics.SignatureRejected, metrics.SignatureMissing, metrics.BodyTooLarge, metrics.BodyMalformed,
		metrics.EnqueueFailed, metrics.SecretUnavailable, metrics.LedgerWriteFailed},
	"ForwarderFunction": {metrics.OrdersForwarded, metrics.OrdersFailedTransient, metrics.OrdersFailedPermanent, metrics.OrdersSkipped, metrics.ValuesDropped},
	"ActivateFunction":  {metrics.OrdersBackfilled, metrics.OrdersBackfillDeadLettered, metrics.LedgerWriteFailed, metrics.ShopConnected, metrics.ConnectKeyRejected},
	"ReconcileFunction": {metrics.OrdersRecovered, metrics.WebhookRepaired, metrics.ReconcileFailed, metrics.LedgerWriteFailed},
	"ConnectFunction": {metrics.ConnectStarted, metrics.ConnectKeyReceived, metrics.ConnectRejected, metrics.ConnectFailed,
		metrics.ConnectActivationFailed},
}

// alarmMetrics returns the metrics an alarm watches: its own, or those of
// its metric math.
func alarmMetrics(alarm map[string]any) []map[string]any {
	p := Map(alarm, "Properties")
	if Get(p, "MetricName") != nil {
		return []map[string]any{p}
	}
	var out []map[string]any
	for _, q := range List(p, "Metrics") {
		if m := Map(q, "MetricStat", "Metric"); m != nil {
			out = append(out, m)
		}
	}
	return out
}

// dimension returns the single dimension of a metric as name and the
// logical id its value refers to.
func dimension(m map[string]any) (name, id string, ok bool) {
	ds := List(m, "Dimensions")
	if len(ds) != 1 {
		return "", "", false
	}
	name, _ = Get(ds[0], "Name").(string)
	id, ok = Ref(Get(ds[0], "Value"))
	if !ok {
		id, _, ok = GetAtt(Get(ds[0], "Value"))
	}
	return name, id, ok
}

// TestAlarmsUseTheEmittedMetrics checks every alarm on this project's
// namespace against what the code writes: a typo in a metric name or a
// dimension makes an alarm that never fires (or, with missing data as
// breaching, always fires).
func TestAlarmsUseTheEmittedMetrics(t *testing.T) {
	tpl := load(t)
	alarms := tpl.OfType("AWS::CloudWatch::Alarm")
	for id, a := range alarms {
		if topic, _ := Ref(List(a, "Properties", "AlarmActions")[0]); topic != "AlarmTopic" {
			t.Errorf("%s does not notify AlarmTopic", id)
		}
		for _, m := range alarmMetrics(a) {
			if Get(m, "Namespace") != metrics.Namespace {
				continue
			}
			name, fn, ok := dimension(m)
			if !ok || name != metrics.DimensionName {
				t.Errorf("%s: dimensions %v, want the one dimension %s = !Ref <function>", id, Get(m, "Dimensions"), metrics.DimensionName)
				continue
			}
			if !slices.Contains(emitted[fn], Get(m, "MetricName").(string)) {
				t.Errorf("%s watches %v of %s, which %s does not emit (it emits %v)", id, Get(m, "MetricName"), fn, fn, emitted[fn])
			}
		}
	}
	if Get(tpl.Resources, "AlarmEmailSubscription", "Condition") != "HasAlarmEmail" ||
		Get(tpl.Resources, "AlarmEmailSubscription", "Properties", "Protocol") != "email" {
		t.Error("the e-mail subscription is missing or not conditional on AlarmEmail")
	}
}

// TestRequiredAlarms finds each alarm the operations runbook describes by
// what it watches.
func TestRequiredAlarms(t *testing.T) {
	tpl := load(t)
	type watch struct{ namespace, metric, dimension, target string }
	find := func(w watch) map[string]any {
		for _, a := range tpl.OfType("AWS::CloudWatch::Alarm") {
			for _, m := range alarmMetrics(a) {
				name, target, _ := dimension(m)
				if Get(m, "Namespace") == w.namespace && Get(m, "MetricName") == w.metric && target == w.target &&
					(w.dimension == "" || name == w.dimension) {
					return a
				}
			}
		}
		t.Errorf("no alarm on %s %s of %s", w.namespace, w.metric, w.target)
		return nil
	}
	find(watch{"AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", "DeadLetterQueue"})
	find(watch{"AWS/SQS", "ApproximateAgeOfOldestMessage", "QueueName", "OrdersQueue"})
	find(watch{"AWS/Lambda", "Errors", "FunctionName", "ForwarderFunction"})
	find(watch{metrics.Namespace, metrics.SignatureRejected, "", "WebhookFunction"})
	// A Logistos outage: the orders waiting for it (a free SQS metric, in
	// place of a ratio of two always-written custom metrics).
	if a := find(watch{"AWS/SQS", "ApproximateAgeOfOldestMessage", "QueueName", "WaitingQueue"}); a != nil {
		if d, _ := Get(a, "Properties", "AlarmDescription").(string); !strings.Contains(d, "automatic") || !strings.Contains(d, "make redrive") {
			t.Errorf("OrdersWaitingAlarm must say that recovery is automatic and what to do if it is not: %s", d)
		}
	}
	// The owner learns that the webhook path failed, and that it was put right.
	find(watch{metrics.Namespace, metrics.OrdersRecovered, "", "ReconcileFunction"})
	find(watch{metrics.Namespace, metrics.WebhookRepaired, "", "ReconcileFunction"})
	find(watch{"AWS/Lambda", "Errors", "FunctionName", "ReconcileFunction"})
	// The key is stored but nothing flows: the owner must start activation.
	find(watch{metrics.Namespace, metrics.ConnectActivationFailed, "", "ConnectFunction"})
	// A signed REST error body: the webhook's user lost its rights.
	find(watch{metrics.Namespace, metrics.OrdersDropped, "", "WebhookFunction"})

	var api5xx bool
	for _, a := range tpl.OfType("AWS::CloudWatch::Alarm") {
		if Get(a, "Properties", "Namespace") == "AWS/ApiGateway" && Get(a, "Properties", "MetricName") == "5xx" {
			for _, d := range List(a, "Properties", "Dimensions") {
				if id, _ := Ref(Get(d, "Value")); Get(d, "Name") == "ApiId" && id == "HttpApi" {
					api5xx = true
				}
			}
		}
	}
	if !api5xx {
		t.Error("no alarm on the HTTP API's 5xx answers")
	}
	webhookFloodAlarm(t, tpl)

	// A hub: a shop disconnected (its key refused 3 sweeps in a row) stops
	// sending orders until its owner connects again; the operator must know.
	hub := loadHub(t)
	var disconnected bool
	for _, a := range hub.OfType("AWS::CloudWatch::Alarm") {
		for _, m := range alarmMetrics(a) {
			if _, target, _ := dimension(m); Get(m, "Namespace") == metrics.Namespace && Get(m, "MetricName") == metrics.ShopsDisconnected && target == "ReconcileFunction" {
				disconnected = true
			}
		}
	}
	if !disconnected {
		t.Error("a hub has no alarm on ShopsDisconnected of ReconcileFunction")
	}

	// The one failure a shop never notices: WooCommerce disabled the webhook.
	// Orders queued, not merely received: deliveries that arrive but are
	// dropped or fail must not keep it quiet.
	nw := find(watch{metrics.Namespace, metrics.OrdersEnqueued, "", "WebhookFunction"})
	if nw == nil {
		return
	}
	p := Map(nw, "Properties")
	if Get(p, "TreatMissingData") != "breaching" {
		t.Errorf("no-webhook alarm treats missing data as %v; silence is exactly what it must catch", Get(p, "TreatMissingData"))
	}
	if Get(p, "ComparisonOperator") != "LessThanThreshold" || Get(p, "Statistic") != "Sum" {
		t.Errorf("no-webhook alarm compares %v %v, want Sum LessThanThreshold", Get(p, "Statistic"), Get(p, "ComparisonOperator"))
	}
	if n, _ := Int(p, "Period"); n != 3600 {
		t.Errorf("no-webhook alarm period %d, want 3600 (EvaluationPeriods counts hours)", n)
	}
	hours := refOf(t, Get(p, "EvaluationPeriods"), "no-webhook EvaluationPeriods")
	if dp, _ := Ref(Get(p, "DatapointsToAlarm")); dp != hours {
		t.Errorf("no-webhook alarm: DatapointsToAlarm %v, want every one of the %s hours", Get(p, "DatapointsToAlarm"), hours)
	}
	if max, ok := Int(tpl.Parameters, hours, "MaxValue"); !ok || max > 168 {
		t.Errorf("parameter %s allows %v hours; CloudWatch evaluates at most 7 days", hours, Get(tpl.Parameters, hours, "MaxValue"))
	}
}

var (
	// eventInText is an activate event quoted in an alarm's description.
	eventInText = regexp.MustCompile(`\{"(steps|pending_key)":[^}]*\}`)
	// outputInText is a stack output a description refers to.
	outputInText = regexp.MustCompile(`stack outputs? (\w+)|<(\w+)>`)
)

// TestAlarmDescriptionsNameAWorkingStep reads what arrives in the alarm
// e-mail: every activate event it quotes is one the function accepts and
// does something (a completed backfill run again without "restart" only
// reports that it is complete), every stack output it names exists, make
// redrive is given its queues, and an aws CLI payload is read as JSON.
func TestAlarmDescriptionsNameAWorkingStep(t *testing.T) {
	for view, tpl := range views(t) {
		t.Run(view, func(t *testing.T) { alarmDescriptionsNameAWorkingStep(t, tpl) })
	}
}

func alarmDescriptionsNameAWorkingStep(t *testing.T, tpl *Template) {
	for id, a := range tpl.OfType("AWS::CloudWatch::Alarm") {
		d, _ := Get(a, "Properties", "AlarmDescription").(string)
		if d == "" || len(d) > 1024 {
			t.Errorf("%s: description of %d characters, want 1 to 1024 (CloudWatch's limit)", id, len(d))
			continue
		}
		for _, js := range eventInText.FindAllString(d, -1) {
			var ev activate.Event
			dec := json.NewDecoder(strings.NewReader(js))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&ev); err != nil {
				t.Errorf("%s quotes the event %s, which activate cannot read: %v", id, js, err)
				continue
			}
			for _, s := range ev.Steps {
				if !slices.Contains([]string{activate.StepHandoff, activate.StepWebhook, activate.StepBackfill}, s) {
					t.Errorf("%s quotes the event %s: no step %q", id, js, s)
				}
			}
			if slices.Contains(ev.Steps, activate.StepBackfill) && !ev.Restart {
				t.Errorf("%s quotes %s: a completed backfill run again without \"restart\" does nothing", id, js)
			}
		}
		for _, m := range outputInText.FindAllStringSubmatch(d, -1) {
			name := m[1] + m[2]
			if Get(tpl.Outputs, name) == nil {
				t.Errorf("%s names the stack output %s, which the template does not have", id, name)
			}
		}
		if strings.Contains(d, "make redrive") && !strings.Contains(d, `make redrive ARGS="-queue-url <OrdersQueueUrl> -dlq-url <DeadLetterQueueUrl>"`) &&
			!strings.Contains(d, `make redrive ARGS="-queue-url <OrdersQueueUrl> -dlq-url <WaitingQueueUrl>"`) {
			t.Errorf("%s: make redrive needs its queues: %s", id, d)
		}
		if strings.Contains(d, "--payload") && !strings.Contains(d, "--cli-binary-format raw-in-base64-out") {
			t.Errorf("%s: aws CLI v2 reads --payload as base64 unless --cli-binary-format raw-in-base64-out", id)
		}
	}
}

// webhookFloodAlarm: a flood at the webhook route is what makes WooCommerce
// disable the webhook (its own deliveries get 429 among the junk), so the
// API's 4xx answers (throttled or refused) are alarmed. The alarm reads the
// stage's metric, which API Gateway publishes for free; a Route dimension
// would need the route's detailed metrics, billed per metric-month, and
// without them the alarm would never see a datum.
func webhookFloodAlarm(t *testing.T, tpl *Template) {
	t.Helper()
	for _, a := range tpl.OfType("AWS::CloudWatch::Alarm") {
		p := Map(a, "Properties")
		if Get(p, "Namespace") != "AWS/ApiGateway" || Get(p, "MetricName") != "4xx" {
			continue
		}
		dims := map[string]any{}
		for _, d := range List(p, "Dimensions") {
			dims[Get(d, "Name").(string)] = Get(d, "Value")
		}
		route, perRoute := dims["Route"].(string)
		if perRoute && Get(tpl.Resources, "HttpApi", "Properties", "RouteSettings", route, "DetailedMetricsEnabled") != true {
			t.Errorf("a 4xx alarm reads route %s, which publishes no detailed metrics: it never sees a datum", route)
		}
		if id, _ := Ref(dims["ApiId"]); id == "HttpApi" && dims["Stage"] == "$default" && len(dims) == 2 {
			return
		}
	}
	t.Errorf("no alarm on the 4xx answers of the HTTP API's stage (dimensions ApiId, Stage)")
}
