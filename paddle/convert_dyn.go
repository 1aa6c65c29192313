package paddle

import (
	"fmt"
	"slices"

	"github.com/shitu-go/shitu/onnx"
)

// Dynamic image sizes (ConvertOptions.PinInputShapes). A program exported
// with a feed of [-1,3,32,100] stores the export-time sizes in the VarDescs
// of everything computed from it; Paddle Inference re-infers them for each
// input, so the converter must not bake them in either.

// imageAxes returns the spatial axes of an image feed: 4-D floating point
// with a static height or width to release; NCHW, or NHWC when the last
// dim holds 1 or 3 channels and the second does not look like channels.
func imageAxes(dt onnx.TensorProto_DataType, dims []int64) (h, w int, ok bool) {
	switch dt {
	case onnx.TensorProto_FLOAT, onnx.TensorProto_FLOAT16, onnx.TensorProto_DOUBLE, onnx.TensorProto_BFLOAT16:
	default:
		return 0, 0, false
	}
	if len(dims) != 4 {
		return 0, 0, false
	}
	h, w = 2, 3
	if (dims[3] == 1 || dims[3] == 3) && dims[1] > 4 {
		h, w = 1, 2
	}
	return h, w, dims[h] > 0 || dims[w] > 0
}

// propagateDyn marks the outputs of op dynamic when an input is.
func (c *conv) propagateDyn(op *Op) {
	hit := false
	for _, s := range op.Inputs {
		for _, a := range s.Args {
			hit = hit || c.dyn[a]
		}
	}
	if !hit {
		return
	}
	for _, s := range op.Outputs {
		for _, a := range s.Args {
			c.dyn[a] = true
		}
	}
}

// staticDims returns a var's VarDesc dims when they are facts: nil for vars
// computed from a dynamic feed.
func (c *conv) staticDims(name string) []int64 {
	if c.dyn[name] {
		return nil
	}
	return c.dims(name)
}

// inferShapes propagates static shapes through the graph built so far
// with onnx.InferShapes, a dynamic batch dim taken as 1 (so that reshapes
// resolve), and returns every value's shape (nil when unknown).
func (c *conv) inferShapes(inputs []*onnx.ValueInfoProto) map[string][]int64 {
	shapes := map[string][]int64{}
	consts := map[string]*onnx.TensorProto{}
	for _, t := range c.g.inits {
		consts[t.GetName()] = t
		shapes[t.GetName()] = slices.Clone(t.GetDims())
	}
	for _, vi := range inputs {
		s := slices.Clone(onnx.ShapeOf(vi))
		if len(s) > 0 && s[0] < 0 {
			s[0] = 1
		}
		shapes[vi.GetName()] = s
	}
	lookup := func(n string) *onnx.TensorProto { return consts[n] }
	for _, n := range c.g.nodes {
		in := make([][]int64, len(n.GetInput()))
		for i, name := range n.GetInput() {
			in[i] = shapes[name]
		}
		outs, err := onnx.InferShapes(n, in, c.opts.Opset, lookup)
		if err != nil {
			continue
		}
		for i, name := range n.GetOutput() {
			if i < len(outs) {
				shapes[name] = outs[i]
			}
		}
		if len(n.GetOutput()) == 1 {
			v := onnx.FoldInt(n, in, c.opts.Opset, lookup)
			if v == nil && n.GetOpType() == "Reshape" && len(n.GetInput()) == 2 && len(shapes[n.GetOutput()[0]]) <= 1 {
				if t := consts[n.GetInput()[0]]; t != nil {
					v, _ = onnx.Int64s(t) // a vector reshaped to a vector keeps its values
				}
			}
			if v != nil {
				if t, err := onnx.Int64Tensor("", []int64{int64(len(v))}, v); err == nil {
					consts[n.GetOutput()[0]] = t
					if shapes[n.GetOutput()[0]] == nil {
						shapes[n.GetOutput()[0]] = []int64{int64(len(v))}
					}
				}
			}
		}
	}
	return shapes
}

// dynDims gives a graph output's declared dims: a VarDesc dim is kept
// only where shape inference with the dynamic inputs finds the same
// static value; every other dim is dynamic.
func dynDims(desc, inferred []int64) []int64 {
	out := make([]int64, len(desc))
	for i, d := range desc {
		out[i] = -1
		if d >= 0 && len(inferred) == len(desc) && inferred[i] == d {
			out[i] = d
		}
	}
	return out
}

// dimOf is the runtime size of axis ax of value x as an int64 [1] value.
func (c *conv) dimOf(x string, ax int64) string {
	sh := c.g.op1("Shape", "dim", []string{x})
	return c.g.op1("Gather", "dim", []string{sh, c.g.constI64("ax", []int64{1}, []int64{ax})}, aInt("axis", 0))
}

// adaptiveAvgDynamic is adaptive average pooling of x [N,C,H,W] to
// [N,C,oh,ow] for a runtime H, W: bin i of n inputs covers
// [floor(i·n/o), ceil((i+1)·n/o)), so y = Ph·x·Pwᵀ with Ph [oh,H] holding
// 1/len over each bin (models-and-formats §D.1 adaptive pooling).
func (c *conv) adaptiveAvgDynamic(x, out string, oh, ow int64) {
	ph := c.binMatrix(c.dimOf(x, 2), oh, c.dt[x])
	pw := c.binMatrix(c.dimOf(x, 3), ow, c.dt[x])
	pwT := c.g.op1("Transpose", "apool", []string{pw}, aInts("perm", 1, 0))
	y := c.g.op1("MatMul", "apool", []string{ph, x})
	c.g.node("MatMul", []string{y, pwT}, []string{out})
}

// binMatrix builds the [o, n] averaging matrix of adaptive pooling for a
// runtime size n (an int64 [1] value).
func (c *conv) binMatrix(n string, o int64, dt onnx.TensorProto_DataType) string {
	idx := make([]int64, o)
	for i := range idx {
		idx[i] = int64(i)
	}
	i := c.g.constI64("bin_i", []int64{o, 1}, idx)
	ov := c.g.constI64("bin_o", nil, []int64{o})
	one := c.g.constI64("bin_1", nil, []int64{1})
	start := c.g.op1("Div", "bin", []string{c.g.op1("Mul", "bin", []string{i, n}), ov})
	i1 := c.g.op1("Add", "bin", []string{i, one})
	num := c.g.op1("Add", "bin", []string{c.g.op1("Mul", "bin", []string{i1, n}), c.g.constI64("bin_om1", nil, []int64{o - 1})})
	end := c.g.op1("Div", "bin", []string{num, ov})
	zero := c.g.constI64("bin_0", nil, []int64{0})
	ns := c.g.op1("Reshape", "bin", []string{n, c.g.constI64("empty", []int64{0}, nil)})
	h := c.g.op1("Range", "bin", []string{zero, ns, one})
	in := c.g.op1("And", "bin", []string{
		c.g.op1("GreaterOrEqual", "bin", []string{h, start}),
		c.g.op1("Less", "bin", []string{h, end})})
	f := c.g.op1("Cast", "bin", []string{in}, aInt("to", int64(dt)))
	cnt := c.g.op1("Cast", "bin", []string{c.g.op1("Sub", "bin", []string{end, start})}, aInt("to", int64(dt)))
	m := c.g.op1("Div", "bin", []string{f, cnt})
	// A no-op that tells shape inference the matrix has o rows.
	return c.g.op1("Reshape", "bin", []string{m, c.g.constI64("bin_shape", []int64{2}, []int64{o, -1})})
}

// needsStatic is the error of an op that a dynamic input size defeats.
func needsStatic(format string, a ...any) error {
	return fmt.Errorf("%s: %w", fmt.Sprintf(format, a...), errNeedsStatic)
}
