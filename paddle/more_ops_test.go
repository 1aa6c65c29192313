package paddle

import (
	"context"
	"math"
	"reflect"
	"testing"

	"github.com/shitu-go/shitu/tensor"
)

// Post-processing ops (models-and-formats §D.2), each checked against Go.
func TestConvertPostOps(t *testing.T) {
	b := NewProgramBuilder()
	a := b.Feed("a", FP32, []int64{2, 3})
	v := b.Feed("v", FP32, []int64{4})
	var fetch []string
	op := func(typ string, ins []Slot, outName string, dt DType, dims []int64, attrs ...Attr) string {
		o := b.Tmp(outName, dt, dims)
		b.Op(typ, ins, []Slot{SlotOf("Out", o)}, attrs...)
		return o
	}
	fill := func(name string, val float32) string {
		return op("fill_constant", nil, name, Int64, []int64{1}, AInt("dtype", int32(Int64)), AFloat("value", val), AInts("shape", 1))
	}
	// range(1, 7, 2) = [1 3 5]
	st, en, sp := fill("s.tmp_0", 1), fill("e.tmp_0", 7), fill("p.tmp_0", 2)
	rg := b.Tmp("range_0.tmp_0", Int64, []int64{-1})
	b.Op("range", []Slot{SlotOf("Start", st), SlotOf("End", en), SlotOf("Step", sp)}, []Slot{SlotOf("Out", rg)})
	fetch = append(fetch, rg)
	// meshgrid(a[0,:] flattened? use v and range)
	m0, m1 := b.Tmp("mesh.tmp_0", FP32, []int64{4, 3}), b.Tmp("mesh.tmp_1", Int64, []int64{4, 3})
	b.Op("meshgrid", []Slot{SlotOf("X", v, rg)}, []Slot{SlotOf("Out", m0, m1)})
	fetch = append(fetch, m0, m1)
	sk := b.Tmp("stack_0.tmp_0", FP32, []int64{2, 3, 2})
	b.Op("stack", []Slot{SlotOf("X", a, a)}, []Slot{SlotOf("Y", sk)}, AInt("axis", -1))
	fetch = append(fetch, sk)
	fetch = append(fetch, op("reduce_max", []Slot{SlotOf("X", a)}, "rmax.tmp_0", FP32, []int64{2}, AInts("dim", 1), ABool("keep_dim", false)))
	fetch = append(fetch, op("reduce_sum", []Slot{SlotOf("X", a)}, "rsum.tmp_0", FP32, []int64{1}, ABool("reduce_all", true), AInts("dim", 0)))
	fetch = append(fetch, op("reduce_mean", []Slot{SlotOf("X", a)}, "rmean.tmp_0", FP32, []int64{1, 3}, AInts("dim", 0), ABool("keep_dim", true)))
	tv, ti := b.Tmp("topk.tmp_0", FP32, []int64{2, 2}), b.Tmp("topk.tmp_1", Int64, []int64{2, 2})
	b.Op("top_k_v2", []Slot{SlotOf("X", a)}, []Slot{SlotOf("Out", tv), SlotOf("Indices", ti)}, AInt("k", 2), AInt("axis", -1))
	fetch = append(fetch, tv, ti)
	idx := b.Param("idx.w_0", &Tensor{DType: Int64, Dims: []int64{3}, Data: []byte{1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}})
	ga := b.Tmp("gather.tmp_0", FP32, []int64{3, 3})
	b.Op("gather", []Slot{SlotOf("X", a), SlotOf("Index", idx)}, []Slot{SlotOf("Out", ga)}, AInt("axis", 0))
	fetch = append(fetch, ga)
	fetch = append(fetch, op("reverse", []Slot{SlotOf("X", v)}, "rev.tmp_0", FP32, []int64{4}, AInts("axis", 0)))
	fetch = append(fetch, op("flip", []Slot{SlotOf("X", a)}, "flip.tmp_0", FP32, []int64{2, 3}, AInts("axis", 1)))
	col := op("reshape2", []Slot{SlotOf("X", v)}, "col.tmp_0", FP32, []int64{4, 1}, AInts("shape", 4, 1))
	fetch = append(fetch, op("expand_v2", []Slot{SlotOf("X", col)}, "exp.tmp_0", FP32, []int64{4, 3}, AInts("shape", -1, 3)))
	fetch = append(fetch, op("tile", []Slot{SlotOf("X", v)}, "tile.tmp_0", FP32, []int64{2, 8}, AInts("repeat_times", 2, 2)))
	lt := b.Tmp("lt.tmp_0", Bool, []int64{2, 3})
	zero := b.Param("zero.w_0", NewFloat32([]int64{1}, []float32{0}))
	b.Op("less_than", []Slot{SlotOf("X", a), SlotOf("Y", zero)}, []Slot{SlotOf("Out", lt)}, AInt("axis", -1))
	wh := b.Tmp("where.tmp_0", FP32, []int64{2, 3})
	neg := op("scale", []Slot{SlotOf("X", a)}, "neg.tmp_0", FP32, []int64{2, 3}, AFloat("scale", -1))
	b.Op("where", []Slot{SlotOf("Condition", lt), SlotOf("X", neg), SlotOf("Y", a)}, []Slot{SlotOf("Out", wh)})
	fetch = append(fetch, wh)
	fetch = append(fetch, op("arg_max", []Slot{SlotOf("X", a)}, "am.tmp_0", Int32, []int64{2}, AInt("axis", 1), AInt("dtype", int32(Int32))))
	fetch = append(fetch, op("pow", []Slot{SlotOf("X", a)}, "pow.tmp_0", FP32, []int64{2, 3}, AFloat("factor", 2)))
	for _, f := range fetch {
		b.Fetch(f)
	}
	m, err := b.Model()
	if err != nil {
		t.Fatal(err)
	}
	model, err := ToONNX(m, ConvertOptions{})
	if err != nil {
		t.Fatal(err)
	}
	av := []float32{0.5, -2, 3, -1, 4, 0.25}
	vv := []float32{1, 2, 3, 4}
	out, err := ortOpen(t, model).Run(context.Background(), map[string]*tensor.Tensor{
		"a": tensor.Must([]int{2, 3}, av), "v": tensor.Must([]int{4}, vv)})
	if err != nil {
		t.Fatal(err)
	}
	f := func(i int) []float32 { return out[i].Float32s() }
	checks := []struct {
		name string
		got  any
		want any
	}{
		{"range", out[0].Int64s(), []int64{1, 3, 5}},
		{"meshgrid 0", f(1), []float32{1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4}},
		{"meshgrid 1", out[2].Int64s(), []int64{1, 3, 5, 1, 3, 5, 1, 3, 5, 1, 3, 5}},
		{"stack", f(3), []float32{0.5, 0.5, -2, -2, 3, 3, -1, -1, 4, 4, 0.25, 0.25}},
		{"reduce_max", f(4), []float32{3, 4}},
		{"reduce_sum all", f(5), []float32{4.75}},
		{"reduce_mean keep", f(6), []float32{-0.25, 1, 1.625}},
		{"top_k values", f(7), []float32{3, 0.5, 4, 0.25}},
		{"top_k indices", out[8].Int64s(), []int64{2, 0, 1, 2}},
		{"gather", f(9), []float32{-1, 4, 0.25, -1, 4, 0.25, 0.5, -2, 3}},
		{"reverse", f(10), []float32{4, 3, 2, 1}},
		{"flip", f(11), []float32{3, -2, 0.5, 0.25, 4, -1}},
		{"expand_v2", f(12), []float32{1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4}},
		{"tile", f(13), []float32{1, 2, 3, 4, 1, 2, 3, 4, 1, 2, 3, 4, 1, 2, 3, 4}},
		{"where", f(14), []float32{0.5, 2, 3, 1, 4, 0.25}},
		{"arg_max", out[15].Int32s(), []int32{2, 1}},
		{"pow", f(16), []float32{0.25, 4, 9, 1, 16, 0.0625}},
	}
	for _, c := range checks {
		if g, ok := c.got.([]float32); ok {
			w := c.want.([]float32)
			if len(g) != len(w) {
				t.Errorf("%s: got %v, want %v", c.name, g, w)
				continue
			}
			for i := range w {
				if math.Abs(float64(g[i]-w[i])) > 1e-6 {
					t.Errorf("%s: got %v, want %v", c.name, g, w)
					break
				}
			}
			continue
		}
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s: got %v, want %v", c.name, c.got, c.want)
		}
	}
}
