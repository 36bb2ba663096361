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
