package onnx

import "fmt"

// ConvAttrs configures Builder.Conv. Zero values mean: stride 1, no
// padding, dilation 1, one group.
type ConvAttrs struct {
	Stride   int64
	Pad      int64 // symmetric padding on every spatial side
	Dilation int64
	Group    int64
}

// Conv adds a 2-D convolution; bias may be the zero Value (no bias). The
// kernel shape comes from w's static shape [Cout, Cin/group, kh, kw].
func (b *Builder) Conv(x, w, bias Value, c ConvAttrs) Value {
	if b.err != nil {
		return Value{}
	}
	if len(w.Shape) != 4 {
		return b.fail(fmt.Errorf("%w: Conv weight %q shape %v, want rank 4", ErrShape, w.Name, w.Shape))
	}
	s, p, d, g := max(c.Stride, 1), c.Pad, max(c.Dilation, 1), max(c.Group, 1)
	in := []Value{x, w}
	if bias.Name != "" {
		in = append(in, bias)
	}
	return b.Node("Conv", in,
		AttrInts("dilations", d, d),
		AttrInt("group", g),
		AttrInts("kernel_shape", w.Shape[2], w.Shape[3]),
		AttrInts("pads", p, p, p, p),
		AttrInts("strides", s, s))
}

// BatchNorm adds an inference-mode BatchNormalization (eps default 1e-5 when 0).
func (b *Builder) BatchNorm(x, scale, bias, mean, variance Value, eps float32) Value {
	if eps == 0 {
		eps = 1e-5
	}
	return b.Node("BatchNormalization", []Value{x, scale, bias, mean, variance}, AttrFloat("epsilon", eps))
}

// Relu adds max(x, 0).
func (b *Builder) Relu(x Value) Value { return b.Node("Relu", []Value{x}) }

// Sigmoid adds the logistic function.
func (b *Builder) Sigmoid(x Value) Value { return b.Node("Sigmoid", []Value{x}) }

// HardSigmoid adds clip(alpha·x+beta, 0, 1). ONNX's default alpha is 0.2;
// Paddle's nn.Hardsigmoid uses 1/6 (models-and-formats §D.2).
func (b *Builder) HardSigmoid(x Value, alpha, beta float32) Value {
	return b.Node("HardSigmoid", []Value{x}, AttrFloat("alpha", alpha), AttrFloat("beta", beta))
}

// HardSwish adds x·clip(x/6+0.5, 0, 1): the HardSwish op from opset 14,
// else Mul(x, HardSigmoid(x, 1/6, 0.5)).
func (b *Builder) HardSwish(x Value) Value {
	if b.opset >= 14 {
		return b.Node("HardSwish", []Value{x})
	}
	return b.Mul(x, b.HardSigmoid(x, 1.0/6, 0.5))
}

// Add adds an elementwise (broadcasting) sum.
func (b *Builder) Add(x, y Value) Value { return b.Node("Add", []Value{x, y}) }

// Mul adds an elementwise (broadcasting) product.
func (b *Builder) Mul(x, y Value) Value { return b.Node("Mul", []Value{x, y}) }

// GlobalAveragePool averages every spatial dim to 1.
func (b *Builder) GlobalAveragePool(x Value) Value { return b.Node("GlobalAveragePool", []Value{x}) }

// Concat joins values along axis.
func (b *Builder) Concat(axis int64, xs ...Value) Value {
	return b.Node("Concat", xs, AttrInt("axis", axis))
}

// Upsample2x doubles H and W of an NCHW tensor by nearest neighbour with
// floor rounding, as Paddle's nearest_interp (models-and-formats §D.2):
// Resize mode nearest, asymmetric coordinates (opset ≥ 11), or Upsample.
func (b *Builder) Upsample2x(x Value) Value {
	if b.opset < 11 {
		return b.Node("Upsample", []Value{x, b.ConstFloat([]int64{4}, 1, 1, 2, 2)}, AttrString("mode", "nearest"))
	}
	roi := Value{} // optional from opset 13
	if b.opset < 13 {
		roi = b.ConstFloat([]int64{0})
	}
	return b.Node("Resize", []Value{x, roi, b.ConstFloat([]int64{4}, 1, 1, 2, 2)},
		AttrString("coordinate_transformation_mode", "asymmetric"),
		AttrString("mode", "nearest"),
		AttrString("nearest_mode", "floor"))
}

// Split cuts x along axis into pieces of the given sizes (split sizes are
// an input from opset 13, an attribute before).
func (b *Builder) Split(x Value, axis int64, sizes ...int64) []Value {
	if b.opset >= 13 {
		return b.NodeN("Split", []Value{x, b.ConstInt64(sizes...)}, len(sizes), AttrInt("axis", axis))
	}
	return b.NodeN("Split", []Value{x}, len(sizes), AttrInt("axis", axis), AttrInts("split", sizes...))
}

// Reshape reshapes x (0 copies the input dim, -1 is inferred).
func (b *Builder) Reshape(x Value, shape ...int64) Value {
	return b.Node("Reshape", []Value{x, b.ConstInt64(shape...)})
}

// Flatten reshapes x to 2-D [prod(dims[:axis]), prod(dims[axis:])].
func (b *Builder) Flatten(x Value, axis int64) Value {
	return b.Node("Flatten", []Value{x}, AttrInt("axis", axis))
}

// Transpose permutes dims.
func (b *Builder) Transpose(x Value, perm ...int64) Value {
	return b.Node("Transpose", []Value{x}, AttrInts("perm", perm...))
}

// MatMul adds a numpy-style matrix product.
func (b *Builder) MatMul(x, y Value) Value { return b.Node("MatMul", []Value{x, y}) }

// Gemm adds alpha·A'·B' + C with optional transposes (alpha = beta = 1);
// c may be the zero Value.
func (b *Builder) Gemm(a, bb, c Value, transA, transB bool) Value {
	in := []Value{a, bb}
	if c.Name != "" {
		in = append(in, c)
	}
	t := func(v bool) int64 {
		if v {
			return 1
		}
		return 0
	}
	return b.Node("Gemm", in, AttrInt("transA", t(transA)), AttrInt("transB", t(transB)))
}

// Softmax adds a softmax over axis.
func (b *Builder) Softmax(x Value, axis int64) Value {
	return b.Node("Softmax", []Value{x}, AttrInt("axis", axis))
}
