package paddle

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/shitu-go/shitu/tensor"
)

// Tensor is one parameter as stored in a .pdiparams record: element type,
// dims and the raw little-endian row-major bytes.
type Tensor struct {
	DType DType
	Dims  []int64
	Data  []byte
}

// Numel is the number of elements (product of Dims).
func (t *Tensor) Numel() int64 {
	n := int64(1)
	for _, d := range t.Dims {
		n *= d
	}
	return n
}

// Float32s decodes an FP32 tensor's data; it fails for other element types.
func (t *Tensor) Float32s() ([]float32, error) {
	if t.DType != FP32 {
		return nil, fmt.Errorf("%w: tensor is %v, not float32", ErrConvert, t.DType)
	}
	out := make([]float32, len(t.Data)/4)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(t.Data[4*i:]))
	}
	return out, nil
}

// ToTensor converts to a tensor.Tensor (float32, int32, int64 and uint8 only).
func (t *Tensor) ToTensor() (*tensor.Tensor, error) {
	shape := make([]int, len(t.Dims))
	for i, d := range t.Dims {
		shape[i] = int(d)
	}
	switch t.DType {
	case FP32:
		f, _ := t.Float32s()
		return tensor.New(shape, f)
	case Int32:
		v := make([]int32, len(t.Data)/4)
		for i := range v {
			v[i] = int32(binary.LittleEndian.Uint32(t.Data[4*i:]))
		}
		return tensor.New(shape, v)
	case Int64:
		v := make([]int64, len(t.Data)/8)
		for i := range v {
			v[i] = int64(binary.LittleEndian.Uint64(t.Data[8*i:]))
		}
		return tensor.New(shape, v)
	case Uint8:
		return tensor.New(shape, append([]byte(nil), t.Data...))
	}
	return nil, fmt.Errorf("%w: %v tensors have no tensor.Tensor form", ErrConvert, t.DType)
}

// NewFloat32 makes an FP32 Tensor from values (for writers and tests).
func NewFloat32(dims []int64, v []float32) *Tensor {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
	return &Tensor{DType: FP32, Dims: append([]int64(nil), dims...), Data: b}
}

// maxRecordDims bounds the rank of a record so hostile files cannot make us
// multiply huge dim lists.
const maxRecordDims = 16

// readRecord decodes one save_combine record (models-and-formats §C.3)
// from the front of b and returns it with the number of bytes consumed.
func readRecord(b []byte) (*Tensor, int, error) {
	off := 0
	need := func(n int, what string) error {
		if n < 0 || len(b)-off < n {
			return fmt.Errorf("%w: truncated record: %s needs %d bytes, %d left", ErrFormat, what, n, len(b)-off)
		}
		return nil
	}
	if err := need(12, "header"); err != nil {
		return nil, 0, err
	}
	if v := binary.LittleEndian.Uint32(b[off:]); v != 0 {
		return nil, 0, fmt.Errorf("%w: LoD tensor version %d, want 0", ErrFormat, v)
	}
	lodLevel := binary.LittleEndian.Uint64(b[off+4:])
	off += 12
	if lodLevel > 64 {
		return nil, 0, fmt.Errorf("%w: lod_level %d is implausible", ErrFormat, lodLevel)
	}
	for i := uint64(0); i < lodLevel; i++ {
		if err := need(8, "LoD level size"); err != nil {
			return nil, 0, err
		}
		n := binary.LittleEndian.Uint64(b[off:])
		off += 8
		if n > uint64(len(b)) {
			return nil, 0, fmt.Errorf("%w: truncated record: LoD level of %d bytes", ErrFormat, n)
		}
		if err := need(int(n), "LoD level"); err != nil {
			return nil, 0, err
		}
		off += int(n)
	}
	if err := need(8, "tensor header"); err != nil {
		return nil, 0, err
	}
	if v := binary.LittleEndian.Uint32(b[off:]); v != 0 {
		return nil, 0, fmt.Errorf("%w: tensor version %d, want 0", ErrFormat, v)
	}
	dsize := int32(binary.LittleEndian.Uint32(b[off+4:]))
	off += 8
	if err := need(int(dsize), "TensorDesc"); err != nil {
		return nil, 0, err
	}
	t := &Tensor{DType: -1}
	if err := parseTensorDesc(b[off:off+int(dsize)], &t.DType, &t.Dims); err != nil {
		return nil, 0, err
	}
	off += int(dsize)
	es := t.DType.Size()
	if es == 0 {
		return nil, 0, fmt.Errorf("%w: record element type %v has no size", ErrFormat, t.DType)
	}
	if len(t.Dims) > maxRecordDims {
		return nil, 0, fmt.Errorf("%w: record has %d dims", ErrFormat, len(t.Dims))
	}
	size := int64(es)
	rem := int64(len(b) - off)
	for _, d := range t.Dims {
		if d < 0 {
			return nil, 0, fmt.Errorf("%w: record has negative dim %d", ErrFormat, d)
		}
		if d == 0 {
			size = 0
		}
	}
	for _, d := range t.Dims {
		if size == 0 {
			break
		}
		if size > rem/d {
			return nil, 0, fmt.Errorf("%w: truncated record: data of %v %v needs more than the %d bytes left", ErrFormat, t.DType, t.Dims, rem)
		}
		size *= d
	}
	if size > rem {
		return nil, 0, fmt.Errorf("%w: truncated record: data of %v %v needs %d bytes, %d left", ErrFormat, t.DType, t.Dims, size, rem)
	}
	t.Data = b[off : off+int(size)]
	off += int(size)
	return t, off, nil
}

// ParseParams decodes a combined .pdiparams (or __params__) file against
// the program's persistable variables: records are read in bytewise name
// order, each record's dtype and dims must equal its VarDesc (-1 dims in the
// VarDesc match anything), and the file must end exactly after the last
// record (models-and-formats §C.3). The tensors alias data.
func ParseParams(data []byte, prog *Program) (map[string]*Tensor, error) {
	vars := prog.Persistables()
	out := make(map[string]*Tensor, len(vars))
	off := 0
	for i, v := range vars {
		if off >= len(data) {
			return nil, fmt.Errorf("%w: file ends after %d of %d records; next is %q", ErrParams, i, len(vars), v.Name)
		}
		t, n, err := readRecord(data[off:])
		if err != nil {
			return nil, fmt.Errorf("record %d (%q) at byte %d: %w", i, v.Name, off, err)
		}
		if err := checkRecord(v, t); err != nil {
			return nil, fmt.Errorf("record %d at byte %d: %w", i, off, err)
		}
		out[v.Name] = t
		off += n
	}
	if off != len(data) {
		return nil, fmt.Errorf("%w: %d trailing bytes after %d records", ErrParams, len(data)-off, len(vars))
	}
	return out, nil
}

// ParseRecord decodes a file holding exactly one record (the uncombined
// one-file-per-variable layout) and checks it against v when v is not nil.
func ParseRecord(data []byte, v *Var) (*Tensor, error) {
	t, n, err := readRecord(data)
	if err != nil {
		return nil, err
	}
	if n != len(data) {
		return nil, fmt.Errorf("%w: %d trailing bytes after the record", ErrParams, len(data)-n)
	}
	if v != nil {
		if err := checkRecord(v, t); err != nil {
			return nil, err
		}
	}
	return t, nil
}

func checkRecord(v *Var, t *Tensor) error {
	if v.DType >= 0 && v.DType != t.DType {
		return fmt.Errorf("%w: %q is %v in the program but %v in the params", ErrParams, v.Name, v.DType, t.DType)
	}
	match := len(v.Dims) == len(t.Dims)
	for i := 0; match && i < len(v.Dims); i++ {
		if v.Dims[i] >= 0 && v.Dims[i] != t.Dims[i] {
			match = false
		}
	}
	if !match {
		return fmt.Errorf("%w: %q has dims %v in the program but %v in the params", ErrParams, v.Name, v.Dims, t.Dims)
	}
	return nil
}
