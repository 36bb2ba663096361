// Package templatecheck reads template.yaml as CloudFormation sees it, so
// that tests can check its wiring against the code: the environment each
// function gets, the queues, IAM, alarms and build targets.
package templatecheck

import (
	"fmt"
	"maps"
	"os"
	"strings"

	"gopkg.in/yaml.v3"
)

// Template is a decoded CloudFormation (SAM) template. Short-form intrinsic
// functions are turned into their long form: !Ref x becomes {"Ref": x},
// !GetAtt A.B becomes {"Fn::GetAtt": ["A", "B"]}, !Sub s becomes
// {"Fn::Sub": s}, and so on, as CloudFormation itself reads them.
type Template struct {
	Parameters map[string]any
	Conditions map[string]any
	Globals    map[string]any
	Resources  map[string]any
	Outputs    map[string]any
}

// Load reads and decodes the template at path.
func Load(path string) (*Template, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var root yaml.Node
	if err := yaml.Unmarshal(b, &root); err != nil {
		return nil, fmt.Errorf("parse %s: %w", path, err)
	}
	v, err := decode(&root)
	if err != nil {
		return nil, fmt.Errorf("decode %s: %w", path, err)
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%s: the top level is not a mapping", path)
	}
	section := func(name string) map[string]any { s, _ := m[name].(map[string]any); return s }
	return &Template{
		Parameters: section("Parameters"),
		Conditions: section("Conditions"),
		Globals:    section("Globals"),
		Resources:  section("Resources"),
		Outputs:    section("Outputs"),
	}, nil
}

// shortForms maps each short-form tag to its long-form key.
var shortForms = map[string]string{
	"!Ref": "Ref", "!Condition": "Condition",
	"!Sub": "Fn::Sub", "!GetAtt": "Fn::GetAtt", "!Join": "Fn::Join", "!Select": "Fn::Select",
	"!Split": "Fn::Split", "!If": "Fn::If", "!Equals": "Fn::Equals", "!Not": "Fn::Not",
	"!And": "Fn::And", "!Or": "Fn::Or", "!FindInMap": "Fn::FindInMap", "!Base64": "Fn::Base64",
	"!Cidr": "Fn::Cidr", "!ImportValue": "Fn::ImportValue", "!GetAZs": "Fn::GetAZs",
	"!Transform": "Fn::Transform", "!ToJsonString": "Fn::ToJsonString", "!Length": "Fn::Length",
}

// decode turns a YAML node into maps, slices and scalars, expanding
// short-form intrinsic functions.
func decode(n *yaml.Node) (any, error) {
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return nil, nil
		}
		return decode(n.Content[0])
	case yaml.AliasNode:
		return decode(n.Alias)
	}
	if strings.HasPrefix(n.Tag, "!") && !strings.HasPrefix(n.Tag, "!!") {
		key, ok := shortForms[n.Tag]
		if !ok {
			return nil, fmt.Errorf("line %d: unknown tag %s", n.Line, n.Tag)
		}
		plain := *n
		plain.Tag = ""
		if n.Kind == yaml.ScalarNode {
			plain.Tag = "!!str"
		}
		v, err := decode(&plain)
		if err != nil {
			return nil, err
		}
		if s, isString := v.(string); key == "Fn::GetAtt" && isString {
			id, attr, _ := strings.Cut(s, ".")
			v = []any{id, attr}
		}
		return map[string]any{key: v}, nil
	}
	switch n.Kind {
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			v, err := decode(n.Content[i+1])
			if err != nil {
				return nil, err
			}
			m[n.Content[i].Value] = v
		}
		return m, nil
	case yaml.SequenceNode:
		s := make([]any, 0, len(n.Content))
		for _, c := range n.Content {
			v, err := decode(c)
			if err != nil {
				return nil, err
			}
			s = append(s, v)
		}
		return s, nil
	}
	var v any
	if err := n.Decode(&v); err != nil {
		return nil, fmt.Errorf("line %d: %w", n.Line, err)
	}
	return v, nil
}

// Get walks v through nested mappings by key; nil when a key is missing.
func Get(v any, keys ...string) any {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

// Map is Get for a mapping; nil when absent or not a mapping.
func Map(v any, keys ...string) map[string]any {
	m, _ := Get(v, keys...).(map[string]any)
	return m
}

// List is Get for a sequence; a single value counts as a one-item list
// (as IAM reads "Action": "x").
func List(v any, keys ...string) []any {
	switch x := Get(v, keys...).(type) {
	case nil:
		return nil
	case []any:
		return x
	default:
		return []any{x}
	}
}

// Int is Get for a number; ok is false when absent or not a whole number.
func Int(v any, keys ...string) (int, bool) {
	switch x := Get(v, keys...).(type) {
	case int:
		return x, true
	case float64:
		return int(x), x == float64(int(x))
	}
	return 0, false
}

// Ref returns the logical id or parameter v refers to with {"Ref": id}.
func Ref(v any) (string, bool) {
	m, ok := v.(map[string]any)
	if !ok || len(m) != 1 {
		return "", false
	}
	s, ok := m["Ref"].(string)
	return s, ok
}

// GetAtt returns the logical id and attribute of {"Fn::GetAtt": [id, attr]}.
func GetAtt(v any) (id, attr string, ok bool) {
	m, isMap := v.(map[string]any)
	if !isMap || len(m) != 1 {
		return "", "", false
	}
	l, isList := m["Fn::GetAtt"].([]any)
	if !isList || len(l) != 2 {
		return "", "", false
	}
	id, ok1 := l[0].(string)
	attr, ok2 := l[1].(string)
	return id, attr, ok1 && ok2
}

// Sub returns the string of {"Fn::Sub": s} (without a variable map).
func Sub(v any) (string, bool) {
	m, ok := v.(map[string]any)
	if !ok || len(m) != 1 {
		return "", false
	}
	s, ok := m["Fn::Sub"].(string)
	return s, ok
}

// OfType returns the resources of one type by logical id.
func (t *Template) OfType(typ string) map[string]map[string]any {
	out := map[string]map[string]any{}
	for id, r := range t.Resources {
		if Get(r, "Type") == typ {
			out[id] = r.(map[string]any)
		}
	}
	return out
}

// As returns the template as CloudFormation deploys it when the named
// conditions have these values: each Fn::If on one of them takes its
// branch, a value that is !Ref AWS::NoValue drops the key or list item
// holding it, and resources and outputs whose Condition is false are left
// out. A condition not named stays as written.
func (t *Template) As(conds map[string]bool) *Template {
	conds = t.derive(conds)
	keep := func(section map[string]any) map[string]any {
		out := map[string]any{}
		for id, v := range section {
			if c, ok := Get(v, "Condition").(string); ok {
				if val, known := conds[c]; known && !val {
					continue
				}
			}
			if r, ok := resolve(v, conds); ok {
				out[id] = r
			}
		}
		return out
	}
	globals, _ := resolve(t.Globals, conds)
	g, _ := globals.(map[string]any)
	return &Template{Parameters: t.Parameters, Conditions: t.Conditions, Globals: g,
		Resources: keep(t.Resources), Outputs: keep(t.Outputs)}
}

// derive adds to conds the conditions the template builds from them alone
// (Fn::Not, Fn::And, Fn::Or of Condition references), such as
// HasHomeShop: !Not [!Condition IsHub].
func (t *Template) derive(conds map[string]bool) map[string]bool {
	return t.evaluate(conds, nil)
}

// ConditionsWith evaluates every condition the template can for these
// parameter values (a parameter not given is empty): the conditions of a
// stack deployed with them, for As.
func (t *Template) ConditionsWith(params map[string]string) map[string]bool {
	if params == nil {
		params = map[string]string{}
	}
	return t.evaluate(map[string]bool{}, params)
}

// evaluate adds to conds every condition that can be evaluated from them
// and, when params is not nil, from the parameters' values.
func (t *Template) evaluate(conds map[string]bool, params map[string]string) map[string]bool {
	out := maps.Clone(conds)
	for changed := true; changed; {
		changed = false
		for name, c := range t.Conditions {
			if _, known := out[name]; known {
				continue
			}
			if v, ok := evalCondition(c, out, params); ok {
				out[name], changed = v, true
			}
		}
	}
	return out
}

// evalCondition evaluates a condition made of known Condition references
// and, with params, Fn::Equals of parameters and literals; ok is false when
// it depends on anything else.
func evalCondition(c any, conds map[string]bool, params map[string]string) (v, ok bool) {
	m, _ := c.(map[string]any)
	if len(m) != 1 {
		return false, false
	}
	for op, arg := range m {
		if op == "Condition" {
			name, _ := arg.(string)
			v, ok = conds[name]
			return v, ok
		}
		args, _ := arg.([]any)
		switch op {
		case "Fn::Equals":
			if params == nil || len(args) != 2 {
				return false, false
			}
			value := func(a any) (string, bool) {
				if p, ok := Ref(a); ok {
					return params[p], true
				}
				s, ok := a.(string)
				return s, ok
			}
			a, aok := value(args[0])
			b, bok := value(args[1])
			return a == b, aok && bok
		case "Fn::Not":
			if len(args) != 1 {
				return false, false
			}
			v, ok = evalCondition(args[0], conds, params)
			return !v, ok
		case "Fn::And", "Fn::Or":
			and := op == "Fn::And"
			v = and
			for _, a := range args {
				av, aok := evalCondition(a, conds, params)
				if !aok {
					return false, false
				}
				if and {
					v = v && av
				} else {
					v = v || av
				}
			}
			return v, len(args) > 0
		}
	}
	return false, false
}

// resolve evaluates the Fn::If of known conditions in v; ok is false when
// v is AWS::NoValue.
func resolve(v any, conds map[string]bool) (any, bool) {
	switch x := v.(type) {
	case map[string]any:
		if id, ok := Ref(x); ok && id == "AWS::NoValue" {
			return nil, false
		}
		if args, ok := x["Fn::If"].([]any); ok && len(x) == 1 && len(args) == 3 {
			if c, ok := args[0].(string); ok {
				if val, known := conds[c]; known {
					if val {
						return resolve(args[1], conds)
					}
					return resolve(args[2], conds)
				}
			}
		}
		out := make(map[string]any, len(x))
		for k, e := range x {
			if r, ok := resolve(e, conds); ok {
				out[k] = r
			}
		}
		return out, true
	case []any:
		out := make([]any, 0, len(x))
		for _, e := range x {
			if r, ok := resolve(e, conds); ok {
				out = append(out, r)
			}
		}
		return out, true
	}
	return v, true
}
