package onnx

import (
	"fmt"
	"slices"
	"strings"

	"google.golang.org/protobuf/proto"
)

// DefaultOpset is the ai.onnx opset a Builder targets when given 0.
const DefaultOpset = 13

// Value is a named tensor of a graph under construction, with its static
// element type and shape (-1 for a dynamic dim; nil Shape = unknown).
type Value struct {
	Name  string
	Type  TensorProto_DataType
	Shape []int64
}

// Builder assembles a GraphProto node by node, giving every value a unique
// name and tracking static shapes. Errors are sticky: the first one is kept,
// later calls become no-ops returning zero Values, and Model reports it, so
// network code can chain calls and check once.
type Builder struct {
	opset   int64
	g       *GraphProto
	vals    map[string]Value
	consts  map[string]*TensorProto
	used    map[string]int // value names taken
	counter map[string]int // base name -> last suffix used
	nodes   map[string]int // node names taken
	produce map[string]int // value name -> index of producing node
	readers map[string]int // value name -> number of nodes reading it
	err     error
	// DocString is stored as the model's doc_string.
	DocString string
	// Producer is stored as the model's producer_name (default "shitu").
	Producer string
	// Prefix, when set, starts the automatic names of nodes and their
	// outputs ("<Prefix>.relu"); set it per layer for readable graphs.
	Prefix string
}

// NewBuilder starts a graph called name at the given ai.onnx opset
// (0 = DefaultOpset).
func NewBuilder(name string, opset int64) *Builder {
	if opset == 0 {
		opset = DefaultOpset
	}
	return &Builder{
		opset:   opset,
		g:       &GraphProto{Name: proto.String(name)},
		vals:    map[string]Value{},
		consts:  map[string]*TensorProto{},
		used:    map[string]int{},
		counter: map[string]int{},
		nodes:   map[string]int{},
		produce: map[string]int{},
		readers: map[string]int{},
	}
}

// Opset is the ai.onnx opset the graph targets.
func (b *Builder) Opset() int64 { return b.opset }

// Err is the first error met so far.
func (b *Builder) Err() error { return b.err }

func (b *Builder) fail(err error) Value {
	if b.err == nil {
		b.err = err
	}
	return Value{}
}

// Lookup returns the value with the given name.
func (b *Builder) Lookup(name string) (Value, bool) {
	v, ok := b.vals[name]
	return v, ok
}

// unique returns base if unused, else base_1, base_2... (value namespace).
func (b *Builder) unique(base string) string {
	if base == "" {
		base = "v"
	}
	name := base
	for b.used[name] != 0 {
		b.counter[base]++
		name = fmt.Sprintf("%s_%d", base, b.counter[base])
	}
	b.used[name] = 1
	return name
}

// claim reserves an exact name, failing when it is taken.
func (b *Builder) claim(name string) bool {
	if name == "" || b.used[name] != 0 {
		b.fail(fmt.Errorf("%w: name %q is empty or already used", ErrBuild, name))
		return false
	}
	b.used[name] = 1
	return true
}

// Input declares a graph input. Dims of -1 become symbolic: "N" for the
// first dim, "d<i>" for others.
func (b *Builder) Input(name string, dtype TensorProto_DataType, shape ...int64) Value {
	if b.err != nil || !b.claim(name) {
		return Value{}
	}
	v := Value{Name: name, Type: dtype, Shape: slices.Clone(shape)}
	b.vals[name] = v
	b.g.Input = append(b.g.Input, valueInfo(v))
	return v
}

// Initializer adds a float32 parameter tensor stored as raw_data. The name
// is used as given when free, else made unique.
func (b *Builder) Initializer(name string, shape []int64, data []float32) Value {
	if b.err != nil {
		return Value{}
	}
	name = b.unique(name)
	t, err := FloatTensor(name, shape, data)
	if err != nil {
		return b.fail(err)
	}
	return b.addInit(t)
}

// InitializerInt64 adds an int64 initializer.
func (b *Builder) InitializerInt64(name string, shape []int64, data []int64) Value {
	if b.err != nil {
		return Value{}
	}
	name = b.unique(name)
	t, err := Int64Tensor(name, shape, data)
	if err != nil {
		return b.fail(err)
	}
	return b.addInit(t)
}

func (b *Builder) addInit(t *TensorProto) Value {
	v := Value{Name: t.GetName(), Type: TensorProto_DataType(t.GetDataType()), Shape: slices.Clone(t.GetDims())}
	if v.Shape == nil {
		v.Shape = []int64{}
	}
	b.vals[v.Name] = v
	b.consts[v.Name] = t
	b.g.Initializer = append(b.g.Initializer, t)
	return v
}

// ConstInt64 adds a Constant node holding a 1-D int64 tensor (shapes,
// axes, split sizes). Constants are not parameters: Analyze does not count them.
func (b *Builder) ConstInt64(vals ...int64) Value {
	if b.err != nil {
		return Value{}
	}
	t, err := Int64Tensor("", []int64{int64(len(vals))}, vals)
	if err != nil {
		return b.fail(err)
	}
	return b.constNode(t)
}

// ConstFloat adds a Constant node holding a float32 tensor of the given
// shape (an empty shape makes a scalar).
func (b *Builder) ConstFloat(shape []int64, vals ...float32) Value {
	if b.err != nil {
		return Value{}
	}
	t, err := FloatTensor("", shape, vals)
	if err != nil {
		return b.fail(err)
	}
	return b.constNode(t)
}

func (b *Builder) constNode(t *TensorProto) Value {
	t.Name = nil
	v := b.Node("Constant", nil, AttrTensor("value", t))
	if v.Name != "" {
		b.consts[v.Name] = t
	}
	return v
}

// Node adds a single-output node and returns its output.
func (b *Builder) Node(op string, inputs []Value, attrs ...*AttributeProto) Value {
	vs := b.NodeN(op, inputs, 1, attrs...)
	if len(vs) == 0 {
		return Value{}
	}
	return vs[0]
}

// NodeN adds a node with nOut outputs. Output names are derived from the
// op type and made unique; the output shapes come from InferShapes. An empty
// input Value (Name "") encodes an omitted optional input.
func (b *Builder) NodeN(op string, inputs []Value, nOut int, attrs ...*AttributeProto) []Value {
	if b.err != nil {
		return nil
	}
	n := &NodeProto{OpType: proto.String(op), Attribute: attrs}
	in := make([][]int64, len(inputs))
	for i, x := range inputs {
		if x.Name != "" {
			if _, ok := b.vals[x.Name]; !ok {
				b.fail(fmt.Errorf("%w: %s reads unknown value %q", ErrBuild, op, x.Name))
				return nil
			}
			b.readers[x.Name]++
			in[i] = b.vals[x.Name].Shape
		}
		n.Input = append(n.Input, x.Name)
	}
	base := strings.ToLower(op)
	if b.Prefix != "" {
		base = b.Prefix + "." + base
	}
	nodeName := base
	for b.nodes[nodeName] != 0 {
		nodeName = fmt.Sprintf("%s_%d", base, b.nodes[base])
		b.nodes[base]++
	}
	b.nodes[nodeName]++
	n.Name = proto.String(nodeName)
	for i := range nOut {
		if nOut == 1 {
			n.Output = append(n.Output, b.unique(base))
		} else {
			n.Output = append(n.Output, b.unique(fmt.Sprintf("%s.%d", base, i)))
		}
	}
	shapes, err := InferShapes(n, in, b.opset, func(name string) *TensorProto { return b.consts[name] })
	if err != nil {
		b.fail(err)
		return nil
	}
	dt := TensorProto_FLOAT
	if len(inputs) > 0 {
		dt = b.vals[inputs[0].Name].Type
	}
	switch op {
	case "Shape":
		dt = TensorProto_INT64
	case "Constant":
		dt = TensorProto_DataType(attrMap(n)["value"].GetT().GetDataType())
	case "Cast":
		dt = TensorProto_DataType(attrInt(attrMap(n), "to", int64(TensorProto_FLOAT)))
	}
	out := make([]Value, nOut)
	for i, name := range n.GetOutput() {
		out[i] = Value{Name: name, Type: dt, Shape: shapes[i]}
		b.vals[name] = out[i]
		b.produce[name] = len(b.g.Node)
	}
	b.g.Node = append(b.g.Node, n)
	return out
}

// Rename gives the node output v a chosen name (e.g. a public output name).
// It fails when v is a graph input or initializer, is already read by a
// node, or the name is taken.
func (b *Builder) Rename(v Value, name string) Value {
	if b.err != nil {
		return Value{}
	}
	idx, ok := b.produce[v.Name]
	if !ok {
		return b.fail(fmt.Errorf("%w: %q is not a node output", ErrBuild, v.Name))
	}
	if b.readers[v.Name] > 0 {
		return b.fail(fmt.Errorf("%w: %q is already read by a node", ErrBuild, v.Name))
	}
	if v.Name == name {
		return v
	}
	if !b.claim(name) {
		return Value{}
	}
	n := b.g.Node[idx]
	for i, o := range n.Output {
		if o == v.Name {
			n.Output[i] = name
		}
	}
	nv := b.vals[v.Name]
	delete(b.vals, v.Name)
	delete(b.produce, v.Name)
	if t, ok := b.consts[v.Name]; ok {
		delete(b.consts, v.Name)
		b.consts[name] = t
	}
	nv.Name = name
	b.vals[name] = nv
	b.produce[name] = idx
	return nv
}

// Output marks values as graph outputs, in call order.
func (b *Builder) Output(vs ...Value) {
	if b.err != nil {
		return
	}
	for _, v := range vs {
		if _, ok := b.vals[v.Name]; !ok || v.Name == "" {
			b.fail(fmt.Errorf("%w: output %q is not a value of the graph", ErrBuild, v.Name))
			return
		}
		b.g.Output = append(b.g.Output, valueInfo(b.vals[v.Name]))
	}
}

// Model finishes the graph into a ModelProto (IR version 8, the ai.onnx
// opset of the builder) or returns the first error met while building.
func (b *Builder) Model() (*ModelProto, error) {
	if b.err != nil {
		return nil, b.err
	}
	if len(b.g.Output) == 0 {
		return nil, fmt.Errorf("%w: graph has no outputs", ErrBuild)
	}
	prod := b.Producer
	if prod == "" {
		prod = "shitu"
	}
	m := &ModelProto{
		IrVersion:    proto.Int64(8),
		ProducerName: proto.String(prod),
		OpsetImport:  []*OperatorSetIdProto{{Domain: proto.String(""), Version: proto.Int64(b.opset)}},
		Graph:        b.g,
	}
	if b.DocString != "" {
		m.DocString = proto.String(b.DocString)
	}
	return m, nil
}

// valueInfo describes a value for the graph's input/output lists.
func valueInfo(v Value) *ValueInfoProto {
	tt := &TypeProto_Tensor{ElemType: proto.Int32(int32(v.Type))}
	if v.Shape != nil {
		tt.Shape = &TensorShapeProto{}
		for i, d := range v.Shape {
			dim := &TensorShapeProto_Dimension{}
			if d >= 0 {
				dim.Value = &TensorShapeProto_Dimension_DimValue{DimValue: d}
			} else {
				p := "N"
				if i > 0 {
					p = fmt.Sprintf("d%d", i)
				}
				dim.Value = &TensorShapeProto_Dimension_DimParam{DimParam: p}
			}
			tt.Shape.Dim = append(tt.Shape.Dim, dim)
		}
	}
	return &ValueInfoProto{
		Name: proto.String(v.Name),
		Type: &TypeProto{Value: &TypeProto_TensorType{TensorType: tt}},
	}
}

// ShapeOf converts a ValueInfoProto's tensor shape to []int64 (-1 for
// symbolic or missing dims; nil when there is no shape).
func ShapeOf(vi *ValueInfoProto) []int64 {
	tt := vi.GetType().GetTensorType()
	if tt == nil || tt.GetShape() == nil {
		return nil
	}
	s := make([]int64, 0, len(tt.GetShape().GetDim()))
	for _, d := range tt.GetShape().GetDim() {
		if dv, ok := d.GetValue().(*TensorShapeProto_Dimension_DimValue); ok && dv.DimValue >= 0 {
			s = append(s, dv.DimValue)
		} else {
			s = append(s, -1)
		}
	}
	return s
}
