package onnx

import (
	"fmt"
	"slices"
)

// convSpatial computes output spatial dims of a conv or pool.
func convSpatial(in, kernel []int64, a map[string]*AttributeProto, pool bool) ([]int64, error) {
	sp := len(in)
	strides := attrInts(a, "strides")
	dil := attrInts(a, "dilations")
	pads := attrInts(a, "pads")
	autoPad := attrString(a, "auto_pad", "NOTSET")
	ceil := pool && attrInt(a, "ceil_mode", 0) != 0
	out := make([]int64, sp)
	for i := range sp {
		s, d := int64(1), int64(1)
		if i < len(strides) {
			s = strides[i]
		}
		if i < len(dil) {
			d = dil[i]
		}
		if s <= 0 || d <= 0 || kernel[i] <= 0 {
			return nil, fmt.Errorf("stride %d, dilation %d, kernel %d must be positive", s, d, kernel[i])
		}
		if in[i] < 0 {
			out[i] = -1
			continue
		}
		switch autoPad {
		case "SAME_UPPER", "SAME_LOWER":
			out[i] = (in[i] + s - 1) / s
			continue
		case "VALID":
			pads = nil
		}
		var p int64
		if len(pads) == 2*sp {
			p = pads[i] + pads[i+sp]
		}
		eff := d*(kernel[i]-1) + 1
		num := in[i] + p - eff
		if num < 0 {
			return nil, fmt.Errorf("kernel %d larger than padded input %d", eff, in[i]+p)
		}
		if ceil {
			out[i] = (num+s-1)/s + 1
		} else {
			out[i] = num/s + 1
		}
	}
	return out, nil
}

func broadcast(a, b []int64) ([]int64, error) {
	if a == nil || b == nil {
		return nil, nil
	}
	if len(a) < len(b) {
		a, b = b, a
	}
	s := slices.Clone(a)
	off := len(a) - len(b)
	for i, d := range b {
		x := s[off+i]
		switch {
		case d == 1:
		case x == 1:
			s[off+i] = d
		case d == -1 || x == -1:
			s[off+i] = max(d, x)
			if d == -1 && x == -1 {
				s[off+i] = -1
			}
		case d != x:
			return nil, fmt.Errorf("cannot broadcast %v with %v", a, b)
		}
	}
	return s, nil
}

func matmulShape(a, b []int64) ([]int64, error) {
	if len(a) == 0 || len(b) == 0 {
		return nil, fmt.Errorf("scalar operand")
	}
	a1, b1 := len(a) == 1, len(b) == 1
	if a1 {
		a = []int64{1, a[0]}
	}
	if b1 {
		b = []int64{b[0], 1}
	}
	k1, k2 := a[len(a)-1], b[len(b)-2]
	if k1 >= 0 && k2 >= 0 && k1 != k2 {
		return nil, fmt.Errorf("inner dims %d vs %d", k1, k2)
	}
	batch, err := broadcast(a[:len(a)-2], b[:len(b)-2])
	if err != nil {
		return nil, err
	}
	s := append(batch, a[len(a)-2], b[len(b)-1])
	if a1 {
		s = append(s[:len(s)-2], s[len(s)-1])
	}
	if b1 {
		s = s[:len(s)-1]
	}
	return s, nil
}

func reshapeShape(x, target []int64) ([]int64, error) {
	s := slices.Clone(target)
	infer := -1
	copied := make([]bool, len(x))
	known := int64(1) // product of target dims that are neither 0 nor -1
	for i, d := range s {
		switch {
		case d == 0:
			if x == nil || i >= len(x) {
				return nil, nil
			}
			s[i] = x[i]
			copied[i] = true
		case d == -1:
			if infer >= 0 {
				return nil, fmt.Errorf("two -1 in shape %v", target)
			}
			infer = i
		case d < -1:
			return nil, fmt.Errorf("bad dim %d in shape %v", d, target)
		default:
			known *= d
		}
	}
	if x == nil {
		if infer >= 0 {
			s[infer] = -1
		}
		return s, nil
	}
	rest := int64(1) // product of input dims not copied by a 0
	for i, d := range x {
		if copied[i] {
			continue
		}
		if d < 0 {
			rest = -1
			break
		}
		rest *= d
	}
	switch {
	case rest < 0:
		if infer >= 0 {
			s[infer] = -1
		}
	case infer >= 0:
		if known == 0 || rest%known != 0 {
			return nil, fmt.Errorf("cannot reshape %v to %v", x, target)
		}
		s[infer] = rest / known
	case rest != known:
		return nil, fmt.Errorf("cannot reshape %v to %v", x, target)
	}
	return s, nil
}

func squeezeShape(unsq bool, x, axes []int64) ([]int64, error) {
	if unsq {
		r := len(x) + len(axes)
		mark := make([]bool, r)
		for _, ax := range axes {
			k, err := normAxis(ax, r)
			if err != nil {
				return nil, err
			}
			if mark[k] {
				return nil, fmt.Errorf("repeated axis %d in %v", ax, axes)
			}
			mark[k] = true
		}
		s := make([]int64, 0, r)
		j := 0
		for i := range r {
			if mark[i] {
				s = append(s, 1)
			} else {
				s = append(s, x[j])
				j++
			}
		}
		return s, nil
	}
	mark := make([]bool, len(x))
	for _, ax := range axes {
		k, err := normAxis(ax, len(x))
		if err != nil {
			return nil, err
		}
		mark[k] = true
	}
	s := []int64{}
	for i, d := range x {
		if (len(axes) == 0 && d == 1) || mark[i] {
			continue
		}
		s = append(s, d)
	}
	return s, nil
}

func normAxis(ax int64, rank int) (int, error) {
	if ax < 0 {
		ax += int64(rank)
	}
	if ax < 0 || ax >= int64(rank) {
		return 0, fmt.Errorf("axis %d out of range for rank %d", ax, rank)
	}
	return int(ax), nil
}

// prod multiplies dims; -1 when any is unknown.
func prod(s []int64) int64 {
	p := int64(1)
	for _, d := range s {
		if d < 0 {
			return -1
		}
		p *= d
	}
	return p
}
