package templatecheck

import (
	"reflect"
	"testing"
)

// previousTemplate is template.yaml as single-shop stacks were deployed
// before a stack could be a hub (commit cd2b682), kept to check upgrades.
const previousTemplate = "testdata/template-single-shop-2026-12-04.yaml"

// replacing lists, per stateful resource type, the properties whose change
// makes CloudFormation replace the resource: a new, empty table, queue or
// secret, and with it the ledger, the checkpoint, the queued orders or the
// shop's key gone.
var replacing = map[string][]string{
	"AWS::DynamoDB::Table":            {"TableName", "KeySchema", "AttributeDefinitions"},
	"AWS::SQS::Queue":                 {"QueueName", "FifoQueue"},
	"AWS::SecretsManager::Secret":     {"Name"},
	"AWS::Logs::LogGroup":             {"LogGroupName"},
	"AWS::Serverless::Function":       {"FunctionName"},
	"AWS::Serverless::HttpApi":        {},
	"AWS::Scheduler::Schedule":        {"Name"},
	"AWS::SNS::Topic":                 {"TopicName"},
	"AWS::CloudWatch::Alarm":          {"AlarmName"},
	"AWS::IAM::Role":                  {"RoleName"},
	"AWS::Lambda::EventSourceMapping": {},
}

// singleShop is what a stack with StoreUrl set deploys: each condition
// evaluated from the parameters (not assumed by name), then Template.As.
func singleShop(tpl *Template) map[string]any {
	return tpl.As(tpl.ConditionsWith(map[string]string{"StoreUrl": "https://shop.example"})).Resources
}

// TestSingleShopStackUpgradesInPlace: a single-shop stack deployed from the
// previous template, updated to this one with its StoreUrl unchanged, keeps
// every stateful resource: the same logical id and type, and none of the
// properties whose change replaces it. So its ledger, state (checkpoint,
// handoff, mark), queues (orders in flight, waiting, dead-lettered),
// secrets (the shop's key, the webhook's secret) and the webhook's URL stay
// what they were: no reconnect, no order lost or sent twice.
func TestSingleShopStackUpgradesInPlace(t *testing.T) {
	old, err := Load(previousTemplate)
	if err != nil {
		t.Fatal(err)
	}
	now := singleShop(loadRaw(t))
	before := singleShop(old)
	for id, r := range before {
		typ, _ := Get(r, "Type").(string)
		props, stateful := replacing[typ]
		if !stateful {
			continue
		}
		after, ok := now[id]
		if !ok {
			t.Errorf("%s (%s) is gone from a single-shop stack: CloudFormation would delete it", id, typ)
			continue
		}
		if got, _ := Get(after, "Type").(string); got != typ {
			t.Errorf("%s changes type %s → %s: CloudFormation would replace it", id, typ, got)
		}
		for _, p := range props {
			if a, b := Get(r, "Properties", p), Get(after, "Properties", p); !reflect.DeepEqual(a, b) {
				t.Errorf("%s.%s changes %v → %v: CloudFormation would replace it", id, p, a, b)
			}
		}
	}
	// The webhook's route is the URL WooCommerce delivers to.
	for _, id := range []string{"WebhookFunction", "ConnectFunction"} {
		if a, b := Get(before[id], "Properties", "Events"), Get(now[id], "Properties", "Events"); !routesKept(a, b) {
			t.Errorf("%s's routes change: %v → %v", id, a, b)
		}
	}
}

// routesKept reports whether every route of before is still in after.
func routesKept(before, after any) bool {
	a, _ := after.(map[string]any)
	b, _ := before.(map[string]any)
	for name, ev := range b {
		if !reflect.DeepEqual(Get(ev, "Properties", "Path"), Get(a[name], "Properties", "Path")) ||
			!reflect.DeepEqual(Get(ev, "Properties", "Method"), Get(a[name], "Properties", "Method")) {
			return false
		}
	}
	return true
}

// A hub has no home shop, so none of its two secrets ($0.40 a month each):
// each shop's are sealed in the shops table.
func TestHubHasNoHomeSecrets(t *testing.T) {
	if s := loadHub(t).OfType("AWS::SecretsManager::Secret"); len(s) != 0 {
		t.Errorf("a hub deploys secrets %v", s)
	}
	if s := load(t).OfType("AWS::SecretsManager::Secret"); len(s) != 2 {
		t.Errorf("a single-shop stack deploys %d secrets, want its webhook secret and REST key", len(s))
	}
}
