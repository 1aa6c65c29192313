package paddle

import (
	"fmt"

	"github.com/shitu-go/shitu/onnx"
)

// elementwise converts elementwise_* with Paddle's axis broadcasting: for
// axis = k ≥ 0 and rank(Y) < rank(X), Y's dims align with X's starting at
// dim k, so Y gets trailing 1-dims; axis −1 is numpy right-alignment
// (models-and-formats §D.1).
func elementwise(onnxOp string) func(*conv, *Op) error {
	return func(c *conv, op *Op) error {
		x, err := c.input(op, "X")
		if err != nil {
			return err
		}
		yName := op.Input("Y")
		y, err := c.input(op, "Y")
		if err != nil {
			return err
		}
		out, err := c.output(op, "Out", c.dt[x])
		if err != nil {
			return err
		}
		axis := op.Int("axis", -1)
		rx, ry := c.rank(op.Input("X")[0]), c.rank(yName[0])
		if axis >= 0 && rx >= 0 && ry >= 0 && ry < rx {
			trail := rx - int(axis) - ry
			if trail < 0 {
				return fmt.Errorf("axis %d with ranks %d and %d", axis, rx, ry)
			}
			if trail > 0 {
				axes := make([]int64, trail)
				for i := range axes {
					axes[i] = int64(ry + i)
				}
				y = c.g.op1("Unsqueeze", "bcast", []string{y, c.g.constI64("axes", []int64{int64(trail)}, axes)})
			}
		} else if axis >= 0 && (rx < 0 || ry < 0) && rx != ry {
			return fmt.Errorf("axis %d needs the ranks of X and Y", axis)
		}
		if c.dt[y] != c.dt[x] && c.dt[y] != 0 {
			y = c.g.op1("Cast", "bcast", []string{y}, aInt("to", int64(c.dt[x])))
		}
		c.g.node(onnxOp, []string{x, y}, []string{out})
		return nil
	}
}

func convFlattenRange(c *conv, op *Op) error {
	x, out, err := c.x1(op)
	if err != nil {
		return err
	}
	xn := op.Input("X")[0]
	r := c.rank(xn)
	if r < 0 {
		return fmt.Errorf("rank of %q unknown", xn)
	}
	start, stop := int(op.Int("start_axis", 1)), int(op.Int("stop_axis", 1))
	if start < 0 {
		start += r
	}
	if stop < 0 {
		stop += r
	}
	if r == 0 {
		start, stop = 0, 0
	}
	if start < 0 || stop >= max(r, 1) || start > stop {
		return fmt.Errorf("start_axis/stop_axis %d/%d for rank %d", start, stop, r)
	}
	shape := make([]int64, 0, r)
	for i := 0; i < start; i++ {
		shape = append(shape, 0) // 0 copies the input dim (Reshape without allowzero)
	}
	shape = append(shape, -1)
	d := c.staticDims(xn)
	for i := stop + 1; i < r; i++ {
		if len(d) != r || d[i] < 0 {
			// Trailing dims known only at run time: copy them from the input.
			sh := c.g.op1("Shape", "flatten", []string{x})
			tail := c.g.op1("Slice", "flatten", []string{sh, c.g.constI64("s", []int64{1}, []int64{int64(stop + 1)}),
				c.g.constI64("e", []int64{1}, []int64{int64(r)})})
			head := c.g.constI64("flatten_shape", []int64{int64(len(shape))}, shape)
			s := c.g.op1("Concat", "flatten", []string{head, tail}, aInt("axis", 0))
			c.g.node("Reshape", []string{x, s}, []string{out})
			return nil
		}
		shape = append(shape, d[i])
	}
	s := c.g.constI64("flatten_shape", []int64{int64(len(shape))}, shape)
	c.g.node("Reshape", []string{x, s}, []string{out})
	return nil
}

// convFlatten2: the old flatten/flatten2 ops give a 2-D [prod(:axis), prod(axis:)].
func convFlatten2(c *conv, op *Op) error {
	x, out, err := c.x1(op)
	if err != nil {
		return err
	}
	c.g.node("Flatten", []string{x}, []string{out}, aInt("axis", op.Int("axis", 1)))
	return nil
}

// asShape1D makes an int64 1-D value from a shape-like value of rank 0 or 1.
func (c *conv) asShape1D(v string) string {
	if c.dt[v] != onnx.TensorProto_INT64 {
		v = c.g.op1("Cast", "shape", []string{v}, aInt("to", int64(onnx.TensorProto_INT64)))
		c.dt[v] = onnx.TensorProto_INT64
	}
	return c.g.op1("Reshape", "shape", []string{v, c.g.constI64("one", []int64{1}, []int64{-1})})
}

// convReshape: Shape tensor > ShapeTensor list > shape attr; 0 copies the
// input dim and −1 is inferred, as in ONNX without allowzero (§D.3).
func convReshape(c *conv, op *Op) error {
	x, out, err := c.x1(op)
	if err != nil {
		return err
	}
	var shape string
	switch {
	case hasInput(op, "Shape"):
		s, err := c.input(op, "Shape")
		if err != nil {
			return err
		}
		shape = c.asShape1D(s)
	case hasInput(op, "ShapeTensor"):
		var parts []string
		for _, a := range op.Input("ShapeTensor") {
			v, err := c.in(a)
			if err != nil {
				return err
			}
			parts = append(parts, c.asShape1D(v))
		}
		shape = c.g.op1("Concat", "shape", parts, aInt("axis", 0))
	default:
		s := op.Ints("shape", nil)
		if s == nil {
			return fmt.Errorf("no shape")
		}
		shape = c.g.constI64("reshape", []int64{int64(len(s))}, s)
	}
	c.g.node("Reshape", []string{x, shape}, []string{out})
	return nil
}

func convTranspose(c *conv, op *Op) error {
	x, out, err := c.x1(op)
	if err != nil {
		return err
	}
	c.g.node("Transpose", []string{x}, []string{out}, aInts("perm", op.Ints("axis", nil)...))
	return nil
}

func convConcat(c *conv, op *Op) error {
	if hasInput(op, "AxisTensor") {
		return fmt.Errorf("AxisTensor is not supported")
	}
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
	c.g.node("Concat", ins, []string{out}, aInt("axis", op.Int("axis", 0)))
	return nil
}

// convSplit: sections (a −1 entry takes the rest) or num equal pieces
// (the op's outputs), along axis; AxisTensor and SectionsTensorList must be
// conversion-time constants (fill_constant, assign_value).
func convSplit(c *conv, op *Op) error {
	x, err := c.input(op, "X")
	if err != nil {
		return err
	}
	axis := op.Int("axis", 0)
	if hasInput(op, "AxisTensor") {
		v, ok := c.constInts(op.Input("AxisTensor")[0])
		if !ok || len(v) != 1 {
			return fmt.Errorf("AxisTensor is not a constant")
		}
		axis = v[0]
	}
	outs := op.Output("Out")
	secs := op.Ints("sections", nil)
	if hasInput(op, "SectionsTensorList") {
		secs = nil
		for _, a := range op.Input("SectionsTensorList") {
			v, ok := c.constInts(a)
			if !ok || len(v) != 1 {
				return fmt.Errorf("SectionsTensorList holds a value that is not a constant")
			}
			secs = append(secs, v[0])
		}
	}
	ins := []string{x}
	var attrs []*onnx.AttributeProto
	if len(secs) > 0 {
		if len(secs) != len(outs) {
			return fmt.Errorf("%d sections for %d outputs", len(secs), len(outs))
		}
		unknown, sum := -1, int64(0)
		for i, s := range secs {
			if s < 0 {
				if unknown >= 0 {
					return fmt.Errorf("sections %v hold two −1", secs)
				}
				unknown = i
			} else {
				sum += s
			}
		}
		secs = append([]int64(nil), secs...)
		var split string
		if unknown >= 0 {
			d := c.staticDims(op.Input("X")[0])
			ax := int(axis)
			if ax < 0 {
				ax += len(d)
			}
			if ax >= 0 && ax < len(d) && d[ax] >= 0 {
				secs[unknown] = d[ax] - sum
			} else {
				// The rest is known at run time only: size − sum of the others.
				if axis < 0 && c.rank(op.Input("X")[0]) < 0 {
					return fmt.Errorf("a −1 section on axis %d needs the input rank", axis)
				}
				if axis < 0 {
					axis += int64(c.rank(op.Input("X")[0]))
				}
				rest := c.g.op1("Sub", "split", []string{c.dimOf(x, axis), c.g.constI64("sum", []int64{1}, []int64{sum})})
				parts := make([]string, len(secs))
				for i, s := range secs {
					if i == unknown {
						parts[i] = rest
					} else {
						parts[i] = c.g.constI64("sec", []int64{1}, []int64{s})
					}
				}
				split = c.g.op1("Concat", "split", parts, aInt("axis", 0))
			}
		}
		if split == "" {
			split = c.g.constI64("split", []int64{int64(len(secs))}, secs)
		}
		ins = append(ins, split)
	} else if c.opts.Opset >= 18 {
		attrs = append(attrs, aInt("num_outputs", int64(len(outs))))
	}
	var names []string
	for _, o := range outs {
		names = append(names, c.bind(o, c.dt[x]))
	}
	attrs = append(attrs, aInt("axis", axis))
	c.g.node("Split", ins, names, attrs...)
	return nil
}

// convInterp maps nearest/bilinear interpolation to Resize. Output size
// comes from SizeTensor, OutSize, the Scale tensor, the scale attribute, or
// out_h/out_w, in Paddle's order of precedence. Nearest without
// align_corners is asymmetric + floor; bilinear uses align_corners, or
// asymmetric for align_mode 1, else half_pixel (models-and-formats §D.2).
func convInterp(c *conv, op *Op) error {
	if err := checkNCHW(op, "data_layout"); err != nil {
		return err
	}
	x, out, err := c.x1(op)
	if err != nil {
		return err
	}
	method := op.Str("interp_method", "nearest")
	alignCorners := op.Bool("align_corners", true)
	if op.Type == "nearest_interp_v2" || op.Type == "bilinear_interp_v2" || op.Attr("align_corners") != nil {
		alignCorners = op.Bool("align_corners", false)
	}
	attrs := []*onnx.AttributeProto{}
	switch method {
	case "nearest":
		attrs = append(attrs, aStr("mode", "nearest"))
		if alignCorners {
			attrs = append(attrs, aStr("coordinate_transformation_mode", "align_corners"), aStr("nearest_mode", "round_prefer_ceil"))
		} else {
			attrs = append(attrs, aStr("coordinate_transformation_mode", "asymmetric"), aStr("nearest_mode", "floor"))
		}
	case "bilinear":
		attrs = append(attrs, aStr("mode", "linear"))
		switch {
		case alignCorners:
			attrs = append(attrs, aStr("coordinate_transformation_mode", "align_corners"))
		case op.Int("align_mode", 1) == 1:
			attrs = append(attrs, aStr("coordinate_transformation_mode", "asymmetric"))
		default:
			attrs = append(attrs, aStr("coordinate_transformation_mode", "half_pixel"))
		}
	default:
		return fmt.Errorf("interp_method %q", method)
	}
	sizesFrom := func(hw string) string {
		sh := c.g.op1("Shape", "interp", []string{x})
		nc := c.g.op1("Slice", "interp", []string{sh, c.g.constI64("s", []int64{1}, []int64{0}), c.g.constI64("e", []int64{1}, []int64{2})})
		return c.g.op1("Concat", "interp_sizes", []string{nc, hw}, aInt("axis", 0))
	}
	var scales, sizes string
	switch {
	case hasInput(op, "SizeTensor"):
		var parts []string
		for _, a := range op.Input("SizeTensor") {
			v, err := c.in(a)
			if err != nil {
				return err
			}
			parts = append(parts, c.asShape1D(v))
		}
		sizes = sizesFrom(c.g.op1("Concat", "interp", parts, aInt("axis", 0)))
	case hasInput(op, "OutSize"):
		v, err := c.input(op, "OutSize")
		if err != nil {
			return err
		}
		sizes = sizesFrom(c.asShape1D(v))
	case hasInput(op, "Scale"):
		v, err := c.input(op, "Scale")
		if err != nil {
			return err
		}
		if c.dt[v] != onnx.TensorProto_FLOAT {
			v = c.g.op1("Cast", "interp", []string{v}, aInt("to", int64(onnx.TensorProto_FLOAT)))
		}
		v = c.g.op1("Reshape", "interp", []string{v, c.g.constI64("one", []int64{1}, []int64{-1})})
		// A one-value Scale applies to both spatial dims.
		v = c.g.op1("Expand", "interp", []string{v, c.g.constI64("two", []int64{1}, []int64{2})})
		scales = c.g.op1("Concat", "interp_scales", []string{c.g.constF32("ones", []int64{2}, []float32{1, 1}), v}, aInt("axis", 0))
	default:
		sc := op.Floats("scale", nil)
		if len(sc) == 1 {
			sc = []float64{sc[0], sc[0]}
		}
		if len(sc) == 2 && sc[0] > 0 && sc[1] > 0 {
			scales = c.g.constF32("interp_scales", []int64{4}, []float32{1, 1, float32(sc[0]), float32(sc[1])})
		} else {
			h, w := op.Int("out_h", -1), op.Int("out_w", -1)
			if h <= 0 || w <= 0 {
				return fmt.Errorf("no output size: scale %v, out_h %d, out_w %d", sc, h, w)
			}
			sizes = sizesFrom(c.g.constI64("hw", []int64{2}, []int64{h, w}))
		}
	}
	ins := []string{x, "", scales}
	if sizes != "" {
		ins = []string{x, "", "", sizes}
	}
	c.g.node("Resize", ins, []string{out}, attrs...)
	return nil
}

// convMatmul: matmul (transpose_X/transpose_Y/alpha) and matmul_v2
// (trans_x/trans_y) → MatMul with Transpose of the last two dims.
func convMatmul(c *conv, op *Op) error {
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
	tx, ty := op.Bool("transpose_X", false), op.Bool("transpose_Y", false)
	if op.Type == "matmul_v2" {
		tx, ty = op.Bool("trans_x", false), op.Bool("trans_y", false)
	}
	tr := func(v, name string) (string, error) {
		r := c.rank(name)
		if r == 1 {
			return v, nil // transposing a vector changes nothing in Paddle
		}
		if r < 2 {
			return "", fmt.Errorf("transposing %q of unknown rank", name)
		}
		perm := make([]int64, r)
		for i := range perm {
			perm[i] = int64(i)
		}
		perm[r-1], perm[r-2] = perm[r-2], perm[r-1]
		return c.g.op1("Transpose", "matmul", []string{v}, aInts("perm", perm...)), nil
	}
	if tx {
		if x, err = tr(x, op.Input("X")[0]); err != nil {
			return err
		}
	}
	if ty {
		if y, err = tr(y, op.Input("Y")[0]); err != nil {
			return err
		}
	}
	alpha := 1.0
	if op.Type == "matmul" {
		alpha = op.Float("alpha", 1)
	}
	if alpha == 1 {
		c.g.node("MatMul", []string{x, y}, []string{out})
		return nil
	}
	m := c.g.op1("MatMul", "matmul", []string{x, y})
	a, err := c.g.constScalar("alpha", c.dt[x], alpha)
	if err != nil {
		return err
	}
	c.g.node("Mul", []string{m, a}, []string{out})
	return nil
}

// convShape: Paddle's shape gives int32, ONNX's int64; the value stays
// int64 and consumers cast where they need to (§D.3).
func convShape(c *conv, op *Op) error {
	x, err := c.input(op, "Input")
	if err != nil {
		return err
	}
	out, err := c.output(op, "Out", onnx.TensorProto_INT64)
	if err != nil {
		return err
	}
	c.g.node("Shape", []string{x}, []string{out})
	return nil
}

// convSlice: starts/ends from StartsTensor/EndsTensor, the
// *TensorList inputs (conversion-time constants or runtime scalars) or the
// attributes; decrease_axis squeezes when the output rank says so.
func convSlice(c *conv, op *Op) error {
	x, err := c.input(op, "Input")
	if err != nil {
		return err
	}
	axes := op.Ints("axes", nil)
	starts, ns, err := c.intList(op, "starts", "StartsTensor", "StartsTensorList")
	if err != nil {
		return err
	}
	ends, ne, err := c.intList(op, "ends", "EndsTensor", "EndsTensorList")
	if err != nil {
		return err
	}
	if (ns >= 0 && ns != len(axes)) || (ne >= 0 && ne != len(axes)) {
		return fmt.Errorf("axes/starts/ends lengths %d/%d/%d", len(axes), ns, ne)
	}
	out, err := c.output(op, "Out", c.dt[x])
	if err != nil {
		return err
	}
	n := []int64{int64(len(axes))}
	ins := []string{x, starts, ends, c.g.constI64("axes", n, axes)}
	dec := op.Ints("decrease_axis", nil)
	rin, rout := c.rank(op.Input("Input")[0]), c.rank(op.Output("Out")[0])
	if len(dec) > 0 && rin >= 0 && rout >= 0 && rout < rin {
		s := c.g.op1("Slice", "slice", ins)
		c.g.node("Squeeze", []string{s, c.g.constI64("axes", []int64{int64(len(dec))}, dec)}, []string{out})
		return nil
	}
	c.g.node("Slice", ins, []string{out})
	return nil
}

func convFillConstant(c *conv, op *Op) error {
	for _, s := range []string{"ShapeTensor", "ShapeTensorList", "ValueTensor"} {
		if hasInput(op, s) {
			return fmt.Errorf("%s inputs are not supported", s)
		}
	}
	pd := DType(op.Int("dtype", int64(FP32)))
	dt, ok := onnxType(pd)
	if !ok {
		return fmt.Errorf("dtype %v", pd)
	}
	v := op.Float("value", 0)
	if s := op.Str("str_value", ""); s != "" {
		if _, err := fmt.Sscan(s, &v); err != nil {
			return fmt.Errorf("str_value %q: %v", s, err)
		}
	}
	outs := op.Output("Out")
	if len(outs) == 0 {
		return fmt.Errorf("output Out is missing")
	}
	shape := op.Ints("shape", nil)
	if len(shape) == 0 {
		shape = c.dims(outs[0])
	}
	n := int64(1)
	for _, d := range shape {
		if d < 0 {
			return fmt.Errorf("shape %v has unknown dims", shape)
		}
		n *= d
	}
	if n > 1<<20 {
		return fmt.Errorf("shape %v is too large for a constant", shape)
	}
	out, err := c.output(op, "Out", dt)
	if err != nil {
		return err
	}
	if (dt == onnx.TensorProto_INT32 || dt == onnx.TensorProto_INT64) && n <= 16 {
		vals := make([]int64, n)
		for i := range vals {
			vals[i] = int64(v)
		}
		c.consts[outs[0]] = vals
	}
	sc, err := c.g.constScalar("fill", dt, v)
	if err != nil {
		return err
	}
	c.g.node("Expand", []string{sc, c.g.constI64("fill_shape", []int64{int64(len(shape))}, shape)}, []string{out})
	return nil
}

func convCast(c *conv, op *Op) error {
	x, err := c.input(op, "X")
	if err != nil {
		return err
	}
	pd := DType(op.Int("out_dtype", int64(FP32)))
	dt, ok := onnxType(pd)
	if !ok {
		return fmt.Errorf("out_dtype %v", pd)
	}
	out, err := c.output(op, "Out", dt)
	if err != nil {
		return err
	}
	c.g.node("Cast", []string{x}, []string{out}, aInt("to", int64(dt)))
	return nil
}

func convUnsqueeze(c *conv, op *Op) error {
	if hasInput(op, "AxesTensor") || hasInput(op, "AxesTensorList") {
		return fmt.Errorf("tensor axes are not supported")
	}
	x, out, err := c.x1(op)
	if err != nil {
		return err
	}
	axes := op.Ints("axes", nil)
	c.g.node("Unsqueeze", []string{x, c.g.constI64("axes", []int64{int64(len(axes))}, axes)}, []string{out})
	return nil
}

func convSqueeze(c *conv, op *Op) error {
	x, out, err := c.x1(op)
	if err != nil {
		return err
	}
	axes := op.Ints("axes", nil)
	if len(axes) == 0 {
		c.g.node("Squeeze", []string{x}, []string{out})
		return nil
	}
	c.g.node("Squeeze", []string{x, c.g.constI64("axes", []int64{int64(len(axes))}, axes)}, []string{out})
	return nil
}
