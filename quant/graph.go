package quant

import (
	"encoding/binary"
	"fmt"
	"maps"
	"math"
	"slices"

	"google.golang.org/protobuf/proto"

	"github.com/shitu-go/shitu/onnx"
)

// unit is one quantizable layer: a Conv with constant weights (and bias),
// possibly followed by its only consumer, a Relu.
type unit struct {
	node    int    // index of the Conv node
	name    string // Conv node name
	relu    bool
	in, out string // float activation read, float activation written (after Relu)
}

// graphInfo indexes a model's graph.
type graphInfo struct {
	inits     map[string]*onnx.TensorProto
	consumers map[string][]int
	outputs   map[string]bool
	inputs    map[string]bool
	units     []unit
	// means are the per-channel means of the units' input activations
	// (from calibration); when set, biases are corrected for the mean
	// shift that weight rounding causes.
	means map[string][]float64
}

// minOpset is the ai.onnx opset with per-axis DequantizeLinear.
const minOpset = 13

func opset(m *onnx.ModelProto) int64 {
	for _, o := range m.GetOpsetImport() {
		if o.GetDomain() == "" || o.GetDomain() == "ai.onnx" {
			return o.GetVersion()
		}
	}
	return 0
}

// analyze finds the quantizable units of a (basic-optimised) model.
func analyze(m *onnx.ModelProto) (*graphInfo, error) {
	if v := opset(m); v < minOpset {
		return nil, fmt.Errorf("%w: ai.onnx opset %d; per-channel QDQ needs opset ≥ %d", ErrModel, v, minOpset)
	}
	g := m.GetGraph()
	gi := &graphInfo{inits: map[string]*onnx.TensorProto{}, consumers: map[string][]int{}, outputs: map[string]bool{}, inputs: map[string]bool{}}
	for _, t := range g.GetInitializer() {
		gi.inits[t.GetName()] = t
	}
	for _, in := range g.GetInput() {
		if gi.inits[in.GetName()] == nil {
			gi.inputs[in.GetName()] = true
		}
	}
	for _, o := range g.GetOutput() {
		gi.outputs[o.GetName()] = true
	}
	for i, n := range g.GetNode() {
		for _, in := range n.GetInput() {
			if in != "" {
				gi.consumers[in] = append(gi.consumers[in], i)
			}
		}
	}
	for i, n := range g.GetNode() {
		if n.GetOpType() != "Conv" || n.GetDomain() != "" || len(n.GetInput()) < 2 || len(n.GetOutput()) != 1 {
			continue
		}
		x, w := n.GetInput()[0], n.GetInput()[1]
		wt := gi.inits[w]
		if gi.inits[x] != nil || wt == nil || len(wt.GetDims()) != 4 || onnx.TensorProto_DataType(wt.GetDataType()) != onnx.TensorProto_FLOAT {
			continue
		}
		if len(n.GetInput()) > 2 && n.GetInput()[2] != "" {
			bt := gi.inits[n.GetInput()[2]]
			if bt == nil || onnx.TensorProto_DataType(bt.GetDataType()) != onnx.TensorProto_FLOAT {
				continue
			}
		}
		u := unit{node: i, name: n.GetName(), in: x, out: n.GetOutput()[0]}
		if u.name == "" {
			u.name = fmt.Sprintf("conv#%d", i)
		}
		if c := gi.consumers[u.out]; len(c) == 1 && !gi.outputs[u.out] {
			r := g.GetNode()[c[0]]
			if r.GetOpType() == "Relu" && r.GetDomain() == "" && len(r.GetOutput()) == 1 {
				u.relu, u.out = true, r.GetOutput()[0]
			}
		}
		gi.units = append(gi.units, u)
	}
	if len(gi.units) == 0 {
		return nil, fmt.Errorf("%w: no Conv with constant weights to quantize", ErrModel)
	}
	return gi, nil
}

// actTensors lists the activation tensors of the enabled units, each once,
// in the order met.
func (gi *graphInfo) actTensors(enabled []bool) []string {
	seen := map[string]bool{}
	var out []string
	for i, u := range gi.units {
		if enabled != nil && !enabled[i] {
			continue
		}
		for _, t := range []string{u.in, u.out} {
			if !seen[t] {
				seen[t] = true
				out = append(out, t)
			}
		}
	}
	return out
}

// qparams are the uint8 quantization parameters of one activation tensor.
type qparams struct {
	scale float32
	zero  uint8
}

// uint8Params maps a float range (widened to hold 0) to scale and zero
// point: scale = (hi−lo)/255, zero = round(−lo/scale), the ONNX Runtime
// convention for asymmetric uint8 (0 exactly representable, so zero
// padding stays exact).
func uint8Params(lo, hi float64) qparams {
	lo, hi = math.Min(lo, 0), math.Max(hi, 0)
	s := (hi - lo) / 255
	if !(s > 1e-12) || math.IsInf(s, 0) {
		return qparams{scale: 1, zero: 0}
	}
	z := math.Round(-lo / s)
	return qparams{scale: float32(s), zero: uint8(min(max(z, 0), 255))}
}

func scalarF32(name string, v float32) *onnx.TensorProto {
	raw := make([]byte, 4)
	binary.LittleEndian.PutUint32(raw, math.Float32bits(v))
	return &onnx.TensorProto{Name: proto.String(name), DataType: proto.Int32(int32(onnx.TensorProto_FLOAT)), RawData: raw}
}

func rawTensor(name string, dt onnx.TensorProto_DataType, dims []int64, raw []byte) *onnx.TensorProto {
	return &onnx.TensorProto{Name: proto.String(name), Dims: append([]int64(nil), dims...), DataType: proto.Int32(int32(dt)), RawData: raw}
}

func node(op, name string, in, out []string, attrs ...*onnx.AttributeProto) *onnx.NodeProto {
	return &onnx.NodeProto{OpType: proto.String(op), Name: proto.String(name), Input: in, Output: out, Attribute: attrs}
}

// quantWeights quantizes a Conv weight [Cout, ...] per output channel,
// symmetric int8 in [−127, 127] (zero point 0), and returns the values and
// the scales.
func quantWeights(w []float32, cout int) ([]int8, []float32) {
	per := len(w) / cout
	q := make([]int8, len(w))
	scales := make([]float32, cout)
	for c := 0; c < cout; c++ {
		ch := w[c*per : (c+1)*per]
		var amax float64
		for _, v := range ch {
			amax = math.Max(amax, math.Abs(float64(v)))
		}
		s := amax / 127
		if !(s > 1e-30) {
			s = 1
		}
		scales[c] = float32(s)
		for i, v := range ch {
			r := math.RoundToEven(float64(v) / float64(scales[c]))
			q[c*per+i] = int8(min(max(r, -127), 127))
		}
	}
	return q, scales
}

// qdqModel returns a copy of base with the enabled units quantized: Q/DQ
// pairs on their activation tensors, per-channel int8 weights and int32
// biases behind DequantizeLinear.
func qdqModel(base *onnx.ModelProto, gi *graphInfo, enabled []bool, qp map[string]qparams) (*onnx.ModelProto, error) {
	m := proto.Clone(base).(*onnx.ModelProto)
	g := m.Graph
	acts := gi.actTensors(enabled)
	isAct := map[string]bool{}
	for _, t := range acts {
		if _, ok := qp[t]; !ok {
			return nil, fmt.Errorf("%w: no range for tensor %q", ErrCalib, t)
		}
		isAct[t] = true
	}
	// A Conv kept in float32 between quantized neighbours would read a
	// DequantizeLinear output and feed a QuantizeLinear, and ONNX Runtime
	// would quantize its weights itself (WeightBiasQuantization) and run it
	// in int8 anyway. With a Relu, the Relu stays between the Conv and the
	// QuantizeLinear when the zero point is not 0 (ReluQuantFusion only
	// drops a Relu whose Q clamps at zero), so its output range gets zero
	// point 1. Without one, the Conv reads the float tensor from before
	// the Q/DQ pair (its producer may then lose its int8 fusion).
	floatIn := map[*onnx.NodeProto]bool{}
	qp = maps.Clone(qp)
	for i, u := range gi.units {
		if enabled == nil || enabled[i] || !isAct[u.in] || !isAct[u.out] {
			continue
		}
		if u.relu {
			if p := qp[u.out]; p.zero == 0 {
				qp[u.out] = qparams{scale: p.scale * 255 / 254, zero: 1}
			}
			continue
		}
		if !gi.inputs[u.in] {
			g.Node[u.node].Input[0] = u.in + "_f"
			floatIn[g.Node[u.node]] = true
		}
	}
	var inits []*onnx.TensorProto
	var head []*onnx.NodeProto // nodes placed first (weights, graph-input Q/DQ)
	qdq := func(src, dst, t string) []*onnx.NodeProto {
		p := qp[t]
		inits = append(inits, scalarF32(t+"_scale", p.scale), rawTensor(t+"_zero", onnx.TensorProto_UINT8, nil, []byte{p.zero}))
		return []*onnx.NodeProto{
			node("QuantizeLinear", t+"_Q", []string{src, t + "_scale", t + "_zero"}, []string{t + "_q"}),
			node("DequantizeLinear", t+"_DQ", []string{t + "_q", t + "_scale", t + "_zero"}, []string{dst}),
		}
	}
	// Graph inputs: Q/DQ at the top, consumers rewired to the DQ output.
	inputDQ := map[string]string{}
	for _, t := range acts {
		if gi.inputs[t] {
			inputDQ[t] = t + "_dq"
			head = append(head, qdq(t, t+"_dq", t)...)
		}
	}
	// Weights and biases of the enabled units.
	for i, u := range gi.units {
		if enabled != nil && !enabled[i] {
			continue
		}
		n := g.Node[u.node]
		wt := gi.inits[n.Input[1]]
		w, err := onnx.Float32s(wt)
		if err != nil {
			return nil, fmt.Errorf("%w: %s weights: %v", ErrModel, u.name, err)
		}
		cout := int(wt.GetDims()[0])
		if cout <= 0 || len(w)%cout != 0 {
			return nil, fmt.Errorf("%w: %s weights dims %v", ErrModel, u.name, wt.GetDims())
		}
		qw, sw := quantWeights(w, cout)
		raw := make([]byte, len(qw))
		for j, v := range qw {
			raw[j] = byte(v)
		}
		base := u.name + ".w"
		axis := onnx.AttrInt("axis", 0)
		inits = append(inits,
			rawTensor(base+"_q", onnx.TensorProto_INT8, wt.GetDims(), raw),
			floatVec(base+"_scale", sw),
			rawTensor(base+"_zero", onnx.TensorProto_INT8, []int64{int64(cout)}, make([]byte, cout)))
		head = append(head, node("DequantizeLinear", base+"_DQ", []string{base + "_q", base + "_scale", base + "_zero"}, []string{base + "_dq"}, axis))
		n.Input[1] = base + "_dq"
		var bv []float32
		if len(n.Input) > 2 && n.Input[2] != "" {
			bt := gi.inits[n.Input[2]]
			if bv, err = onnx.Float32s(bt); err != nil || len(bv) != cout {
				return nil, fmt.Errorf("%w: %s bias: %d values for %d channels (%v)", ErrModel, u.name, len(bv), cout, err)
			}
		}
		if mean := gi.means[u.in]; mean != nil {
			if bv == nil {
				bv = make([]float32, cout)
				for len(n.Input) < 3 {
					n.Input = append(n.Input, "")
				}
				n.Input[2] = u.name + ".bias"
			} else {
				bv = slices.Clone(bv)
			}
			biasCorrect(bv, w, qw, sw, mean, convGroup(n))
		}
		if bv != nil {
			sx := qp[u.in].scale
			bs := make([]float32, cout)
			braw := make([]byte, 4*cout)
			for c := range bv {
				bs[c] = sx * sw[c]
				r := math.RoundToEven(float64(bv[c]) / float64(bs[c]))
				r = min(max(r, math.MinInt32), math.MaxInt32)
				binary.LittleEndian.PutUint32(braw[4*c:], uint32(int32(r)))
			}
			bb := u.name + ".b"
			inits = append(inits,
				rawTensor(bb+"_q", onnx.TensorProto_INT32, []int64{int64(cout)}, braw),
				floatVec(bb+"_scale", bs),
				rawTensor(bb+"_zero", onnx.TensorProto_INT32, []int64{int64(cout)}, make([]byte, 4*cout)))
			head = append(head, node("DequantizeLinear", bb+"_DQ", []string{bb + "_q", bb + "_scale", bb + "_zero"}, []string{bb + "_dq"}, axis))
			n.Input[2] = bb + "_dq"
		}
	}
	// Activations produced by nodes: the producer writes <t>_f, Q/DQ
	// right after it writes t again, so every reader (and a graph output
	// of that name) sees the quantized value.
	nodes := append([]*onnx.NodeProto{}, head...)
	for _, n := range g.Node {
		for j, in := range n.Input {
			if floatIn[n] && j == 0 {
				continue
			}
			if d, ok := inputDQ[in]; ok {
				n.Input[j] = d
			}
		}
		nodes = append(nodes, n)
		for j, o := range n.Output {
			if isAct[o] {
				n.Output[j] = o + "_f"
				nodes = append(nodes, qdq(o+"_f", o, o)...)
			}
		}
	}
	g.Node = nodes
	// Drop float initializers nobody reads any more; add the new ones.
	used := map[string]bool{}
	for _, n := range g.Node {
		for _, in := range n.Input {
			used[in] = true
		}
	}
	keep := g.Initializer[:0]
	for _, t := range g.Initializer {
		if used[t.GetName()] {
			keep = append(keep, t)
		}
	}
	g.Initializer = append(keep, inits...)
	// Graph inputs listed as initializers (old IR) that were dropped.
	ins := g.Input[:0]
	for _, in := range g.Input {
		if gi.inits[in.GetName()] == nil || used[in.GetName()] {
			ins = append(ins, in)
		}
	}
	g.Input = ins
	g.ValueInfo = nil // shapes of renamed tensors would be stale
	if err := onnx.Validate(m); err != nil {
		return nil, fmt.Errorf("%w: quantized graph: %v", ErrModel, err)
	}
	return m, nil
}

func floatVec(name string, v []float32) *onnx.TensorProto {
	raw := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(x))
	}
	return rawTensor(name, onnx.TensorProto_FLOAT, []int64{int64(len(v))}, raw)
}

// observeModel returns a copy of base whose graph also outputs the given
// float tensors (those not already outputs), and the names of all outputs
// in order.
func observeModel(base *onnx.ModelProto, tensors []string) *onnx.ModelProto {
	m := proto.Clone(base).(*onnx.ModelProto)
	have := map[string]bool{}
	for _, o := range m.Graph.GetOutput() {
		have[o.GetName()] = true
	}
	for _, t := range tensors {
		if have[t] {
			continue
		}
		have[t] = true
		m.Graph.Output = append(m.Graph.Output, &onnx.ValueInfoProto{
			Name: proto.String(t),
			Type: &onnx.TypeProto{Value: &onnx.TypeProto_TensorType{TensorType: &onnx.TypeProto_Tensor{ElemType: proto.Int32(int32(onnx.TensorProto_FLOAT))}}},
		})
	}
	return m
}

func convGroup(n *onnx.NodeProto) int {
	for _, a := range n.GetAttribute() {
		if a.GetName() == "group" && a.GetI() > 0 {
			return int(a.GetI())
		}
	}
	return 1
}

// biasCorrect subtracts from each output channel's bias the mean shift
// that rounding its weights causes: Σ (ŵ − w) · E[x] over the channel's
// inputs and kernel taps, with E[x] the calibration mean of each input
// channel (padding ignored).
func biasCorrect(b, w []float32, qw []int8, sw []float32, mean []float64, group int) {
	cout := len(b)
	per := len(w) / cout      // Cin/group · kh · kw
	cinG := len(mean) / group // input channels per group
	if cinG == 0 || per%cinG != 0 || cout%group != 0 {
		return
	}
	taps := per / cinG
	for c := range cout {
		g := c / (cout / group)
		var d float64
		for ci := range cinG {
			m := mean[g*cinG+ci]
			for k := range taps {
				j := c*per + ci*taps + k
				d += (float64(qw[j])*float64(sw[c]) - float64(w[j])) * m
			}
		}
		b[c] -= float32(d)
	}
}
