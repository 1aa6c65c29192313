package paddle

import (
	"fmt"
	"math"
	"strings"

	"github.com/shitu-go/shitu/onnx"
)

// FromONNX rewrites an ONNX graph (such as the seeded networks of package
// arch) as a legacy Paddle program in the op forms the official exports use
// (models-and-formats §D.1, §D.2): conv2d/depthwise_conv2d with the bias as
// a separate elementwise_add (axis 1), batch_norm with its five outputs,
// adaptive pool2d for global pooling, hard_swish/hard_sigmoid with explicit
// attributes, scale for scalar multiplies, reshape2/transpose2 with XShape,
// nearest_interp_v2 with a scale attribute, split with sections, and
// feed/fetch ops. Parameters get Paddle-style names (conv2d_N.w_0,
// batch_norm_N.w_1, ...), so their .pdiparams order is the bytewise name
// order of a real export. It is meant for test fixtures and offline
// mirrors; it handles the op set of those networks, not arbitrary ONNX.
func FromONNX(m *onnx.ModelProto) (*Model, error) {
	if err := onnx.Validate(m); err != nil {
		return nil, err
	}
	f := &fromONNX{b: NewProgramBuilder(), g: m.GetGraph(),
		consts: map[string]*onnx.TensorProto{}, shapes: map[string][]int64{}, name: map[string]string{}}
	for _, o := range m.GetOpsetImport() {
		if o.GetDomain() == "" || o.GetDomain() == "ai.onnx" {
			f.opset = o.GetVersion()
		}
	}
	return f.run()
}

type fromONNX struct {
	// hswish marks HardSigmoid outputs that only feed x·HardSigmoid(x)
	// (how opset-13 graphs write HardSwish); the Mul becomes hard_swish.
	hswish map[string]bool
	b      *ProgramBuilder
	g      *onnx.GraphProto
	opset  int64
	consts map[string]*onnx.TensorProto // initializers and Constant outputs not yet placed
	shapes map[string][]int64           // ONNX value → static shape
	name   map[string]string            // ONNX value → Paddle variable
}

func (f *fromONNX) run() (*Model, error) {
	inits := map[string]bool{}
	for _, t := range f.g.GetInitializer() {
		f.consts[t.GetName()] = t
		f.shapes[t.GetName()] = append([]int64{}, t.GetDims()...)
		inits[t.GetName()] = true
	}
	for _, in := range f.g.GetInput() {
		if inits[in.GetName()] {
			continue
		}
		dt := FP32
		if onnx.TensorProto_DataType(in.GetType().GetTensorType().GetElemType()) == onnx.TensorProto_INT64 {
			dt = Int64
		}
		s := onnx.ShapeOf(in)
		f.shapes[in.GetName()] = s
		f.name[in.GetName()] = f.b.Feed(in.GetName(), dt, s)
	}
	f.findHardSwish()
	for i, n := range f.g.GetNode() {
		in := make([][]int64, len(n.GetInput()))
		for k, v := range n.GetInput() {
			in[k] = f.shapes[v]
		}
		if n.GetOpType() == "Constant" {
			for _, a := range n.GetAttribute() {
				if a.GetName() == "value" && len(n.GetOutput()) == 1 {
					f.consts[n.GetOutput()[0]] = a.GetT()
					f.shapes[n.GetOutput()[0]] = append([]int64{}, a.GetT().GetDims()...)
				}
			}
			continue
		}
		outs, err := onnx.InferShapes(n, in, f.opset, func(s string) *onnx.TensorProto { return f.consts[s] })
		if err != nil {
			return nil, fmt.Errorf("%w: node %d %s: %v", ErrConvert, i, n.GetOpType(), err)
		}
		for k, o := range n.GetOutput() {
			f.shapes[o] = outs[k]
		}
		if err := f.node(n); err != nil {
			return nil, fmt.Errorf("%w: FromONNX: node %d %s %q: %v", ErrConvert, i, n.GetOpType(), n.GetName(), err)
		}
	}
	for _, o := range f.g.GetOutput() {
		v, ok := f.name[o.GetName()]
		if !ok {
			return nil, fmt.Errorf("%w: FromONNX: output %q not produced", ErrConvert, o.GetName())
		}
		f.b.Fetch(v)
	}
	return f.b.Model()
}

// findHardSwish marks HardSigmoid(alpha 1/6, beta 0.5) nodes whose only
// reader is a Mul by the HardSigmoid's own input: x·hardsigmoid(x) is
// hard_swish with threshold 6, scale 6, offset 3 (§D.2).
func (f *fromONNX) findHardSwish() {
	f.hswish = map[string]bool{}
	readers := map[string]int{}
	for _, n := range f.g.GetNode() {
		for _, in := range n.GetInput() {
			readers[in]++
		}
	}
	for _, o := range f.g.GetOutput() {
		readers[o.GetName()]++
	}
	src := map[string]string{}
	for _, n := range f.g.GetNode() {
		if n.GetOpType() != "HardSigmoid" || len(n.GetOutput()) != 1 {
			continue
		}
		a := attrs(n)
		if a["alpha"] == nil || math.Abs(float64(a["alpha"].GetF())-1.0/6) > 1e-6 || (a["beta"] != nil && a["beta"].GetF() != 0.5) {
			continue
		}
		if readers[n.GetOutput()[0]] == 1 {
			src[n.GetOutput()[0]] = n.GetInput()[0]
		}
	}
	for _, n := range f.g.GetNode() {
		if n.GetOpType() != "Mul" || len(n.GetInput()) != 2 {
			continue
		}
		x, y := n.GetInput()[0], n.GetInput()[1]
		if src[y] == x {
			f.hswish[y] = true
		} else if src[x] == y {
			f.hswish[x] = true
		}
	}
}

// val returns the Paddle variable of an ONNX value, turning a constant
// into a parameter on first use as data.
func (f *fromONNX) val(v string) (string, error) {
	if p, ok := f.name[v]; ok {
		return p, nil
	}
	if t, ok := f.consts[v]; ok {
		pt, err := paddleTensor(t)
		if err != nil {
			return "", err
		}
		p := f.b.Param(f.b.Unique("create_parameter")+".w_0", pt)
		f.name[v] = p
		return p, nil
	}
	return "", fmt.Errorf("value %q is unknown", v)
}

// param places a constant as a named parameter.
func (f *fromONNX) param(v, name string, dims []int64) (string, error) {
	t, ok := f.consts[v]
	if !ok {
		return "", fmt.Errorf("%q is not a constant", v)
	}
	pt, err := paddleTensor(t)
	if err != nil {
		return "", err
	}
	if dims != nil {
		pt.Dims = dims
	}
	return f.b.Param(name, pt), nil
}

func paddleTensor(t *onnx.TensorProto) (*Tensor, error) {
	switch onnx.TensorProto_DataType(t.GetDataType()) {
	case onnx.TensorProto_FLOAT:
		v, err := onnx.Float32s(t)
		if err != nil {
			return nil, err
		}
		return NewFloat32(t.GetDims(), v), nil
	case onnx.TensorProto_INT64:
		v, err := onnx.Int64s(t)
		if err != nil {
			return nil, err
		}
		b := make([]byte, 0, 8*len(v))
		for _, x := range v {
			b = append(b, byte(x), byte(x>>8), byte(x>>16), byte(x>>24), byte(x>>32), byte(x>>40), byte(x>>48), byte(x>>56))
		}
		return &Tensor{DType: Int64, Dims: append([]int64(nil), t.GetDims()...), Data: b}, nil
	}
	return nil, fmt.Errorf("constant %q of type %v", t.GetName(), onnx.TensorProto_DataType(t.GetDataType()))
}

func (f *fromONNX) constInts(v string) ([]int64, bool) {
	t, ok := f.consts[v]
	if !ok {
		return nil, false
	}
	x, err := onnx.Int64s(t)
	return x, err == nil
}

func (f *fromONNX) constFloats(v string) ([]float32, bool) {
	t, ok := f.consts[v]
	if !ok {
		return nil, false
	}
	x, err := onnx.Float32s(t)
	return x, err == nil
}

// tmp declares the Paddle temporary for ONNX output o of a layer.
func (f *fromONNX) tmp(o, layer string, k int) string {
	v := f.b.Tmp(fmt.Sprintf("%s.tmp_%d", layer, k), FP32, f.shapes[o])
	f.name[o] = v
	return v
}

func attrs(n *onnx.NodeProto) map[string]*onnx.AttributeProto {
	m := map[string]*onnx.AttributeProto{}
	for _, a := range n.GetAttribute() {
		m[a.GetName()] = a
	}
	return m
}

func i32s(v []int64) []int32 {
	out := make([]int32, len(v))
	for i, x := range v {
		out[i] = int32(x)
	}
	return out
}

// minInputs is the number of inputs node() reads by index.
var minInputs = map[string]int{"Conv": 2, "BatchNormalization": 5, "Add": 2, "Mul": 2, "Sub": 2, "Div": 2,
	"Reshape": 2, "MatMul": 2, "Resize": 1, "Split": 1, "Transpose": 1, "Flatten": 1, "Concat": 1}

func (f *fromONNX) node(n *onnx.NodeProto) error {
	a := attrs(n)
	ins, outs := n.GetInput(), n.GetOutput()
	if len(outs) == 0 || outs[0] == "" {
		return fmt.Errorf("no output")
	}
	if len(ins) < max(1, minInputs[n.GetOpType()]) {
		return fmt.Errorf("%d inputs", len(ins))
	}
	for _, in := range ins[:max(1, minInputs[n.GetOpType()])] {
		if in == "" {
			return fmt.Errorf("a required input is empty")
		}
	}
	x := func(i int) (string, error) {
		if i >= len(ins) || ins[i] == "" {
			return "", fmt.Errorf("input %d missing", i)
		}
		return f.val(ins[i])
	}
	simple := func(typ string, extra ...Attr) error {
		xv, err := x(0)
		if err != nil {
			return err
		}
		layer := f.b.Unique(typ)
		out := f.tmp(outs[0], layer, 0)
		f.b.Op(typ, []Slot{SlotOf("X", xv)}, []Slot{SlotOf("Out", out)}, extra...)
		return nil
	}
	switch op := n.GetOpType(); op {
	case "Identity":
		v, err := x(0)
		f.name[outs[0]] = v
		return err
	case "Relu":
		return simple("relu")
	case "Sigmoid":
		return simple("sigmoid")
	case "HardSwish":
		return simple("hard_swish", AFloat("threshold", 6), AFloat("scale", 6), AFloat("offset", 3))
	case "HardSigmoid":
		if f.hswish[outs[0]] {
			return nil // emitted as hard_swish by its Mul
		}
		alpha, beta := float32(0.2), float32(0.5)
		if v := a["alpha"]; v != nil {
			alpha = v.GetF()
		}
		if v := a["beta"]; v != nil {
			beta = v.GetF()
		}
		return simple("hard_sigmoid", AFloat("slope", alpha), AFloat("offset", beta))
	case "Softmax":
		ax := int32(-1)
		if v := a["axis"]; v != nil {
			ax = int32(v.GetI())
		}
		return simple("softmax", AInt("axis", ax))
	case "GlobalAveragePool":
		return simple("pool2d", AString("pooling_type", "avg"), ABool("adaptive", true), AInts("ksize", 1, 1),
			ABool("global_pooling", false), ABool("exclusive", true), ABool("ceil_mode", false),
			AInts("strides", 1, 1), AInts("paddings", 0, 0), AString("padding_algorithm", "EXPLICIT"), AString("data_format", "NCHW"))
	case "Conv":
		return f.conv(n, a)
	case "BatchNormalization":
		return f.batchNorm(n, a)
	case "Add", "Mul", "Sub", "Div":
		return f.binary(n)
	case "Concat":
		var vs []string
		for i := range ins {
			v, err := x(i)
			if err != nil {
				return err
			}
			vs = append(vs, v)
		}
		out := f.tmp(outs[0], f.b.Unique("concat"), 0)
		f.b.Op("concat", []Slot{SlotOf("X", vs...), SlotOf("AxisTensor")}, []Slot{SlotOf("Out", out)}, AInt("axis", int32(a["axis"].GetI())))
		return nil
	case "Split":
		xv, err := x(0)
		if err != nil {
			return err
		}
		var secs []int64
		if len(ins) > 1 && ins[1] != "" {
			secs, _ = f.constInts(ins[1])
		} else if v := a["split"]; v != nil {
			secs = v.GetInts()
		}
		if len(secs) != len(outs) {
			return fmt.Errorf("split sizes %v for %d outputs", secs, len(outs))
		}
		layer := f.b.Unique("split")
		var os []string
		for k, o := range outs {
			os = append(os, f.tmp(o, layer, k))
		}
		f.b.Op("split", []Slot{SlotOf("X", xv), SlotOf("AxisTensor"), SlotOf("SectionsTensorList")}, []Slot{SlotOf("Out", os...)},
			AInt("axis", int32(a["axis"].GetI())), AInts("sections", i32s(secs)...), AInt("num", 0))
		return nil
	case "Transpose":
		xv, err := x(0)
		if err != nil {
			return err
		}
		layer := f.b.Unique("transpose")
		out := f.tmp(outs[0], layer, 0)
		xs := f.b.Tmp(layer+".tmp_1", FP32, nil)
		f.b.Op("transpose2", []Slot{SlotOf("X", xv)}, []Slot{SlotOf("Out", out), SlotOf("XShape", xs)},
			AInts("axis", i32s(a["perm"].GetInts())...), AString("data_format", "AnyLayout"))
		return nil
	case "Reshape":
		xv, err := x(0)
		if err != nil {
			return err
		}
		shape, ok := f.constInts(ins[1])
		if !ok {
			return fmt.Errorf("reshape to a non-constant shape")
		}
		layer := f.b.Unique("reshape2")
		out := f.tmp(outs[0], layer, 0)
		xs := f.b.Tmp(layer+".tmp_1", FP32, nil)
		f.b.Op("reshape2", []Slot{SlotOf("X", xv), SlotOf("Shape"), SlotOf("ShapeTensor")}, []Slot{SlotOf("Out", out), SlotOf("XShape", xs)},
			AInts("shape", i32s(shape)...))
		return nil
	case "Flatten":
		if v := a["axis"]; v != nil && v.GetI() != 1 {
			return fmt.Errorf("Flatten axis %d (only 1)", v.GetI())
		}
		xv, err := x(0)
		if err != nil {
			return err
		}
		layer := f.b.Unique("flatten")
		out := f.tmp(outs[0], layer, 0)
		xs := f.b.Tmp(layer+".tmp_1", FP32, nil)
		f.b.Op("flatten_contiguous_range", []Slot{SlotOf("X", xv)}, []Slot{SlotOf("Out", out), SlotOf("XShape", xs)},
			AInt("start_axis", 1), AInt("stop_axis", -1))
		return nil
	case "Resize":
		return f.resize(n, a)
	case "MatMul":
		xv, err := x(0)
		if err != nil {
			return err
		}
		yv, err := x(1)
		if err != nil {
			return err
		}
		out := f.tmp(outs[0], f.b.Unique("matmul_v2"), 0)
		f.b.Op("matmul_v2", []Slot{SlotOf("X", xv), SlotOf("Y", yv)}, []Slot{SlotOf("Out", out)},
			ABool("trans_x", false), ABool("trans_y", false))
		return nil
	default:
		return fmt.Errorf("no Paddle legacy form for ONNX %s", op)
	}
}

func (f *fromONNX) conv(n *onnx.NodeProto, a map[string]*onnx.AttributeProto) error {
	ins, outs := n.GetInput(), n.GetOutput()
	xv, err := f.val(ins[0])
	if err != nil {
		return err
	}
	wd := f.shapes[ins[1]]
	group := int64(1)
	if v := a["group"]; v != nil {
		group = v.GetI()
	}
	typ := "conv2d"
	// Paddle 2.x emits depthwise_conv2d when groups == Cin ≠ 1 and Cout % Cin == 0 (§D.1).
	if xs := f.shapes[ins[0]]; group != 1 && len(xs) == 4 && xs[1] == group && len(wd) == 4 && wd[0]%group == 0 {
		typ = "depthwise_conv2d"
	}
	layer := f.b.Unique("conv2d")
	w, err := f.param(ins[1], layer+".w_0", nil)
	if err != nil {
		return err
	}
	pads := []int64{0, 0, 0, 0}
	if v := a["pads"]; v != nil && len(v.GetInts()) == 4 {
		pads = v.GetInts()
	}
	// ONNX [top,left,bottom,right] → Paddle [ph,pw] or [top,bottom,left,right] (§D.3).
	pp := []int32{int32(pads[0]), int32(pads[2]), int32(pads[1]), int32(pads[3])}
	if pads[0] == pads[2] && pads[1] == pads[3] {
		pp = []int32{int32(pads[0]), int32(pads[1])}
	}
	alg := "EXPLICIT"
	if v := a["auto_pad"]; v != nil && string(v.GetS()) == "SAME_UPPER" {
		alg = "SAME"
	}
	strides, dil := []int64{1, 1}, []int64{1, 1}
	if v := a["strides"]; v != nil {
		strides = v.GetInts()
	}
	if v := a["dilations"]; v != nil {
		dil = v.GetInts()
	}
	convOut := outs[0]
	hasBias := len(ins) > 2 && ins[2] != ""
	if hasBias {
		convOut = outs[0] + "/nobias"
		f.shapes[convOut] = f.shapes[outs[0]]
	}
	out := f.tmp(convOut, layer, 0)
	f.b.Op(typ, []Slot{SlotOf("Input", xv), SlotOf("Filter", w), SlotOf("Bias"), SlotOf("ResidualData")},
		[]Slot{SlotOf("Output", out)},
		AInts("strides", i32s(strides)...), AInts("paddings", pp...), AInts("dilations", i32s(dil)...),
		AInt("groups", int32(group)), AString("padding_algorithm", alg), AString("data_format", "NCHW"),
		ABool("use_cudnn", true), ABool("use_mkldnn", false))
	if !hasBias {
		return nil
	}
	b, err := f.param(ins[2], layer+".b_0", nil)
	if err != nil {
		return err
	}
	sum := f.tmp(outs[0], layer, 1)
	// The ≤2.4 bias form: Y = [C] aligned at axis 1 (§D.1).
	f.b.Op("elementwise_add", []Slot{SlotOf("X", out), SlotOf("Y", b)}, []Slot{SlotOf("Out", sum)}, AInt("axis", 1))
	return nil
}

func (f *fromONNX) batchNorm(n *onnx.NodeProto, a map[string]*onnx.AttributeProto) error {
	ins, outs := n.GetInput(), n.GetOutput()
	xv, err := f.val(ins[0])
	if err != nil {
		return err
	}
	layer := f.b.Unique("batch_norm")
	var ps []string
	for k, suffix := range []string{".w_0", ".b_0", ".w_1", ".w_2"} {
		p, err := f.param(ins[k+1], layer+suffix, nil)
		if err != nil {
			return err
		}
		ps = append(ps, p)
	}
	eps := float32(1e-5)
	if v := a["epsilon"]; v != nil {
		eps = v.GetF()
	}
	c := f.shapes[ins[1]]
	sm := f.b.Tmp(layer+".tmp_0", FP32, c)
	sv := f.b.Tmp(layer+".tmp_1", FP32, c)
	y := f.tmp(outs[0], layer, 2)
	f.b.Op("batch_norm",
		[]Slot{SlotOf("X", xv), SlotOf("Scale", ps[0]), SlotOf("Bias", ps[1]), SlotOf("Mean", ps[2]), SlotOf("Variance", ps[3]), SlotOf("MomentumTensor")},
		[]Slot{SlotOf("Y", y), SlotOf("MeanOut", ps[2]), SlotOf("VarianceOut", ps[3]), SlotOf("SavedMean", sm), SlotOf("SavedVariance", sv)},
		AFloat("epsilon", eps), AFloat("momentum", 0.9), ABool("is_test", true), AString("data_layout", "NCHW"),
		ABool("use_global_stats", false), ABool("trainable_statistics", false))
	return nil
}

// binary maps Add/Mul/Sub/Div. A scalar constant operand of Mul/Add
// becomes a `scale` op (bias_after_scale), as Paddle exports x·k and x+k —
// except a Mul by k in (0,1) from a node or value whose name mentions
// "dropout", which becomes the dropout op of an inference export.
func (f *fromONNX) binary(n *onnx.NodeProto) error {
	ins, outs := n.GetInput(), n.GetOutput()
	op := n.GetOpType()
	if op == "Mul" && (f.hswish[ins[0]] || f.hswish[ins[1]]) {
		x := ins[0]
		if f.hswish[ins[0]] {
			x = ins[1]
		}
		xv, err := f.val(x)
		if err != nil {
			return err
		}
		out := f.tmp(outs[0], f.b.Unique("hard_swish"), 0)
		f.b.Op("hard_swish", []Slot{SlotOf("X", xv)}, []Slot{SlotOf("Out", out)},
			AFloat("threshold", 6), AFloat("scale", 6), AFloat("offset", 3))
		return nil
	}
	for k := 0; k < 2 && (op == "Mul" || op == "Add"); k++ {
		c, ok := f.constFloats(ins[k])
		if !ok || len(c) != 1 {
			continue
		}
		if _, isName := f.name[ins[1-k]]; !isName {
			continue
		}
		xv := f.name[ins[1-k]]
		if op == "Mul" && c[0] > 0 && c[0] < 1 && (strings.Contains(n.GetName(), "dropout") || strings.Contains(outs[0], "dropout")) {
			// An inference-time dropout (downgrade_in_infer: y = (1−p)·x, §A.2).
			layer := f.b.Unique("dropout")
			out := f.tmp(outs[0], layer, 0)
			mask := f.b.Tmp(layer+".tmp_1", Uint8, f.shapes[outs[0]])
			f.b.Op("dropout", []Slot{SlotOf("X", xv), SlotOf("Seed")}, []Slot{SlotOf("Out", out), SlotOf("Mask", mask)},
				AFloat("dropout_prob", 1-c[0]), ABool("is_test", true), AString("dropout_implementation", "downgrade_in_infer"),
				ABool("fix_seed", false), AInt("seed", 0))
			return nil
		}
		scale, bias := c[0], float32(0)
		if op == "Add" {
			scale, bias = 1, c[0]
		}
		out := f.tmp(outs[0], f.b.Unique("scale"), 0)
		f.b.Op("scale", []Slot{SlotOf("X", xv), SlotOf("ScaleTensor")}, []Slot{SlotOf("Out", out)},
			AFloat("scale", scale), AFloat("bias", bias), ABool("bias_after_scale", true))
		return nil
	}
	xv, err := f.val(ins[0])
	if err != nil {
		return err
	}
	yv, err := f.val(ins[1])
	if err != nil {
		return err
	}
	typ := map[string]string{"Add": "elementwise_add", "Mul": "elementwise_mul", "Sub": "elementwise_sub", "Div": "elementwise_div"}[op]
	out := f.tmp(outs[0], f.b.Unique(typ), 0)
	f.b.Op(typ, []Slot{SlotOf("X", xv), SlotOf("Y", yv)}, []Slot{SlotOf("Out", out)}, AInt("axis", -1))
	return nil
}

func (f *fromONNX) resize(n *onnx.NodeProto, a map[string]*onnx.AttributeProto) error {
	ins, outs := n.GetInput(), n.GetOutput()
	if v := a["mode"]; v == nil || string(v.GetS()) != "nearest" {
		return fmt.Errorf("only nearest Resize has a nearest_interp_v2 form")
	}
	xv, err := f.val(ins[0])
	if err != nil {
		return err
	}
	var sc []float32
	if len(ins) > 2 && ins[2] != "" {
		sc, _ = f.constFloats(ins[2])
	}
	if len(sc) != 4 {
		return fmt.Errorf("Resize needs constant scales")
	}
	out := f.tmp(outs[0], f.b.Unique("nearest_interp_v2"), 0)
	f.b.Op("nearest_interp_v2", []Slot{SlotOf("X", xv), SlotOf("OutSize"), SlotOf("SizeTensor"), SlotOf("Scale")}, []Slot{SlotOf("Out", out)},
		AString("interp_method", "nearest"), AFloats("scale", sc[2], sc[3]), AInt("out_h", -1), AInt("out_w", -1), AInt("out_d", -1),
		ABool("align_corners", false), AInt("align_mode", 0), AString("data_layout", "NCHW"))
	return nil
}
