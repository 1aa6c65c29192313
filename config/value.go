package config

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/shitu-go/shitu/internal/pyrepr"
)

// Kind is the Python type a config value has after loading.
type Kind uint8

// The kinds of values. Tuples are Lists; sets are not supported.
const (
	Null Kind = iota
	Bool
	Int
	Float
	String
	List
	Map
)

func (k Kind) String() string {
	switch k {
	case Null:
		return "None"
	case Bool:
		return "bool"
	case Int:
		return "int"
	case Float:
		return "float"
	case String:
		return "str"
	case List:
		return "list"
	case Map:
		return "dict"
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// Value is one node of the raw config tree, typed as PaddleClas sees it
// after PyYAML loading, the literal_eval pass and the -o overrides.
// Mappings keep their key order. Unknown keys (and our own additions)
// survive in the tree even when the typed structs ignore them.
type Value struct {
	Kind  Kind
	Bool  bool
	Int   int64
	Float float64
	Str   string
	// Items are the elements of a List.
	Items []*Value
	// Keys are the keys of a Map in file order; Fields holds the values.
	Keys   []string
	Fields map[string]*Value
	// Line is the 1-based line in the YAML file, 0 for values set by -o.
	Line int
	// Origin is the -o option that set the value, "" for file values.
	Origin string
}

// NewMap returns an empty Map value.
func NewMap() *Value { return &Value{Kind: Map, Fields: map[string]*Value{}} }

// Get returns the value of a Map key.
func (v *Value) Get(key string) (*Value, bool) {
	if v == nil || v.Kind != Map {
		return nil, false
	}
	f, ok := v.Fields[key]
	return f, ok
}

// Lookup follows a dotted path of Map keys and List indices
// ("RecPreProcess.transform_ops.0.ResizeImage.size").
func (v *Value) Lookup(path string) (*Value, bool) {
	cur := v
	for _, k := range strings.Split(path, ".") {
		switch {
		case cur == nil:
			return nil, false
		case cur.Kind == Map:
			f, ok := cur.Fields[k]
			if !ok {
				return nil, false
			}
			cur = f
		case cur.Kind == List:
			i, err := strconv.Atoi(k)
			if err != nil || i < 0 || i >= len(cur.Items) {
				return nil, false
			}
			cur = cur.Items[i]
		default:
			return nil, false
		}
	}
	return cur, cur != nil
}

// Set sets a Map key, appending it to Keys when new.
func (v *Value) Set(key string, f *Value) {
	if v.Fields == nil {
		v.Fields = map[string]*Value{}
	}
	if _, ok := v.Fields[key]; !ok {
		v.Keys = append(v.Keys, key)
	}
	v.Fields[key] = f
}

// Number returns an Int or Float as float64 (bools count as 0/1, as in
// Python arithmetic).
func (v *Value) Number() (float64, bool) {
	switch v.Kind {
	case Int:
		return float64(v.Int), true
	case Float:
		return v.Float, true
	case Bool:
		if v.Bool {
			return 1, true
		}
		return 0, true
	}
	return 0, false
}

// Repr is the value as Python's repr prints it ({'a': [1, 2.0, 'x']}).
func (v *Value) Repr() string {
	var b strings.Builder
	v.repr(&b)
	return b.String()
}

func (v *Value) repr(b *strings.Builder) {
	if v == nil {
		b.WriteString("None")
		return
	}
	switch v.Kind {
	case Null:
		b.WriteString("None")
	case Bool:
		if v.Bool {
			b.WriteString("True")
		} else {
			b.WriteString("False")
		}
	case Int:
		b.WriteString(strconv.FormatInt(v.Int, 10))
	case Float:
		b.WriteString(FloatRepr(v.Float))
	case String:
		b.WriteString(StrRepr(v.Str))
	case List:
		b.WriteByte('[')
		for i, it := range v.Items {
			if i > 0 {
				b.WriteString(", ")
			}
			it.repr(b)
		}
		b.WriteByte(']')
	case Map:
		b.WriteByte('{')
		for i, k := range v.Keys {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(StrRepr(k))
			b.WriteString(": ")
			v.Fields[k].repr(b)
		}
		b.WriteByte('}')
	}
}

// FloatRepr formats a float64 as Python's repr does: shortest round-trip
// digits, always with a '.' or exponent, exponents from 1e16 and below 1e-4.
func FloatRepr(f float64) string { return pyrepr.Float64(f) }

// StrRepr quotes a string as Python's repr does: single quotes unless the
// string contains a single quote and no double quote.
func StrRepr(s string) string { return pyrepr.Str(s) }
