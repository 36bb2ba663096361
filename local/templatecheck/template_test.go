package templatecheck

import (
	"reflect"
	"testing"

	"gopkg.in/yaml.v3"
)

func TestDecodeShortForms(t *testing.T) {
	src := `
A: !Ref Thing
B: !GetAtt Queue.Arn
C: !Sub "arn:${AWS::Partition}:x"
D: !If [Cond, !Ref X, !GetAtt [Y, Name]]
E: !Not [!Equals [!Ref P, ""]]
F: &anchor {k: 1}
G: *anchor
H: [1, "2", true]
`
	root := decodeString(t, src)
	want := map[string]any{
		"A": map[string]any{"Ref": "Thing"},
		"B": map[string]any{"Fn::GetAtt": []any{"Queue", "Arn"}},
		"C": map[string]any{"Fn::Sub": "arn:${AWS::Partition}:x"},
		"D": map[string]any{"Fn::If": []any{"Cond", map[string]any{"Ref": "X"}, map[string]any{"Fn::GetAtt": []any{"Y", "Name"}}}},
		"E": map[string]any{"Fn::Not": []any{map[string]any{"Fn::Equals": []any{map[string]any{"Ref": "P"}, ""}}}},
		"F": map[string]any{"k": 1},
		"G": map[string]any{"k": 1},
		"H": []any{1, "2", true},
	}
	if !reflect.DeepEqual(root, want) {
		t.Errorf("decoded\n%#v\nwant\n%#v", root, want)
	}
	if id, ok := Ref(Get(root, "A")); !ok || id != "Thing" {
		t.Errorf("Ref = %q %v", id, ok)
	}
	if id, attr, ok := GetAtt(Get(root, "B")); !ok || id != "Queue" || attr != "Arn" {
		t.Errorf("GetAtt = %q %q %v", id, attr, ok)
	}
	if s, ok := Sub(Get(root, "C")); !ok || s != "arn:${AWS::Partition}:x" {
		t.Errorf("Sub = %q %v", s, ok)
	}
}

func TestDecodeRejectsUnknownTags(t *testing.T) {
	if _, err := decodeErr("A: !Reff x\n"); err == nil {
		t.Fatal("a misspelt intrinsic function was accepted")
	}
}

func decodeErr(src string) (any, error) {
	var n yaml.Node
	if err := yaml.Unmarshal([]byte(src), &n); err != nil {
		return nil, err
	}
	return decode(&n)
}

func decodeString(t *testing.T, src string) any {
	t.Helper()
	v, err := decodeErr(src)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// As resolves the conditions it is given as CloudFormation does, and
// leaves the others alone.
func TestAs(t *testing.T) {
	src := `
Resources:
  Always:
    Properties:
      Key: !If [IsHub, [a, b], [c]]
      Env:
        X: !If [IsHub, !Ref T, !Ref AWS::NoValue]
        Y: !If [Other, 1, 2]
      List:
        - one
        - !If [IsHub, two, !Ref AWS::NoValue]
  OnlyHub:
    Condition: IsHub
  OnlyOther:
    Condition: Other
Outputs:
  HubOut:
    Condition: IsHub
    Value: 1
`
	root := decodeString(t, src).(map[string]any)
	tpl := &Template{Resources: Map(root, "Resources"), Outputs: Map(root, "Outputs")}
	hub, home := tpl.As(map[string]bool{"IsHub": true}), tpl.As(map[string]bool{"IsHub": false})
	if got := Get(hub.Resources, "Always", "Properties", "Key"); !reflect.DeepEqual(got, []any{"a", "b"}) {
		t.Errorf("hub Key = %v", got)
	}
	if got := Get(home.Resources, "Always", "Properties", "Key"); !reflect.DeepEqual(got, []any{"c"}) {
		t.Errorf("home Key = %v", got)
	}
	if _, ok := Map(home.Resources, "Always", "Properties", "Env")["X"]; ok {
		t.Error("AWS::NoValue kept a key")
	}
	if id, _ := Ref(Get(hub.Resources, "Always", "Properties", "Env", "X")); id != "T" {
		t.Errorf("hub X = %v", Get(hub.Resources, "Always", "Properties", "Env", "X"))
	}
	if _, ok := Get(hub.Resources, "Always", "Properties", "Env", "Y").(map[string]any)["Fn::If"]; !ok {
		t.Error("an unnamed condition was resolved")
	}
	if got := List(home.Resources, "Always", "Properties", "List"); !reflect.DeepEqual(got, []any{"one"}) {
		t.Errorf("home List = %v", got)
	}
	if got := List(hub.Resources, "Always", "Properties", "List"); !reflect.DeepEqual(got, []any{"one", "two"}) {
		t.Errorf("hub List = %v", got)
	}
	if Map(home.Resources, "OnlyHub") != nil || Map(hub.Resources, "OnlyHub") == nil && hub.Resources["OnlyHub"] == nil {
		t.Error("a conditional resource is kept in home or dropped in hub")
	}
	if _, ok := home.Resources["OnlyOther"]; !ok {
		t.Error("a resource under an unnamed condition was dropped")
	}
	if _, ok := home.Outputs["HubOut"]; ok {
		t.Error("a hub's output is in the home view")
	}
	if _, ok := hub.Outputs["HubOut"]; !ok {
		t.Error("a hub's output is missing from the hub view")
	}
}

// A condition built from known ones is known too: HasHomeShop is !IsHub.
func TestAsDerivesConditions(t *testing.T) {
	tpl := &Template{
		Conditions: map[string]any{
			"Other":   map[string]any{"Fn::Equals": []any{map[string]any{"Ref": "P"}, ""}},
			"NotHub":  map[string]any{"Fn::Not": []any{map[string]any{"Condition": "IsHub"}}},
			"Both":    map[string]any{"Fn::And": []any{map[string]any{"Condition": "IsHub"}, map[string]any{"Condition": "NotHub"}}},
			"Unknown": map[string]any{"Fn::Or": []any{map[string]any{"Condition": "IsHub"}, map[string]any{"Condition": "Other"}}},
		},
		Resources: map[string]any{
			"Home": map[string]any{"Condition": "NotHub"}, "Never": map[string]any{"Condition": "Both"},
			"Maybe": map[string]any{"Condition": "Unknown"},
		},
	}
	got := tpl.As(map[string]bool{"IsHub": true}).Resources
	if _, ok := got["Home"]; ok {
		t.Error("a hub keeps a NotHub resource")
	}
	if _, ok := got["Never"]; ok {
		t.Error("a hub keeps a resource whose condition is IsHub and NotHub")
	}
	if _, ok := got["Maybe"]; !ok {
		t.Error("a resource on a condition that depends on a parameter was dropped")
	}
	if _, ok := tpl.As(map[string]bool{"IsHub": false}).Resources["Home"]; !ok {
		t.Error("a single-shop stack drops a NotHub resource")
	}
}

// The conditions of a stack deployed with given parameters: IsHub from
// StoreUrl, and what is built on it.
func TestConditionsWith(t *testing.T) {
	tpl := &Template{Conditions: map[string]any{
		"IsHub":       map[string]any{"Fn::Equals": []any{map[string]any{"Ref": "StoreUrl"}, ""}},
		"HasHomeShop": map[string]any{"Fn::Not": []any{map[string]any{"Condition": "IsHub"}}},
	}}
	for store, hub := range map[string]bool{"": true, "https://shop.example": false} {
		c := tpl.ConditionsWith(map[string]string{"StoreUrl": store})
		if c["IsHub"] != hub || c["HasHomeShop"] == hub {
			t.Errorf("StoreUrl %q: %v", store, c)
		}
	}
}
