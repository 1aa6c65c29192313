package onnx

import (
	"encoding/binary"
	"fmt"
	"math"

	"google.golang.org/protobuf/proto"
)

// FloatTensor makes a float32 TensorProto with the values stored as
// little-endian raw_data. It fails when len(data) does not match dims.
func FloatTensor(name string, dims []int64, data []float32) (*TensorProto, error) {
	n, err := NumElements(dims)
	if err != nil {
		return nil, fmt.Errorf("%w: tensor %q: %v", ErrShape, name, err)
	}
	if int64(len(data)) != n {
		return nil, fmt.Errorf("%w: tensor %q: %d values for dims %v", ErrShape, name, len(data), dims)
	}
	raw := make([]byte, 4*len(data))
	for i, v := range data {
		binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(v))
	}
	return &TensorProto{
		Name:     proto.String(name),
		Dims:     append([]int64(nil), dims...),
		DataType: proto.Int32(int32(TensorProto_FLOAT)),
		RawData:  raw,
	}, nil
}

// Int64Tensor makes an int64 TensorProto stored as little-endian raw_data.
func Int64Tensor(name string, dims []int64, data []int64) (*TensorProto, error) {
	n, err := NumElements(dims)
	if err != nil {
		return nil, fmt.Errorf("%w: tensor %q: %v", ErrShape, name, err)
	}
	if int64(len(data)) != n {
		return nil, fmt.Errorf("%w: tensor %q: %d values for dims %v", ErrShape, name, len(data), dims)
	}
	raw := make([]byte, 8*len(data))
	for i, v := range data {
		binary.LittleEndian.PutUint64(raw[8*i:], uint64(v))
	}
	return &TensorProto{
		Name:     proto.String(name),
		Dims:     append([]int64(nil), dims...),
		DataType: proto.Int32(int32(TensorProto_INT64)),
		RawData:  raw,
	}, nil
}

// Float32s decodes a FLOAT tensor's values (raw_data or float_data).
func Float32s(t *TensorProto) ([]float32, error) {
	if TensorProto_DataType(t.GetDataType()) != TensorProto_FLOAT {
		return nil, fmt.Errorf("%w: tensor %q has type %v, want FLOAT", ErrUnsupported, t.GetName(), TensorProto_DataType(t.GetDataType()))
	}
	if err := checkTensor(t); err != nil {
		return nil, err
	}
	if t.RawData != nil {
		raw := t.GetRawData()
		out := make([]float32, len(raw)/4)
		for i := range out {
			out[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
		}
		return out, nil
	}
	return append([]float32(nil), t.GetFloatData()...), nil
}

// Int64s decodes an INT64 or INT32 tensor's values as int64.
func Int64s(t *TensorProto) ([]int64, error) {
	if err := checkTensor(t); err != nil {
		return nil, err
	}
	switch TensorProto_DataType(t.GetDataType()) {
	case TensorProto_INT64:
		if t.RawData != nil {
			raw := t.GetRawData()
			out := make([]int64, len(raw)/8)
			for i := range out {
				out[i] = int64(binary.LittleEndian.Uint64(raw[8*i:]))
			}
			return out, nil
		}
		return append([]int64(nil), t.GetInt64Data()...), nil
	case TensorProto_INT32:
		if t.RawData != nil {
			raw := t.GetRawData()
			out := make([]int64, len(raw)/4)
			for i := range out {
				out[i] = int64(int32(binary.LittleEndian.Uint32(raw[4*i:])))
			}
			return out, nil
		}
		out := make([]int64, len(t.GetInt32Data()))
		for i, v := range t.GetInt32Data() {
			out[i] = int64(v)
		}
		return out, nil
	}
	return nil, fmt.Errorf("%w: tensor %q has type %v, want INT64 or INT32", ErrUnsupported, t.GetName(), TensorProto_DataType(t.GetDataType()))
}

// AttrInt makes an INT attribute.
func AttrInt(name string, v int64) *AttributeProto {
	return &AttributeProto{Name: proto.String(name), Type: AttributeProto_INT.Enum(), I: proto.Int64(v)}
}

// AttrInts makes an INTS attribute.
func AttrInts(name string, v ...int64) *AttributeProto {
	return &AttributeProto{Name: proto.String(name), Type: AttributeProto_INTS.Enum(), Ints: append([]int64{}, v...)}
}

// AttrFloat makes a FLOAT attribute.
func AttrFloat(name string, v float32) *AttributeProto {
	return &AttributeProto{Name: proto.String(name), Type: AttributeProto_FLOAT.Enum(), F: proto.Float32(v)}
}

// AttrFloats makes a FLOATS attribute.
func AttrFloats(name string, v ...float32) *AttributeProto {
	return &AttributeProto{Name: proto.String(name), Type: AttributeProto_FLOATS.Enum(), Floats: append([]float32{}, v...)}
}

// AttrString makes a STRING attribute.
func AttrString(name, v string) *AttributeProto {
	return &AttributeProto{Name: proto.String(name), Type: AttributeProto_STRING.Enum(), S: []byte(v)}
}

// AttrTensor makes a TENSOR attribute (e.g. Constant's value).
func AttrTensor(name string, t *TensorProto) *AttributeProto {
	return &AttributeProto{Name: proto.String(name), Type: AttributeProto_TENSOR.Enum(), T: t}
}

// attrMap indexes a node's attributes by name.
func attrMap(n *NodeProto) map[string]*AttributeProto {
	m := make(map[string]*AttributeProto, len(n.GetAttribute()))
	for _, a := range n.GetAttribute() {
		m[a.GetName()] = a
	}
	return m
}

func attrInt(a map[string]*AttributeProto, name string, def int64) int64 {
	if x, ok := a[name]; ok {
		return x.GetI()
	}
	return def
}

func attrInts(a map[string]*AttributeProto, name string) []int64 {
	if x, ok := a[name]; ok {
		return x.GetInts()
	}
	return nil
}

func attrString(a map[string]*AttributeProto, name, def string) string {
	if x, ok := a[name]; ok {
		return string(x.GetS())
	}
	return def
}

func attrFloats(a map[string]*AttributeProto, name string) []float32 {
	if x, ok := a[name]; ok {
		return x.GetFloats()
	}
	return nil
}
