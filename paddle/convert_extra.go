package paddle

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/shitu-go/shitu/onnx"
	"google.golang.org/protobuf/proto"
)

// Ops of the PaddleClas backbones beyond PP-LCNet (PP-LCNetV3, PP-HGNet/V2,
// ResNet_vd, MobileNetV3, ViT, Swin) and of PP-OCRv4 recognition (SVTR
// neck): normalisations, activations, padding, rolling, gathers, old fc
// forms and constants. docs/paddle-ops.md lists every converted op.
func init() {
	for k, v := range map[string]func(*conv, *Op) error{
		"layer_norm":           convLayerNorm,
		"group_norm":           convGroupNorm,
		"instance_norm":        convInstanceNorm,
		"gelu":                 convGelu,
		"silu":                 convSilu,
		"mish":                 convMish,
		"elu":                  convElu,
		"softplus":             convSoftplus,
		"log_softmax":          convLogSoftmax,
		"prelu":                convPRelu,
		"erf":                  unary("Erf"),
		"reciprocal":           unary("Reciprocal"),
		"ceil":                 unary("Ceil"),
		"sin":                  unary("Sin"),
		"cos":                  unary("Cos"),
		"sign":                 unary("Sign"),
		"round":                unary("Round"),
		"square":               convSquare,
		"rsqrt":                convRsqrt,
		"pad3d":                convPad3d,
		"pad2d":                convPad2d,
		"pad":                  convPad,
		"roll":                 convRoll,
		"index_select":         convIndexSelect,
		"gather_nd":            convGatherND,
		"strided_slice":        convStridedSlice,
		"mul":                  convMul,
		"fc":                   convFC,
		"bmm":                  convMatmul,
		"sum":                  convSum,
		"mean":                 convMean,
		"p_norm":               convPNorm,
		"norm":                 convL2Norm,
		"assign_value":         convAssignValue,
		"fill_any_like":        convFillAnyLike,
		"fill_zeros_like":      convFillAnyLike,
		"arg_min":              convArgMin,
		"not_equal":            convNotEqual,
		"pixel_shuffle":        convPixelShuffle,
		"expand_as_v2":         convExpandAs,
		"affine_channel":       convAffineChannel,
		"squeeze":              convSqueeze,
		"unsqueeze":            convUnsqueeze,
		"elementwise_floordiv": convFloorDiv,
		"elementwise_mod":      convMod,
		"unstack":              convUnstack,
		"unbind":               convUnstack,
		"cumsum":               convCumSum,
		"sync_batch_norm":      convBatchNorm,
		"brelu":                convBRelu,
		"selu":                 convSelu,
		"softsign":             unary("Softsign"),
		"logsigmoid":           convLogSigmoid,
	} {
		handlers[k] = v
	}
}

// constInts returns the value of an integer var known at conversion time.
func (c *conv) constInts(name string) ([]int64, bool) {
	if v, ok := c.consts[name]; ok {
		return v, true
	}
	t, ok := c.param(name)
	if !ok {
		return nil, false
	}
	switch t.DType {
	case Int32:
		v := make([]int64, len(t.Data)/4)
		for i := range v {
			v[i] = int64(int32(binary.LittleEndian.Uint32(t.Data[4*i:])))
		}
		return v, true
	case Int64:
		v := make([]int64, len(t.Data)/8)
		for i := range v {
			v[i] = int64(binary.LittleEndian.Uint64(t.Data[8*i:]))
		}
		return v, true
	}
	return nil, false
}

// reduceAxes emits a reduction over axes (all when nil); the axes are an
// attribute before opset 18 (ReduceSum: 13) and an input from then on.
func (c *conv) reduceAxes(onnxOp, x string, axes []int64, keep bool) string {
	k := int64(0)
	if keep {
		k = 1
	}
	attrs := []*onnx.AttributeProto{aInt("keepdims", k)}
	ins := []string{x}
	if axes != nil {
		if onnxOp == "ReduceSum" || c.opts.Opset >= 18 {
			ins = append(ins, c.g.constI64("axes", []int64{int64(len(axes))}, axes))
		} else {
			attrs = append(attrs, aInts("axes", axes...))
		}
	}
	return c.like(c.g.op1(onnxOp, "reduce", ins, attrs...), x)
}

// scalarLike is a rank-0 constant of x's element type.
func (c *conv) scalarLike(base, x string, v float64) (string, error) {
	return c.g.constScalar(base, c.dt[x], v)
}

// normalizeLast normalises x over its last axis: (x−mean)/sqrt(var+eps),
// the population variance as Paddle's kernels compute it.
func (c *conv) normalizeLast(x string, eps float64) (string, error) {
	mean := c.reduceAxes("ReduceMean", x, []int64{-1}, true)
	d := c.like(c.g.op1("Sub", "norm", []string{x, mean}), x)
	v := c.reduceAxes("ReduceMean", c.like(c.g.op1("Mul", "norm", []string{d, d}), x), []int64{-1}, true)
	e, err := c.scalarLike("norm_eps", x, eps)
	if err != nil {
		return "", err
	}
	sd := c.g.op1("Sqrt", "norm", []string{c.g.op1("Add", "norm", []string{v, e})})
	return c.like(c.g.op1("Div", "norm", []string{d, sd}), x), nil
}

// convLayerNorm: Paddle normalises x viewed as [prod(dims[:b]),
// prod(dims[b:])] with b = begin_norm_axis, then applies Scale and Bias,
// both 1-D of prod(dims[b:]) values. So does the conversion: Flatten at b
// (when b is not already the last axis), normalise the last axis, scale,
// shift, and give x's shape back. Mean and Variance are not produced.
func convLayerNorm(c *conv, op *Op) error {
	x, err := c.input(op, "X")
	if err != nil {
		return err
	}
	out, err := c.output(op, "Y", c.dt[x])
	if err != nil {
		return err
	}
	r := int64(c.rank(op.Input("X")[0]))
	if r < 1 {
		return fmt.Errorf("rank of %q unknown", op.Input("X")[0])
	}
	b := op.Int("begin_norm_axis", 1)
	if b < 0 {
		b += r
	}
	if b < 0 || b >= r {
		return fmt.Errorf("begin_norm_axis %d for rank %d", op.Int("begin_norm_axis", 1), r)
	}
	cur := x
	flat := b != r-1
	if flat {
		cur = c.like(c.g.op1("Flatten", "ln", []string{x}, aInt("axis", b)), x)
	}
	if cur, err = c.normalizeLast(cur, op.Float("epsilon", 1e-5)); err != nil {
		return err
	}
	for _, s := range []struct{ slot, onnxOp string }{{"Scale", "Mul"}, {"Bias", "Add"}} {
		if !hasInput(op, s.slot) {
			continue
		}
		p, err := c.input(op, s.slot)
		if err != nil {
			return err
		}
		cur = c.like(c.g.op1(s.onnxOp, "ln", []string{cur, p}), x)
	}
	if flat {
		c.g.node("Reshape", []string{cur, c.g.op1("Shape", "ln", []string{x})}, []string{out})
	} else {
		c.g.node("Identity", []string{cur}, []string{out})
	}
	return nil
}

// convGroupNorm: x [N,C,...] viewed as [N, groups, −1], normalised over
// the last axis, shaped back, then Scale and Bias per channel.
func convGroupNorm(c *conv, op *Op) error {
	if err := checkNCHW(op, "data_layout"); err != nil {
		return err
	}
	x, err := c.input(op, "X")
	if err != nil {
		return err
	}
	out, err := c.output(op, "Y", c.dt[x])
	if err != nil {
		return err
	}
	r := c.rank(op.Input("X")[0])
	if r < 2 {
		return fmt.Errorf("rank %d", r)
	}
	g := op.Int("groups", 1)
	v := c.like(c.g.op1("Reshape", "gn", []string{x, c.g.constI64("gn_shape", []int64{3}, []int64{0, g, -1})}), x)
	if v, err = c.normalizeLast(v, op.Float("epsilon", 1e-5)); err != nil {
		return err
	}
	v = c.like(c.g.op1("Reshape", "gn", []string{v, c.g.op1("Shape", "gn", []string{x})}), x)
	v, err = c.perChannel(op, v, r, "Scale", "Bias")
	if err != nil {
		return err
	}
	c.g.node("Identity", []string{v}, []string{out})
	return nil
}

// perChannel multiplies by a [C] scale and adds a [C] bias (both optional)
// on axis 1 of a rank-r value.
func (c *conv) perChannel(op *Op, v string, r int, scale, bias string) (string, error) {
	shape := make([]int64, r-1)
	for i := range shape {
		shape[i] = 1
	}
	shape[0] = -1
	for _, s := range []struct{ slot, onnxOp string }{{scale, "Mul"}, {bias, "Add"}} {
		if !hasInput(op, s.slot) {
			continue
		}
		p, err := c.input(op, s.slot)
		if err != nil {
			return "", err
		}
		p = c.g.op1("Reshape", "chan", []string{p, c.g.constI64("chan_shape", []int64{int64(len(shape))}, shape)})
		v = c.like(c.g.op1(s.onnxOp, "chan", []string{v, p}), v)
	}
	return v, nil
}

func convInstanceNorm(c *conv, op *Op) error {
	x, err := c.input(op, "X")
	if err != nil {
		return err
	}
	out, err := c.output(op, "Y", c.dt[x])
	if err != nil {
		return err
	}
	if !hasInput(op, "Scale") || !hasInput(op, "Bias") {
		// Without affine parameters: normalise each [N,C] slice directly.
		r := c.rank(op.Input("X")[0])
		if r < 3 {
			return fmt.Errorf("rank %d", r)
		}
		v := c.like(c.g.op1("Flatten", "in", []string{x}, aInt("axis", 2)), x)
		if v, err = c.normalizeLast(v, op.Float("epsilon", 1e-5)); err != nil {
			return err
		}
		v, err = c.perChannel(op, c.like(c.g.op1("Reshape", "in", []string{v, c.g.op1("Shape", "in", []string{x})}), x), r, "Scale", "Bias")
		if err != nil {
			return err
		}
		c.g.node("Identity", []string{v}, []string{out})
		return nil
	}
	s, err := c.input(op, "Scale")
	if err != nil {
		return err
	}
	b, err := c.input(op, "Bias")
	if err != nil {
		return err
	}
	c.g.node("InstanceNormalization", []string{x, s, b}, []string{out}, aFloat("epsilon", float32(op.Float("epsilon", 1e-5))))
	return nil
}

// convGelu: exact 0.5·x·(1+erf(x/√2)), or with approximate the tanh form
// 0.5·x·(1+tanh(√(2/π)·(x+0.044715·x³))).
func convGelu(c *conv, op *Op) error {
	x, out, err := c.x1(op)
	if err != nil {
		return err
	}
	k := func(base string, v float64) string {
		s, e := c.scalarLike(base, x, v)
		if e != nil && err == nil {
			err = e
		}
		return s
	}
	var inner string
	if op.Bool("approximate", false) {
		x3 := c.g.op1("Mul", "gelu", []string{c.g.op1("Mul", "gelu", []string{x, x}), x})
		t := c.g.op1("Add", "gelu", []string{x, c.g.op1("Mul", "gelu", []string{x3, k("gelu_c", 0.044715)})})
		inner = c.g.op1("Tanh", "gelu", []string{c.g.op1("Mul", "gelu", []string{t, k("gelu_k", math.Sqrt(2/math.Pi))})})
	} else {
		inner = c.g.op1("Erf", "gelu", []string{c.g.op1("Mul", "gelu", []string{x, k("gelu_r2", 1/math.Sqrt2)})})
	}
	one := c.g.op1("Add", "gelu", []string{inner, k("gelu_1", 1)})
	half := c.g.op1("Mul", "gelu", []string{x, k("gelu_h", 0.5)})
	if err != nil {
		return err
	}
	c.g.node("Mul", []string{half, one}, []string{out})
	return nil
}

func convSilu(c *conv, op *Op) error {
	x, out, err := c.x1(op)
	if err != nil {
		return err
	}
	c.g.node("Mul", []string{x, c.g.op1("Sigmoid", "silu", []string{x})}, []string{out})
	return nil
}

// softplusT is Paddle's softplus: x where β·x > threshold, else
// log(1+exp(β·x))/β.
func (c *conv) softplusT(x string, beta, threshold float64) (string, error) {
	bx := x
	if beta != 1 {
		b, err := c.scalarLike("sp_beta", x, beta)
		if err != nil {
			return "", err
		}
		bx = c.g.op1("Mul", "sp", []string{x, b})
	}
	sp := c.g.op1("Softplus", "sp", []string{bx})
	if beta != 1 {
		b, _ := c.scalarLike("sp_beta", x, beta)
		sp = c.g.op1("Div", "sp", []string{sp, b})
	}
	th, err := c.scalarLike("sp_th", x, threshold)
	if err != nil {
		return "", err
	}
	return c.like(c.g.op1("Where", "sp", []string{c.g.op1("Greater", "sp", []string{bx, th}), x, sp}), x), nil
}

func convSoftplus(c *conv, op *Op) error {
	x, out, err := c.x1(op)
	if err != nil {
		return err
	}
	sp, err := c.softplusT(x, op.Float("beta", 1), op.Float("threshold", 20))
	if err != nil {
		return err
	}
	c.g.node("Identity", []string{sp}, []string{out})
	return nil
}

// convMish: x·tanh(softplus(x)), softplus with Paddle's threshold (20).
func convMish(c *conv, op *Op) error {
	x, out, err := c.x1(op)
	if err != nil {
		return err
	}
	sp, err := c.softplusT(x, 1, op.Float("threshold", 20))
	if err != nil {
		return err
	}
	c.g.node("Mul", []string{x, c.g.op1("Tanh", "mish", []string{sp})}, []string{out})
	return nil
}

func convElu(c *conv, op *Op) error {
	x, out, err := c.x1(op)
	if err != nil {
		return err
	}
	c.g.node("Elu", []string{x}, []string{out}, aFloat("alpha", float32(op.Float("alpha", 1))))
	return nil
}

func convLogSoftmax(c *conv, op *Op) error {
	x, out, err := c.x1(op)
	if err != nil {
		return err
	}
	c.g.node("LogSoftmax", []string{x}, []string{out}, aInt("axis", op.Int("axis", -1)))
	return nil
}

func convSquare(c *conv, op *Op) error {
	x, out, err := c.x1(op)
	if err != nil {
		return err
	}
	c.g.node("Mul", []string{x, x}, []string{out})
	return nil
}

func convRsqrt(c *conv, op *Op) error {
	x, out, err := c.x1(op)
	if err != nil {
		return err
	}
	c.g.node("Reciprocal", []string{c.g.op1("Sqrt", "rsqrt", []string{x})}, []string{out})
	return nil
}

// convPRelu: mode "all" (one slope), "channel" (a slope per channel, axis
// 1 for NCHW, the last axis for NHWC) or "element" (a slope per element of
// x's dims after the batch).
func convPRelu(c *conv, op *Op) error {
	x, out, err := c.x1(op)
	if err != nil {
		return err
	}
	a, err := c.input(op, "Alpha")
	if err != nil {
		return err
	}
	r := c.rank(op.Input("X")[0])
	ra := c.rank(op.Input("Alpha")[0])
	switch mode := op.Str("mode", "all"); mode {
	case "all":
		a = c.g.op1("Reshape", "prelu", []string{a, c.g.constI64("one", []int64{1}, []int64{1})})
	case "channel":
		if f := op.Str("data_format", "NCHW"); f == "NCHW" || f == "NCDHW" || f == "NCL" {
			if r < 2 {
				return fmt.Errorf("channel mode on rank %d", r)
			}
			shape := make([]int64, r-1)
			for i := range shape {
				shape[i] = 1
			}
			shape[0] = -1
			a = c.g.op1("Reshape", "prelu", []string{a, c.g.constI64("prelu_shape", []int64{int64(len(shape))}, shape)})
		} else {
			a = c.g.op1("Reshape", "prelu", []string{a, c.g.constI64("m1", []int64{1}, []int64{-1})})
		}
	case "element":
		if r < 1 || ra < 0 {
			return fmt.Errorf("element mode needs the ranks")
		}
		if ra == r-1 {
			a = c.g.op1("Unsqueeze", "prelu", []string{a, c.g.constI64("axes", []int64{1}, []int64{0})})
		} else if ra != r {
			d := c.staticDims(op.Input("X")[0])
			if len(d) != r {
				return fmt.Errorf("element mode with alpha of rank %d needs x's static dims", ra)
			}
			shape := append([]int64{1}, d[1:]...)
			a = c.g.op1("Reshape", "prelu", []string{a, c.g.constI64("prelu_shape", []int64{int64(len(shape))}, shape)})
		}
	default:
		return fmt.Errorf("mode %q", mode)
	}
	c.g.node("PRelu", []string{x, a}, []string{out})
	return nil
}

// padTo emits an ONNX Pad of x with begin/end pads per axis and Paddle's
// mode: constant (value), reflect, replicate (ONNX edge) or circular
// (ONNX wrap from opset 19, else Slice+Concat).
func (c *conv) padTo(x, out string, begin, end []int64, mode string, value float64) error {
	n := len(begin)
	pads := append(append([]int64(nil), begin...), end...)
	switch mode {
	case "constant", "":
		v, err := c.scalarLike("pad_value", x, value)
		if err != nil {
			return err
		}
		c.g.node("Pad", []string{x, c.g.constI64("pads", []int64{int64(2 * n)}, pads), v}, []string{out}, aStr("mode", "constant"))
	case "reflect":
		c.g.node("Pad", []string{x, c.g.constI64("pads", []int64{int64(2 * n)}, pads)}, []string{out}, aStr("mode", "reflect"))
	case "replicate", "edge":
		c.g.node("Pad", []string{x, c.g.constI64("pads", []int64{int64(2 * n)}, pads)}, []string{out}, aStr("mode", "edge"))
	case "circular":
		if c.opts.Opset >= 19 {
			c.g.node("Pad", []string{x, c.g.constI64("pads", []int64{int64(2 * n)}, pads)}, []string{out}, aStr("mode", "wrap"))
			return nil
		}
		cur := x
		for ax := 0; ax < n; ax++ {
			b, e := begin[ax], end[ax]
			if b < 0 || e < 0 {
				return fmt.Errorf("negative circular padding")
			}
			if b == 0 && e == 0 {
				continue
			}
			sl := func(s, t int64) string {
				return c.g.op1("Slice", "cpad", []string{cur, c.g.constI64("s", []int64{1}, []int64{s}),
					c.g.constI64("e", []int64{1}, []int64{t}), c.g.constI64("a", []int64{1}, []int64{int64(ax)})})
			}
			var parts []string
			if b > 0 {
				parts = append(parts, sl(-b, math.MaxInt64))
			}
			parts = append(parts, cur)
			if e > 0 {
				parts = append(parts, sl(0, e))
			}
			cur = c.like(c.g.op1("Concat", "cpad", parts, aInt("axis", int64(ax))), x)
		}
		c.g.node("Identity", []string{cur}, []string{out})
	default:
		return fmt.Errorf("mode %q", mode)
	}
	return nil
}

// convPad3d: paddings [left, right, top, bottom, front, back] of a 5-D
// NCDHW/NDHWC input (a 4-D input takes the first four, as NCHW/NHWC).
func convPad3d(c *conv, op *Op) error {
	x, out, err := c.x1(op)
	if err != nil {
		return err
	}
	p := op.Ints("paddings", nil)
	if hasInput(op, "Paddings") {
		v, ok := c.constInts(op.Input("Paddings")[0])
		if !ok {
			return fmt.Errorf("the Paddings input is not a constant")
		}
		p = v
	}
	r := c.rank(op.Input("X")[0])
	if r != 4 && r != 5 {
		return fmt.Errorf("input of rank %d", r)
	}
	if len(p) == 4 {
		p = append(append([]int64(nil), p...), 0, 0)
	}
	if len(p) != 6 {
		return fmt.Errorf("paddings %v: want 6 values", p)
	}
	last := op.Str("data_format", "NCDHW") == "NDHWC" || op.Str("data_format", "") == "NHWC"
	begin, end := make([]int64, r), make([]int64, r)
	// Spatial axes W, H, D from the innermost outwards.
	w := r - 1
	if last {
		w = r - 2
	}
	for k := 0; k < r-2; k++ {
		begin[w-k], end[w-k] = p[2*k], p[2*k+1]
	}
	if r == 4 && (p[4] != 0 || p[5] != 0) {
		return fmt.Errorf("front/back paddings %v on a 4-D input", p[4:])
	}
	return c.padTo(x, out, begin, end, op.Str("mode", "constant"), op.Float("value", 0))
}

// convPad2d (fluid): paddings [top, bottom, left, right], mode constant,
// reflect or edge, pad_value.
func convPad2d(c *conv, op *Op) error {
	x, out, err := c.x1(op)
	if err != nil {
		return err
	}
	p := op.Ints("paddings", nil)
	if hasInput(op, "Paddings") {
		v, ok := c.constInts(op.Input("Paddings")[0])
		if !ok {
			return fmt.Errorf("the Paddings input is not a constant")
		}
		p = v
	}
	if len(p) != 4 {
		return fmt.Errorf("paddings %v: want 4 values", p)
	}
	begin, end := make([]int64, 4), make([]int64, 4)
	h := 2
	if op.Str("data_format", "NCHW") == "NHWC" {
		h = 1
	}
	begin[h], end[h], begin[h+1], end[h+1] = p[0], p[1], p[2], p[3]
	return c.padTo(x, out, begin, end, op.Str("mode", "constant"), op.Float("pad_value", 0))
}

// convPad (fluid): paddings [before_0, after_0, before_1, ...] for every
// axis, constant pad_value.
func convPad(c *conv, op *Op) error {
	x, out, err := c.x1(op)
	if err != nil {
		return err
	}
	p := op.Ints("paddings", nil)
	if len(p)%2 != 0 || len(p) == 0 {
		return fmt.Errorf("paddings %v", p)
	}
	n := len(p) / 2
	begin, end := make([]int64, n), make([]int64, n)
	for i := 0; i < n; i++ {
		begin[i], end[i] = p[2*i], p[2*i+1]
	}
	return c.padTo(x, out, begin, end, "constant", op.Float("pad_value", 0))
}

// convRoll: out[(i+shift) mod n] = x[i] along each axis (numpy.roll); with
// no axis the flattened tensor is rolled and shaped back.
func convRoll(c *conv, op *Op) error {
	x, out, err := c.x1(op)
	if err != nil {
		return err
	}
	shifts := op.Ints("shifts", nil)
	if hasInput(op, "ShiftsTensor") {
		v, ok := c.constInts(op.Input("ShiftsTensor")[0])
		if !ok {
			return fmt.Errorf("the ShiftsTensor input is not a constant")
		}
		shifts = v
	}
	axes := op.Ints("axis", nil)
	cur := x
	flat := len(axes) == 0
	if flat {
		cur = c.like(c.g.op1("Reshape", "roll", []string{x, c.g.constI64("m1", []int64{1}, []int64{-1})}), x)
		axes = []int64{0}
	}
	if len(shifts) != len(axes) {
		return fmt.Errorf("%d shifts for %d axes", len(shifts), len(axes))
	}
	d := c.staticDims(op.Input("X")[0])
	if flat {
		n := int64(-1) // the element count, when static
		if len(d) > 0 {
			n = 1
		}
		for _, v := range d {
			if v < 0 {
				n = -1
				break
			}
			n *= v
		}
		d = nil
		if n > 0 && len(shifts) == 1 {
			shifts = []int64{((shifts[0] % n) + n) % n}
		}
	}
	for i, ax := range axes {
		s := shifts[i]
		if !flat && ax >= 0 && int(ax) < len(d) && d[ax] > 0 {
			s = ((s % d[ax]) + d[ax]) % d[ax]
		} else if !flat && ax < 0 && int(ax)+len(d) >= 0 && d[int(ax)+len(d)] > 0 {
			n := d[int(ax)+len(d)]
			s = ((s % n) + n) % n
		}
		if s == 0 {
			continue
		}
		sl := func(from, to int64) string {
			return c.g.op1("Slice", "roll", []string{cur, c.g.constI64("s", []int64{1}, []int64{from}),
				c.g.constI64("e", []int64{1}, []int64{to}), c.g.constI64("a", []int64{1}, []int64{ax})})
		}
		// roll by s = [x[−s:], x[:−s]] (for s < 0 the same with −s from the front).
		cur = c.like(c.g.op1("Concat", "roll", []string{sl(-s, math.MaxInt64), sl(0, -s)}, aInt("axis", ax)), x)
	}
	if flat {
		cur = c.like(c.g.op1("Reshape", "roll", []string{cur, c.g.op1("Shape", "roll", []string{x})}), x)
	}
	c.g.node("Identity", []string{cur}, []string{out})
	return nil
}

func convIndexSelect(c *conv, op *Op) error {
	x, err := c.input(op, "X")
	if err != nil {
		return err
	}
	idx, err := c.input(op, "Index")
	if err != nil {
		return err
	}
	out, err := c.output(op, "Out", c.dt[x])
	if err != nil {
		return err
	}
	c.g.node("Gather", []string{x, idx}, []string{out}, aInt("axis", op.Int("dim", 0)))
	return nil
}

func convGatherND(c *conv, op *Op) error {
	x, err := c.input(op, "X")
	if err != nil {
		return err
	}
	idx, err := c.input(op, "Index")
	if err != nil {
		return err
	}
	if c.dt[idx] != onnx.TensorProto_INT64 {
		idx = c.g.op1("Cast", "gnd", []string{idx}, aInt("to", int64(onnx.TensorProto_INT64)))
	}
	out, err := c.output(op, "Out", c.dt[x])
	if err != nil {
		return err
	}
	c.g.node("GatherND", []string{x, idx}, []string{out})
	return nil
}

// intList is an int64 1-D value from a whole-tensor slot, a list-of-
// scalars slot, or an attribute, in that order of precedence.
func (c *conv) intList(op *Op, attr, tensorSlot, listSlot string) (string, int, error) {
	if tensorSlot != "" && hasInput(op, tensorSlot) {
		if v, ok := c.constInts(op.Input(tensorSlot)[0]); ok {
			return c.g.constI64(attr, []int64{int64(len(v))}, v), len(v), nil
		}
		v, err := c.input(op, tensorSlot)
		if err != nil {
			return "", 0, err
		}
		return c.asShape1D(v), -1, nil
	}
	if listSlot != "" && hasInput(op, listSlot) {
		var parts []string
		for _, a := range op.Input(listSlot) {
			if v, ok := c.constInts(a); ok {
				parts = append(parts, c.g.constI64(attr, []int64{int64(len(v))}, v))
				continue
			}
			v, err := c.in(a)
			if err != nil {
				return "", 0, err
			}
			parts = append(parts, c.asShape1D(v))
		}
		return c.g.op1("Concat", attr, parts, aInt("axis", 0)), len(parts), nil
	}
	v := op.Ints(attr, nil)
	return c.g.constI64(attr, []int64{int64(len(v))}, v), len(v), nil
}

// convStridedSlice: Slice with steps; decrease_axis squeezes those axes
// when the output rank says they are gone.
func convStridedSlice(c *conv, op *Op) error {
	x, err := c.input(op, "Input")
	if err != nil {
		return err
	}
	out, err := c.output(op, "Out", c.dt[x])
	if err != nil {
		return err
	}
	axes := op.Ints("axes", nil)
	n := []int64{int64(len(axes))}
	starts, _, err := c.intList(op, "starts", "StartsTensor", "StartsTensorList")
	if err != nil {
		return err
	}
	ends, _, err := c.intList(op, "ends", "EndsTensor", "EndsTensorList")
	if err != nil {
		return err
	}
	steps, _, err := c.intList(op, "strides", "StridesTensor", "StridesTensorList")
	if err != nil {
		return err
	}
	s := c.g.op1("Slice", "sslice", []string{x, starts, ends, c.g.constI64("axes", n, axes), steps})
	dec := op.Ints("decrease_axis", nil)
	rin, rout := c.rank(op.Input("Input")[0]), c.rank(op.Output("Out")[0])
	if len(dec) > 0 && rin >= 0 && rout >= 0 && rout < rin {
		c.g.node("Squeeze", []string{s, c.g.constI64("axes", []int64{int64(len(dec))}, dec)}, []string{out})
		return nil
	}
	c.g.node("Identity", []string{s}, []string{out})
	return nil
}

// flatMatMul is the old fc arithmetic: x flattened to 2-D at xn, times y
// flattened at yn, shaped back to x.dims[:xn] ++ y.dims[yn:].
func (c *conv) flatMatMul(x, y string, xn, yn int64, yRank int) string {
	x2 := c.like(c.g.op1("Flatten", "fc", []string{x}, aInt("axis", xn)), x)
	y2 := y
	if yRank != 2 || yn != 1 {
		y2 = c.g.op1("Flatten", "fc", []string{y}, aInt("axis", yn))
	}
	m := c.like(c.g.op1("MatMul", "fc", []string{x2, y2}), x)
	if xn == 1 && yRank == 2 && yn == 1 {
		return m
	}
	head := c.g.op1("Slice", "fc", []string{c.g.op1("Shape", "fc", []string{x}),
		c.g.constI64("s", []int64{1}, []int64{0}), c.g.constI64("e", []int64{1}, []int64{xn})})
	tail := c.g.op1("Slice", "fc", []string{c.g.op1("Shape", "fc", []string{y}),
		c.g.constI64("s", []int64{1}, []int64{yn}), c.g.constI64("e", []int64{1}, []int64{math.MaxInt64})})
	return c.like(c.g.op1("Reshape", "fc", []string{m, c.g.op1("Concat", "fc", []string{head, tail}, aInt("axis", 0))}), x)
}

func convMul(c *conv, op *Op) error {
	x, err := c.input(op, "X")
	if err != nil {
		return err
	}
	y, err := c.input(op, "Y")
	if err != nil {
		return err
	}
	out, err := c.output(op, "Out", c.dt[x])
	if err != nil {
		return err
	}
	m := c.flatMatMul(x, y, op.Int("x_num_col_dims", 1), op.Int("y_num_col_dims", 1), c.rank(op.Input("Y")[0]))
	c.g.node("Identity", []string{m}, []string{out})
	return nil
}

// convFC: the fused fc op, Input flattened at in_num_col_dims times W
// plus Bias, then the optional relu.
func convFC(c *conv, op *Op) error {
	if op.Bool("padding_weights", false) {
		return fmt.Errorf("padding_weights is not supported")
	}
	x, err := c.input(op, "Input")
	if err != nil {
		return err
	}
	w, err := c.input(op, "W")
	if err != nil {
		return err
	}
	out, err := c.output(op, "Out", c.dt[x])
	if err != nil {
		return err
	}
	m := c.flatMatMul(x, w, op.Int("in_num_col_dims", 1), 1, 2)
	if hasInput(op, "Bias") {
		b, err := c.input(op, "Bias")
		if err != nil {
			return err
		}
		b = c.g.op1("Reshape", "fc", []string{b, c.g.constI64("m1", []int64{1}, []int64{-1})})
		m = c.like(c.g.op1("Add", "fc", []string{m, b}), x)
	}
	switch act := op.Str("activation_type", ""); act {
	case "":
		c.g.node("Identity", []string{m}, []string{out})
	case "relu":
		c.g.node("Relu", []string{m}, []string{out})
	default:
		return fmt.Errorf("activation_type %q", act)
	}
	return nil
}

func convSum(c *conv, op *Op) error {
	var ins []string
	for _, a := range op.Input("X") {
		v, err := c.in(a)
		if err != nil {
			return err
		}
		ins = append(ins, v)
	}
	if len(ins) == 0 {
		return fmt.Errorf("no inputs")
	}
	out, err := c.output(op, "Out", c.dt[ins[0]])
	if err != nil {
		return err
	}
	c.g.node("Sum", ins, []string{out})
	return nil
}

// convMean: the mean of every element, [1] in Paddle < 2.5, 0-D after.
func convMean(c *conv, op *Op) error {
	x, out, err := c.x1(op)
	if err != nil {
		return err
	}
	m := c.reduceAxes("ReduceMean", x, nil, false)
	if c.rank(op.Output("Out")[0]) == 1 {
		c.g.node("Reshape", []string{m, c.g.constI64("one", []int64{1}, []int64{1})}, []string{out})
		return nil
	}
	c.g.node("Identity", []string{m}, []string{out})
	return nil
}

// convPNorm: (Σ|x|^p)^(1/p) over axis (all with asvector); p = 2, 1 and
// ±inf take ReduceL2, ReduceL1, ReduceMax/Min of |x|. epsilon only
// matters for the gradient.
func convPNorm(c *conv, op *Op) error {
	x, out, err := c.x1(op)
	if err != nil {
		return err
	}
	p := op.Float("porder", 2)
	keep := op.Bool("keepdim", false)
	axes := []int64{op.Int("axis", -1)}
	if op.Bool("asvector", false) {
		axes = nil
	}
	var r string
	switch {
	case p == 2:
		r = c.reduceAxes("ReduceL2", x, axes, keep)
	case p == 1:
		r = c.reduceAxes("ReduceL1", x, axes, keep)
	case math.IsInf(p, 1):
		r = c.reduceAxes("ReduceMax", c.like(c.g.op1("Abs", "pnorm", []string{x}), x), axes, keep)
	case math.IsInf(p, -1):
		r = c.reduceAxes("ReduceMin", c.like(c.g.op1("Abs", "pnorm", []string{x}), x), axes, keep)
	case p == 0:
		// The count of non-zero entries.
		z, err := c.scalarLike("pnorm_0", x, 0)
		if err != nil {
			return err
		}
		nz := c.g.op1("Cast", "pnorm", []string{c.g.op1("Not", "pnorm", []string{c.g.op1("Equal", "pnorm", []string{x, z})})}, aInt("to", int64(c.dt[x])))
		r = c.reduceAxes("ReduceSum", c.like(nz, x), axes, keep)
	default:
		pv, err := c.scalarLike("pnorm_p", x, p)
		if err != nil {
			return err
		}
		ip, err := c.scalarLike("pnorm_ip", x, 1/p)
		if err != nil {
			return err
		}
		s := c.reduceAxes("ReduceSum", c.like(c.g.op1("Pow", "pnorm", []string{c.g.op1("Abs", "pnorm", []string{x}), pv}), x), axes, keep)
		r = c.g.op1("Pow", "pnorm", []string{s, ip})
	}
	// Paddle < 2.5 has no 0-D tensors: a reduction to a scalar is [1].
	rin := c.rank(op.Input("X")[0])
	if !keep && c.rank(op.Output("Out")[0]) == 1 && (axes == nil || rin == 1) {
		c.g.node("Reshape", []string{r, c.g.constI64("one", []int64{1}, []int64{1})}, []string{out})
		return nil
	}
	c.g.node("Identity", []string{r}, []string{out})
	return nil
}

// convL2Norm: the fluid norm op (l2_normalize): Out = x/√(Σx²+ε) over
// axis; Norm = √(Σx²+ε) keeps the axis.
func convL2Norm(c *conv, op *Op) error {
	x, err := c.input(op, "X")
	if err != nil {
		return err
	}
	axis := op.Int("axis", 1)
	s := c.reduceAxes("ReduceSum", c.like(c.g.op1("Mul", "l2n", []string{x, x}), x), []int64{axis}, true)
	e, err := c.scalarLike("l2n_eps", x, op.Float("epsilon", 1e-10))
	if err != nil {
		return err
	}
	n := c.g.op1("Sqrt", "l2n", []string{c.g.op1("Add", "l2n", []string{s, e})})
	out, err := c.output(op, "Out", c.dt[x])
	if err != nil {
		return err
	}
	c.g.node("Div", []string{x, n}, []string{out})
	if args := op.Output("Norm"); len(args) > 0 && args[0] != "" {
		c.g.node("Identity", []string{n}, []string{c.bind(args[0], c.dt[x])})
	}
	return nil
}

// convAssignValue: a constant from fp32_values / int32_values /
// int64_values / bool_values (or the SCALARS `values` of Paddle ≥ 2.6).
func convAssignValue(c *conv, op *Op) error {
	pd := DType(op.Int("dtype", int64(FP32)))
	dt, ok := onnxType(pd)
	if !ok {
		return fmt.Errorf("dtype %v", pd)
	}
	shape := op.Ints("shape", nil)
	n := int64(1)
	for _, d := range shape {
		if d < 0 {
			return fmt.Errorf("shape %v", shape)
		}
		n *= d
	}
	var f []float64
	for _, name := range []string{"fp32_values", "fp64_values", "int32_values", "int64_values", "bool_values", "values"} {
		if a := op.Attr(name); a != nil {
			if a.Type == AttrBools {
				for _, b := range a.Bools {
					f = append(f, map[bool]float64{false: 0, true: 1}[b])
				}
			} else if v := op.Floats(name, nil); len(v) > 0 {
				f = v
			} else if v := op.Ints(name, nil); len(v) > 0 {
				for _, x := range v {
					f = append(f, float64(x))
				}
			}
			if len(f) > 0 {
				break
			}
		}
	}
	if int64(len(f)) != n {
		return fmt.Errorf("%d values for shape %v", len(f), shape)
	}
	var raw []byte
	var ints []int64
	for _, v := range f {
		switch dt {
		case onnx.TensorProto_FLOAT:
			raw = binary.LittleEndian.AppendUint32(raw, math.Float32bits(float32(v)))
		case onnx.TensorProto_DOUBLE:
			raw = binary.LittleEndian.AppendUint64(raw, math.Float64bits(v))
		case onnx.TensorProto_INT32:
			raw = binary.LittleEndian.AppendUint32(raw, uint32(int32(v)))
			ints = append(ints, int64(v))
		case onnx.TensorProto_INT64:
			raw = binary.LittleEndian.AppendUint64(raw, uint64(int64(v)))
			ints = append(ints, int64(v))
		case onnx.TensorProto_BOOL:
			raw = append(raw, byte(v))
		default:
			return fmt.Errorf("dtype %v", pd)
		}
	}
	outs := op.Output("Out")
	if len(outs) == 0 {
		return fmt.Errorf("output Out is missing")
	}
	if ints != nil {
		c.consts[outs[0]] = ints
	}
	out := c.bind(outs[0], dt)
	c.g.addInit(&onnx.TensorProto{Name: proto.String(out), Dims: append([]int64{}, shape...),
		DataType: proto.Int32(int32(dt)), RawData: raw})
	return nil
}

// convFillAnyLike: a tensor of x's shape filled with value (dtype −1 keeps
// x's type); fill_zeros_like fills 0.
func convFillAnyLike(c *conv, op *Op) error {
	x, err := c.input(op, "X")
	if err != nil {
		return err
	}
	dt := c.dt[x]
	if pd := DType(op.Int("dtype", -1)); pd >= 0 {
		t, ok := onnxType(pd)
		if !ok {
			return fmt.Errorf("dtype %v", pd)
		}
		dt = t
	}
	v := 0.0
	if op.Type == "fill_any_like" {
		v = op.Float("value", 0)
	}
	s, err := c.g.constScalar("fill", dt, v)
	if err != nil {
		return err
	}
	out, err := c.output(op, "Out", dt)
	if err != nil {
		return err
	}
	c.g.node("Expand", []string{s, c.g.op1("Shape", "fill", []string{x})}, []string{out})
	return nil
}

func convArgMin(c *conv, op *Op) error { return convArg(c, op, "ArgMin") }

func convNotEqual(c *conv, op *Op) error {
	x, err := c.input(op, "X")
	if err != nil {
		return err
	}
	y, err := c.input(op, "Y")
	if err != nil {
		return err
	}
	if c.dt[y] != c.dt[x] {
		y = c.g.op1("Cast", "cmp", []string{y}, aInt("to", int64(c.dt[x])))
	}
	out, err := c.output(op, "Out", onnx.TensorProto_BOOL)
	if err != nil {
		return err
	}
	c.g.node("Not", []string{c.g.op1("Equal", "ne", []string{x, y})}, []string{out})
	return nil
}

// convPixelShuffle: out[n, c, h·r+i, w·r+j] = in[n, c·r²+i·r+j, h, w],
// ONNX DepthToSpace in CRD mode.
func convPixelShuffle(c *conv, op *Op) error {
	if err := checkNCHW(op, "data_format"); err != nil {
		return err
	}
	x, out, err := c.x1(op)
	if err != nil {
		return err
	}
	c.g.node("DepthToSpace", []string{x}, []string{out}, aInt("blocksize", op.Int("upscale_factor", 1)), aStr("mode", "CRD"))
	return nil
}

func convExpandAs(c *conv, op *Op) error {
	x, out, err := c.x1(op)
	if err != nil {
		return err
	}
	var shape string
	if hasInput(op, "Y") {
		y, err := c.input(op, "Y")
		if err != nil {
			return err
		}
		shape = c.g.op1("Shape", "expand_as", []string{y})
	} else {
		s := op.Ints("target_shape", nil)
		if len(s) == 0 {
			return fmt.Errorf("no target shape")
		}
		shape = c.g.constI64("expand_as", []int64{int64(len(s))}, s)
	}
	c.g.node("Expand", []string{x, shape}, []string{out})
	return nil
}

// convAffineChannel: x·Scale + Bias per channel (NCHW).
func convAffineChannel(c *conv, op *Op) error {
	if err := checkNCHW(op, "data_layout"); err != nil {
		return err
	}
	x, out, err := c.x1(op)
	if err != nil {
		return err
	}
	r := c.rank(op.Input("X")[0])
	if r < 2 {
		return fmt.Errorf("rank %d", r)
	}
	v, err := c.perChannel(op, x, r, "Scale", "Bias")
	if err != nil {
		return err
	}
	c.g.node("Identity", []string{v}, []string{out})
	return nil
}

// convFloorDiv: integer division rounding down (ONNX Div truncates, so
// the quotient is corrected where the signs differ and a remainder is
// left); integer operands only.
func convFloorDiv(c *conv, op *Op) error {
	x, err := c.input(op, "X")
	if err != nil {
		return err
	}
	y, err := c.input(op, "Y")
	if err != nil {
		return err
	}
	dt := c.dt[x]
	if dt != onnx.TensorProto_INT32 && dt != onnx.TensorProto_INT64 {
		return fmt.Errorf("element type %v (integers only)", dt)
	}
	if c.dt[y] != dt {
		y = c.g.op1("Cast", "fdiv", []string{y}, aInt("to", int64(dt)))
	}
	out, err := c.output(op, "Out", dt)
	if err != nil {
		return err
	}
	q := c.g.op1("Div", "fdiv", []string{x, y})
	zero, err := c.g.constScalar("zero", dt, 0)
	if err != nil {
		return err
	}
	rem := c.g.op1("Sub", "fdiv", []string{x, c.g.op1("Mul", "fdiv", []string{q, y})})
	neg := c.g.op1("Xor", "fdiv", []string{c.g.op1("Less", "fdiv", []string{x, zero}), c.g.op1("Less", "fdiv", []string{y, zero})})
	fix := c.g.op1("And", "fdiv", []string{neg, c.g.op1("Not", "fdiv", []string{c.g.op1("Equal", "fdiv", []string{rem, zero})})})
	c.g.node("Sub", []string{q, c.g.op1("Cast", "fdiv", []string{fix}, aInt("to", int64(dt)))}, []string{out})
	return nil
}

// convMod: Paddle's remainder takes the divisor's sign (Python %): ONNX
// Mod with fmod=0 for integers, x − floor(x/y)·y for floats.
func convMod(c *conv, op *Op) error {
	x, err := c.input(op, "X")
	if err != nil {
		return err
	}
	y, err := c.input(op, "Y")
	if err != nil {
		return err
	}
	if axis := op.Int("axis", -1); axis != -1 && c.rank(op.Input("Y")[0]) != c.rank(op.Input("X")[0]) {
		return fmt.Errorf("axis %d broadcasting", axis)
	}
	dt := c.dt[x]
	if c.dt[y] != dt {
		y = c.g.op1("Cast", "mod", []string{y}, aInt("to", int64(dt)))
	}
	out, err := c.output(op, "Out", dt)
	if err != nil {
		return err
	}
	switch dt {
	case onnx.TensorProto_INT32, onnx.TensorProto_INT64:
		c.g.node("Mod", []string{x, y}, []string{out}, aInt("fmod", 0))
	default:
		f := c.g.op1("Floor", "mod", []string{c.g.op1("Div", "mod", []string{x, y})})
		c.g.node("Sub", []string{x, c.g.op1("Mul", "mod", []string{f, y})}, []string{out})
	}
	return nil
}

// convUnstack: unstack/unbind split axis into its slices, each without
// that axis (Y for unstack, Out for unbind).
func convUnstack(c *conv, op *Op) error {
	x, err := c.input(op, "X")
	if err != nil {
		return err
	}
	slot := "Y"
	if op.Type == "unbind" {
		slot = "Out"
	}
	outs := op.Output(slot)
	if len(outs) == 0 {
		return fmt.Errorf("no outputs")
	}
	axis := op.Int("axis", 0)
	var attrs []*onnx.AttributeProto
	if c.opts.Opset >= 18 {
		attrs = append(attrs, aInt("num_outputs", int64(len(outs))))
	}
	parts := make([]string, len(outs))
	for i := range parts {
		parts[i] = c.g.fresh("unstack")
	}
	c.g.node("Split", []string{x}, parts, append(attrs, aInt("axis", axis))...)
	for i, o := range outs {
		c.g.node("Squeeze", []string{parts[i], c.g.constI64("axes", []int64{1}, []int64{axis})}, []string{c.bind(o, c.dt[x])})
	}
	return nil
}

// convCumSum: running sums along axis (flatten: over everything), with
// exclusive and reverse as in ONNX CumSum.
func convCumSum(c *conv, op *Op) error {
	x, out, err := c.x1(op)
	if err != nil {
		return err
	}
	axis := op.Int("axis", -1)
	if op.Bool("flatten", false) {
		x = c.like(c.g.op1("Reshape", "cumsum", []string{x, c.g.constI64("m1", []int64{1}, []int64{-1})}), x)
		axis = 0
	}
	b2i := func(b bool) int64 {
		if b {
			return 1
		}
		return 0
	}
	c.g.node("CumSum", []string{x, c.g.constI64("axis", nil, []int64{axis})}, []string{out},
		aInt("exclusive", b2i(op.Bool("exclusive", false))), aInt("reverse", b2i(op.Bool("reverse", false))))
	return nil
}

// convBRelu: the fluid bounded relu, clip(x, t_min, t_max).
func convBRelu(c *conv, op *Op) error {
	x, out, err := c.x1(op)
	if err != nil {
		return err
	}
	lo, err := c.scalarLike("brelu_min", x, op.Float("t_min", 0))
	if err != nil {
		return err
	}
	hi, err := c.scalarLike("brelu_max", x, op.Float("t_max", 24))
	if err != nil {
		return err
	}
	c.g.node("Clip", []string{x, lo, hi}, []string{out})
	return nil
}

func convSelu(c *conv, op *Op) error {
	x, out, err := c.x1(op)
	if err != nil {
		return err
	}
	c.g.node("Selu", []string{x}, []string{out},
		aFloat("alpha", float32(op.Float("alpha", 1.6732632423543772848170429916717))),
		aFloat("gamma", float32(op.Float("scale", 1.0507009873554804934193349852946))))
	return nil
}

// convLogSigmoid: log(sigmoid(x)) = −softplus(−x).
func convLogSigmoid(c *conv, op *Op) error {
	x, out, err := c.x1(op)
	if err != nil {
		return err
	}
	sp := c.g.op1("Softplus", "logsig", []string{c.g.op1("Neg", "logsig", []string{x})})
	c.g.node("Neg", []string{sp}, []string{out})
	return nil
}
