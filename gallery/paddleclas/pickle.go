package paddleclas

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/shitu-go/shitu/gallery"
)

// ReadIDMap reads a PaddleClas id_map.pkl: a pickled dict from faiss id to
// doc line. Keys may be Python ints or numpy integer scalars (numpy 1 or 2
// module paths), protocols 2 to 5 (ppshitu-pipeline.md §11.6). The reader
// is a small pickle machine for exactly the opcodes such files use; every
// length is checked against the input, so hostile bytes cannot make it
// allocate more than the input size or panic.
func ReadIDMap(r io.Reader) (map[int64]string, error) {
	b, err := io.ReadAll(io.LimitReader(r, 1<<31))
	if err != nil {
		return nil, fmt.Errorf("paddleclas: read id_map.pkl: %w", err)
	}
	v, err := (&unpickler{b: b, memo: map[uint32]any{}}).run()
	if err != nil {
		return nil, fmt.Errorf("%w: id_map.pkl: %v", gallery.ErrFormat, err)
	}
	d, ok := v.(*pyDict)
	if !ok {
		return nil, fmt.Errorf("%w: id_map.pkl holds %T, want a dict", gallery.ErrFormat, v)
	}
	out := make(map[int64]string, len(d.keys))
	for i, k := range d.keys {
		id, ok := k.(int64)
		if !ok {
			return nil, fmt.Errorf("%w: id_map.pkl key %v (%T) is not an integer", gallery.ErrFormat, k, k)
		}
		s, ok := d.vals[i].(string)
		if !ok {
			return nil, fmt.Errorf("%w: id_map.pkl value of id %d is %T, want str", gallery.ErrFormat, id, d.vals[i])
		}
		out[id] = s
	}
	return out, nil
}

type pyDict struct{ keys, vals []any }

type pyGlobal struct{ module, name string }

type pyMark struct{}

type npDtype struct{ code string }

type unpickler struct {
	b     []byte
	pos   int
	stack []any
	marks []int
	memo  map[uint32]any
}

var errPickle = errors.New("malformed pickle")

func (u *unpickler) take(n uint64) ([]byte, error) {
	if n > uint64(len(u.b)-u.pos) {
		return nil, fmt.Errorf("%w: length %d past the end", errPickle, n)
	}
	p := u.b[u.pos : u.pos+int(n)]
	u.pos += int(n)
	return p, nil
}

func (u *unpickler) uint(n int) (uint64, error) {
	p, err := u.take(uint64(n))
	if err != nil {
		return 0, err
	}
	var buf [8]byte
	copy(buf[:], p)
	return binary.LittleEndian.Uint64(buf[:]), nil
}

func (u *unpickler) pop() (any, error) {
	if len(u.stack) == 0 || (len(u.marks) > 0 && len(u.stack) <= u.marks[len(u.marks)-1]) {
		return nil, fmt.Errorf("%w: stack underflow", errPickle)
	}
	v := u.stack[len(u.stack)-1]
	u.stack = u.stack[:len(u.stack)-1]
	return v, nil
}

func (u *unpickler) popMark() ([]any, error) {
	if len(u.marks) == 0 {
		return nil, fmt.Errorf("%w: no mark", errPickle)
	}
	m := u.marks[len(u.marks)-1]
	u.marks = u.marks[:len(u.marks)-1]
	items := append([]any(nil), u.stack[m:]...)
	u.stack = u.stack[:m]
	return items, nil
}

func (u *unpickler) run() (any, error) {
	for {
		op, err := u.take(1)
		if err != nil {
			return nil, fmt.Errorf("%w: no STOP", errPickle)
		}
		switch op[0] {
		case 0x80: // PROTO
			if _, err = u.take(1); err != nil {
				return nil, err
			}
		case 0x95: // FRAME: frames are just the following bytes
			n, err := u.uint(8)
			if err != nil || n > uint64(len(u.b)-u.pos) {
				return nil, fmt.Errorf("%w: bad frame", errPickle)
			}
		case '.': // STOP
			return u.pop()
		case '}': // EMPTY_DICT
			u.stack = append(u.stack, &pyDict{})
		case ')': // EMPTY_TUPLE
			u.stack = append(u.stack, []any{})
		case '(': // MARK
			u.marks = append(u.marks, len(u.stack))
		case 'N':
			u.stack = append(u.stack, nil)
		case 0x88, 0x89: // NEWTRUE, NEWFALSE
			u.stack = append(u.stack, op[0] == 0x88)
		case 'K', 'M', 'J': // BININT1, BININT2, BININT
			n := map[byte]int{'K': 1, 'M': 2, 'J': 4}[op[0]]
			v, err := u.uint(n)
			if err != nil {
				return nil, err
			}
			if op[0] == 'J' {
				u.stack = append(u.stack, int64(int32(uint32(v))))
			} else {
				u.stack = append(u.stack, int64(v))
			}
		case 0x8a: // LONG1
			n, err := u.uint(1)
			if err != nil {
				return nil, err
			}
			p, err := u.take(n)
			if err != nil || n > 8 {
				return nil, fmt.Errorf("%w: integer of %d bytes", errPickle, n)
			}
			u.stack = append(u.stack, leInt(p))
		case 0x8c, 'X', 0x8d, 'C', 'B', 0x8e, 'U', 'T': // strings and bytes
			var width int
			switch op[0] {
			case 0x8c, 'C', 'U':
				width = 1
			case 'X', 'B', 'T':
				width = 4
			default:
				width = 8
			}
			n, err := u.uint(width)
			if err != nil {
				return nil, err
			}
			p, err := u.take(n)
			if err != nil {
				return nil, err
			}
			switch op[0] {
			case 0x8c, 'X', 0x8d:
				u.stack = append(u.stack, string(p))
			case 'U', 'T': // SHORT_BINSTRING / BINSTRING (protocol 2 str)
				u.stack = append(u.stack, string(p))
			default:
				u.stack = append(u.stack, bytes.Clone(p))
			}
		case 'c': // GLOBAL module\nname\n
			mod, err := u.line()
			if err != nil {
				return nil, err
			}
			name, err := u.line()
			if err != nil {
				return nil, err
			}
			u.stack = append(u.stack, pyGlobal{mod, name})
		case 0x93: // STACK_GLOBAL
			name, err1 := u.pop()
			mod, err2 := u.pop()
			ms, ok1 := mod.(string)
			ns, ok2 := name.(string)
			if err1 != nil || err2 != nil || !ok1 || !ok2 {
				return nil, fmt.Errorf("%w: STACK_GLOBAL", errPickle)
			}
			u.stack = append(u.stack, pyGlobal{ms, ns})
		case 0x85, 0x86, 0x87: // TUPLE1..3
			n := int(op[0] - 0x84)
			if len(u.stack) < n || (len(u.marks) > 0 && len(u.stack)-n < u.marks[len(u.marks)-1]) {
				return nil, fmt.Errorf("%w: stack underflow", errPickle)
			}
			t := append([]any(nil), u.stack[len(u.stack)-n:]...)
			u.stack = append(u.stack[:len(u.stack)-n], t)
		case 't': // TUPLE
			t, err := u.popMark()
			if err != nil {
				return nil, err
			}
			u.stack = append(u.stack, t)
		case 'R': // REDUCE
			args, err1 := u.pop()
			fn, err2 := u.pop()
			if err1 != nil || err2 != nil {
				return nil, fmt.Errorf("%w: REDUCE", errPickle)
			}
			v, err := reduce(fn, args)
			if err != nil {
				return nil, err
			}
			u.stack = append(u.stack, v)
		case 'b': // BUILD: only numpy dtype state is expected (ignored)
			if _, err := u.pop(); err != nil {
				return nil, err
			}
			if len(u.stack) == 0 {
				return nil, fmt.Errorf("%w: BUILD", errPickle)
			}
			if _, ok := u.stack[len(u.stack)-1].(*npDtype); !ok {
				return nil, fmt.Errorf("%w: BUILD on %T", errPickle, u.stack[len(u.stack)-1])
			}
		case 0x94, 'q', 'r': // MEMOIZE, BINPUT, LONG_BINPUT
			var idx uint64 = uint64(len(u.memo))
			if op[0] != 0x94 {
				if idx, err = u.uint(map[byte]int{'q': 1, 'r': 4}[op[0]]); err != nil {
					return nil, err
				}
			}
			if len(u.stack) == 0 {
				return nil, fmt.Errorf("%w: memo of empty stack", errPickle)
			}
			u.memo[uint32(idx)] = u.stack[len(u.stack)-1]
		case 'h', 'j': // BINGET, LONG_BINGET
			idx, err := u.uint(map[byte]int{'h': 1, 'j': 4}[op[0]])
			if err != nil {
				return nil, err
			}
			v, ok := u.memo[uint32(idx)]
			if !ok {
				return nil, fmt.Errorf("%w: memo %d unset", errPickle, idx)
			}
			u.stack = append(u.stack, v)
		case 's', 'u': // SETITEM, SETITEMS
			var kv []any
			if op[0] == 's' {
				v, err1 := u.pop()
				k, err2 := u.pop()
				if err1 != nil || err2 != nil {
					return nil, fmt.Errorf("%w: SETITEM", errPickle)
				}
				kv = []any{k, v}
			} else if kv, err = u.popMark(); err != nil || len(kv)%2 != 0 {
				return nil, fmt.Errorf("%w: SETITEMS", errPickle)
			}
			if len(u.stack) == 0 {
				return nil, fmt.Errorf("%w: SETITEMS without dict", errPickle)
			}
			d, ok := u.stack[len(u.stack)-1].(*pyDict)
			if !ok {
				return nil, fmt.Errorf("%w: SETITEMS on %T", errPickle, u.stack[len(u.stack)-1])
			}
			for i := 0; i < len(kv); i += 2 {
				d.keys = append(d.keys, kv[i])
				d.vals = append(d.vals, kv[i+1])
			}
		default:
			return nil, fmt.Errorf("%w: unsupported opcode 0x%02x at %d", errPickle, op[0], u.pos-1)
		}
	}
}

func (u *unpickler) line() (string, error) {
	i := bytes.IndexByte(u.b[u.pos:], '\n')
	if i < 0 {
		return "", fmt.Errorf("%w: unterminated line", errPickle)
	}
	s := string(u.b[u.pos : u.pos+i])
	u.pos += i + 1
	return s, nil
}

// leInt decodes little-endian two's complement (LONG1, numpy payloads).
func leInt(p []byte) int64 {
	var buf [8]byte
	copy(buf[:], p)
	if len(p) > 0 && len(p) < 8 && p[len(p)-1]&0x80 != 0 {
		for i := len(p); i < 8; i++ {
			buf[i] = 0xff
		}
	}
	return int64(binary.LittleEndian.Uint64(buf[:]))
}

// reduce applies the few callables id_map pickles use: numpy's scalar
// reconstructor, numpy.dtype, and _codecs.encode (protocol 2 bytes).
func reduce(fn, args any) (any, error) {
	g, ok := fn.(pyGlobal)
	a, ok2 := args.([]any)
	if !ok || !ok2 {
		return nil, fmt.Errorf("%w: REDUCE of %T", errPickle, fn)
	}
	switch {
	case (g.module == "numpy.core.multiarray" || g.module == "numpy._core.multiarray") && g.name == "scalar":
		if len(a) != 2 {
			return nil, fmt.Errorf("%w: numpy scalar with %d arguments", errPickle, len(a))
		}
		dt, ok := a[0].(*npDtype)
		var p []byte
		switch v := a[1].(type) {
		case []byte:
			p = v
		case string:
			p = latin1(v)
		}
		if !ok || len(p) == 0 || len(p) > 8 {
			return nil, fmt.Errorf("%w: numpy scalar payload", errPickle)
		}
		if strings.ContainsAny(dt.code, "ub") && len(p) < 8 {
			var buf [8]byte
			copy(buf[:], p)
			return int64(binary.LittleEndian.Uint64(buf[:])), nil
		}
		return leInt(p), nil
	case g.module == "numpy" && g.name == "dtype":
		if len(a) < 1 {
			return nil, fmt.Errorf("%w: numpy.dtype()", errPickle)
		}
		code, _ := a[0].(string)
		return &npDtype{code: code}, nil
	case g.module == "_codecs" && g.name == "encode":
		if len(a) < 1 {
			return nil, fmt.Errorf("%w: _codecs.encode()", errPickle)
		}
		s, ok := a[0].(string)
		if !ok {
			return nil, fmt.Errorf("%w: _codecs.encode of %T", errPickle, a[0])
		}
		return latin1(s), nil
	}
	return nil, fmt.Errorf("%w: unsupported callable %s.%s", errPickle, g.module, g.name)
}

func latin1(s string) []byte {
	b := make([]byte, 0, len(s))
	for _, r := range s {
		b = append(b, byte(r))
	}
	return b
}

// WriteIDMap writes m as a pickle (protocol 4) of a dict {int: str} in
// ascending id order, as CPython's pickle.load reads it. PaddleClas looks
// the dict up with numpy int64 ids, which hash and compare equal to ints.
func WriteIDMap(w io.Writer, m map[int64]string) error {
	ids := make([]int64, 0, len(m))
	for id := range m {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	var b bytes.Buffer
	b.Write([]byte{0x80, 4, '}'}) // PROTO 4, EMPTY_DICT
	for start := 0; start < len(ids); start += 1000 {
		end := min(start+1000, len(ids))
		b.WriteByte('(') // MARK
		for _, id := range ids[start:end] {
			pickleInt(&b, id)
			s := m[id]
			if len(s) < 256 {
				b.WriteByte(0x8c) // SHORT_BINUNICODE
				b.WriteByte(byte(len(s)))
			} else {
				b.WriteByte('X') // BINUNICODE
				b.Write(binary.LittleEndian.AppendUint32(nil, uint32(len(s))))
			}
			b.WriteString(s)
		}
		b.WriteByte('u') // SETITEMS
	}
	b.WriteByte('.') // STOP
	_, err := w.Write(b.Bytes())
	return err
}

func pickleInt(b *bytes.Buffer, v int64) {
	switch {
	case v >= 0 && v < 256:
		b.WriteByte('K')
		b.WriteByte(byte(v))
	case v >= 0 && v < 65536:
		b.WriteByte('M')
		b.Write(binary.LittleEndian.AppendUint16(nil, uint16(v)))
	case v >= -1<<31 && v < 1<<31:
		b.WriteByte('J')
		b.Write(binary.LittleEndian.AppendUint32(nil, uint32(int32(v))))
	default: // LONG1: minimal little-endian two's complement
		var enc []byte
		x := v
		for {
			enc = append(enc, byte(x))
			x >>= 8
			last := enc[len(enc)-1]
			if (x == 0 && last&0x80 == 0) || (x == -1 && last&0x80 != 0) {
				break
			}
		}
		b.WriteByte(0x8a)
		b.WriteByte(byte(len(enc)))
		b.Write(enc)
	}
}
