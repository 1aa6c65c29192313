package paddle

// Normalisations and reductions: layer_norm (PP-OCRv4 SVTR, ViT, Swin), group_norm, instance_norm, affine_channel, p_norm, norm, mean, sum.

import (
	"fmt"
	"math"

	"github.com/shitu-go/shitu/onnx"
)

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
