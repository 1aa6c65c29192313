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

// hsig is a HardSigmoid (clip(alpha·x+beta, 0, 1)) or a HardSwish
// (x·HardSigmoid(x, 1/6, 0.5)) node. ONNX Runtime has no int8 kernel for
// either, so between two int8 layers one would cost two DequantizeLinear,
// the float op, a float Mul and a QuantizeLinear, all memory-bound: on the
// PicoDet-LCNet detector (96 HardSwish) those took longer than its
// QLinearConv layers. When its input is quantized, it is rewritten into
// ops that ONNX Runtime's QDQ fusion runs on uint8 (see hsigNodes):
// HardSigmoid becomes QLinearAdd plus a requantization, and the Mul of a
// HardSwish (or a Mul reading a HardSigmoid and another quantized tensor,
// the squeeze-excitation scale) a QLinearMul.
type hsig struct {
	node        int
	swish       bool
	in, out     string
	alpha, beta float64
	muls        []hmul // Mul nodes reading a HardSigmoid's output
}

// hmul is a Mul of a HardSigmoid's output by another tensor.
type hmul struct {
	other, out string
}

// graphInfo indexes a model's graph.
type graphInfo struct {
	inits     map[string]*onnx.TensorProto
	consumers map[string][]int
	outputs   map[string]bool
	// final are the tensors from which a graph output is computed by
	// data movement and output activations only (see passThrough).
	final  map[string]bool
	inputs map[string]bool
	units  []unit
	hsigs  []hsig
	clip   map[string][2]float64 // hard limits on a tensor's range (see analyze)
	// means are the per-channel means of the units' input activations
	// (from calibration); when set, biases are corrected for the mean
	// shift that weight rounding causes.
	means map[string][]float64
}

// passThrough are the ops through which a layer's output still counts as
// a graph output for Options.QuantizeOutputs: a detector head's Conv
// often reaches its outputs through Split, Reshape, Transpose or Concat
// (PicoDet's class scores and box distributions share one Conv, then a
// Split), or through its final Sigmoid/Softmax.
var passThrough = map[string]bool{
	"Split": true, "Reshape": true, "Transpose": true, "Concat": true, "Flatten": true,
	"Squeeze": true, "Unsqueeze": true, "Identity": true, "Slice": true, "Sigmoid": true, "Softmax": true,
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
	producer := map[string]int{}
	for i, n := range g.GetNode() {
		for _, in := range n.GetInput() {
			if in != "" {
				gi.consumers[in] = append(gi.consumers[in], i)
			}
		}
		for _, o := range n.GetOutput() {
			producer[o] = i
		}
	}
	gi.final = map[string]bool{}
	var mark func(t string)
	mark = func(t string) {
		if gi.final[t] || gi.inits[t] != nil {
			return
		}
		gi.final[t] = true
		if p, ok := producer[t]; ok && passThrough[g.GetNode()[p].GetOpType()] && g.GetNode()[p].GetDomain() == "" {
			for _, in := range g.GetNode()[p].GetInput() {
				if in != "" {
					mark(in)
				}
			}
		}
	}
	for o := range gi.outputs {
		mark(o)
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
	// Names the rewrite of a HardSigmoid/HardSwish writing t would add
	// (hsigNodes); one already in the graph leaves that node float.
	names := map[string]bool{}
	for _, n := range g.GetNode() {
		names[n.GetName()] = true
		for _, o := range n.GetOutput() {
			names[o] = true
		}
	}
	for _, t := range g.GetInitializer() {
		names[t.GetName()] = true
	}
	for _, t := range g.GetInput() {
		names[t.GetName()] = true
	}
	taken := func(t string) bool {
		for _, suf := range hsigSuffixes {
			if names[t+suf] {
				return true
			}
		}
		return false
	}
	for i, n := range g.GetNode() {
		if n.GetDomain() != "" || len(n.GetInput()) != 1 || len(n.GetOutput()) != 1 {
			continue
		}
		h := hsig{node: i, in: n.GetInput()[0], out: n.GetOutput()[0], alpha: 0.2, beta: 0.5}
		switch n.GetOpType() {
		case "HardSwish":
			h.swish, h.alpha = true, 1.0/6
		case "HardSigmoid":
			for _, a := range n.GetAttribute() {
				switch a.GetName() {
				case "alpha":
					h.alpha = float64(a.GetF())
				case "beta":
					h.beta = float64(a.GetF())
				}
			}
			for _, c := range gi.consumers[h.out] {
				m := g.GetNode()[c]
				if m.GetOpType() != "Mul" || m.GetDomain() != "" || len(m.GetInput()) != 2 || len(m.GetOutput()) != 1 {
					continue
				}
				other := m.GetInput()[0]
				if other == h.out {
					other = m.GetInput()[1]
				}
				if other != h.out {
					h.muls = append(h.muls, hmul{other: other, out: m.GetOutput()[0]})
				}
			}
		default:
			continue
		}
		// clip(alpha·x+beta, 0, 1) = alpha·clip(x+beta/alpha, 0, 1/alpha):
		// the rewrite needs a positive offset beta/alpha.
		if !(h.alpha > 1e-6 && h.beta > 0 && h.beta < 1) || gi.inits[h.in] != nil || gi.outputs[h.out] || taken(h.out) {
			continue
		}
		gi.hsigs = append(gi.hsigs, h)
	}
	// An input read only by HardSigmoid/HardSwish (and by the Mul of its
	// HardSwish) needs no values below −beta/alpha, where the output is 0
	// whatever the input, and, when the HardSigmoid is its only reader,
	// none above (1−beta)/alpha, where it is 1: its range is clipped
	// there, spending the 256 levels where they change the output.
	gi.clip = map[string][2]float64{}
	for _, h := range gi.hsigs {
		only, alone := !gi.outputs[h.in], true
		for _, c := range gi.consumers[h.in] {
			n := g.GetNode()[c]
			isMul := n.GetOpType() == "Mul" && slices.Contains(n.GetInput(), h.out)
			only = only && (c == h.node || isMul)
			alone = alone && c == h.node
		}
		if !only {
			continue
		}
		r := [2]float64{-h.beta / h.alpha, math.Inf(1)}
		if alone && !h.swish {
			// One step more than (1−beta)/alpha: with the zero point rounded,
			// the range must still reach the value where the output is 1.
			r[1] = (1-h.beta)/h.alpha + (1/h.alpha)/254
		}
		gi.clip[h.in] = r
	}
	return gi, nil
}

// rangeFor is the range a method picks for tensor t, clipped where its
// only readers saturate (see clip).
func (gi *graphInfo) rangeFor(t string, h *hist, m Method, pct float64) (lo, hi float64) {
	lo, hi = h.rangeFor(m, pct)
	if r, ok := gi.clip[t]; ok {
		lo, hi = max(lo, r[0]), min(hi, r[1])
		if lo >= hi {
			lo, hi = r[0], r[1]
		}
	}
	return lo, hi
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
	// The outputs of HardSwish, and of Muls by a HardSigmoid, whose inputs
	// are quantized are quantized too (their ops then run on uint8); a
	// HardSwish output may feed a squeeze-excitation Mul, hence the loop.
	for grown := true; grown; {
		grown = false
		for _, h := range gi.hsigs {
			if !seen[h.in] {
				continue
			}
			if h.swish && !seen[h.out] && !gi.final[h.out] {
				seen[h.out], grown = true, true
				out = append(out, h.out)
			}
			for _, m := range h.muls {
				if seen[m.other] && !seen[m.out] && !gi.final[m.out] {
					seen[m.out], grown = true, true
					out = append(out, m.out)
				}
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
	// HardSigmoid and HardSwish on quantized inputs: see hsig.
	repl := map[int][]*onnx.NodeProto{}
	for _, h := range gi.hsigs {
		if !isAct[h.in] {
			continue
		}
		var ns []*onnx.NodeProto
		ns, head, inits = hsigNodes(h, head, inits)
		repl[h.node] = ns
	}
	// Activations produced by nodes: the producer writes <t>_f, Q/DQ
	// right after it writes t again, so every reader (and a graph output
	// of that name) sees the quantized value.
	nodes := append([]*onnx.NodeProto{}, head...)
	for i, n := range g.Node {
		ns := []*onnx.NodeProto{n}
		if r, ok := repl[i]; ok {
			ns = r
		}
		for _, n := range ns {
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

// hsigSuffixes are the suffixes hsigNodes (and the Q/DQ pair of a
// HardSwish output) append to a HardSigmoid's or HardSwish's output name
// for the tensors and nodes they add.
var hsigSuffixes = []string{"_c_q", "_c_scale", "_c_zero", "_a_scale", "_h_scale", "_h_zero", "_c_DQ", "_c",
	"_hsig", "_add", "_a", "_h", "_a_Q", "_a_q", "_h_DQ", "_mul", "_f", "_scale", "_zero", "_Q", "_DQ", "_q"}

// hsigNodes returns the nodes replacing a HardSigmoid or HardSwish h
// whose (dequantized) input is quantized, with the constants they need
// added to head and inits. With c = beta/alpha,
//
//	HardSigmoid(x) = alpha·clip(x+c, 0, 1/alpha)
//
// so a = Add(x, c) quantized with zero point 0 and scale 1/(255·alpha)
// saturates exactly at 0 and 1/alpha (the clip), and reading those uint8
// values back with scale 1/255 instead gives alpha·a: the HardSigmoid, in
// [0, 1] with 255 steps. ONNX Runtime fuses DQ→Add→Q into QLinearAdd; the
// Q→DQ pair with different scales stays as the requantization, consumed
// by the QLinearMul of x·HardSigmoid(x) (HardSwish, whose output the
// caller quantizes) or of a squeeze-excitation scale.
func hsigNodes(h hsig, head []*onnx.NodeProto, inits []*onnx.TensorProto) ([]*onnx.NodeProto, []*onnx.NodeProto, []*onnx.TensorProto) {
	t := h.out
	c := h.beta / h.alpha
	inits = append(inits,
		rawTensor(t+"_c_q", onnx.TensorProto_UINT8, nil, []byte{255}),
		scalarF32(t+"_c_scale", float32(c/255)),
		rawTensor(t+"_c_zero", onnx.TensorProto_UINT8, nil, []byte{0}),
		scalarF32(t+"_a_scale", float32(1/(255*h.alpha))),
		scalarF32(t+"_h_scale", 1.0/255),
		rawTensor(t+"_h_zero", onnx.TensorProto_UINT8, nil, []byte{0}))
	head = append(head, node("DequantizeLinear", t+"_c_DQ", []string{t + "_c_q", t + "_c_scale", t + "_c_zero"}, []string{t + "_c"}))
	hs := t
	if h.swish {
		hs = t + "_hsig"
	}
	ns := []*onnx.NodeProto{
		node("Add", t+"_add", []string{h.in, t + "_c"}, []string{t + "_a"}),
		node("QuantizeLinear", t+"_a_Q", []string{t + "_a", t + "_a_scale", t + "_h_zero"}, []string{t + "_a_q"}),
		node("DequantizeLinear", t+"_h_DQ", []string{t + "_a_q", t + "_h_scale", t + "_h_zero"}, []string{hs}),
	}
	if h.swish {
		ns = append(ns, node("Mul", t+"_mul", []string{h.in, hs}, []string{t}))
	}
	return ns, head, inits
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
