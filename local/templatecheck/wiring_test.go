package templatecheck

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/logistos-sync/logistos-sync/shared/activate"
	"github.com/logistos-sync/logistos-sync/shared/config"
	"github.com/logistos-sync/logistos-sync/shared/connect"
	"github.com/logistos-sync/logistos-sync/shared/forwarder"
	"github.com/logistos-sync/logistos-sync/shared/ledger"
	"github.com/logistos-sync/logistos-sync/shared/logistos"
	"github.com/logistos-sync/logistos-sync/shared/queue"
	"github.com/logistos-sync/logistos-sync/shared/reconcile"
	"github.com/logistos-sync/logistos-sync/shared/state"
	"github.com/logistos-sync/logistos-sync/shared/webhook"
)

// root is the repository, seen from local/templatecheck.
const root = "../.."

// functions maps each function's logical id to its directory under
// functions/ and its configuration loader.
var functions = map[string]struct {
	dir  string
	load func(*config.Env)
}{
	"WebhookFunction":   {"webhook", func(e *config.Env) { config.LoadWebhook(e) }},
	"ForwarderFunction": {"forwarder", func(e *config.Env) { config.LoadForwarder(e) }},
	"ActivateFunction":  {"activate", func(e *config.Env) { config.LoadActivate(e) }},
	"ReconcileFunction": {"reconcile", func(e *config.Env) { config.LoadReconcile(e) }},
	"ConnectFunction":   {"connect", func(e *config.Env) { config.LoadConnect(e) }},
}

// localOnly are the literal-secret variables: for local runs only. In AWS a
// secret is read at run time through its *_ARN variable, never from a plain
// environment value.
var localOnly = []string{config.WebhookSecret, config.WooConsumerKey, config.WooConsumerSecret}

// neverDeployed are the switches for local runs and tests only, which a
// deployed stack must keep at their safe default: ALLOW_PRIVATE_SHOPS would
// let a shop's URL reach inside the network.
var neverDeployed = []string{config.AllowPrivateShops}

// load returns the template as a single-shop stack deploys it (StoreUrl
// set); loadHub as a hub does. Tests that hold for both check views.
func load(t *testing.T) *Template {
	t.Helper()
	return loadRaw(t).As(map[string]bool{"IsHub": false})
}

func loadHub(t *testing.T) *Template {
	t.Helper()
	return loadRaw(t).As(map[string]bool{"IsHub": true})
}

// views are both ways the template deploys.
func views(t *testing.T) map[string]*Template {
	t.Helper()
	return map[string]*Template{"single shop": load(t), "hub": loadHub(t)}
}

func loadRaw(t *testing.T) *Template {
	t.Helper()
	tpl, err := Load(filepath.Join(root, "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return tpl
}

func resource(t *testing.T, tpl *Template, id, typ string) map[string]any {
	t.Helper()
	r := Map(tpl.Resources, id)
	if r == nil {
		t.Fatalf("template has no resource %s", id)
	}
	if Get(r, "Type") != typ {
		t.Fatalf("%s is a %v, want %s", id, Get(r, "Type"), typ)
	}
	return r
}

func wantInt(t *testing.T, v any, what string, keys ...string) int {
	t.Helper()
	n, ok := Int(v, keys...)
	if !ok {
		t.Fatalf("%s (%s) is %v, want a number", what, strings.Join(keys, "."), Get(v, keys...))
	}
	return n
}

func refOf(t *testing.T, v any, what string) string {
	t.Helper()
	id, ok := Ref(v)
	if !ok {
		t.Fatalf("%s is %v, want a !Ref", what, v)
	}
	return id
}

// env is a function's environment as Lambda gets it: Globals, then its own.
func env(tpl *Template, fn map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range Map(tpl.Globals, "Function", "Environment", "Variables") {
		out[k] = v
	}
	for k, v := range Map(fn, "Properties", "Environment", "Variables") {
		out[k] = v
	}
	return out
}

// prop is a function property, its own or else from Globals.
func prop(tpl *Template, fn map[string]any, name string) any {
	if v := Get(fn, "Properties", name); v != nil {
		return v
	}
	return Get(tpl.Globals, "Function", name)
}

func TestFunctionsBuildWithTheMakefile(t *testing.T) {
	tpl := load(t)
	got := tpl.OfType("AWS::Serverless::Function")
	if len(got) != len(functions) {
		t.Errorf("template has functions %v, want exactly %v", slices.Sorted(maps.Keys(got)), slices.Sorted(maps.Keys(functions)))
	}
	makefile, err := os.ReadFile(filepath.Join(root, "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	for id, f := range functions {
		fn := resource(t, tpl, id, "AWS::Serverless::Function")
		if Get(fn, "Metadata", "BuildMethod") != "makefile" {
			t.Errorf("%s: Metadata.BuildMethod = %v, want makefile (sam build runs build-%s)", id, Get(fn, "Metadata", "BuildMethod"), id)
		}
		codeURI, _ := prop(tpl, fn, "CodeUri").(string)
		if codeURI != "." {
			t.Errorf("%s: CodeUri = %q, want \".\" so that go.mod is in the build directory", id, codeURI)
		}
		if !regexp.MustCompile(`(?m)^build-` + id + `:`).Match(makefile) {
			t.Errorf("%s: the Makefile (at CodeUri) has no target build-%s", id, id)
		}
		if _, err := os.Stat(filepath.Join(root, codeURI, "functions", f.dir, "main.go")); err != nil {
			t.Errorf("%s: %v", id, err)
		}
		for name, want := range map[string]any{"Runtime": "provided.al2023", "Handler": "bootstrap"} {
			if got := prop(tpl, fn, name); got != want {
				t.Errorf("%s: %s = %v, want %v", id, name, got, want)
			}
		}
		if arch := List(prop(tpl, fn, "Architectures")); len(arch) != 1 || arch[0] != "arm64" {
			t.Errorf("%s: Architectures = %v, want [arm64] (the Makefile's default GOARCH)", id, arch)
		}
	}
}

// TestEnvironmentIsWhatTheConfigLoadersRead compares each function's
// environment with the names its loader reads: a name the template sets but
// the code ignores is a silent misconfiguration, one the code reads but the
// template lacks falls back to a default nobody chose.
func TestEnvironmentIsWhatTheConfigLoadersRead(t *testing.T) {
	tpl := load(t)
	hub := loadHub(t)
	for id, f := range functions {
		fn := resource(t, tpl, id, "AWS::Serverless::Function")
		// A name set in either kind of stack (SHOPS_TABLE only in a hub).
		vars := env(tpl, fn)
		maps.Copy(vars, env(hub, resource(t, hub, id, "AWS::Serverless::Function")))
		// Read every name with nothing set, then with the template's names
		// set, so names read only beside others are found too.
		read := map[string]bool{}
		set := map[string]string{}
		for k := range vars {
			set[k] = "x"
		}
		for _, m := range []map[string]string{{}, set} {
			e := config.FromMap(m)
			f.load(e)
			for _, n := range e.Read() {
				read[n] = true
			}
		}
		var want []string
		for n := range read {
			if !slices.Contains(localOnly, n) && !slices.Contains(neverDeployed, n) && !strings.HasPrefix(n, "AWS_") {
				want = append(want, n)
			}
		}
		slices.Sort(want)
		got := slices.Sorted(maps.Keys(vars))
		if !slices.Equal(got, want) {
			t.Errorf("%s: the template sets %v, config reads %v", id, got, want)
		}
		for _, n := range localOnly {
			if _, ok := vars[n]; ok {
				t.Errorf("%s: %s is set in the template; in AWS the secret is read through its ARN", id, n)
			}
		}
		for _, n := range neverDeployed {
			if _, ok := vars[n]; ok {
				t.Errorf("%s: %s is set in the template; it is for local runs and tests only", id, n)
			}
		}
		for k, v := range vars {
			if p, ok := Ref(v); ok && Get(tpl.Parameters, p, "NoEcho") == true {
				t.Errorf("%s: %s is the NoEcho parameter %s in plain text", id, k, p)
			}
		}
	}
}

func TestSecrets(t *testing.T) {
	tpl := load(t)
	for p, prefix := range map[string]string{"WooConsumerKey": "ck_", "WooConsumerSecret": "cs_"} {
		if Get(tpl.Parameters, p, "NoEcho") != true {
			t.Errorf("parameter %s is not NoEcho", p)
		}
		// Optional: empty means the shop connects by the ConnectUrl output.
		if d, ok := Get(tpl.Parameters, p, "Default").(string); !ok || d != "" {
			t.Errorf("parameter %s defaults to %v, want \"\" (connect by URL)", p, Get(tpl.Parameters, p, "Default"))
		}
		pattern, _ := Get(tpl.Parameters, p, "AllowedPattern").(string)
		re, err := regexp.Compile(pattern)
		if err != nil {
			t.Errorf("parameter %s: pattern %q: %v", p, pattern, err)
			continue
		}
		for v, want := range map[string]bool{"": true, prefix + "0a1B": true, prefix: false, prefix + `a"b`: false, "x" + prefix + "a": false} {
			if re.MatchString(v) != want {
				t.Errorf("parameter %s: pattern %q matches %q: %v, want %v", p, pattern, v, !want, want)
			}
		}
	}
	ws := resource(t, tpl, "WebhookSecret", "AWS::SecretsManager::Secret")
	if Get(ws, "Properties", "GenerateSecretString", "ExcludePunctuation") != true {
		t.Error("WebhookSecret may contain punctuation, which WooCommerce may alter when it stores the secret")
	}
	if n, _ := Int(ws, "Properties", "GenerateSecretString", "PasswordLength"); n < 32 {
		t.Errorf("WebhookSecret is %d characters, want at least 32", n)
	}
	// The credentials secret must be the JSON activate reads.
	wc := resource(t, tpl, "WooCredentialsSecret", "AWS::SecretsManager::Secret")
	sub, ok := Sub(Get(wc, "Properties", "SecretString"))
	if !ok {
		t.Fatalf("WooCredentialsSecret.SecretString is %v, want a !Sub of the two parameters", Get(wc, "Properties", "SecretString"))
	}
	doc := strings.NewReplacer("${WooConsumerKey}", "ck_abc", "${WooConsumerSecret}", "cs_def").Replace(sub)
	var creds struct {
		Key    string `json:"consumer_key"`
		Secret string `json:"consumer_secret"`
	}
	if err := json.Unmarshal([]byte(doc), &creds); err != nil || creds.Key != "ck_abc" || creds.Secret != "cs_def" {
		t.Errorf("WooCredentialsSecret %s does not decode to {consumer_key, consumer_secret}: %v", sub, err)
	}
	arns := map[string]map[string]string{
		"WebhookFunction":  {config.WebhookSecretARN: "WebhookSecret"},
		"ActivateFunction": {config.WebhookSecretARN: "WebhookSecret", config.WooCredentialsSecretARN: "WooCredentialsSecret"},
		// Connect keeps a key pending in the state table and reads or
		// writes no secret: a stranger's key never reaches one.
		"ConnectFunction": {},
	}
	for id, want := range arns {
		vars := env(tpl, resource(t, tpl, id, "AWS::Serverless::Function"))
		for name, secret := range want {
			if got := refOf(t, vars[name], id+" "+name); got != secret {
				t.Errorf("%s: %s = !Ref %s, want !Ref %s", id, name, got, secret)
			}
		}
	}
}

func TestLogistosURLsDefaultToTheRealEndpoints(t *testing.T) {
	tpl := load(t)
	for p, want := range map[string]string{"LogistosOrdersUrl": config.DefaultLogistosOrdersURL, "LogistosCredentialsUrl": config.DefaultLogistosCredentialsURL} {
		if got := Get(tpl.Parameters, p, "Default"); got != want {
			t.Errorf("parameter %s defaults to %v, want %s", p, got, want)
		}
	}
}

func TestQueues(t *testing.T) {
	tpl := load(t)
	orders := resource(t, tpl, "OrdersQueue", "AWS::SQS::Queue")
	backfill := resource(t, tpl, "BackfillQueue", "AWS::SQS::Queue")
	dlq := resource(t, tpl, "DeadLetterQueue", "AWS::SQS::Queue")
	waiting := resource(t, tpl, "WaitingQueue", "AWS::SQS::Queue")
	const fourteenDays = 14 * 24 * 3600
	// The backfill queue holds orders as the orders queue does, encoded by
	// the same queue.Sender: the same limits; the waiting queue and the DLQ
	// hold them as they were queued.
	for id, q := range map[string]map[string]any{"OrdersQueue": orders, "BackfillQueue": backfill, "WaitingQueue": waiting, "DeadLetterQueue": dlq} {
		if n := wantInt(t, q, id, "Properties", "MaximumMessageSize"); n != queue.MaxMessageBytes {
			t.Errorf("%s: MaximumMessageSize %d, want queue.MaxMessageBytes = %d (the encoder's limit)", id, n, queue.MaxMessageBytes)
		}
		if n := wantInt(t, q, id, "Properties", "MessageRetentionPeriod"); n != fourteenDays {
			t.Errorf("%s: retention %d s, want 14 days: a long Logistos outage must not expire orders", id, n)
		}
		if Get(q, "Properties", "SqsManagedSseEnabled") != true {
			t.Errorf("%s: not encrypted at rest", id)
		}
	}

	// An order whose tries ran out (the forwarder dead-letters refusals
	// itself, so only transient failures run them out) waits for Logistos,
	// apart from the refused orders that need a human.
	target, attr, ok := GetAtt(Get(orders, "Properties", "RedrivePolicy", "deadLetterTargetArn"))
	if !ok || target != "WaitingQueue" || attr != "Arn" {
		t.Errorf("OrdersQueue redrives to %v, want !GetAtt WaitingQueue.Arn", Get(orders, "Properties", "RedrivePolicy", "deadLetterTargetArn"))
	}
	if n := wantInt(t, orders, "OrdersQueue", "Properties", "RedrivePolicy", "maxReceiveCount"); n != forwarder.MaxReceives {
		t.Errorf("maxReceiveCount %d, want forwarder.MaxReceives = %d (the forwarder hides no record after its last try)", n, forwarder.MaxReceives)
	}
	// SQS starts a move task (make redrive) only from a queue that is some
	// queue's redrive target: the waiting queue's own policy makes the DLQ one.
	if target, _, _ := GetAtt(Get(waiting, "Properties", "RedrivePolicy", "deadLetterTargetArn")); target != "DeadLetterQueue" {
		t.Errorf("WaitingQueue redrives to %v, want the DeadLetterQueue", target)
	}
	// Each reconcile run receives one waiting order as its canary: the
	// policy must outlast days of a Logistos outage.
	if n := wantInt(t, waiting, "WaitingQueue", "Properties", "RedrivePolicy", "maxReceiveCount"); n < 96*7 {
		t.Errorf("WaitingQueue maxReceiveCount %d: a week of 15-minute runs tries one order as the canary up to %d times", n, 96*7)
	}
	if got := refOf(t, env(tpl, resource(t, tpl, "ReconcileFunction", "AWS::Serverless::Function"))[config.WaitingQueueURL], "reconcile WAITING_QUEUE_URL"); got != "WaitingQueue" {
		t.Errorf("reconcile WAITING_QUEUE_URL = !Ref %s, want WaitingQueue", got)
	}
	// A backfilled order fails and is retried as a live one (the same
	// forwarder, the same backoff), so it must end where a live one ends:
	// the two policies are one, written twice because CloudFormation has no
	// way to share a block.
	if a, b := Get(orders, "Properties", "RedrivePolicy"), Get(backfill, "Properties", "RedrivePolicy"); !reflect.DeepEqual(a, b) {
		t.Errorf("BackfillQueue's RedrivePolicy %v differs from OrdersQueue's %v", b, a)
	}

	for _, id := range []string{"ForwarderFunction", "ActivateFunction"} {
		if got := refOf(t, env(tpl, resource(t, tpl, id, "AWS::Serverless::Function"))[config.DLQURL], id+" DLQ_URL"); got != "DeadLetterQueue" {
			t.Errorf("%s DLQ_URL = !Ref %s, want the DeadLetterQueue", id, got)
		}
	}
	fwd := resource(t, tpl, "ForwarderFunction", "AWS::Serverless::Function")
	// Live orders, including those reconcile recovers (recent orders whose
	// delivery failed), go on the orders queue. Activate no longer sends
	// to it at all (QUEUE_URL is gone from its environment, checked by
	// TestEnvironmentIsWhatTheConfigLoadersRead): the backfill is on its
	// own queue, so that a shop's history never holds up a new order.
	for _, id := range []string{"WebhookFunction", "ReconcileFunction"} {
		if got := refOf(t, env(tpl, resource(t, tpl, id, "AWS::Serverless::Function"))[config.QueueURL], id+" QUEUE_URL"); got != "OrdersQueue" {
			t.Errorf("%s QUEUE_URL = !Ref %s, want OrdersQueue", id, got)
		}
	}
	if got := refOf(t, env(tpl, resource(t, tpl, "ActivateFunction", "AWS::Serverless::Function"))[config.BackfillQueueURL], "activate BACKFILL_QUEUE_URL"); got != "BackfillQueue" {
		t.Errorf("activate BACKFILL_QUEUE_URL = !Ref %s, want BackfillQueue", got)
	}

	timeout := wantInt(t, prop(tpl, fwd, "Timeout"), "forwarder Timeout")
	for id, q := range map[string]map[string]any{"OrdersQueue": orders, "BackfillQueue": backfill} {
		window, _ := Int(forwarderEvents(t, tpl)[id], "Properties", "MaximumBatchingWindowInSeconds")
		if vis := wantInt(t, q, id, "Properties", "VisibilityTimeout"); vis < 6*timeout+window {
			t.Errorf("%s: VisibilityTimeout %d s < 6 x forwarder timeout %d s + batching window %d s", id, vis, timeout, window)
		}
	}
}

// forwarderEvents returns the forwarder's event sources by the queue each
// reads: the orders queue and the backfill queue, nothing else.
func forwarderEvents(t *testing.T, tpl *Template) map[string]map[string]any {
	t.Helper()
	fwd := resource(t, tpl, "ForwarderFunction", "AWS::Serverless::Function")
	out := map[string]map[string]any{}
	for name, ev := range Map(fwd, "Properties", "Events") {
		if Get(ev, "Type") != "SQS" {
			t.Fatalf("forwarder event %s is %v, want SQS", name, Get(ev, "Type"))
		}
		id, attr, ok := GetAtt(Get(ev, "Properties", "Queue"))
		if !ok || attr != "Arn" {
			t.Fatalf("forwarder event %s reads %v, want !GetAtt <queue>.Arn", name, Get(ev, "Properties", "Queue"))
		}
		out[id] = ev.(map[string]any)
	}
	if got := slices.Sorted(maps.Keys(out)); !slices.Equal(got, []string{"BackfillQueue", "OrdersQueue"}) {
		t.Fatalf("forwarder reads %v, want exactly BackfillQueue and OrdersQueue", got)
	}
	return out
}

func TestForwarderEventSource(t *testing.T) {
	tpl := load(t)
	fwd := resource(t, tpl, "ForwarderFunction", "AWS::Serverless::Function")
	timeout := time.Duration(wantInt(t, prop(tpl, fwd, "Timeout"), "forwarder Timeout")) * time.Second
	for queue, ev := range forwarderEvents(t, tpl) {
		if !slices.Contains(List(ev, "Properties", "FunctionResponseTypes"), any("ReportBatchItemFailures")) {
			t.Errorf("%s: no ReportBatchItemFailures: one failed order would redeliver its whole batch", queue)
		}
		// Every record of a full batch must get its POST within one
		// invocation; the backfill's are spaced too, at the slowest rate.
		batch := wantInt(t, ev, queue+" event", "Properties", "BatchSize")
		rounds := (batch + forwarder.DefaultConcurrency - 1) / forwarder.DefaultConcurrency
		need := time.Duration(rounds+1) * logistos.RequestTimeout
		if queue == "BackfillQueue" {
			need += time.Duration(batch-1) * forwarder.BackfillInterval(wantInt(t, tpl.Parameters, "BackfillRate", "BackfillRate", "MinValue"))
		}
		if timeout < need {
			t.Errorf("%s: forwarder timeout %s: a batch of %d at %d POSTs in flight needs %d rounds of %s plus one for the deadline margin "+
				"(and, for the backfill, its spacing at the lowest rate), %s", queue, timeout, batch, forwarder.DefaultConcurrency, rounds, logistos.RequestTimeout, need)
		}
	}
	events := forwarderEvents(t, tpl)
	param := refOf(t, Get(events["OrdersQueue"], "Properties", "ScalingConfig", "MaximumConcurrency"), "orders ScalingConfig.MaximumConcurrency")
	if n, ok := Int(tpl.Parameters, param, "MinValue"); !ok || n < 2 {
		t.Errorf("parameter %s allows %v; the event source needs at least 2", param, Get(tpl.Parameters, param, "MinValue"))
	}
	// The forwarder paces each backfill invocation at BackfillRate divided
	// by this number: both must be the same, or the backfill runs faster
	// (more invocations) or slower than its rate.
	if n := wantInt(t, events["BackfillQueue"], "backfill event", "Properties", "ScalingConfig", "MaximumConcurrency"); n != forwarder.BackfillInvocations {
		t.Errorf("backfill event source MaximumConcurrency %d, want forwarder.BackfillInvocations = %d", n, forwarder.BackfillInvocations)
	}
}

// TestBackfillRate: the forwarder paces the records of the queue its
// Backfill event source reads, at the BackfillRate parameter, whose
// default and limits are config's.
func TestBackfillRate(t *testing.T) {
	tpl := load(t)
	vars := env(tpl, resource(t, tpl, "ForwarderFunction", "AWS::Serverless::Function"))
	if id, attr, ok := GetAtt(vars[config.BackfillQueueARN]); !ok || id != "BackfillQueue" || attr != "Arn" {
		t.Errorf("forwarder %s = %v, want !GetAtt BackfillQueue.Arn", config.BackfillQueueARN, vars[config.BackfillQueueARN])
	}
	if got := refOf(t, vars[config.BackfillRate], "forwarder "+config.BackfillRate); got != "BackfillRate" {
		t.Errorf("forwarder %s = !Ref %s, want !Ref BackfillRate", config.BackfillRate, got)
	}
	for key, want := range map[string]int{"Default": config.DefaultBackfillRate, "MinValue": 1, "MaxValue": config.MaxBackfillRate} {
		if got := wantInt(t, tpl.Parameters, "BackfillRate", "BackfillRate", key); got != want {
			t.Errorf("BackfillRate %s %d, want %d (config)", key, got, want)
		}
	}
}

func TestWebhookRoute(t *testing.T) {
	tpl := load(t)
	var routes []string
	for id, fn := range tpl.OfType("AWS::Serverless::Function") {
		for _, ev := range Map(fn, "Properties", "Events") {
			if Get(ev, "Type") == "HttpApi" {
				routes = append(routes, fmt.Sprintf("%s %v %v", id, Get(ev, "Properties", "Method"), Get(ev, "Properties", "Path")))
				if api := refOf(t, Get(ev, "Properties", "ApiId"), id+" ApiId"); api != "HttpApi" {
					t.Errorf("%s is on API %s, want HttpApi", id, api)
				}
				if Get(ev, "Properties", "PayloadFormatVersion") != "2.0" {
					t.Errorf("%s: payload format %v, want 2.0 (the handler takes APIGatewayV2HTTPRequest)", id, Get(ev, "Properties", "PayloadFormatVersion"))
				}
			}
		}
	}
	slices.Sort(routes)
	want := []string{
		"ConnectFunction GET " + connect.PathConnect, "ConnectFunction GET " + connect.PathConnected,
		"ConnectFunction POST " + connect.PathCallback, "WebhookFunction " + webhook.RouteHome, "WebhookFunction " + webhook.RouteShop,
	}
	if !slices.Equal(routes, want) {
		t.Errorf("HTTP routes %v, want only %v", routes, want)
	}
	// Both webhook routes are throttled alike: a hub's shops share theirs.
	for _, route := range []string{webhook.RouteHome, webhook.RouteShop} {
		rate, ok1 := Int(Map(tpl.Resources, "HttpApi", "Properties", "RouteSettings"), route, "ThrottlingRateLimit")
		burst, ok2 := Int(Map(tpl.Resources, "HttpApi", "Properties", "RouteSettings"), route, "ThrottlingBurstLimit")
		if !ok1 || !ok2 || rate != 50 || burst != 100 {
			t.Errorf("route %s throttled at %d/s, bursts of %d; want 50 and 100 like the home route", route, rate, burst)
		}
	}
	api := resource(t, tpl, "HttpApi", "AWS::Serverless::HttpApi")
	rate, ok1 := Int(api, "Properties", "DefaultRouteSettings", "ThrottlingRateLimit")
	burst, ok2 := Int(api, "Properties", "DefaultRouteSettings", "ThrottlingBurstLimit")
	if !ok1 || !ok2 || rate <= 0 || burst <= 0 {
		t.Error("the webhook route is not throttled against floods")
	}
	fn := resource(t, tpl, "WebhookFunction", "AWS::Serverless::Function")
	timeout := time.Duration(wantInt(t, prop(tpl, fn, "Timeout"), "webhook Timeout")) * time.Second
	if timeout <= webhook.EnqueueTimeout || timeout > 30*time.Second {
		t.Errorf("webhook timeout %s: want more than the enqueue budget %s and at most API Gateway's 30 s", timeout, webhook.EnqueueTimeout)
	}
}

func TestActivate(t *testing.T) {
	tpl := load(t)
	fn := resource(t, tpl, "ActivateFunction", "AWS::Serverless::Function")
	if n := wantInt(t, prop(tpl, fn, "Timeout"), "activate Timeout"); n != 900 {
		t.Errorf("activate timeout %d s, want 900 (a backfill slice runs to the deadline)", n)
	}
	if mb := wantInt(t, prop(tpl, fn, "MemorySize"), "activate MemorySize"); activate.MemoryLimit >= mb<<20 {
		t.Errorf("activate's soft memory limit (activate.MemoryLimit, %d MiB) is not below its MemorySize %d MB", activate.MemoryLimit>>20, mb)
	}
	name, ok := Sub(Get(fn, "Properties", "FunctionName"))
	if !ok {
		t.Fatalf("activate FunctionName is %v, want an explicit !Sub name so its role can name it", Get(fn, "Properties", "FunctionName"))
	}
	if got := refOf(t, env(tpl, fn)[config.StateTable], "STATE_TABLE"); got != "StateTable" {
		t.Errorf("STATE_TABLE = !Ref %s", got)
	}
	table := resource(t, tpl, "StateTable", "AWS::DynamoDB::Table")
	if Get(table, "Properties", "BillingMode") != "PAY_PER_REQUEST" ||
		Get(List(table, "Properties", "KeySchema")[0], "AttributeName") != "id" ||
		Get(List(table, "Properties", "AttributeDefinitions")[0], "AttributeType") != "S" {
		t.Errorf("state table %v, want PAY_PER_REQUEST keyed by id (S)", Get(table, "Properties"))
	}
	// WEBHOOK_URL is the same URL the stack outputs and WooCommerce will call.
	webhookURL, _ := Sub(env(tpl, fn)[config.WebhookURL])
	output, _ := Sub(Get(tpl.Outputs, "WebhookUrl", "Value"))
	if webhookURL == "" || webhookURL != output || !strings.HasSuffix(webhookURL, "/woocommerce/webhook") {
		t.Errorf("activate WEBHOOK_URL %q, output WebhookUrl %q: want the same https://${HttpApi}... URL ending in /woocommerce/webhook", webhookURL, output)
	}
	// It may invoke exactly itself.
	self := "arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:function:" + name
	if got := grants(t, tpl, "ActivateFunction")["lambda:InvokeFunction"]; !slices.Equal(got, []string{self}) {
		t.Errorf("activate may invoke %v, want only itself (%s)", got, self)
	}
}

func TestOutputs(t *testing.T) {
	tpl := load(t)
	want := map[string]string{
		"WebhookUrl": "", "ActivateFunctionName": "ActivateFunction",
		"OrdersQueueUrl": "OrdersQueue", "OrdersQueueArn": "OrdersQueue",
		// docs/operations.md watches a backfill's progress by its depth.
		"BackfillQueueUrl":   "BackfillQueue",
		"DeadLetterQueueUrl": "DeadLetterQueue", "DeadLetterQueueArn": "DeadLetterQueue",
		// The runbook and the alarm e-mails send the operator to these.
		"WebhookFunctionName": "WebhookFunction", "ForwarderFunctionName": "ForwarderFunction",
		"WebhookLogGroupName": "WebhookLogGroup", "ForwarderLogGroupName": "ForwarderLogGroup", "ActivateLogGroupName": "ActivateLogGroup",
		"AlarmTopicArn": "AlarmTopic",
		"ConnectUrl":    "", "ConnectLogGroupName": "ConnectLogGroup",
	}
	for name, id := range want {
		v := Get(tpl.Outputs, name, "Value")
		if v == nil {
			t.Errorf("output %s missing", name)
			continue
		}
		ref, _ := Ref(v)
		att, _, _ := GetAtt(v)
		if id != "" && ref != id && att != id {
			t.Errorf("output %s = %v, want it from %s", name, v, id)
		}
	}
}

func TestLogLevelsKeepTheMetrics(t *testing.T) {
	tpl := load(t)
	lc := Map(tpl.Globals, "Function", "LoggingConfig")
	if Get(lc, "LogFormat") != "JSON" {
		t.Errorf("LogFormat %v, want JSON", Get(lc, "LogFormat"))
	}
	// EMF lines have no "level"; Lambda files them under INFO, so an
	// application level above INFO would drop every metric.
	p := refOf(t, Get(lc, "ApplicationLogLevel"), "ApplicationLogLevel")
	for _, v := range List(tpl.Parameters, p, "AllowedValues") {
		if !slices.Contains([]any{"TRACE", "DEBUG", "INFO"}, v) {
			t.Errorf("log level %v is allowed; it would drop the EMF metric lines", v)
		}
	}
	if refOf(t, Get(tpl.Globals, "Function", "Environment", "Variables", config.LogLevel), "LOG_LEVEL") != p {
		t.Errorf("LOG_LEVEL and ApplicationLogLevel come from different places")
	}
}

// TestSamconfig checks the defaults `sam deploy --guided` offers: known
// parameters only, never a NoEcho one, and the capability the roles need.
func TestSamconfig(t *testing.T) {
	tpl := load(t)
	b, err := os.ReadFile(filepath.Join(root, "samconfig.toml"))
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	line := regexp.MustCompile(`(?m)^parameter_overrides\s*=\s*"(.*)"\s*$`).FindStringSubmatch(text)
	if line == nil {
		t.Fatal("samconfig.toml has no parameter_overrides line")
	}
	names := regexp.MustCompile(`(\w+)=\\"`).FindAllStringSubmatch(line[1], -1)
	if len(names) == 0 {
		t.Fatalf("no Name=\\\"value\\\" pairs in %s", line[1])
	}
	given := map[string]bool{}
	for _, m := range names {
		given[m[1]] = true
		p := Map(tpl.Parameters, m[1])
		if p == nil {
			t.Errorf("samconfig overrides %s, which the template does not have", m[1])
		}
		if Get(p, "NoEcho") == true {
			t.Errorf("samconfig holds the NoEcho parameter %s", m[1])
		}
	}
	// Every other parameter has its default here, so that the guided deploy
	// offers it and a saved configuration says what the stack runs with.
	for name, p := range tpl.Parameters {
		if Get(p, "NoEcho") != true && !given[name] {
			t.Errorf("samconfig.toml lacks the parameter %s", name)
		}
	}
	for _, want := range []string{`capabilities = "CAPABILITY_IAM"`, `resolve_s3 = true`, `confirm_changeset = true`, `stack_name = "`} {
		if !strings.Contains(text, want) {
			t.Errorf("samconfig.toml lacks %s", want)
		}
	}
	// CAPABILITY_IAM covers roles only while CloudFormation names them.
	for id, r := range tpl.OfType("AWS::IAM::Role") {
		if Get(r, "Properties", "RoleName") != nil {
			t.Errorf("%s has a RoleName: deploying it needs CAPABILITY_NAMED_IAM", id)
		}
	}
}

// TestReconcile checks the schedule, the tables reconcile relies on and its
// settings against the code.
func TestReconcile(t *testing.T) {
	tpl := load(t)
	fn := resource(t, tpl, "ReconcileFunction", "AWS::Serverless::Function")
	vars := env(tpl, fn)
	if grace, ok := vars[config.ReconcileGrace].(string); !ok {
		t.Errorf("RECONCILE_GRACE = %v, want a literal duration", vars[config.ReconcileGrace])
	} else if _, err := config.LoadReconcile(config.FromMap(map[string]string{
		config.StoreURL: "https://shop.example", config.QueueURL: "q", config.DLQURL: "d", config.WebhookSecretARN: "a",
		config.WooCredentialsSecretARN: "b", config.WebhookURL: "https://api.example/woocommerce/webhook", config.ReconcileGrace: grace,
		config.WaitingQueueURL: "w",
	})); err != nil {
		t.Errorf("RECONCILE_GRACE %q: %v", grace, err)
	}
	for name, table := range map[string]string{config.StateTable: "StateTable", config.LedgerTable: "LedgerTable"} {
		if got := refOf(t, vars[name], name); got != table {
			t.Errorf("%s = !Ref %s, want %s", name, got, table)
		}
	}
	webhookURL, _ := Sub(vars[config.WebhookURL])
	if output, _ := Sub(Get(tpl.Outputs, "WebhookUrl", "Value")); webhookURL != output {
		t.Errorf("reconcile WEBHOOK_URL %q, want the WebhookUrl output %q", webhookURL, output)
	}

	sched := resource(t, tpl, "ReconcileSchedule", "AWS::Scheduler::Schedule")
	expr, _ := Sub(Get(sched, "Properties", "ScheduleExpression"))
	if expr != "rate(${ReconcileInterval} minutes)" {
		t.Errorf("schedule %q, want rate(${ReconcileInterval} minutes)", expr)
	}
	if def, _ := Int(tpl.Parameters, "ReconcileInterval", "Default"); def != 15 {
		t.Errorf("ReconcileInterval default %d, want 15 (docs/architecture.md)", def)
	}
	// rate(1 minutes) is invalid: the unit is singular for 1.
	if min, _ := Int(tpl.Parameters, "ReconcileInterval", "MinValue"); min < 2 {
		t.Errorf("ReconcileInterval MinValue %d: rate() needs the singular unit for 1", min)
	}
	if id, attr, _ := GetAtt(Get(sched, "Properties", "Target", "Arn")); id != "ReconcileFunction" || attr != "Arn" {
		t.Errorf("schedule target %v, want !GetAtt ReconcileFunction.Arn", Get(sched, "Properties", "Target", "Arn"))
	}
	if Get(sched, "Properties", "Target", "Input") != "{}" {
		t.Errorf("schedule input %v, want {}", Get(sched, "Properties", "Target", "Input"))
	}
	role, _, _ := GetAtt(Get(sched, "Properties", "Target", "RoleArn"))
	r := resource(t, tpl, role, "AWS::IAM::Role")
	for _, p := range List(r, "Properties", "Policies") {
		for _, st := range List(p, "PolicyDocument", "Statement") {
			id, _, _ := GetAtt(Get(st, "Resource"))
			if Get(st, "Action") != "lambda:InvokeFunction" || id != "ReconcileFunction" {
				t.Errorf("%s may %v on %v; want only lambda:InvokeFunction on ReconcileFunction", role, Get(st, "Action"), Get(st, "Resource"))
			}
		}
	}

	lt := resource(t, tpl, "LedgerTable", "AWS::DynamoDB::Table")
	if Get(lt, "Properties", "BillingMode") != "PAY_PER_REQUEST" ||
		Get(List(lt, "Properties", "KeySchema")[0], "AttributeName") != ledger.AttrOrderID ||
		Get(List(lt, "Properties", "AttributeDefinitions")[0], "AttributeType") != "N" ||
		Get(lt, "Properties", "TimeToLiveSpecification", "AttributeName") != ledger.AttrExpires ||
		Get(lt, "Properties", "TimeToLiveSpecification", "Enabled") != true ||
		Get(lt, "Properties", "SSESpecification", "SSEEnabled") != true {
		t.Errorf("ledger table %v: want PAY_PER_REQUEST, keyed by order_id (N), TTL on expires_at, encrypted", Get(lt, "Properties"))
	}
}

// TestConnect checks connect's wiring: its routes are throttled, it starts
// exactly the activate function by name, its URL is the stack's ConnectUrl
// on the same API as the webhook, and the state table expires connect's
// states by the attribute the code writes.
func TestConnect(t *testing.T) {
	tpl := load(t)
	api := resource(t, tpl, "HttpApi", "AWS::Serverless::HttpApi")
	// Throttles are shared by every caller. The connect route bounds how
	// many states (so keys for activation to check against the shop) a
	// stranger can get: small. The callback rejects junk before any AWS
	// call, and the owner's one callback must get through a flood of junk
	// (a 429 makes WooCommerce delete the key): ten times the room.
	limits := map[string][2]int{}
	for _, route := range []string{"GET " + connect.PathConnect, "POST " + connect.PathCallback, "GET " + connect.PathConnected} {
		rate, ok1 := Int(api, "Properties", "RouteSettings", route, "ThrottlingRateLimit")
		burst, ok2 := Int(api, "Properties", "RouteSettings", route, "ThrottlingBurstLimit")
		if !ok1 || !ok2 || rate <= 0 || burst < rate || rate > 50 {
			t.Errorf("route %s: throttling %d/s burst %d, want an explicit limit", route, rate, burst)
		}
		limits[route] = [2]int{rate, burst}
	}
	if c := limits["GET "+connect.PathConnect]; c[0] > 2 || c[1] > 10 {
		t.Errorf("connect route: %d/s burst %d lets a stranger start that many key checks against the shop", c[0], c[1])
	}
	if cb, c := limits["POST "+connect.PathCallback], limits["GET "+connect.PathConnect]; cb[0] < 10*c[0] || cb[1] < 4*c[1] {
		t.Errorf("callback route: %d/s burst %d, want ten times the connect route's %d/s (burst four times %d)", cb[0], cb[1], c[0], c[1])
	}
	fn := resource(t, tpl, "ConnectFunction", "AWS::Serverless::Function")
	vars := env(tpl, fn)
	activateName, _ := Sub(Get(tpl.Resources, "ActivateFunction", "Properties", "FunctionName"))
	if got, ok := Sub(vars[config.ActivateFunction]); !ok || got != activateName {
		t.Errorf("connect %s = %v, want activate's explicit name %q", config.ActivateFunction, vars[config.ActivateFunction], activateName)
	}
	if got := refOf(t, vars[config.StateTable], "connect STATE_TABLE"); got != "StateTable" {
		t.Errorf("connect STATE_TABLE = !Ref %s", got)
	}
	if n := wantInt(t, prop(tpl, fn, "Timeout"), "connect Timeout"); time.Duration(n)*time.Second <= connect.StoreTimeout+connect.StartTimeout || n > 30 {
		t.Errorf("connect timeout %d s: want more than its calls' budget and at most API Gateway's 30 s", n)
	}
	connectURL, _ := Sub(Get(tpl.Outputs, "ConnectUrl", "Value"))
	webhookURL, _ := Sub(Get(tpl.Outputs, "WebhookUrl", "Value"))
	if !strings.HasSuffix(connectURL, connect.PathConnect) || strings.TrimSuffix(connectURL, connect.PathConnect) != strings.TrimSuffix(webhookURL, "/woocommerce/webhook") {
		t.Errorf("ConnectUrl %q, want the webhook's API (%q) with %s", connectURL, webhookURL, connect.PathConnect)
	}
	table := resource(t, tpl, "StateTable", "AWS::DynamoDB::Table")
	if Get(table, "Properties", "TimeToLiveSpecification", "AttributeName") != state.AttrExpires ||
		Get(table, "Properties", "TimeToLiveSpecification", "Enabled") != true {
		t.Errorf("state table TTL %v, want %s enabled (connect's states expire)", Get(table, "Properties", "TimeToLiveSpecification"), state.AttrExpires)
	}
}

// A hub's reconcile fans out on its sweep queue and consumes it: the queue,
// the event source mapping and SWEEP_QUEUE_URL exist in a hub only; the
// mapping's batch and concurrency are reconcile's constants; the queue's
// visibility timeout is AWS's 6 x the function's timeout; it has no
// dead-letter queue (a failed job need not be kept: the next scheduled run
// queues the shop again); a job's budget fits in the function's timeout.
func TestReconcileSweepQueue(t *testing.T) {
	home, hub := load(t), loadHub(t)
	for _, id := range []string{"SweepQueue", "ReconcileSweepJobs"} {
		if _, ok := home.Resources[id]; ok {
			t.Errorf("a single-shop stack has %s", id)
		}
	}
	if v, ok := env(home, resource(t, home, "ReconcileFunction", "AWS::Serverless::Function"))[config.SweepQueueURL]; ok {
		t.Errorf("a single-shop stack's reconcile has SWEEP_QUEUE_URL %v", v)
	}

	fn := resource(t, hub, "ReconcileFunction", "AWS::Serverless::Function")
	if got := refOf(t, env(hub, fn)[config.SweepQueueURL], config.SweepQueueURL); got != "SweepQueue" {
		t.Errorf("SWEEP_QUEUE_URL = !Ref %s, want SweepQueue", got)
	}
	timeout, _ := Int(fn, "Properties", "Timeout")
	if time.Duration(timeout)*time.Second <= reconcile.JobTimeout {
		t.Errorf("reconcile.JobTimeout %s does not fit in the function's timeout %d s", reconcile.JobTimeout, timeout)
	}
	q := resource(t, hub, "SweepQueue", "AWS::SQS::Queue")
	if vis, _ := Int(q, "Properties", "VisibilityTimeout"); vis < 6*timeout {
		t.Errorf("SweepQueue visibility %d s, want at least 6 x the function's timeout (%d s)", vis, 6*timeout)
	}
	if Get(q, "Properties", "RedrivePolicy") != nil || Get(q, "Properties", "SqsManagedSseEnabled") != true {
		t.Errorf("SweepQueue %v: want no redrive, encrypted", Get(q, "Properties"))
	}

	m := resource(t, hub, "ReconcileSweepJobs", "AWS::Lambda::EventSourceMapping")
	if ref, _ := Ref(Get(m, "Properties", "FunctionName")); ref != "ReconcileFunction" {
		t.Errorf("the mapping invokes %v, want ReconcileFunction", Get(m, "Properties", "FunctionName"))
	}
	if id, attr, _ := GetAtt(Get(m, "Properties", "EventSourceArn")); id != "SweepQueue" || attr != "Arn" {
		t.Errorf("the mapping reads %v, want SweepQueue", Get(m, "Properties", "EventSourceArn"))
	}
	if n, _ := Int(m, "Properties", "BatchSize"); n != reconcile.SweepBatchSize {
		t.Errorf("BatchSize %d, want reconcile.SweepBatchSize %d", n, reconcile.SweepBatchSize)
	}
	if !slices.Equal(List(m, "Properties", "FunctionResponseTypes"), []any{"ReportBatchItemFailures"}) {
		t.Errorf("FunctionResponseTypes %v: each job's failure must be its own", List(m, "Properties", "FunctionResponseTypes"))
	}
	if ref, _ := Ref(Get(m, "Properties", "ScalingConfig", "MaximumConcurrency")); ref != "SweepConcurrency" {
		t.Errorf("MaximumConcurrency %v, want !Ref SweepConcurrency", Get(m, "Properties", "ScalingConfig", "MaximumConcurrency"))
	}
	if def, _ := Int(hub.Parameters, "SweepConcurrency", "Default"); def != reconcile.DefaultSweepConcurrency {
		t.Errorf("SweepConcurrency default %d, want reconcile.DefaultSweepConcurrency %d", def, reconcile.DefaultSweepConcurrency)
	}
	if min, _ := Int(hub.Parameters, "SweepConcurrency", "MinValue"); min != 2 {
		t.Errorf("SweepConcurrency MinValue %d, want 2 (the SQS event source's minimum)", min)
	}
}
