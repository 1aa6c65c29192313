package config

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// errPy means a string is not a Python expression this package evaluates;
// callers then keep the raw string, as PaddleClas does on any exception.
var errPy = errors.New("not a python literal")

// LiteralEval parses s as Python's ast.literal_eval does, for the subset
// PaddleClas configs use: int, float, str, True/False/None, lists, tuples
// (returned as lists), dicts, and unary + and − on numbers. Anything else
// is an error (the caller keeps the string).
func LiteralEval(s string) (*Value, error) { return pyParse(s, false) }

// Eval evaluates s as PaddleClas' str2num does with Python's eval, for
// the subset that makes sense in a config value: everything LiteralEval
// accepts plus arithmetic on numbers (+ − * / // % **, parentheses), so
// "1/255" is 0.00392156862745098. Deliberate deviations from eval: names
// other than True/False/None (including builtins such as id or dict, which
// Python would turn into function objects) are errors, so the caller keeps
// the raw string; integers are 64-bit (an overflowing literal is an error);
// complex numbers, sets, comparisons, calls and string arithmetic are
// errors. As in Python 3, "2023-01" is a syntax error (leading zero).
func Eval(s string) (*Value, error) { return pyParse(s, true) }

func pyParse(s string, arith bool) (*Value, error) {
	// eval and literal_eval strip leading spaces and tabs.
	s = strings.TrimLeft(s, " \t")
	p := &pyParser{src: s, arith: arith}
	if err := p.lex(); err != nil {
		return nil, err
	}
	v, err := p.expr(0)
	if err != nil {
		return nil, err
	}
	if p.pos != len(p.toks) {
		return nil, fmt.Errorf("%w: trailing %q", errPy, p.toks[p.pos].text)
	}
	return v, nil
}

type tokKind uint8

const (
	tNum tokKind = iota
	tStr
	tName
	tOp
)

type pyTok struct {
	kind tokKind
	text string
	val  *Value
}

type pyParser struct {
	src   string
	toks  []pyTok
	pos   int
	arith bool
	depth int
}

func (p *pyParser) lex() error {
	s := p.src
	i := 0
	for i < len(s) {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f':
			i++
		case c >= '0' && c <= '9' || c == '.' && i+1 < len(s) && s[i+1] >= '0' && s[i+1] <= '9':
			j, v, err := lexNumber(s, i)
			if err != nil {
				return err
			}
			p.toks = append(p.toks, pyTok{kind: tNum, text: s[i:j], val: v})
			i = j
		case c == '\'' || c == '"':
			j, str, err := lexString(s, i)
			if err != nil {
				return err
			}
			p.toks = append(p.toks, pyTok{kind: tStr, text: s[i:j], val: &Value{Kind: String, Str: str}})
			i = j
		case c == '_' || c < utf8.RuneSelf && unicode.IsLetter(rune(c)):
			j := i
			for j < len(s) && (s[j] == '_' || s[j] < utf8.RuneSelf && (unicode.IsLetter(rune(s[j])) || unicode.IsDigit(rune(s[j])))) {
				j++
			}
			if j < len(s) && (s[j] == '\'' || s[j] == '"') {
				return fmt.Errorf("%w: string prefixes are not supported", errPy)
			}
			p.toks = append(p.toks, pyTok{kind: tName, text: s[i:j]})
			i = j
		default:
			op := string(c)
			if i+1 < len(s) && (s[i:i+2] == "**" || s[i:i+2] == "//") {
				op = s[i : i+2]
			}
			if !strings.Contains("+-*/%()[]{},:**//", op) {
				return fmt.Errorf("%w: unexpected %q", errPy, op)
			}
			p.toks = append(p.toks, pyTok{kind: tOp, text: op})
			i += len(op)
		}
	}
	return nil
}

// lexNumber reads a Python 3 int or float literal starting at i.
func lexNumber(s string, i int) (int, *Value, error) {
	j := i
	isDigit := func(c byte, base int) bool {
		switch base {
		case 2:
			return c == '0' || c == '1'
		case 8:
			return c >= '0' && c <= '7'
		case 16:
			return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
		}
		return c >= '0' && c <= '9'
	}
	// digits reads digits with single underscores between them.
	digits := func(base int) (string, bool) {
		start := j
		for j < len(s) && (isDigit(s[j], base) || s[j] == '_' && j > start && j+1 < len(s) && isDigit(s[j+1], base)) {
			j++
		}
		return strings.ReplaceAll(s[start:j], "_", ""), j > start
	}
	if s[j] == '0' && j+1 < len(s) && strings.ContainsRune("xXoObB", rune(s[j+1])) {
		base := map[byte]int{'x': 16, 'X': 16, 'o': 8, 'O': 8, 'b': 2, 'B': 2}[s[j+1]]
		j += 2
		if j < len(s) && s[j] == '_' {
			j++
		}
		d, ok := digits(base)
		if !ok {
			return 0, nil, fmt.Errorf("%w: bad number", errPy)
		}
		n, err := strconv.ParseInt(d, base, 64)
		if err != nil {
			return 0, nil, fmt.Errorf("%w: %v", errPy, err)
		}
		return j, &Value{Kind: Int, Int: n}, endOfNumber(s, j)
	}
	intPart, _ := digits(10)
	isFloat := false
	if j < len(s) && s[j] == '.' {
		isFloat = true
		j++
		digits(10)
	}
	if j < len(s) && (s[j] == 'e' || s[j] == 'E') {
		k := j + 1
		if k < len(s) && (s[k] == '+' || s[k] == '-') {
			k++
		}
		if k < len(s) && s[k] >= '0' && s[k] <= '9' {
			j = k
			digits(10)
			isFloat = true
		}
	}
	if j < len(s) && (s[j] == 'j' || s[j] == 'J') {
		return 0, nil, fmt.Errorf("%w: complex numbers are not supported", errPy)
	}
	text := strings.ReplaceAll(s[i:j], "_", "")
	if isFloat {
		f, err := strconv.ParseFloat(text, 64)
		if err != nil && !errors.Is(err, strconv.ErrRange) {
			return 0, nil, fmt.Errorf("%w: %v", errPy, err)
		}
		return j, &Value{Kind: Float, Float: f}, endOfNumber(s, j)
	}
	// Python 3: a decimal integer may not start with 0 unless it is all zeros.
	if len(intPart) > 1 && intPart[0] == '0' && strings.Trim(intPart, "0") != "" {
		return 0, nil, fmt.Errorf("%w: leading zeros in decimal integer literals are not permitted", errPy)
	}
	n, err := strconv.ParseInt(intPart, 10, 64)
	if err != nil {
		return 0, nil, fmt.Errorf("%w: %v", errPy, err)
	}
	return j, &Value{Kind: Int, Int: n}, endOfNumber(s, j)
}

// endOfNumber rejects "1x" or "1_": a number followed by a name character.
func endOfNumber(s string, j int) error {
	if j < len(s) && (s[j] == '_' || s[j] == '.' || s[j] < utf8.RuneSelf && (unicode.IsLetter(rune(s[j])) || unicode.IsDigit(rune(s[j])))) {
		return fmt.Errorf("%w: invalid number", errPy)
	}
	return nil
}

// lexString reads a single- or double-quoted Python string (no triple
// quotes, no prefixes) with the common backslash escapes.
func lexString(s string, i int) (int, string, error) {
	q := s[i]
	var b strings.Builder
	j := i + 1
	for j < len(s) {
		c := s[j]
		switch {
		case c == q:
			return j + 1, b.String(), nil
		case c == '\n':
			return 0, "", fmt.Errorf("%w: unterminated string", errPy)
		case c == '\\' && j+1 < len(s):
			e := s[j+1]
			j += 2
			switch e {
			case 'n':
				b.WriteByte('\n')
			case 't':
				b.WriteByte('\t')
			case 'r':
				b.WriteByte('\r')
			case '0':
				b.WriteByte(0)
			case '\\', '\'', '"':
				b.WriteByte(e)
			case '\n':
			case 'x':
				if j+2 > len(s) {
					return 0, "", fmt.Errorf("%w: bad \\x escape", errPy)
				}
				n, err := strconv.ParseUint(s[j:j+2], 16, 8)
				if err != nil {
					return 0, "", fmt.Errorf("%w: bad \\x escape", errPy)
				}
				b.WriteRune(rune(n))
				j += 2
			default:
				// Python keeps unknown escapes as written.
				b.WriteByte('\\')
				b.WriteByte(e)
			}
		default:
			b.WriteByte(c)
			j++
		}
	}
	return 0, "", fmt.Errorf("%w: unterminated string", errPy)
}

func (p *pyParser) peek() *pyTok {
	if p.pos < len(p.toks) {
		return &p.toks[p.pos]
	}
	return nil
}

func (p *pyParser) isOp(op string) bool {
	t := p.peek()
	return t != nil && t.kind == tOp && t.text == op
}

// Binding powers: + − 10, * / // % 20, unary 30, ** 40 (right-assoc,
// binds tighter than a unary operator on its left: -2**2 = -4).
func binPower(op string) int {
	switch op {
	case "+", "-":
		return 10
	case "*", "/", "//", "%":
		return 20
	case "**":
		return 40
	}
	return 0
}

func (p *pyParser) expr(minPower int) (*Value, error) {
	p.depth++
	defer func() { p.depth-- }()
	if p.depth > 100 {
		return nil, fmt.Errorf("%w: nested too deeply", errPy)
	}
	var left *Value
	var err error
	if p.isOp("-") || p.isOp("+") {
		op := p.toks[p.pos].text
		p.pos++
		operand, err := p.expr(30)
		if err != nil {
			return nil, err
		}
		if !p.arith && operand.Kind != Int && operand.Kind != Float {
			return nil, fmt.Errorf("%w: unary %s on %v", errPy, op, operand.Kind)
		}
		left, err = unary(op, operand)
		if err != nil {
			return nil, err
		}
	} else if left, err = p.atom(); err != nil {
		return nil, err
	}
	for {
		t := p.peek()
		if t == nil || t.kind != tOp {
			return left, nil
		}
		pw := binPower(t.text)
		if pw == 0 || pw < minPower || pw == minPower && t.text != "**" {
			return left, nil
		}
		if !p.arith {
			return nil, fmt.Errorf("%w: operator %s in a literal", errPy, t.text)
		}
		p.pos++
		next := pw
		if t.text == "**" {
			next = 30 // right operand may carry a unary sign
		}
		right, err := p.expr(next)
		if err != nil {
			return nil, err
		}
		if left, err = binary(t.text, left, right); err != nil {
			return nil, err
		}
	}
}

func (p *pyParser) atom() (*Value, error) {
	t := p.peek()
	if t == nil {
		return nil, fmt.Errorf("%w: unexpected end", errPy)
	}
	p.pos++
	switch t.kind {
	case tNum:
		v := *t.val
		return &v, nil
	case tStr:
		s := t.val.Str
		// Adjacent string literals concatenate.
		for q := p.peek(); q != nil && q.kind == tStr; q = p.peek() {
			s += q.val.Str
			p.pos++
		}
		return &Value{Kind: String, Str: s}, nil
	case tName:
		switch t.text {
		case "True":
			return &Value{Kind: Bool, Bool: true}, nil
		case "False":
			return &Value{Kind: Bool}, nil
		case "None":
			return &Value{Kind: Null}, nil
		}
		return nil, fmt.Errorf("%w: name %q", errPy, t.text)
	}
	switch t.text {
	case "(":
		if p.isOp(")") {
			p.pos++
			return &Value{Kind: List}, nil
		}
		first, err := p.expr(0)
		if err != nil {
			return nil, err
		}
		if p.isOp(")") {
			p.pos++
			return first, nil
		}
		items := []*Value{first}
		for p.isOp(",") {
			p.pos++
			if p.isOp(")") {
				break
			}
			v, err := p.expr(0)
			if err != nil {
				return nil, err
			}
			items = append(items, v)
		}
		if !p.isOp(")") {
			return nil, fmt.Errorf("%w: missing )", errPy)
		}
		p.pos++
		return &Value{Kind: List, Items: items}, nil
	case "[":
		v := &Value{Kind: List}
		for !p.isOp("]") {
			it, err := p.expr(0)
			if err != nil {
				return nil, err
			}
			v.Items = append(v.Items, it)
			if p.isOp(",") {
				p.pos++
			} else if !p.isOp("]") {
				return nil, fmt.Errorf("%w: missing ]", errPy)
			}
		}
		p.pos++
		return v, nil
	case "{":
		v := NewMap()
		for !p.isOp("}") {
			k, err := p.expr(0)
			if err != nil {
				return nil, err
			}
			if !p.isOp(":") {
				return nil, fmt.Errorf("%w: sets are not supported", errPy)
			}
			p.pos++
			val, err := p.expr(0)
			if err != nil {
				return nil, err
			}
			v.Set(keyString(k), val)
			if p.isOp(",") {
				p.pos++
			} else if !p.isOp("}") {
				return nil, fmt.Errorf("%w: missing }", errPy)
			}
		}
		p.pos++
		return v, nil
	}
	return nil, fmt.Errorf("%w: unexpected %q", errPy, t.text)
}

// keyString turns a dict key into the string key of a Map: strings stay,
// other values use their Python repr (a deviation: Python keeps typed keys).
func keyString(k *Value) string {
	if k.Kind == String {
		return k.Str
	}
	return k.Repr()
}

func unary(op string, v *Value) (*Value, error) {
	switch v.Kind {
	case Int, Bool:
		n := v.Int
		if v.Kind == Bool {
			n = 0
			if v.Bool {
				n = 1
			}
		}
		if op == "-" {
			if n == math.MinInt64 {
				return nil, fmt.Errorf("%w: integer overflow", errPy)
			}
			n = -n
		}
		return &Value{Kind: Int, Int: n}, nil
	case Float:
		f := v.Float
		if op == "-" {
			f = -f
		}
		return &Value{Kind: Float, Float: f}, nil
	}
	return nil, fmt.Errorf("%w: bad operand type for unary %s: %v", errPy, op, v.Kind)
}

// binary applies a Python arithmetic operator to two numbers.
func binary(op string, a, b *Value) (*Value, error) {
	af, aok := a.Number()
	bf, bok := b.Number()
	if !aok || !bok {
		return nil, fmt.Errorf("%w: unsupported operand types for %s: %v and %v", errPy, op, a.Kind, b.Kind)
	}
	ints := a.Kind != Float && b.Kind != Float
	if ints {
		x, y := int64(af), int64(bf)
		if a.Kind == Int {
			x = a.Int
		}
		if b.Kind == Int {
			y = b.Int
		}
		switch op {
		case "+", "-", "*":
			r, ok := intArith(op, x, y)
			if !ok {
				return nil, fmt.Errorf("%w: integer overflow", errPy)
			}
			return &Value{Kind: Int, Int: r}, nil
		case "//", "%":
			if y == 0 {
				return nil, fmt.Errorf("%w: division by zero", errPy)
			}
			q, m := x/y, x%y
			if m != 0 && (m < 0) != (y < 0) {
				q--
				m += y
			}
			if op == "//" {
				return &Value{Kind: Int, Int: q}, nil
			}
			return &Value{Kind: Int, Int: m}, nil
		case "**":
			if y >= 0 {
				r := int64(1)
				for range y {
					var ok bool
					if r, ok = intArith("*", r, x); !ok {
						return nil, fmt.Errorf("%w: integer overflow", errPy)
					}
				}
				return &Value{Kind: Int, Int: r}, nil
			}
			if x == 0 {
				return nil, fmt.Errorf("%w: division by zero", errPy)
			}
			return &Value{Kind: Float, Float: math.Pow(float64(x), float64(y))}, nil
		case "/":
			if y == 0 {
				return nil, fmt.Errorf("%w: division by zero", errPy)
			}
			return &Value{Kind: Float, Float: float64(x) / float64(y)}, nil
		}
	}
	var r float64
	switch op {
	case "+":
		r = af + bf
	case "-":
		r = af - bf
	case "*":
		r = af * bf
	case "/":
		if bf == 0 {
			return nil, fmt.Errorf("%w: division by zero", errPy)
		}
		r = af / bf
	case "//", "%":
		if bf == 0 {
			return nil, fmt.Errorf("%w: division by zero", errPy)
		}
		m := math.Mod(af, bf)
		if m != 0 && (m < 0) != (bf < 0) {
			m += bf
		}
		if op == "%" {
			r = m
		} else {
			r = math.Round((af - m) / bf)
		}
	case "**":
		if af < 0 && bf != math.Trunc(bf) {
			return nil, fmt.Errorf("%w: complex result", errPy)
		}
		if af == 0 && bf < 0 {
			return nil, fmt.Errorf("%w: division by zero", errPy)
		}
		r = math.Pow(af, bf)
	}
	if math.IsInf(r, 0) && !math.IsInf(af, 0) && !math.IsInf(bf, 0) {
		return nil, fmt.Errorf("%w: float overflow", errPy)
	}
	return &Value{Kind: Float, Float: r}, nil
}

func intArith(op string, x, y int64) (int64, bool) {
	switch op {
	case "+":
		r := x + y
		return r, (r > x) == (y > 0)
	case "-":
		r := x - y
		return r, (r < x) == (y > 0)
	case "*":
		if x == 0 || y == 0 {
			return 0, true
		}
		r := x * y
		return r, r/y == x && !(x == -1 && y == math.MinInt64) && !(y == -1 && x == math.MinInt64)
	}
	return 0, false
}
