package config

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// PyYAML's YAML 1.1 implicit resolvers (ppshitu-pipeline.md §2.1: configs
// are read with SafeLoader). They differ from YAML 1.2: yes/no/on/off are
// booleans, a float needs a '.', exponents need a sign, 010 is octal.
var (
	reBool  = regexp.MustCompile(`^(?:yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF)$`)
	reNull  = regexp.MustCompile(`^(?:~|null|Null|NULL|)$`)
	reInt   = regexp.MustCompile(`^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+)$`)
	reFloat = regexp.MustCompile(`^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9_]+(?:[eE][-+][0-9]+)?|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$`)
)

// resolvePlain types a plain (unquoted) YAML scalar as PyYAML does.
func resolvePlain(s string) *Value {
	switch {
	case reBool.MatchString(s):
		c := s[0]
		return &Value{Kind: Bool, Bool: c == 'y' || c == 'Y' || c == 't' || c == 'T' || s == "on" || s == "On" || s == "ON"}
	case reNull.MatchString(s):
		return &Value{Kind: Null}
	case reInt.MatchString(s):
		if n, ok := yamlInt(s); ok {
			return &Value{Kind: Int, Int: n}
		}
	case reFloat.MatchString(s):
		return &Value{Kind: Float, Float: yamlFloat(s)}
	}
	return &Value{Kind: String, Str: s}
}

func yamlInt(s string) (int64, bool) {
	s = strings.ReplaceAll(s, "_", "")
	sign := int64(1)
	if s[0] == '-' || s[0] == '+' {
		if s[0] == '-' {
			sign = -1
		}
		s = s[1:]
	}
	var n int64
	var err error
	switch {
	case s == "0":
		return 0, true
	case strings.HasPrefix(s, "0b"):
		n, err = strconv.ParseInt(s[2:], 2, 64)
	case strings.HasPrefix(s, "0x"):
		n, err = strconv.ParseInt(s[2:], 16, 64)
	case s[0] == '0':
		n, err = strconv.ParseInt(s[1:], 8, 64)
	case strings.Contains(s, ":"):
		for _, part := range strings.Split(s, ":") {
			d, e := strconv.ParseInt(part, 10, 64)
			if e != nil || n > math.MaxInt64/60 {
				return 0, false
			}
			n = n*60 + d
		}
	default:
		n, err = strconv.ParseInt(s, 10, 64)
	}
	return sign * n, err == nil
}

func yamlFloat(s string) float64 {
	s = strings.ToLower(strings.ReplaceAll(s, "_", ""))
	sign := 1.0
	if s[0] == '-' || s[0] == '+' {
		if s[0] == '-' {
			sign = -1
		}
		s = s[1:]
	}
	switch {
	case s == ".inf":
		return sign * math.Inf(1)
	case s == ".nan":
		return math.NaN()
	case strings.Contains(s, ":"):
		parts := strings.Split(s, ":")
		var f float64
		for _, p := range parts {
			d, _ := strconv.ParseFloat(p, 64)
			f = f*60 + d
		}
		return sign * f
	}
	f, _ := strconv.ParseFloat(s, 64)
	return sign * f
}

// fromNode converts a yaml.v3 node to a Value. literal applies PaddleClas'
// create_attr_dict pass: string values directly inside a mapping that is
// itself reached through mappings only are replaced by their
// ast.literal_eval result when that succeeds (§2.1); lists are not walked.
func fromNode(n *yaml.Node, literal bool, depth int) (*Value, error) {
	budget := maxValues
	return fromNodeBudget(n, literal, depth, &budget)
}

// maxValues bounds the values one document may expand to, so aliases
// cannot blow up ("billion laughs").
const maxValues = 1 << 18

func fromNodeBudget(n *yaml.Node, literal bool, depth int, budget *int) (*Value, error) {
	*budget--
	if *budget < 0 {
		return nil, fmt.Errorf("line %d: document expands to too many values (aliases?)", n.Line)
	}
	if depth > 200 {
		return nil, fmt.Errorf("line %d: nested too deeply", n.Line)
	}
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return &Value{Kind: Null, Line: n.Line}, nil
		}
		return fromNodeBudget(n.Content[0], literal, depth+1, budget)
	case yaml.AliasNode:
		if n.Alias == nil {
			return nil, fmt.Errorf("line %d: unknown alias", n.Line)
		}
		v, err := fromNodeBudget(n.Alias, literal, depth+1, budget)
		if err != nil {
			return nil, err
		}
		v.Line = n.Line
		return v, nil
	case yaml.ScalarNode:
		var v *Value
		switch {
		case n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle|yaml.LiteralStyle|yaml.FoldedStyle) != 0:
			v = &Value{Kind: String, Str: n.Value}
		case n.Style&yaml.TaggedStyle != 0 && n.Tag != "!!int" && n.Tag != "!!float" && n.Tag != "!!bool" && n.Tag != "!!null":
			// An explicit !!str (or any other tag) keeps the text.
			v = &Value{Kind: String, Str: n.Value}
		default:
			v = resolvePlain(n.Value)
		}
		v.Line = n.Line
		return v, nil
	case yaml.SequenceNode:
		v := &Value{Kind: List, Line: n.Line}
		for _, c := range n.Content {
			it, err := fromNodeBudget(c, false, depth+1, budget)
			if err != nil {
				return nil, err
			}
			v.Items = append(v.Items, it)
		}
		return v, nil
	case yaml.MappingNode:
		v := NewMap()
		v.Line = n.Line
		for i := 0; i+1 < len(n.Content); i += 2 {
			kn, vn := n.Content[i], n.Content[i+1]
			if kn.Kind != yaml.ScalarNode {
				return nil, fmt.Errorf("line %d: mapping keys must be scalars", kn.Line)
			}
			key := kn.Value
			if key == "<<" && kn.Tag == "!!merge" {
				return nil, fmt.Errorf("line %d: merge keys (<<) are not supported", kn.Line)
			}
			f, err := fromNodeBudget(vn, literal, depth+1, budget)
			if err != nil {
				return nil, err
			}
			if literal && f.Kind == String {
				if lv, err := LiteralEval(f.Str); err == nil {
					lv.Line = f.Line
					f = lv
				}
			}
			if _, dup := v.Fields[key]; dup {
				// PyYAML keeps the last value of a repeated key.
				v.Fields[key] = f
				continue
			}
			v.Set(key, f)
		}
		return v, nil
	}
	return nil, fmt.Errorf("line %d: unsupported YAML node", n.Line)
}
