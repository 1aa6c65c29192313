package paddle

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/shitu-go/shitu/onnx"
	"google.golang.org/protobuf/proto"
)

// graph accumulates ONNX nodes and initializers. It is a local helper: the
// converter needs to emit nodes whose shapes it cannot always know (dynamic
// batch and spatial dims), so it writes the protobuf types directly.
type graph struct {
	nodes []*onnx.NodeProto
	inits []*onnx.TensorProto
	names map[string]bool // every value name defined so far
	n     int             // counter for fresh names
}

func newGraph() *graph { return &graph{names: map[string]bool{}} }

// fresh returns an unused value name derived from base.
func (g *graph) fresh(base string) string {
	for {
		g.n++
		s := fmt.Sprintf("%s__%d", base, g.n)
		if !g.names[s] {
			g.names[s] = true
			return s
		}
	}
}

// node appends a node and returns its outputs.
func (g *graph) node(opType string, inputs, outputs []string, attrs ...*onnx.AttributeProto) []string {
	for _, o := range outputs {
		g.names[o] = true
	}
	g.nodes = append(g.nodes, &onnx.NodeProto{
		OpType:    proto.String(opType),
		Name:      proto.String(fmt.Sprintf("%s_%d", opType, len(g.nodes))),
		Input:     inputs,
		Output:    outputs,
		Attribute: attrs,
	})
	return outputs
}

// op1 appends a single-output node with a fresh output name.
func (g *graph) op1(opType, base string, inputs []string, attrs ...*onnx.AttributeProto) string {
	out := g.fresh(base)
	g.node(opType, inputs, []string{out}, attrs...)
	return out
}

func (g *graph) addInit(t *onnx.TensorProto) string {
	g.names[t.GetName()] = true
	g.inits = append(g.inits, t)
	return t.GetName()
}

// constI64 adds an int64 initializer.
func (g *graph) constI64(base string, dims []int64, v []int64) string {
	b := make([]byte, 8*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint64(b[8*i:], uint64(x))
	}
	return g.addInit(&onnx.TensorProto{Name: proto.String(g.fresh(base)), Dims: dims,
		DataType: proto.Int32(int32(onnx.TensorProto_INT64)), RawData: b})
}

// constF32 adds a float32 initializer.
func (g *graph) constF32(base string, dims []int64, v []float32) string {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
	return g.addInit(&onnx.TensorProto{Name: proto.String(g.fresh(base)), Dims: dims,
		DataType: proto.Int32(int32(onnx.TensorProto_FLOAT)), RawData: b})
}

// constScalar adds a rank-0 constant of ONNX type dt holding v.
func (g *graph) constScalar(base string, dt onnx.TensorProto_DataType, v float64) (string, error) {
	var b []byte
	switch dt {
	case onnx.TensorProto_FLOAT:
		b = binary.LittleEndian.AppendUint32(nil, math.Float32bits(float32(v)))
	case onnx.TensorProto_DOUBLE:
		b = binary.LittleEndian.AppendUint64(nil, math.Float64bits(v))
	case onnx.TensorProto_INT32:
		b = binary.LittleEndian.AppendUint32(nil, uint32(int32(v)))
	case onnx.TensorProto_INT64:
		b = binary.LittleEndian.AppendUint64(nil, uint64(int64(v)))
	default:
		return "", fmt.Errorf("%w: no scalar constant of type %v", ErrConvert, dt)
	}
	return g.addInit(&onnx.TensorProto{Name: proto.String(g.fresh(base)),
		DataType: proto.Int32(int32(dt)), RawData: b}), nil
}

// onnxType maps a Paddle element type to ONNX.
func onnxType(d DType) (onnx.TensorProto_DataType, bool) {
	switch d {
	case FP32:
		return onnx.TensorProto_FLOAT, true
	case FP64:
		return onnx.TensorProto_DOUBLE, true
	case FP16:
		return onnx.TensorProto_FLOAT16, true
	case BF16:
		return onnx.TensorProto_BFLOAT16, true
	case Int32:
		return onnx.TensorProto_INT32, true
	case Int64:
		return onnx.TensorProto_INT64, true
	case Int16:
		return onnx.TensorProto_INT16, true
	case Int8:
		return onnx.TensorProto_INT8, true
	case Uint8:
		return onnx.TensorProto_UINT8, true
	case Bool:
		return onnx.TensorProto_BOOL, true
	}
	return 0, false
}

// paramTensor turns a Paddle parameter into an initializer named name.
func paramTensor(name string, t *Tensor, dims []int64) (*onnx.TensorProto, error) {
	dt, ok := onnxType(t.DType)
	if !ok {
		return nil, fmt.Errorf("%w: parameter %q has element type %v", ErrConvert, name, t.DType)
	}
	if dims == nil {
		dims = t.Dims
	}
	return &onnx.TensorProto{Name: proto.String(name), Dims: append([]int64(nil), dims...),
		DataType: proto.Int32(int32(dt)), RawData: t.Data}, nil
}

func valueInfo(name string, dt onnx.TensorProto_DataType, dims []int64, dimPrefix string) *onnx.ValueInfoProto {
	tt := &onnx.TypeProto_Tensor{ElemType: proto.Int32(int32(dt))}
	if dims != nil {
		sh := &onnx.TensorShapeProto{}
		for i, d := range dims {
			dim := &onnx.TensorShapeProto_Dimension{}
			if d >= 0 {
				dim.Value = &onnx.TensorShapeProto_Dimension_DimValue{DimValue: d}
			} else {
				dim.Value = &onnx.TensorShapeProto_Dimension_DimParam{DimParam: fmt.Sprintf("%s_d%d", dimPrefix, i)}
			}
			sh.Dim = append(sh.Dim, dim)
		}
		tt.Shape = sh
	}
	return &onnx.ValueInfoProto{Name: proto.String(name),
		Type: &onnx.TypeProto{Value: &onnx.TypeProto_TensorType{TensorType: tt}}}
}

func aInt(name string, v int64) *onnx.AttributeProto     { return onnx.AttrInt(name, v) }
func aInts(name string, v ...int64) *onnx.AttributeProto { return onnx.AttrInts(name, v...) }
func aFloat(name string, v float32) *onnx.AttributeProto { return onnx.AttrFloat(name, v) }
func aStr(name, v string) *onnx.AttributeProto           { return onnx.AttrString(name, v) }
