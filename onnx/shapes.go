package onnx

import (
	"fmt"
	"slices"
)

// Shapes are []int64 with -1 for a dimension that is not known statically;
// a nil shape means the whole shape (even the rank) is unknown.

// ConstLookup returns the tensor of a constant value (initializer or
// Constant node output), or nil when the value is not constant.
type ConstLookup func(name string) *TensorProto

// unaryOps keep their first input's shape.
var unaryOps = map[string]bool{
	"Identity": true, "Relu": true, "Sigmoid": true, "HardSigmoid": true, "HardSwish": true,
	"LeakyRelu": true, "Tanh": true, "Clip": true, "Softmax": true, "LogSoftmax": true,
	"Dropout": true, "Exp": true, "Log": true, "Sqrt": true, "Neg": true, "Abs": true, "Erf": true,
	"Cast": true, "BatchNormalization": true, "InstanceNormalization": true, "LRN": true,
	"Reciprocal": true, "Floor": true, "Ceil": true, "Round": true, "Sign": true, "Elu": true,
	"Selu": true, "PRelu": true, "Softplus": true, "LayerNormalization": true, "Not": true,
}

// broadcastOps follow numpy broadcasting over all inputs.
var broadcastOps = map[string]bool{
	"Add": true, "Sub": true, "Mul": true, "Div": true, "Pow": true, "Max": true, "Min": true,
	"Sum": true, "Mean": true, "Equal": true, "Less": true, "Greater": true, "And": true,
	"Or": true, "Where": true, "LessOrEqual": true, "GreaterOrEqual": true, "Mod": true,
}

// InferShapes computes the output shapes of node n from its input shapes
// (in[i] for n.Input[i]; nil = unknown) at the given opset. Unknown op types
// give nil shapes, not an error; inconsistent inputs give ErrShape.
func InferShapes(n *NodeProto, in [][]int64, opset int64, consts ConstLookup) ([][]int64, error) {
	if consts == nil {
		consts = func(string) *TensorProto { return nil }
	}
	a := attrMap(n)
	nOut := len(n.GetOutput())
	out := make([][]int64, nOut)
	op := n.GetOpType()
	get := func(i int) []int64 {
		if i < len(in) {
			return in[i]
		}
		return nil
	}
	constTensor := func(i int) *TensorProto {
		if i < len(n.GetInput()) && n.GetInput()[i] != "" {
			return consts(n.GetInput()[i])
		}
		return nil
	}
	constIn := func(i int) ([]int64, bool) {
		t := constTensor(i)
		if t == nil {
			return nil, false
		}
		v, err := Int64s(t)
		return v, err == nil
	}
	fail := func(format string, args ...any) ([][]int64, error) {
		return nil, fmt.Errorf("%w: %s %q: %s", ErrShape, op, n.GetName(), fmt.Sprintf(format, args...))
	}
	x := get(0)
	switch {
	case unaryOps[op]:
		for i := range out {
			out[i] = slices.Clone(x)
		}
		return out, nil
	case broadcastOps[op]:
		s := x
		for i := 1; i < len(n.GetInput()); i++ {
			var err error
			if s, err = broadcast(s, get(i)); err != nil {
				return fail("%v", err)
			}
		}
		if nOut > 0 {
			out[0] = s
		}
		return out, nil
	}
	if nOut == 0 {
		return out, nil
	}
	switch op {
	case "Conv", "MaxPool", "AveragePool":
		if x == nil {
			return out, nil
		}
		if len(x) < 3 {
			return fail("input rank %d < 3", len(x))
		}
		sp := len(x) - 2
		kernel := attrInts(a, "kernel_shape")
		cout := int64(-1)
		if op == "Conv" {
			w := get(1)
			if w == nil || len(w) != len(x) {
				return fail("weight shape %v does not match input %v", w, x)
			}
			cout = w[0]
			if kernel == nil {
				kernel = w[2:]
			}
			g := attrInt(a, "group", 1)
			if x[1] >= 0 && w[1] >= 0 && x[1] != w[1]*g {
				return fail("input channels %d != weight %d × group %d", x[1], w[1], g)
			}
		} else {
			cout = x[1]
		}
		if len(kernel) != sp {
			return fail("kernel_shape %v for input %v", kernel, x)
		}
		spatial, err := convSpatial(x[2:], kernel, a, op != "Conv")
		if err != nil {
			return fail("%v", err)
		}
		out[0] = append([]int64{x[0], cout}, spatial...)
		if nOut > 1 {
			out[1] = slices.Clone(out[0])
		}
	case "ConvTranspose":
		w := get(1)
		if x == nil || len(w) != len(x) || len(x) < 3 {
			return out, nil
		}
		sp := len(x) - 2
		if osz := attrInts(a, "output_shape"); len(osz) == sp {
			out[0] = append([]int64{x[0], w[1] * attrInt(a, "group", 1)}, osz...)
			return out, nil
		}
		strides, dil, pads, opad := attrInts(a, "strides"), attrInts(a, "dilations"), attrInts(a, "pads"), attrInts(a, "output_padding")
		at := func(v []int64, i int, def int64) int64 {
			if i < len(v) {
				return v[i]
			}
			return def
		}
		s := []int64{x[0], w[1] * attrInt(a, "group", 1)}
		for i := range sp {
			if x[2+i] < 0 {
				s = append(s, -1)
				continue
			}
			p := at(pads, i, 0) + at(pads, i+sp, 0)
			o := (x[2+i]-1)*at(strides, i, 1) - p + at(dil, i, 1)*(w[2+i]-1) + at(opad, i, 0) + 1
			if o <= 0 {
				return fail("output size %d ≤ 0", o)
			}
			s = append(s, o)
		}
		out[0] = s
	case "GlobalAveragePool", "GlobalMaxPool":
		if x != nil {
			s := slices.Clone(x)
			for i := 2; i < len(s); i++ {
				s[i] = 1
			}
			out[0] = s
		}
	case "Concat":
		axis := attrInt(a, "axis", 0)
		var s []int64
		for i := range n.GetInput() {
			si := get(i)
			if si == nil {
				return out, nil
			}
			ax, err := normAxis(axis, len(si))
			if err != nil {
				return fail("%v", err)
			}
			if s == nil {
				s = slices.Clone(si)
				continue
			}
			if len(si) != len(s) {
				return fail("rank %d vs %d", len(si), len(s))
			}
			for d := range s {
				switch {
				case d == ax:
					if s[d] < 0 || si[d] < 0 {
						s[d] = -1
					} else {
						s[d] += si[d]
					}
				case s[d] >= 0 && si[d] >= 0 && s[d] != si[d]:
					return fail("dim %d: %d vs %d", d, s[d], si[d])
				}
			}
		}
		out[0] = s
	case "Resize", "Upsample":
		if x == nil {
			return out, nil
		}
		scaleIdx := 2
		if op == "Upsample" || opset < 11 {
			scaleIdx = 1
		}
		if sizes, ok := constIn(3); ok && op == "Resize" && len(sizes) == len(x) {
			out[0] = sizes
			return out, nil
		}
		sc := attrFloats(a, "scales") // Upsample before opset 9
		if t := constTensor(scaleIdx); t != nil {
			sc, _ = Float32s(t)
		}
		if len(sc) != len(x) {
			return out, nil
		}
		s := make([]int64, len(x))
		for i := range x {
			if x[i] < 0 {
				s[i] = -1
			} else {
				s[i] = int64(float64(x[i]) * float64(sc[i])) // floor, as ONNX Resize
			}
		}
		out[0] = s
	case "Split":
		if x == nil {
			return out, nil
		}
		ax, err := normAxis(attrInt(a, "axis", 0), len(x))
		if err != nil {
			return fail("%v", err)
		}
		sizes := attrInts(a, "split")
		if c, ok := constIn(1); ok {
			sizes = c
		}
		if sizes == nil && x[ax] >= 0 {
			if x[ax]%int64(nOut) != 0 {
				return fail("dim %d not divisible into %d", x[ax], nOut)
			}
			for range nOut {
				sizes = append(sizes, x[ax]/int64(nOut))
			}
		}
		if len(sizes) != nOut {
			return fail("split sizes %v for %d outputs", sizes, nOut)
		}
		var sum int64
		for i, sz := range sizes {
			s := slices.Clone(x)
			s[ax] = sz
			out[i] = s
			sum += sz
		}
		if x[ax] >= 0 && sum != x[ax] {
			return fail("split sizes %v sum to %d, dim is %d", sizes, sum, x[ax])
		}
	case "Reshape":
		target, ok := constIn(1)
		if !ok {
			return out, nil
		}
		s, err := reshapeShape(x, target)
		if err != nil {
			return fail("%v", err)
		}
		out[0] = s
	case "Flatten":
		if x == nil {
			return out, nil
		}
		ax := attrInt(a, "axis", 1)
		if ax < 0 {
			ax += int64(len(x))
		}
		if ax < 0 || ax > int64(len(x)) {
			return fail("axis %d for rank %d", ax, len(x))
		}
		out[0] = []int64{prod(x[:ax]), prod(x[ax:])}
	case "Transpose":
		if x == nil {
			return out, nil
		}
		perm := attrInts(a, "perm")
		if perm == nil {
			for i := len(x) - 1; i >= 0; i-- {
				perm = append(perm, int64(i))
			}
		}
		if len(perm) != len(x) {
			return fail("perm %v for rank %d", perm, len(x))
		}
		s := make([]int64, len(x))
		seen := make([]bool, len(x))
		for i, p := range perm {
			if p < 0 || p >= int64(len(x)) || seen[p] {
				return fail("bad perm %v", perm)
			}
			seen[p] = true
			s[i] = x[p]
		}
		out[0] = s
	case "MatMul":
		y := get(1)
		if x == nil || y == nil {
			return out, nil
		}
		s, err := matmulShape(x, y)
		if err != nil {
			return fail("%v", err)
		}
		out[0] = s
	case "Gemm":
		y := get(1)
		if len(x) != 2 || len(y) != 2 {
			return out, nil
		}
		m, k := x[0], x[1]
		if attrInt(a, "transA", 0) != 0 {
			m, k = k, m
		}
		k2, nn := y[0], y[1]
		if attrInt(a, "transB", 0) != 0 {
			k2, nn = nn, k2
		}
		if k >= 0 && k2 >= 0 && k != k2 {
			return fail("inner dims %d vs %d", k, k2)
		}
		out[0] = []int64{m, nn}
	case "Shape":
		if x != nil {
			out[0] = []int64{int64(len(x))}
		}
	case "Constant":
		if t, ok := a["value"]; ok && t.GetT() != nil {
			out[0] = slices.Clone(t.GetT().GetDims())
			if out[0] == nil {
				out[0] = []int64{}
			}
		}
	case "Squeeze", "Unsqueeze":
		if x == nil {
			return out, nil
		}
		axes := attrInts(a, "axes")
		if c, ok := constIn(1); ok {
			axes = c
		}
		s, err := squeezeShape(op == "Unsqueeze", x, axes)
		if err != nil {
			return fail("%v", err)
		}
		out[0] = s
	case "ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL2", "ArgMax", "ArgMin":
		if x == nil {
			return out, nil
		}
		keep := attrInt(a, "keepdims", 1) != 0
		axes := attrInts(a, "axes")
		if op == "ArgMax" || op == "ArgMin" {
			axes = []int64{attrInt(a, "axis", 0)}
		} else if c, ok := constIn(1); ok {
			axes = c
		}
		red := make([]bool, len(x))
		for _, ax := range axes {
			k, err := normAxis(ax, len(x))
			if err != nil {
				return fail("%v", err)
			}
			red[k] = true
		}
		var s []int64
		for i, d := range x {
			switch {
			case len(axes) > 0 && !red[i]:
				s = append(s, d)
			case keep:
				s = append(s, 1)
			}
		}
		if s == nil {
			s = []int64{}
		}
		out[0] = s
	}
	return out, nil
}
