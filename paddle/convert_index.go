package paddle

// Indexing, old fc forms, constants and integer arithmetic.

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/shitu-go/shitu/onnx"
	"google.golang.org/protobuf/proto"
)

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
