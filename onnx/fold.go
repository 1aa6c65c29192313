package onnx

// foldInt folds the small integer computations exporters use to build
// shapes at run time (Shape → Slice/Gather → Cast → Concat/Unsqueeze →
// Reshape), so the analyser knows the static result. It returns the int64
// value of n's first output, or nil when it cannot be computed statically.
func foldInt(n *NodeProto, in [][]int64, opset int64, consts ConstLookup) []int64 {
	val := func(i int) ([]int64, bool) {
		if i >= len(n.GetInput()) || n.GetInput()[i] == "" {
			return nil, false
		}
		t := consts(n.GetInput()[i])
		if t == nil {
			return nil, false
		}
		v, err := Int64s(t)
		return v, err == nil
	}
	a := attrMap(n)
	switch n.GetOpType() {
	case "Shape":
		if len(in) == 0 || in[0] == nil || prod(in[0]) < 0 {
			return nil
		}
		s := append([]int64{}, in[0]...)
		start, end := attrInt(a, "start", 0), attrInt(a, "end", int64(len(s)))
		lo, hi, ok := sliceBounds(start, end, int64(len(s)))
		if !ok {
			return nil
		}
		return s[lo:hi]
	case "Cast", "Identity":
		to := attrInt(a, "to", int64(TensorProto_INT64))
		if to != int64(TensorProto_INT64) && to != int64(TensorProto_INT32) && n.GetOpType() == "Cast" {
			return nil
		}
		v, ok := val(0)
		if !ok {
			return nil
		}
		return v
	case "Concat":
		var out []int64
		for i := range n.GetInput() {
			v, ok := val(i)
			if !ok || (i < len(in) && len(in[i]) > 1) {
				return nil
			}
			out = append(out, v...)
		}
		return out
	case "Unsqueeze", "Squeeze":
		v, ok := val(0)
		if !ok || len(v) != 1 {
			return nil
		}
		return v
	case "Gather":
		v, ok := val(0)
		idx, ok2 := val(1)
		if !ok || !ok2 || attrInt(a, "axis", 0) != 0 {
			return nil
		}
		out := make([]int64, len(idx))
		for i, k := range idx {
			if k < 0 {
				k += int64(len(v))
			}
			if k < 0 || k >= int64(len(v)) {
				return nil
			}
			out[i] = v[k]
		}
		return out
	case "Slice":
		v, ok := val(0)
		if !ok {
			return nil
		}
		var starts, ends, steps []int64
		if opset < 10 {
			starts, ends = attrInts(a, "starts"), attrInts(a, "ends")
		} else {
			s, ok1 := val(1)
			e, ok2 := val(2)
			if !ok1 || !ok2 {
				return nil
			}
			starts, ends = s, e
			if st, ok := val(4); ok {
				steps = st
			}
		}
		if len(starts) != 1 || len(ends) != 1 || (len(steps) == 1 && steps[0] != 1) {
			return nil
		}
		lo, hi, ok := sliceBounds(starts[0], ends[0], int64(len(v)))
		if !ok {
			return nil
		}
		return v[lo:hi]
	}
	return nil
}

// sliceBounds clamps [start, end) for a dim of length n (negative = from the end).
func sliceBounds(start, end, n int64) (int64, int64, bool) {
	if start < 0 {
		start += n
	}
	if end < 0 {
		end += n
	}
	start = min(max(start, 0), n)
	end = min(max(end, 0), n)
	return start, end, start <= end
}

// FoldInt is the folding Analyze does, for converters that propagate
// shapes themselves: the int64 value of n's first output when the small
// shape computations of exporters (Shape, Slice, Gather, Cast, Concat,
// Unsqueeze, ...) make it static, else nil.
func FoldInt(n *NodeProto, in [][]int64, opset int64, consts ConstLookup) []int64 {
	return foldInt(n, in, opset, consts)
}
