package logistos

import (
	"errors"
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

var (
	errTwice     = errors.New("appears twice")
	errNotObject = errors.New("is not an object")
	errNotArray  = errors.New("is not an array")
)

// decoder fills allow-listed structs from JSON known to be valid. Errors
// name the place as they unwind ("line_items: [2]: sku: appears twice"), so
// that the path costs nothing unless something is wrong.
type decoder struct {
	dropped int // values dropped for not being scalars
}

// object fills the struct v from the JSON object b.
func (d *decoder) object(b []byte, v reflect.Value) error {
	fs := fieldsOf(v.Type())
	var seen uint64 // one bit per field: no allow-listed struct has 64
	return jsonscan.Members(b, func(key, val []byte) error {
		i, ok := fs[string(key)]
		if !ok {
			return nil
		}
		if seen&(1<<i) != 0 {
			return fmt.Errorf("%s: %w", key, errTwice)
		}
		seen |= 1 << i
		if err := d.field(val, v.Field(i)); err != nil {
			return fmt.Errorf("%s: %w", key, err)
		}
		return nil
	})
}

func (d *decoder) field(val []byte, f reflect.Value) error {
	switch {
	case f.Type() == valueType:
		if val[0] == '{' || val[0] == '[' {
			d.dropped++
			return nil
		}
		var s Value
		if err := s.UnmarshalJSON(val); err != nil {
			return err
		}
		f.SetBytes(s)
	case string(val) == "null":
	case f.Kind() == reflect.Pointer:
		if val[0] != '{' {
			return errNotObject
		}
		p := reflect.New(f.Type().Elem())
		if err := d.object(val, p.Elem()); err != nil {
			return err
		}
		f.Set(p)
	case f.Kind() == reflect.Slice:
		if val[0] != '[' {
			return errNotArray
		}
		f.Set(reflect.MakeSlice(f.Type(), 0, 0)) // [] stays [], as WooCommerce sent it
		zero := reflect.Zero(f.Type().Elem())
		_, err := jsonscan.Elements(val, 0, func(n int, e []byte) error {
			if e[0] != '{' {
				return fmt.Errorf("[%d]: %w", n, errNotObject)
			}
			f.Set(reflect.Append(f, zero))
			if err := d.object(e, f.Index(n)); err != nil {
				return fmt.Errorf("[%d]: %w", n, err)
			}
			return nil
		})
		return err
	}
	return nil
}
