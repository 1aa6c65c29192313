// Package config loads PaddleClas inference configs (deploy/configs/
// inference_general.yaml and its siblings) unchanged, with PaddleClas'
// -c / -o semantics (ppshitu-pipeline.md §2):
//
//   - YAML is typed as PyYAML's SafeLoader types it (YAML 1.1: yes/no/on/off
//     are booleans, a float needs a '.'), then every string value directly
//     inside a mapping reached through mappings is passed through
//     ast.literal_eval ("123" → 123, "[224, 224]" → a list, "1.0/255.0"
//     stays a string); values inside lists are not (§2.1).
//   - Each -o Key.sub=value walks dicts by key and lists by index, creates a
//     missing leaf key, and evaluates the value like Python's eval (see Eval
//     for the deliberate deviations) (§2.2).
//   - The typed sections (Global, DetPreProcess, RecPreProcess,
//     RecPostProcess, IndexProcess) are decoded from the resulting tree with
//     defaults for keys PaddleClas leaves out, and every type or range
//     error names the key and the file line (or the -o option that set it).
//
// The raw tree (Config.Raw) keeps every key, including unknown ones and
// our own additions.
//
// Deliberate deviations from PaddleClas' Python, all on inputs the shipped
// configs do not contain:
//
//   - -o values: names other than True/False/None stay strings (Python's
//     eval would turn id, dict, print... into builtin objects); tuples become
//     lists; sets, complex numbers, comparisons, conditionals, calls and
//     string arithmetic are not evaluated (the raw string is kept); integers
//     are 64-bit. "2023-01" stays a string, as in Python 3 (the spec's
//     "→ 2022" is Python 2 behaviour: Python 3 rejects the leading zero).
//   - YAML: non-string mapping keys are used as their text; merge keys
//     (<<) are refused; an explicit tag other than !!int, !!float, !!bool
//     or !!null keeps the scalar's text; aliases expand to at most 2^18
//     values.
//   - Typed sections: booleans must be True/False (or 0/1). Python would
//     take any non-empty string as true, so "-o Global.use_gpu=false"
//     (which stays the string "false") is an error here instead of a
//     silent True. Unknown transform_ops operators are errors naming the
//     line, as PaddleClas would fail on them at run time.
package config

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Errors returned by this package; a *Error wraps one of them.
var (
	// ErrSyntax means the file is not YAML, or its top level is not a mapping.
	ErrSyntax = errors.New("config: invalid YAML")
	// ErrInvalid means a key has a value of the wrong type or range.
	ErrInvalid = errors.New("config: invalid value")
	// ErrOverride means a -o option is malformed or names a missing key.
	ErrOverride = errors.New("config: invalid override")
)

// Error is a config error located at a file line or at a -o option.
type Error struct {
	// File is the config path as given ("" for Parse without a name).
	File string
	// Line is the 1-based line of the offending value, 0 if unknown.
	Line int
	// Origin is the -o option that set the value, if any.
	Origin string
	// Key is the dotted key path ("Global.batch_size").
	Key string
	// Msg says what is wrong.
	Msg string
	// Err is the sentinel (ErrSyntax, ErrInvalid or ErrOverride).
	Err error
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("config: ")
	switch {
	case e.Origin != "":
		b.WriteString("-o " + e.Origin + ": ")
	case e.File != "" && e.Line > 0:
		fmt.Fprintf(&b, "%s:%d: ", e.File, e.Line)
	case e.File != "":
		b.WriteString(e.File + ": ")
	case e.Line > 0:
		fmt.Fprintf(&b, "line %d: ", e.Line)
	}
	if e.Key != "" {
		b.WriteString(e.Key + ": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// Config is a loaded PaddleClas inference config.
type Config struct {
	// Path is the file it was loaded from ("" for Parse).
	Path string
	// Raw is the whole tree after loading and overrides.
	Raw *Value

	Global         Global
	DetPreProcess  DetPreProcess
	RecPreProcess  RecPreProcess
	RecPostProcess RecPostProcess
	IndexProcess   IndexProcess

	warnings []string
}

// Has reports whether the file has a top-level section (e.g.
// "IndexProcess"); inference_det.yaml, for one, has no recognition keys.
func (c *Config) Has(section string) bool {
	_, ok := c.Raw.Get(section)
	return ok
}

// Load reads a config file (-c) and applies the -o overrides in order.
func Load(path string, overrides []string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return Parse(data, path, overrides)
}

// Parse is Load on bytes; name is used in error messages.
func Parse(data []byte, name string, overrides []string) (*Config, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, &Error{File: name, Msg: err.Error(), Err: ErrSyntax}
	}
	root := NewMap() // an empty file is an empty mapping
	if doc.Kind != 0 && len(doc.Content) > 0 {
		var err error
		if root, err = fromNode(&doc, true, 0); err != nil {
			return nil, &Error{File: name, Msg: err.Error(), Err: ErrSyntax}
		}
	}
	if root.Kind != Map {
		return nil, &Error{File: name, Line: root.Line, Msg: "the top level must be a mapping", Err: ErrSyntax}
	}
	for _, o := range overrides {
		if err := Override(root, o); err != nil {
			return nil, err
		}
	}
	c := &Config{Path: name, Raw: root}
	if err := c.decode(); err != nil {
		return nil, err
	}
	return c, nil
}

// Override applies one -o option "Key.sub=value" to the tree as
// PaddleClas' override_config does (ppshitu-pipeline.md §2.2): the option
// must contain exactly one '='; the key is split on '.'; at a dict the
// part is a key (intermediate keys must exist; a missing last key is
// created), at a list it is evaluated to an index that must exist
// (negative indices count from the end, as in Python); the value is
// evaluated with Eval, and kept as a string when that fails.
func Override(root *Value, opt string) error {
	bad := func(key, format string, a ...any) error {
		return &Error{Origin: opt, Key: key, Msg: fmt.Sprintf(format, a...), Err: ErrOverride}
	}
	if !strings.Contains(opt, "=") {
		return bad("", "want Key.sub=value")
	}
	pair := strings.Split(opt, "=")
	if len(pair) != 2 {
		return bad("", "there can be only one '=' in an option")
	}
	keys := strings.Split(pair[0], ".")
	val, err := Eval(pair[1])
	if err != nil {
		val = &Value{Kind: String, Str: pair[1]}
	}
	markOrigin(val, opt)
	cur := root
	for i, k := range keys {
		path := strings.Join(keys[:i+1], ".")
		last := i == len(keys)-1
		switch cur.Kind {
		case Map:
			if last {
				cur.Set(k, val)
				return nil
			}
			next, ok := cur.Fields[k]
			if !ok {
				return bad(path, "no such key (intermediate keys must exist)")
			}
			cur = next
		case List:
			iv, err := Eval(k)
			if err != nil || iv.Kind != Int {
				return bad(path, "list index %q is not an integer", k)
			}
			idx := iv.Int
			if idx < 0 {
				idx += int64(len(cur.Items))
			}
			if idx < 0 || idx >= int64(len(cur.Items)) {
				return bad(path, "index %d out of range (list of %d)", iv.Int, len(cur.Items))
			}
			if last {
				cur.Items[idx] = val
				return nil
			}
			cur = cur.Items[idx]
		default:
			return bad(strings.Join(keys[:i], "."), "%v is not a dict or a list", cur.Kind)
		}
	}
	return nil
}

func markOrigin(v *Value, opt string) {
	v.Origin = opt
	for _, it := range v.Items {
		markOrigin(it, opt)
	}
	for _, f := range v.Fields {
		markOrigin(f, opt)
	}
}

// describe formats a value for "got ..." in error messages.
func describe(v *Value) string {
	if v.Kind == String {
		return strconv.Quote(v.Str)
	}
	return v.Repr()
}
