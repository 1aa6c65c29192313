package paddle

// Padding and data movement: pad3d (PP-HGNetV2 stems), pad2d, pad, roll (Swin), pixel_shuffle, unstack/unbind.

import (
	"fmt"
	"math"

	"github.com/shitu-go/shitu/onnx"
)

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
