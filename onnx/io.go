// Package onnx holds the ONNX protobuf types (generated from onnx.proto by
// gen.sh), reads and writes models, builds graphs with static shape
// bookkeeping (Builder) and analyses models (Analyze: parameters and MACs).
package onnx

//go:generate ./gen.sh

import (
	"errors"
	"fmt"
	"os"

	"google.golang.org/protobuf/proto"
)

var (
	// ErrFormat reports bytes that are not a well-formed ONNX model.
	ErrFormat = errors.New("onnx: malformed model")
	// ErrShape reports inconsistent shapes met while building or analysing a graph.
	ErrShape = errors.New("onnx: shape mismatch")
	// ErrBuild reports a misuse of the Builder (unknown value, duplicate name...).
	ErrBuild = errors.New("onnx: invalid graph construction")
	// ErrUnsupported reports a data type or attribute this package does not handle.
	ErrUnsupported = errors.New("onnx: unsupported")
)

// Read decodes a serialized ModelProto and checks it is usable: it has a
// graph, and every initializer's data length matches its dims (this catches
// most truncated files, which protobuf alone may accept when cut at a field
// boundary).
func Read(data []byte) (*ModelProto, error) {
	if len(data) == 0 {
		return nil, fmt.Errorf("%w: empty input", ErrFormat)
	}
	m := &ModelProto{}
	if err := proto.Unmarshal(data, m); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrFormat, err)
	}
	if err := Validate(m); err != nil {
		return nil, err
	}
	return m, nil
}

// ReadFile reads and decodes the model at path (see Read).
func ReadFile(path string) (*ModelProto, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("onnx: %w", err)
	}
	m, err := Read(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return m, nil
}

// Marshal serializes m deterministically (same model, same bytes).
func Marshal(m *ModelProto) ([]byte, error) {
	if m == nil {
		return nil, fmt.Errorf("%w: nil model", ErrBuild)
	}
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("onnx: marshal: %w", err)
	}
	return b, nil
}

// WriteFile serializes m to path atomically (temporary file + rename).
func WriteFile(path string, m *ModelProto) error {
	b, err := Marshal(m)
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return fmt.Errorf("onnx: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("onnx: %w", err)
	}
	return nil
}

// Validate checks the structural facts Read relies on: a graph is present,
// at least one opset is declared, initializer dims are non-negative and their
// stored data matches the element count, and every node input names a value
// that is a graph input, an initializer or an earlier node output (ONNX
// requires topological order).
func Validate(m *ModelProto) error {
	g := m.GetGraph()
	if g == nil {
		return fmt.Errorf("%w: no graph", ErrFormat)
	}
	if len(m.GetOpsetImport()) == 0 {
		return fmt.Errorf("%w: no opset_import", ErrFormat)
	}
	known := make(map[string]bool, len(g.GetInitializer())+len(g.GetNode()))
	for _, in := range g.GetInput() {
		known[in.GetName()] = true
	}
	for _, t := range g.GetInitializer() {
		if err := checkTensor(t); err != nil {
			return err
		}
		known[t.GetName()] = true
	}
	for i, n := range g.GetNode() {
		for _, in := range n.GetInput() {
			if in != "" && !known[in] {
				return fmt.Errorf("%w: node %d (%s %q) reads %q before it is defined", ErrFormat, i, n.GetOpType(), n.GetName(), in)
			}
		}
		for _, out := range n.GetOutput() {
			if out != "" {
				known[out] = true
			}
		}
	}
	for _, out := range g.GetOutput() {
		if !known[out.GetName()] {
			return fmt.Errorf("%w: graph output %q is never produced", ErrFormat, out.GetName())
		}
	}
	return nil
}

// checkTensor verifies that a tensor's stored data matches its dims.
func checkTensor(t *TensorProto) error {
	n, err := NumElements(t.GetDims())
	if err != nil {
		return fmt.Errorf("%w: initializer %q: %v", ErrFormat, t.GetName(), err)
	}
	if t.GetDataLocation() == TensorProto_EXTERNAL {
		return nil // data lives outside the file; not checked here
	}
	var have int64
	size := ElemSize(TensorProto_DataType(t.GetDataType()))
	switch {
	case t.RawData != nil:
		if size == 0 {
			return nil // strings etc.: nothing to check
		}
		if int64(len(t.GetRawData())) != n*int64(size) {
			return fmt.Errorf("%w: initializer %q: %d bytes of raw data for %d elements of %d bytes (truncated?)",
				ErrFormat, t.GetName(), len(t.GetRawData()), n, size)
		}
		return nil
	case len(t.GetFloatData()) > 0:
		have = int64(len(t.GetFloatData()))
	case len(t.GetInt64Data()) > 0:
		have = int64(len(t.GetInt64Data()))
	case len(t.GetInt32Data()) > 0:
		have = int64(len(t.GetInt32Data()))
	case len(t.GetDoubleData()) > 0:
		have = int64(len(t.GetDoubleData()))
	case len(t.GetUint64Data()) > 0:
		have = int64(len(t.GetUint64Data()))
	case len(t.GetStringData()) > 0:
		have = int64(len(t.GetStringData()))
	}
	if have != n {
		return fmt.Errorf("%w: initializer %q: %d stored values for %d elements (truncated?)", ErrFormat, t.GetName(), have, n)
	}
	return nil
}

// NumElements is the product of dims; it fails on negative dims or overflow.
func NumElements(dims []int64) (int64, error) {
	n := int64(1)
	for _, d := range dims {
		if d < 0 {
			return 0, fmt.Errorf("negative dim %d in %v", d, dims)
		}
		if d != 0 && n > (1<<62)/d {
			return 0, fmt.Errorf("dims %v overflow", dims)
		}
		n *= d
	}
	return n, nil
}

// ElemSize is the byte size of one element of dt, 0 for variable-size types.
func ElemSize(dt TensorProto_DataType) int {
	switch dt {
	case TensorProto_FLOAT, TensorProto_INT32, TensorProto_UINT32:
		return 4
	case TensorProto_DOUBLE, TensorProto_INT64, TensorProto_UINT64, TensorProto_COMPLEX64:
		return 8
	case TensorProto_FLOAT16, TensorProto_BFLOAT16, TensorProto_INT16, TensorProto_UINT16:
		return 2
	case TensorProto_INT8, TensorProto_UINT8, TensorProto_BOOL:
		return 1
	case TensorProto_COMPLEX128:
		return 16
	}
	return 0
}
