// Package tensor holds dense, row-major tensors of the element types the
// PP-ShiTuV2 models use (float32, int32, int64, uint8).
//
// A Tensor owns one flat slice; its shape is a list of non-negative
// dimensions. Tensors are plain values: they are not safe for concurrent
// mutation, but may be read from many goroutines.
package tensor

import (
	"errors"
	"fmt"
	"strings"
)

// DType is an element type.
type DType uint8

// The element types.
const (
	Invalid DType = iota
	Float32
	Int32
	Int64
	Uint8
)

// String returns the ONNX-style name of the type ("float32", ...).
func (d DType) String() string {
	switch d {
	case Float32:
		return "float32"
	case Int32:
		return "int32"
	case Int64:
		return "int64"
	case Uint8:
		return "uint8"
	}
	return fmt.Sprintf("dtype(%d)", uint8(d))
}

// Size is the size of one element in bytes (0 for Invalid).
func (d DType) Size() int {
	switch d {
	case Float32, Int32:
		return 4
	case Int64:
		return 8
	case Uint8:
		return 1
	}
	return 0
}

// ErrShape is returned when a shape does not match the data.
var ErrShape = errors.New("tensor: shape does not match data")

// Elem is the set of Go element types a Tensor can hold.
type Elem interface {
	~float32 | ~int32 | ~int64 | ~uint8
}

// Tensor is a dense row-major tensor.
type Tensor struct {
	dtype DType
	shape []int
	data  any // []float32, []int32, []int64 or []uint8
}

// New wraps data (not copied) in a tensor of the given shape. It fails
// when a dimension is negative or the element count does not match.
func New[T Elem](shape []int, data []T) (*Tensor, error) {
	n, err := Numel(shape)
	if err != nil {
		return nil, err
	}
	if n != len(data) {
		return nil, fmt.Errorf("%w: shape %v holds %d elements, data has %d", ErrShape, shape, n, len(data))
	}
	t := &Tensor{shape: append([]int(nil), shape...)}
	switch d := any(data).(type) {
	case []float32:
		t.dtype, t.data = Float32, d
	case []int32:
		t.dtype, t.data = Int32, d
	case []int64:
		t.dtype, t.data = Int64, d
	case []uint8:
		t.dtype, t.data = Uint8, d
	default:
		return nil, fmt.Errorf("tensor: unsupported element type %T", data)
	}
	return t, nil
}

// Must is New that panics on a shape mismatch; for tests and constants only.
func Must[T Elem](shape []int, data []T) *Tensor {
	t, err := New(shape, data)
	if err != nil {
		panic(err)
	}
	return t
}

// Zeros returns a zero-filled tensor.
func Zeros(dtype DType, shape ...int) (*Tensor, error) {
	n, err := Numel(shape)
	if err != nil {
		return nil, err
	}
	switch dtype {
	case Float32:
		return New(shape, make([]float32, n))
	case Int32:
		return New(shape, make([]int32, n))
	case Int64:
		return New(shape, make([]int64, n))
	case Uint8:
		return New(shape, make([]uint8, n))
	}
	return nil, fmt.Errorf("tensor: unsupported dtype %v", dtype)
}

// Numel is the number of elements of a shape (1 for a scalar shape []).
func Numel(shape []int) (int, error) {
	n := 1
	for _, d := range shape {
		if d < 0 {
			return 0, fmt.Errorf("%w: negative dimension in %v", ErrShape, shape)
		}
		n *= d
	}
	return n, nil
}

// DType returns the element type.
func (t *Tensor) DType() DType { return t.dtype }

// Shape returns the dimensions; the caller must not modify the slice.
func (t *Tensor) Shape() []int { return t.shape }

// Len is the number of elements.
func (t *Tensor) Len() int {
	n, _ := Numel(t.shape)
	return n
}

// Data returns the underlying slice ([]float32, []int32, []int64 or []uint8).
func (t *Tensor) Data() any { return t.data }

// Float32s returns the data of a Float32 tensor, or nil for other types.
func (t *Tensor) Float32s() []float32 { d, _ := t.data.([]float32); return d }

// Int32s returns the data of an Int32 tensor, or nil for other types.
func (t *Tensor) Int32s() []int32 { d, _ := t.data.([]int32); return d }

// Int64s returns the data of an Int64 tensor, or nil for other types.
func (t *Tensor) Int64s() []int64 { d, _ := t.data.([]int64); return d }

// Uint8s returns the data of a Uint8 tensor, or nil for other types.
func (t *Tensor) Uint8s() []uint8 { d, _ := t.data.([]uint8); return d }

// Reshape returns a tensor sharing t's data with a new shape of the same
// element count. One dimension may be -1 and is inferred.
func (t *Tensor) Reshape(shape ...int) (*Tensor, error) {
	n := t.Len()
	s := append([]int(nil), shape...)
	infer := -1
	known := 1
	for i, d := range s {
		switch {
		case d == -1 && infer < 0:
			infer = i
		case d < 0:
			return nil, fmt.Errorf("%w: bad dimension %d in %v", ErrShape, d, shape)
		default:
			known *= d
		}
	}
	if infer >= 0 {
		if known == 0 || n%known != 0 {
			return nil, fmt.Errorf("%w: cannot reshape %v to %v", ErrShape, t.shape, shape)
		}
		s[infer] = n / known
		known = n
	}
	if known != n {
		return nil, fmt.Errorf("%w: cannot reshape %v to %v", ErrShape, t.shape, shape)
	}
	return &Tensor{dtype: t.dtype, shape: s, data: t.data}, nil
}

// Row returns a view of row i along the first dimension (shape t.Shape()[1:]).
func (t *Tensor) Row(i int) (*Tensor, error) {
	if len(t.shape) == 0 || i < 0 || i >= t.shape[0] {
		return nil, fmt.Errorf("%w: row %d of shape %v", ErrShape, i, t.shape)
	}
	inner, _ := Numel(t.shape[1:])
	lo, hi := i*inner, (i+1)*inner
	r := &Tensor{dtype: t.dtype, shape: append([]int(nil), t.shape[1:]...)}
	switch d := t.data.(type) {
	case []float32:
		r.data = d[lo:hi:hi]
	case []int32:
		r.data = d[lo:hi:hi]
	case []int64:
		r.data = d[lo:hi:hi]
	case []uint8:
		r.data = d[lo:hi:hi]
	}
	return r, nil
}

// Stack joins tensors of one dtype and shape along a new first dimension.
func Stack(ts ...*Tensor) (*Tensor, error) {
	if len(ts) == 0 {
		return nil, fmt.Errorf("%w: nothing to stack", ErrShape)
	}
	first := ts[0]
	for _, t := range ts[1:] {
		if t.dtype != first.dtype || !EqualShape(t.shape, first.shape) {
			return nil, fmt.Errorf("%w: stack of %v %v and %v %v", ErrShape, first.dtype, first.shape, t.dtype, t.shape)
		}
	}
	shape := append([]int{len(ts)}, first.shape...)
	switch first.dtype {
	case Float32:
		return New(shape, concat(ts, (*Tensor).Float32s))
	case Int32:
		return New(shape, concat(ts, (*Tensor).Int32s))
	case Int64:
		return New(shape, concat(ts, (*Tensor).Int64s))
	default:
		return New(shape, concat(ts, (*Tensor).Uint8s))
	}
}

func concat[T Elem](ts []*Tensor, get func(*Tensor) []T) []T {
	n := 0
	for _, t := range ts {
		n += len(get(t))
	}
	out := make([]T, 0, n)
	for _, t := range ts {
		out = append(out, get(t)...)
	}
	return out
}

// EqualShape reports whether two shapes are the same.
func EqualShape(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// String describes the tensor briefly, e.g. "float32[1 512]".
func (t *Tensor) String() string {
	var b strings.Builder
	b.WriteString(t.dtype.String())
	fmt.Fprint(&b, t.shape)
	return b.String()
}
