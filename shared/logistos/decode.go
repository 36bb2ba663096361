package logistos

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"sync"

	"github.com/logistos-sync/logistos-sync/shared/jsonscan"
)

// The allow-list is the json tags of Order and the types it holds. Keys
// match exactly (encoding/json would let "ID" fill "id"), a key the
// allow-list keeps may appear once (encoding/json keeps the last), and a
// scalar field takes a scalar: an object or array found there is dropped
// and counted, so nothing nested under an allowed name (a card number
// under customer_note) leaves the system.

// fields maps each allowed key of a struct type to its field index.
type fields map[string]int

var fieldsByType sync.Map // reflect.Type → fields

func fieldsOf(t reflect.Type) fields {
	if fs, ok := fieldsByType.Load(t); ok {
		return fs.(fields)
	}
	fs := make(fields, t.NumField())
	for i := range t.NumField() {
		if name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ","); name != "" && name != "-" {
			fs[name] = i
		}
	}
	fieldsByType.Store(t, fs)
	return fs
}

var valueType = reflect.TypeFor[Value]()

// decoder fills allow-listed structs from JSON known to be valid.
type decoder struct {
	dropped int // values dropped for not being scalars
}

// where is a value's place in the order, spelled out only for an error
// message, so that the common path builds no strings.
type where struct {
	up    *where
	key   string
	index int // for an array element: its index; -1 otherwise
}

func (w *where) String() string {
	if w == nil {
		return "order"
	}
	if w.index >= 0 {
		return fmt.Sprintf("%s[%d]", w.up, w.index)
	}
	return w.up.String() + "." + w.key
}

// object fills the struct v points into from the JSON object b.
func (d *decoder) object(b []byte, v reflect.Value, path *where) error {
	fs := fieldsOf(v.Type())
	var seen uint64 // one bit per field: no allow-listed struct has 64
	return jsonscan.Members(b, func(key string, val []byte) error {
		i, ok := fs[key]
		if !ok {
			return nil
		}
		if seen&(1<<i) != 0 {
			return fmt.Errorf("%w: key %q appears twice in %s", ErrNotAnOrder, key, path)
		}
		seen |= 1 << i
		return d.field(val, v.Field(i), &where{up: path, key: key, index: -1})
	})
}

func (d *decoder) field(val []byte, f reflect.Value, path *where) error {
	switch {
	case f.Type() == valueType:
		if val[0] == '{' || val[0] == '[' {
			d.dropped++
			return nil
		}
		var s Value
		if err := s.UnmarshalJSON(val); err != nil {
			return fmt.Errorf("%w: %s: %v", ErrNotAnOrder, path, err)
		}
		f.SetBytes(s)
	case string(val) == "null":
	case f.Kind() == reflect.Pointer:
		if val[0] != '{' {
			return fmt.Errorf("%w: %s is not an object", ErrNotAnOrder, path)
		}
		p := reflect.New(f.Type().Elem())
		if err := d.object(val, p.Elem(), path); err != nil {
			return err
		}
		f.Set(p)
	case f.Kind() == reflect.Slice:
		if val[0] != '[' {
			return fmt.Errorf("%w: %s is not an array", ErrNotAnOrder, path)
		}
		elem := f.Type().Elem()
		f.Set(reflect.MakeSlice(f.Type(), 0, 0)) // [] stays [], as WooCommerce sent it
		_, err := jsonscan.Elements(val, 0, func(n int, e []byte) error {
			if e[0] != '{' {
				return fmt.Errorf("%w: %s[%d] is not an object", ErrNotAnOrder, path, n)
			}
			f.Set(reflect.Append(f, reflect.Zero(elem)))
			return d.object(e, f.Index(n), &where{up: path, index: n})
		})
		return err
	}
	return nil
}

// validJSON is json.Valid, named for why it runs first: the walk above
// checks structure only.
func validJSON(b []byte) bool { return json.Valid(b) }
