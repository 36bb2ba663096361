package templatecheck

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/logistos-sync/logistos-sync/shared/config"
	"github.com/logistos-sync/logistos-sync/shared/ledger"
	"github.com/logistos-sync/logistos-sync/shared/shops"
	"github.com/logistos-sync/logistos-sync/shared/wookey"
)

// resourceName names what a statement's Resource points at: the logical id
// of a !Ref or !GetAtt, the text of a !Sub, or the literal.
func resourceName(v any) string {
	if id, ok := Ref(v); ok {
		return id
	}
	if id, _, ok := GetAtt(v); ok {
		return id
	}
	if s, ok := Sub(v); ok {
		return s
	}
	return fmt.Sprint(v)
}

// statements returns every IAM statement attached to role (a logical id):
// its inline policies and any AWS::IAM::Policy naming it.
func statements(tpl *Template, role string) []any {
	var out []any
	for _, p := range List(tpl.Resources, role, "Properties", "Policies") {
		out = append(out, List(p, "PolicyDocument", "Statement")...)
	}
	for _, p := range tpl.OfType("AWS::IAM::Policy") {
		for _, r := range List(p, "Properties", "Roles") {
			if id, _ := Ref(r); id == role {
				out = append(out, List(p, "Properties", "PolicyDocument", "Statement")...)
			}
		}
	}
	return out
}

// grants maps each action a function's role allows to the resources it
// allows it on.
func grants(t *testing.T, tpl *Template, function string) map[string][]string {
	t.Helper()
	role, attr, ok := GetAtt(Get(tpl.Resources, function, "Properties", "Role"))
	if !ok || attr != "Arn" {
		t.Fatalf("%s has no explicit Role (!GetAtt X.Arn): SAM would generate one with managed policies on \"*\"", function)
	}
	out := map[string][]string{}
	for _, st := range statements(tpl, role) {
		if Get(st, "Effect") != "Allow" {
			continue
		}
		for _, a := range List(st, "Action") {
			for _, r := range List(st, "Resource") {
				out[a.(string)] = append(out[a.(string)], resourceName(r))
			}
		}
	}
	for a := range out {
		slices.Sort(out[a])
	}
	return out
}

// readOnly reports whether an IAM action only reads.
func readOnly(action string) bool {
	_, verb, _ := strings.Cut(action, ":")
	for _, p := range []string{"Get", "List", "Describe"} {
		if strings.HasPrefix(verb, p) {
			return true
		}
	}
	return false
}

// TestIAMNoWildcards checks every statement in the template: no wildcard
// actions, no NotAction/NotResource, no write action on "*", no managed
// policies (whose contents the template cannot show).
func TestIAMNoWildcards(t *testing.T) {
	for view, tpl := range views(t) {
		t.Run(view, func(t *testing.T) { noWildcards(t, tpl) })
	}
}

func noWildcards(t *testing.T, tpl *Template) {
	for id, r := range tpl.Resources {
		if Get(r, "Type") == "AWS::IAM::Role" && Get(r, "Properties", "ManagedPolicyArns") != nil {
			t.Errorf("%s attaches managed policies %v", id, Get(r, "Properties", "ManagedPolicyArns"))
		}
		if Get(r, "Type") == "AWS::Serverless::Function" && Get(r, "Properties", "Policies") != nil {
			t.Errorf("%s has SAM Policies; give it an explicit role instead", id)
		}
	}
	roles := slices.Sorted(maps.Keys(tpl.OfType("AWS::IAM::Role")))
	if len(roles) == 0 {
		t.Fatal("no IAM roles in the template")
	}
	for _, role := range roles {
		sts := statements(tpl, role)
		if len(sts) == 0 {
			t.Errorf("%s has no statements", role)
		}
		for i, st := range sts {
			where := fmt.Sprintf("%s statement %d (%v)", role, i, Get(st, "Sid"))
			if Get(st, "NotAction") != nil || Get(st, "NotResource") != nil {
				t.Errorf("%s uses NotAction/NotResource", where)
			}
			for _, a := range List(st, "Action") {
				if s, _ := a.(string); s == "" || strings.Contains(s, "*") {
					t.Errorf("%s: wildcard or odd action %v", where, a)
				}
			}
			for _, r := range List(st, "Resource") {
				name := resourceName(r)
				if !strings.Contains(name, "*") {
					continue
				}
				for _, a := range List(st, "Action") {
					if !readOnly(a.(string)) {
						t.Errorf("%s: %v on %q", where, a, name)
					}
				}
			}
		}
	}
}

// TestIAMLeastPrivilege pins each function's grants to what its code does,
// on the exact resources: a new permission has to be argued for here.
func TestIAMLeastPrivilege(t *testing.T) {
	tpl := load(t)
	activateName, _ := Sub(Get(tpl.Resources, "ActivateFunction", "Properties", "FunctionName"))
	secret := []string{"secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"} // the caching client describes too
	logs := []string{"logs:CreateLogStream", "logs:PutLogEvents"}
	want := map[string]map[string][]string{
		"WebhookFunction": {
			"sqs:SendMessage": {"OrdersQueue"},
			secret[0]:         {"WebhookSecret"}, secret[1]: {"WebhookSecret"},
			"dynamodb:PutItem": {"LedgerTable"}, // ledger entry after the send
			logs[0]:            {"WebhookLogGroup"}, logs[1]: {"WebhookLogGroup"},
		},
		"ForwarderFunction": {
			// The event source mappings receive, delete and read attributes;
			// the code changes visibility (backoff) and looks the URL up: on
			// both queues it consumes, the live orders and the backfill.
			"sqs:ReceiveMessage": {"OrdersQueue", "BackfillQueue"}, "sqs:DeleteMessage": {"OrdersQueue", "BackfillQueue"},
			"sqs:GetQueueAttributes":      {"OrdersQueue", "BackfillQueue"},
			"sqs:ChangeMessageVisibility": {"OrdersQueue", "BackfillQueue"}, "sqs:GetQueueUrl": {"OrdersQueue", "BackfillQueue"},
			"sqs:SendMessage": {"DeadLetterQueue"},
			logs[0]:           {"ForwarderLogGroup"}, logs[1]: {"ForwarderLogGroup"},
		},
		"ActivateFunction": {
			// The backfill, on its own queue only (never among the live
			// orders); and orders too large for SQS even compressed, by id.
			"sqs:SendMessage": {"BackfillQueue", "DeadLetterQueue"},
			secret[0]:         {"WebhookSecret", "WooCredentialsSecret"}, secret[1]: {"WebhookSecret", "WooCredentialsSecret"},
			"dynamodb:GetItem": {"StateTable"}, "dynamodb:PutItem": {"StateTable", "LedgerTable"},
			"dynamodb:BatchWriteItem": {"LedgerTable"},
			// A pending key: read it, discard it once proven or refused
			// (TestStateTableLeadingKeys), and make a proven one the key in use.
			"dynamodb:DeleteItem":           {"StateTable"},
			"secretsmanager:PutSecretValue": {"WooCredentialsSecret"},
			"lambda:InvokeFunction":         {"arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:function:" + activateName},
			logs[0]:                         {"ActivateLogGroup"}, logs[1]: {"ActivateLogGroup"},
		},
	}
	want["ReconcileFunction"] = map[string][]string{
		// The recovered orders; and those too large for SQS, by id.
		"sqs:SendMessage": {"OrdersQueue", "DeadLetterQueue"},
		secret[0]:         {"WebhookSecret", "WooCredentialsSecret"}, secret[1]: {"WebhookSecret", "WooCredentialsSecret"},
		// The mark and lease in the state table; the ledger read in
		// batches and written for what was queued.
		"dynamodb:GetItem": {"StateTable"}, "dynamodb:PutItem": {"StateTable", "LedgerTable"},
		"dynamodb:BatchGetItem": {"LedgerTable"}, "dynamodb:BatchWriteItem": {"LedgerTable"},
		logs[0]: {"ReconcileLogGroup"}, logs[1]: {"ReconcileLogGroup"},
		// The waiting orders: count them, try one, delete it once delivered,
		// and move the rest back to the orders queue (a move task's source
		// needs Receive, Delete and GetQueueAttributes; its destination, named
		// by ARN, SendMessage above). Never a consumer of the orders queue.
		"sqs:GetQueueAttributes": {"OrdersQueue", "WaitingQueue"},
		"sqs:ReceiveMessage":     {"WaitingQueue"}, "sqs:DeleteMessage": {"WaitingQueue"},
		"sqs:StartMessageMoveTask": {"WaitingQueue"}, "sqs:ListMessageMoveTasks": {"WaitingQueue"},
	}
	// connect issues its states and spends them keeping the key pending
	// (its own items only: TestStateTableLeadingKeys), never touches a
	// secret, and starts activate by its explicit name.
	want["ConnectFunction"] = map[string][]string{
		"dynamodb:PutItem": {"StateTable"}, "dynamodb:UpdateItem": {"StateTable"},
		"lambda:InvokeFunction": {"arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:function:" + activateName},
		logs[0]:                 {"ConnectLogGroup"}, logs[1]: {"ConnectLogGroup"},
	}
	checkGrants(t, tpl, want)

	// A hub's webhook also reads the shop a delivery names and opens its
	// secrets: GetItem on the shops table (never a write), Decrypt with the
	// shops key only (TestShopsKeyScope).
	hubWant := maps.Clone(want)
	hubWant["WebhookFunction"] = maps.Clone(want["WebhookFunction"])
	hubWant["WebhookFunction"]["dynamodb:GetItem"] = []string{"ShopsTable"}
	hubWant["WebhookFunction"]["kms:Decrypt"] = []string{"ShopsKey"}
	// A hub has no home shop's webhook secret: each shop's is in the shops table.
	delete(hubWant["WebhookFunction"], secret[0])
	delete(hubWant["WebhookFunction"], secret[1])
	// A hub's activation makes a proven key its shop's: the shop's record
	// read, created and marked connected, its secrets sealed (a data key)
	// and replaced, and read back (Decrypt) by the run and its
	// continuations, with the shops key only (TestShopsKeyScope). It never
	// touches the home shop's secrets, which a hub does not use.
	hubWant["ActivateFunction"] = maps.Clone(want["ActivateFunction"])
	hubWant["ActivateFunction"]["dynamodb:GetItem"] = []string{"StateTable", "ShopsTable"}
	hubWant["ActivateFunction"]["dynamodb:UpdateItem"] = []string{"ShopsTable"}
	hubWant["ActivateFunction"]["kms:GenerateDataKey"] = []string{"ShopsKey"}
	hubWant["ActivateFunction"]["kms:Decrypt"] = []string{"ShopsKey"}
	for _, a := range []string{secret[0], secret[1], "secretsmanager:PutSecretValue"} {
		delete(hubWant["ActivateFunction"], a)
	}
	// A hub's reconcile reads no Secrets Manager secret (its shops' are in
	// the shops table): it lists the shops for the fan-out (Scan), reads a
	// job's shop and opens its secrets (GetItem, Decrypt with the shops key
	// only: TestShopsKeyScope), marks a shop disconnected (UpdateItem, the
	// store's Put), queues the sweep jobs and consumes them (the event
	// source mapping receives, deletes and reads the queue's attributes).
	hubWant["ReconcileFunction"] = maps.Clone(want["ReconcileFunction"])
	delete(hubWant["ReconcileFunction"], secret[0])
	delete(hubWant["ReconcileFunction"], secret[1])
	hubWant["ReconcileFunction"]["dynamodb:Scan"] = []string{"ShopsTable"}
	hubWant["ReconcileFunction"]["dynamodb:GetItem"] = []string{"ShopsTable", "StateTable"}
	hubWant["ReconcileFunction"]["dynamodb:UpdateItem"] = []string{"ShopsTable"}
	hubWant["ReconcileFunction"]["kms:Decrypt"] = []string{"ShopsKey"}
	hubWant["ReconcileFunction"]["sqs:SendMessage"] = []string{"DeadLetterQueue", "OrdersQueue", "SweepQueue"}
	hubWant["ReconcileFunction"]["sqs:ReceiveMessage"] = []string{"SweepQueue", "WaitingQueue"}
	hubWant["ReconcileFunction"]["sqs:DeleteMessage"] = []string{"SweepQueue", "WaitingQueue"}
	hubWant["ReconcileFunction"]["sqs:GetQueueAttributes"] = []string{"OrdersQueue", "SweepQueue", "WaitingQueue"}
	checkGrants(t, loadHub(t), hubWant)
}

func checkGrants(t *testing.T, tpl *Template, want map[string]map[string][]string) {
	t.Helper()
	logs := []string{"logs:CreateLogStream", "logs:PutLogEvents"}
	for fn, w := range want {
		got := grants(t, tpl, fn)
		for a := range w {
			slices.Sort(w[a])
		}
		for a, rs := range got {
			if !slices.Equal(rs, w[a]) {
				t.Errorf("%s may %s on %v, want %v", fn, a, rs, w[a])
			}
		}
		for a, rs := range w {
			if _, ok := got[a]; !ok {
				t.Errorf("%s lacks %s on %v", fn, a, rs)
			}
		}
		// Its log group is the one its logs go to.
		if lg, _ := Ref(Get(tpl.Resources, fn, "Properties", "LoggingConfig", "LogGroup")); lg != w[logs[0]][0] {
			t.Errorf("%s logs to %q but may write to %v", fn, lg, w[logs[0]])
		}
	}
}

// TestStateTableLeadingKeys: connect answers strangers, so its role may
// touch only its own documents in the state table (dynamodb:LeadingKeys),
// never the backfill's checkpoint, the handoff record or reconcile's mark;
// activate deletes only those documents (a pending key proven or refused).
func TestStateTableLeadingKeys(t *testing.T) {
	tpl := load(t)
	want := []any{wookey.StatePrefix + "*"}
	for fn, limited := range map[string][]string{
		"ConnectFunction":  {"dynamodb:PutItem", "dynamodb:UpdateItem"},
		"ActivateFunction": {"dynamodb:DeleteItem"},
	} {
		role, _, _ := GetAtt(Get(tpl.Resources, fn, "Properties", "Role"))
		seen := map[string]bool{}
		for _, st := range statements(tpl, role) {
			onState := false
			for _, r := range List(st, "Resource") {
				onState = onState || resourceName(r) == "StateTable"
			}
			if !onState {
				continue
			}
			keys := Get(st, "Condition", "ForAllValues:StringLike", "dynamodb:LeadingKeys")
			for _, a := range List(st, "Action") {
				if !slices.Contains(limited, a.(string)) {
					continue
				}
				seen[a.(string)] = true
				if l, _ := keys.([]any); !slices.Equal(l, want) {
					t.Errorf("%s may %s on the state table with leading keys %v, want only %v", fn, a, keys, want)
				}
			}
			if fn == "ConnectFunction" && !slices.Equal(anyStrings(List(st, "Action")), limited) {
				t.Errorf("connect may %v on the state table, want exactly %v", List(st, "Action"), limited)
			}
		}
		for _, a := range limited {
			if !seen[a] {
				t.Errorf("%s lacks %s on the state table", fn, a)
			}
		}
	}
}

func anyStrings(l []any) []string {
	out := make([]string, len(l))
	for i, v := range l {
		out[i], _ = v.(string)
	}
	slices.Sort(out)
	return out
}

// TestShopsKeyScope: the shops key opens only sealings made for a shop
// (the encryption context holds exactly the key "shop", and holds it), and
// only a hub has the key and the shops table at all.
func TestShopsKeyScope(t *testing.T) {
	hub := loadHub(t)
	// The webhook and reconcile open sealings; activate also makes them (a data key).
	for fn, actions := range map[string][]string{"WebhookFunction": {"kms:Decrypt"}, "ReconcileFunction": {"kms:Decrypt"},
		"ActivateFunction": {"kms:Decrypt", "kms:GenerateDataKey"}} {
		role, _, _ := GetAtt(Get(hub.Resources, fn, "Properties", "Role"))
		found := map[string]bool{}
		for _, st := range statements(hub, role) {
			var kmsActions []string
			for _, a := range List(st, "Action") {
				if s, _ := a.(string); strings.HasPrefix(s, "kms:") {
					kmsActions = append(kmsActions, s)
					found[s] = true
				}
			}
			if len(kmsActions) == 0 {
				continue
			}
			keys := List(st, "Condition", "ForAllValues:StringEquals", "kms:EncryptionContextKeys")
			if !slices.Equal(keys, []any{shops.ScopeKey}) {
				t.Errorf("%s: %v with encryption context keys %v, want exactly [%s]", fn, kmsActions, keys, shops.ScopeKey)
			}
			// ForAllValues holds for an empty context too: require the key.
			if Get(st, "Condition", "Null", "kms:EncryptionContext:"+shops.ScopeKey) != "false" {
				t.Errorf("%s: %v does not require the %q encryption context: %v", fn, kmsActions, shops.ScopeKey, Get(st, "Condition"))
			}
		}
		for _, a := range actions {
			if !found[a] {
				t.Errorf("a hub's %s may not %s the shops' secrets", fn, a)
			}
		}
	}
	key := resource(t, hub, "ShopsKey", "AWS::KMS::Key")
	if Get(key, "Properties", "EnableKeyRotation") != true || Get(key, "Properties", "KeySpec") != "SYMMETRIC_DEFAULT" {
		t.Errorf("ShopsKey %v: want a symmetric key with rotation", Get(key, "Properties"))
	}
	table := resource(t, hub, "ShopsTable", "AWS::DynamoDB::Table")
	if Get(table, "Properties", "BillingMode") != "PAY_PER_REQUEST" ||
		Get(List(table, "Properties", "KeySchema")[0], "AttributeName") != shops.AttrID ||
		Get(List(table, "Properties", "AttributeDefinitions")[0], "AttributeType") != "S" ||
		Get(table, "Properties", "SSESpecification", "SSEEnabled") != true {
		t.Errorf("shops table %v: want PAY_PER_REQUEST keyed by id (S), encrypted", Get(table, "Properties"))
	}
	// The hub's ledger is keyed by shop and order id (ledger.For).
	lt := resource(t, hub, "LedgerTable", "AWS::DynamoDB::Table")
	ks := List(lt, "Properties", "KeySchema")
	if len(ks) != 2 || Get(ks[0], "AttributeName") != ledger.AttrShop || Get(ks[0], "KeyType") != "HASH" ||
		Get(ks[1], "AttributeName") != ledger.AttrOrderID || Get(ks[1], "KeyType") != "RANGE" {
		t.Errorf("a hub's ledger is keyed by %v, want shop (HASH) and order_id (RANGE)", ks)
	}
	// A single shop pays for neither, and its ledger keeps its key.
	home := load(t)
	for _, id := range []string{"ShopsKey", "ShopsTable"} {
		if _, ok := home.Resources[id]; ok {
			t.Errorf("a single-shop stack creates %s", id)
		}
	}
	if ks := List(home.Resources, "LedgerTable", "Properties", "KeySchema"); len(ks) != 1 {
		t.Errorf("a single shop's ledger is keyed by %v, want order_id alone", ks)
	}
	for _, v := range []string{config.ShopsTable, config.ShopsKeyID} {
		if _, ok := env(home, Map(home.Resources, "WebhookFunction"))[v]; ok {
			t.Errorf("a single-shop stack's webhook has %s", v)
		}
	}
}
