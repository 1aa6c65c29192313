package gallery

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"math/big"
	"sort"
	"strings"

	"github.com/nlpodyssey/gopickle/pickle"
	"github.com/nlpodyssey/gopickle/types"
)

// ReadIDMap reads a PaddleClas id_map.pkl: a pickled dict from faiss id to
// doc line. Keys may be Python ints or numpy integer scalars (numpy 1 or 2
// module paths), protocols 2 to 5 (ppshitu-pipeline.md §11.6).
func ReadIDMap(r io.Reader) (map[int64]string, error) {
	u := pickle.NewUnpickler(r)
	u.FindClass = findNumpyClass
	v, err := u.Load()
	if err != nil {
		return nil, fmt.Errorf("%w: id_map.pkl: %v", ErrFormat, err)
	}
	var entries []types.DictEntry
	switch d := v.(type) {
	case *types.Dict:
		entries = *d
	case *types.OrderedDict:
		for _, e := range d.Map {
			entries = append(entries, types.DictEntry{Key: e.Key, Value: e.Value})
		}
	default:
		return nil, fmt.Errorf("%w: id_map.pkl holds %T, want a dict", ErrFormat, v)
	}
	out := make(map[int64]string, len(entries))
	for _, e := range entries {
		id, ok := pyInt(e.Key)
		if !ok {
			return nil, fmt.Errorf("%w: id_map.pkl key %v (%T) is not an integer", ErrFormat, e.Key, e.Key)
		}
		s, ok := e.Value.(string)
		if !ok {
			return nil, fmt.Errorf("%w: id_map.pkl value of id %d is %T, want str", ErrFormat, id, e.Value)
		}
		out[id] = s
	}
	return out, nil
}

func pyInt(v any) (int64, bool) {
	switch k := v.(type) {
	case int:
		return int64(k), true
	case int64:
		return k, true
	case *big.Int:
		if k.IsInt64() {
			return k.Int64(), true
		}
	case bool:
		if k {
			return 1, true
		}
		return 0, true
	}
	return 0, false
}

// numpy scalar reconstruction: scalar(dtype, payload) → int64.
type npScalar struct{}
type npDtype struct{ code string }
type codecsEncode struct{}

func (*npDtype) PySetState(any) error { return nil }

func (npDtype) Call(args ...any) (any, error) {
	if len(args) < 1 {
		return nil, fmt.Errorf("numpy.dtype without arguments")
	}
	s, _ := args[0].(string)
	return &npDtype{code: s}, nil
}

func (npScalar) Call(args ...any) (any, error) {
	if len(args) != 2 {
		return nil, fmt.Errorf("numpy scalar with %d arguments", len(args))
	}
	dt, ok := args[0].(*npDtype)
	if !ok {
		return nil, fmt.Errorf("numpy scalar dtype is %T", args[0])
	}
	var b []byte
	switch p := args[1].(type) {
	case []byte:
		b = p
	case string: // protocol 2 with _codecs.encode result, or latin-1 text
		b = latin1(p)
	default:
		return nil, fmt.Errorf("numpy scalar payload is %T", args[1])
	}
	if len(b) == 0 || len(b) > 8 {
		return nil, fmt.Errorf("numpy scalar of %d bytes", len(b))
	}
	var buf [8]byte
	copy(buf[:], b)
	signed := !strings.Contains(dt.code, "u") && !strings.Contains(dt.code, "b")
	if signed && b[len(b)-1]&0x80 != 0 {
		for i := len(b); i < 8; i++ {
			buf[i] = 0xff
		}
	}
	return int64(binary.LittleEndian.Uint64(buf[:])), nil
}

// Call mimics _codecs.encode(text, "latin1") as protocol 2 pickles bytes.
func (codecsEncode) Call(args ...any) (any, error) {
	if len(args) < 1 {
		return nil, fmt.Errorf("_codecs.encode without arguments")
	}
	s, ok := args[0].(string)
	if !ok {
		return nil, fmt.Errorf("_codecs.encode of %T", args[0])
	}
	return latin1(s), nil
}

func latin1(s string) []byte {
	b := make([]byte, 0, len(s))
	for _, r := range s {
		b = append(b, byte(r))
	}
	return b
}

func findNumpyClass(module, name string) (any, error) {
	switch {
	case (module == "numpy.core.multiarray" || module == "numpy._core.multiarray") && name == "scalar":
		return npScalar{}, nil
	case module == "numpy" && name == "dtype":
		return npDtype{}, nil
	case module == "_codecs" && name == "encode":
		return codecsEncode{}, nil
	}
	return nil, fmt.Errorf("unsupported pickled class %s.%s", module, name)
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
