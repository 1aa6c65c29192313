package paddle

// Typed attribute accessors with defaults. Paddle programs store the same
// attribute with different types across versions (INT vs LONG, FLOAT vs
// FLOAT64 vs SCALAR, INTS vs LONGS); these read any of them
// (models-and-formats §C.2, §D.3).

// Int returns the attribute as an integer, or def when absent.
func (o *Op) Int(name string, def int64) int64 {
	a := o.Attr(name)
	if a == nil {
		return def
	}
	switch a.Type {
	case AttrInt:
		return int64(a.I)
	case AttrLong:
		return a.L
	case AttrBool:
		if a.B {
			return 1
		}
		return 0
	case AttrFloat:
		return int64(a.F)
	case AttrFloat64:
		return int64(a.Float64)
	case AttrScalar:
		if a.Scalar != nil {
			return scalarInt(*a.Scalar)
		}
	}
	return def
}

// Float returns the attribute as a float, or def when absent.
func (o *Op) Float(name string, def float64) float64 {
	a := o.Attr(name)
	if a == nil {
		return def
	}
	switch a.Type {
	case AttrFloat:
		return float64(a.F)
	case AttrFloat64:
		return a.Float64
	case AttrInt:
		return float64(a.I)
	case AttrLong:
		return float64(a.L)
	case AttrScalar:
		if a.Scalar != nil {
			return scalarFloat(*a.Scalar)
		}
	}
	return def
}

// Bool returns the attribute as a bool, or def when absent.
func (o *Op) Bool(name string, def bool) bool {
	a := o.Attr(name)
	if a == nil {
		return def
	}
	switch a.Type {
	case AttrBool:
		return a.B
	case AttrInt:
		return a.I != 0
	case AttrLong:
		return a.L != 0
	}
	return def
}

// Str returns a string attribute, or def when absent.
func (o *Op) Str(name, def string) string {
	a := o.Attr(name)
	if a == nil || a.Type != AttrString {
		return def
	}
	return a.S
}

// Ints returns an integer-list attribute (INTS, LONGS, SCALARS, or a single
// INT/LONG as a one-element list), or def when absent.
func (o *Op) Ints(name string, def []int64) []int64 {
	a := o.Attr(name)
	if a == nil {
		return def
	}
	var out []int64
	switch a.Type {
	case AttrInts:
		for _, v := range a.Ints {
			out = append(out, int64(v))
		}
	case AttrLongs:
		out = append(out, a.Longs...)
	case AttrScalars:
		for _, s := range a.Scalars {
			out = append(out, scalarInt(s))
		}
	case AttrInt:
		out = []int64{int64(a.I)}
	case AttrLong:
		out = []int64{a.L}
	default:
		return def
	}
	if out == nil {
		out = []int64{}
	}
	return out
}

// Floats returns a float-list attribute (FLOATS, FLOAT64S, SCALARS, or a
// single FLOAT as a one-element list), or def when absent.
func (o *Op) Floats(name string, def []float64) []float64 {
	a := o.Attr(name)
	if a == nil {
		return def
	}
	var out []float64
	switch a.Type {
	case AttrFloats:
		for _, v := range a.Floats {
			out = append(out, float64(v))
		}
	case AttrFloat64s:
		out = append(out, a.Float64s...)
	case AttrScalars:
		for _, s := range a.Scalars {
			out = append(out, scalarFloat(s))
		}
	case AttrFloat:
		out = []float64{float64(a.F)}
	case AttrFloat64:
		out = []float64{a.Float64}
	default:
		return def
	}
	if out == nil {
		out = []float64{}
	}
	return out
}

func scalarInt(s Scalar) int64 {
	switch s.Type {
	case 1:
		if s.B {
			return 1
		}
		return 0
	case 3:
		return int64(s.R)
	}
	return s.I
}

func scalarFloat(s Scalar) float64 {
	switch s.Type {
	case 1:
		if s.B {
			return 1
		}
		return 0
	case 2:
		return float64(s.I)
	case 4:
		return s.C[0]
	}
	return s.R
}
