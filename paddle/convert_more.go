package paddle

import (
	"fmt"

	"github.com/shitu-go/shitu/onnx"
)

// Ops of post-processing graphs (models-and-formats §D.2 second table):
// grid generation, selection and bookkeeping.
func init() {
	for k, v := range map[string]func(*conv, *Op) error{
		"range":         convRange,
		"meshgrid":      convMeshgrid,
		"stack":         convStack,
		"reduce_max":    reduce("ReduceMax"),
		"reduce_min":    reduce("ReduceMin"),
		"reduce_mean":   reduce("ReduceMean"),
		"reduce_sum":    reduce("ReduceSum"),
		"reduce_prod":   reduce("ReduceProd"),
		"top_k_v2":      convTopK,
		"top_k":         convTopK,
		"gather":        convGather,
		"reverse":       convReverse,
		"flip":          convReverse,
		"expand_v2":     convExpand,
		"tile":          convTile,
		"less_than":     compare("Less"),
		"greater_than":  compare("Greater"),
		"equal":         compare("Equal"),
		"less_equal":    compare("LessOrEqual"),
		"greater_equal": compare("GreaterOrEqual"),
		"logical_and":   compare("And"),
		"logical_or":    compare("Or"),
		"logical_not":   convNot,
		"increment":     convIncrement,
		"arg_max":       convArgMax,
		"where":         convWhere,
		"pow":           convPow,
		"log":           unary("Log"),
		"floor":         unary("Floor"),
	} {
		handlers[k] = v
	}
}

// scalarOf reshapes a one-element tensor to rank 0 (ONNX Range wants scalars).
func (c *conv) scalarOf(v string) string {
	return c.like(c.g.op1("Reshape", "scalar", []string{v, c.g.constI64("empty", []int64{0}, nil)}), v)
}

// like records that value v has the element type of value src.
func (c *conv) like(v, src string) string {
	c.dt[v] = c.dt[src]
	return v
}

func convRange(c *conv, op *Op) error {
	var ins []string
	for _, s := range []string{"Start", "End", "Step"} {
		v, err := c.input(op, s)
		if err != nil {
			return err
		}
		ins = append(ins, c.scalarOf(v))
	}
	dt := c.dt[ins[0]]
	for i := range ins {
		if c.dt[ins[i]] != dt {
			ins[i] = c.g.op1("Cast", "range", []string{ins[i]}, aInt("to", int64(dt)))
			c.dt[ins[i]] = dt
		}
	}
	out, err := c.output(op, "Out", dt)
	if err != nil {
		return err
	}
	c.g.node("Range", ins, []string{out})
	return nil
}

// convMeshgrid: 'ij' indexing; output i varies along dim i.
func convMeshgrid(c *conv, op *Op) error {
	xs := op.Input("X")
	outs := op.Output("Out")
	if len(xs) == 0 || len(outs) != len(xs) {
		return fmt.Errorf("%d inputs, %d outputs", len(xs), len(outs))
	}
	var vals, sizes []string
	for _, x := range xs {
		v, err := c.in(x)
		if err != nil {
			return err
		}
		v = c.like(c.g.op1("Reshape", "mesh", []string{v, c.g.constI64("m1", []int64{1}, []int64{-1})}), v)
		vals = append(vals, v)
		sizes = append(sizes, c.g.op1("Shape", "mesh", []string{v}))
	}
	full := c.g.op1("Concat", "mesh_shape", sizes, aInt("axis", 0))
	n := len(xs)
	for i, v := range vals {
		shape := make([]int64, n)
		for k := range shape {
			shape[k] = 1
		}
		shape[i] = -1
		r := c.g.op1("Reshape", "mesh", []string{v, c.g.constI64("mesh", []int64{int64(n)}, shape)})
		out := c.bind(outs[i], c.dt[v])
		c.g.node("Expand", []string{r, full}, []string{out})
	}
	return nil
}

func convStack(c *conv, op *Op) error {
	xs := op.Input("X")
	if len(xs) == 0 {
		return fmt.Errorf("no inputs")
	}
	axis := op.Int("axis", 0)
	if axis < 0 {
		r := c.rank(xs[0])
		if r < 0 {
			return fmt.Errorf("negative axis needs the input rank")
		}
		axis += int64(r) + 1
	}
	var parts []string
	for _, x := range xs {
		v, err := c.in(x)
		if err != nil {
			return err
		}
		parts = append(parts, c.like(c.g.op1("Unsqueeze", "stack", []string{v, c.g.constI64("axes", []int64{1}, []int64{axis})}), v))
	}
	out, err := c.output(op, "Y", c.dt[parts[0]])
	if err != nil {
		return err
	}
	c.g.node("Concat", parts, []string{out}, aInt("axis", axis))
	return nil
}

// reduce: attrs dim, keep_dim, reduce_all. ReduceSum takes axes as an
// input from opset 13, the others as an attribute until opset 18.
func reduce(onnxOp string) func(*conv, *Op) error {
	return func(c *conv, op *Op) error {
		x, out, err := c.x1(op)
		if err != nil {
			return err
		}
		keep := int64(0)
		if op.Bool("keep_dim", false) {
			keep = 1
		}
		dims := op.Ints("dim", nil)
		all := op.Bool("reduce_all", false) || len(dims) == 0
		attrs := []*onnx.AttributeProto{aInt("keepdims", keep)}
		ins := []string{x}
		if !all {
			if onnxOp == "ReduceSum" || c.opts.Opset >= 18 {
				ins = append(ins, c.g.constI64("axes", []int64{int64(len(dims))}, dims))
			} else {
				attrs = append(attrs, aInts("axes", dims...))
			}
		}
		if all && keep == 0 && c.rank(op.Output("Out")[0]) == 1 {
			// Paddle < 2.5 has no 0-D tensors: a full reduction is [1].
			r := c.g.op1(onnxOp, "reduce", ins, attrs...)
			c.g.node("Reshape", []string{r, c.g.constI64("one", []int64{1}, []int64{1})}, []string{out})
			return nil
		}
		c.g.node(onnxOp, ins, []string{out}, attrs...)
		return nil
	}
}

func convTopK(c *conv, op *Op) error {
	x, err := c.input(op, "X")
	if err != nil {
		return err
	}
	var k string
	if hasInput(op, "K") {
		kv, err := c.input(op, "K")
		if err != nil {
			return err
		}
		k = c.asShape1D(kv)
	} else {
		k = c.g.constI64("topk", []int64{1}, []int64{op.Int("k", 1)})
	}
	vals, err := c.output(op, "Out", c.dt[x])
	if err != nil {
		return err
	}
	idx, err := c.output(op, "Indices", onnx.TensorProto_INT64)
	if err != nil {
		return err
	}
	largest, sorted := int64(1), int64(1)
	if op.Type == "top_k_v2" {
		if !op.Bool("largest", true) {
			largest = 0
		}
		if !op.Bool("sorted", true) {
			sorted = 0
		}
	}
	axis := int64(-1)
	if op.Type == "top_k_v2" {
		axis = op.Int("axis", -1)
	}
	c.g.node("TopK", []string{x, k}, []string{vals, idx}, aInt("axis", axis), aInt("largest", largest), aInt("sorted", sorted))
	return nil
}

func convGather(c *conv, op *Op) error {
	if hasInput(op, "Axis") {
		return fmt.Errorf("the Axis tensor input is not supported")
	}
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
	c.g.node("Gather", []string{x, idx}, []string{out}, aInt("axis", op.Int("axis", 0)))
	return nil
}

// convReverse: reverse/flip along axes = Slice with step −1.
func convReverse(c *conv, op *Op) error {
	x, out, err := c.x1(op)
	if err != nil {
		return err
	}
	axes := op.Ints("axis", nil)
	if len(axes) == 0 {
		return fmt.Errorf("no axis")
	}
	n := []int64{int64(len(axes))}
	starts, ends, steps := make([]int64, len(axes)), make([]int64, len(axes)), make([]int64, len(axes))
	for i := range axes {
		starts[i], ends[i], steps[i] = -1, -(1 << 62), -1
	}
	c.g.node("Slice", []string{x, c.g.constI64("starts", n, starts), c.g.constI64("ends", n, ends),
		c.g.constI64("axes", n, axes), c.g.constI64("steps", n, steps)}, []string{out})
	return nil
}

// convExpand: expand_v2's −1 keeps a dim; ONNX Expand broadcasts, so −1
// becomes 1.
func convExpand(c *conv, op *Op) error {
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
	case hasInput(op, "expand_shapes_tensor"):
		// One scalar per dim (e.g. [B, −1, −1] with B from shape): −1
		// keeps the dim, which Expand does for 1, and |−1| = 1.
		var parts []string
		for _, a := range op.Input("expand_shapes_tensor") {
			v, err := c.in(a)
			if err != nil {
				return err
			}
			parts = append(parts, c.asShape1D(v))
		}
		shape = c.g.op1("Abs", "expand", []string{c.g.op1("Concat", "expand", parts, aInt("axis", 0))})
	default:
		s := op.Ints("shape", nil)
		s2 := make([]int64, len(s))
		for i, v := range s {
			s2[i] = v
			if v == -1 {
				s2[i] = 1
			}
		}
		shape = c.g.constI64("expand", []int64{int64(len(s2))}, s2)
	}
	c.g.node("Expand", []string{x, shape}, []string{out})
	return nil
}

func convTile(c *conv, op *Op) error {
	x, out, err := c.x1(op)
	if err != nil {
		return err
	}
	if hasInput(op, "RepeatTimes") || hasInput(op, "repeat_times_tensor") {
		return fmt.Errorf("tensor repeat_times is not supported")
	}
	rep := op.Ints("repeat_times", nil)
	r := c.rank(op.Input("X")[0])
	if r < 0 || len(rep) < r {
		return fmt.Errorf("repeat_times %v for rank %d", rep, r)
	}
	if len(rep) > r {
		// Paddle prepends 1-dims to x first.
		axes := make([]int64, len(rep)-r)
		for i := range axes {
			axes[i] = int64(i)
		}
		x = c.g.op1("Unsqueeze", "tile", []string{x, c.g.constI64("axes", []int64{int64(len(axes))}, axes)})
	}
	c.g.node("Tile", []string{x, c.g.constI64("repeats", []int64{int64(len(rep))}, rep)}, []string{out})
	return nil
}

func compare(onnxOp string) func(*conv, *Op) error {
	return func(c *conv, op *Op) error {
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
		if c.dt[y] != c.dt[x] {
			y = c.g.op1("Cast", "cmp", []string{y}, aInt("to", int64(c.dt[x])))
		}
		out, err := c.output(op, "Out", onnx.TensorProto_BOOL)
		if err != nil {
			return err
		}
		c.g.node(onnxOp, []string{x, y}, []string{out})
		return nil
	}
}

func convNot(c *conv, op *Op) error {
	x, out, err := c.x1(op)
	if err != nil {
		return err
	}
	c.g.node("Not", []string{x}, []string{out})
	return nil
}

func convIncrement(c *conv, op *Op) error {
	x, out, err := c.x1(op)
	if err != nil {
		return err
	}
	s, err := c.g.constScalar("step", c.dt[x], op.Float("step", 1))
	if err != nil {
		return err
	}
	c.g.node("Add", []string{x, s}, []string{out})
	return nil
}

func convArgMax(c *conv, op *Op) error { return convArg(c, op, "ArgMax") }

// convArg: arg_max/arg_min over axis (flatten: over everything), int64 or
// int32 (dtype) indices.
func convArg(c *conv, op *Op, onnxOp string) error {
	x, err := c.input(op, "X")
	if err != nil {
		return err
	}
	dt := onnx.TensorProto_INT64
	if DType(op.Int("dtype", int64(Int64))) == Int32 {
		dt = onnx.TensorProto_INT32
	}
	out, err := c.output(op, "Out", dt)
	if err != nil {
		return err
	}
	axis := op.Int("axis", 0)
	if op.Bool("flatten", false) {
		x = c.g.op1("Reshape", "argmax", []string{x, c.g.constI64("m1", []int64{1}, []int64{-1})})
		axis = 0
	}
	keep := int64(0)
	if op.Bool("keepdims", false) {
		keep = 1
	}
	am := c.g.op1(onnxOp, "argmax", []string{x}, aInt("axis", axis), aInt("keepdims", keep))
	if dt == onnx.TensorProto_INT32 {
		c.g.node("Cast", []string{am}, []string{out}, aInt("to", int64(dt)))
	} else {
		c.g.node("Identity", []string{am}, []string{out})
	}
	return nil
}

func convWhere(c *conv, op *Op) error {
	cond, err := c.input(op, "Condition")
	if err != nil {
		return err
	}
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
	c.g.node("Where", []string{cond, x, y}, []string{out})
	return nil
}

func convPow(c *conv, op *Op) error {
	x, out, err := c.x1(op)
	if err != nil {
		return err
	}
	if hasInput(op, "FactorTensor") {
		return fmt.Errorf("FactorTensor is not supported")
	}
	f, err := c.g.constScalar("pow", c.dt[x], op.Float("factor", 1))
	if err != nil {
		return err
	}
	c.g.node("Pow", []string{x, f}, []string{out})
	return nil
}
