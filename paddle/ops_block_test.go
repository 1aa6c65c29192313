package paddle

import (
	"fmt"
	"math"
	"testing"

	"github.com/shitu-go/shitu/tensor"
)

// A ViT/SVTR block as PP-OCRv4's recognition neck and PaddleClas's ViT
// export it (flatten + transpose of the feature map, layer_norm, multi-head
// attention built from matmul_v2/reshape2/transpose2/slice/scale/softmax,
// residuals, an MLP with gelu), on an image feed stored as [-1,4,2,10]: it
// converts with a dynamic H and W and matches a Go computation at the
// stored size and at another one.
func TestConvertAttentionBlock(t *testing.T) {
	const C, heads, hd, hidden = 4, 2, 2, 8
	b := NewProgramBuilder()
	x := b.Feed("x", FP32, []int64{-1, C, 2, 10})
	op := func(typ string, ins []Slot, outSlot string, dims []int64, attrs ...Attr) string {
		return tmpOp(b, typ, ins, outSlot, FP32, dims, attrs...)
	}
	lnS, sv := f32Param(b, []int64{C}, 41)
	lnB, bv := f32Param(b, []int64{C}, 42)
	wqkv, qkvv := f32Param(b, []int64{C, 3 * C}, 43)
	w1, w1v := f32Param(b, []int64{C, hidden}, 44)
	w2, w2v := f32Param(b, []int64{hidden, C}, 45)

	f := op("flatten_contiguous_range", []Slot{SlotOf("X", x)}, "Out", []int64{-1, C, 20}, AInt("start_axis", 2), AInt("stop_axis", 3))
	tk := op("transpose2", []Slot{SlotOf("X", f)}, "Out", []int64{-1, 20, C}, AInts("axis", 0, 2, 1))
	ln := op("layer_norm", []Slot{SlotOf("X", tk), SlotOf("Scale", lnS), SlotOf("Bias", lnB)}, "Y", []int64{-1, 20, C}, AFloat("epsilon", 1e-5), AInt("begin_norm_axis", 2))
	qkv := op("matmul_v2", []Slot{SlotOf("X", ln), SlotOf("Y", wqkv)}, "Out", []int64{-1, 20, 3 * C})
	r5 := op("reshape2", []Slot{SlotOf("X", qkv)}, "Out", []int64{-1, 20, 3, heads, hd}, AInts("shape", 0, -1, 3, heads, hd))
	t5 := op("transpose2", []Slot{SlotOf("X", r5)}, "Out", []int64{3, -1, heads, 20, hd}, AInts("axis", 2, 0, 3, 1, 4))
	part := func(i int32) string {
		return op("slice", []Slot{SlotOf("Input", t5)}, "Out", []int64{-1, heads, 20, hd},
			AInts("axes", 0), AInts("starts", i), AInts("ends", i+1), AInts("decrease_axis", 0))
	}
	q := op("scale", []Slot{SlotOf("X", part(0))}, "Out", []int64{-1, heads, 20, hd}, AFloat("scale", float32(1/math.Sqrt(hd))))
	k, v := part(1), part(2)
	att := op("matmul_v2", []Slot{SlotOf("X", q), SlotOf("Y", k)}, "Out", []int64{-1, heads, 20, 20}, ABool("trans_y", true))
	att = op("softmax", []Slot{SlotOf("X", att)}, "Out", []int64{-1, heads, 20, 20}, AInt("axis", -1))
	o := op("matmul_v2", []Slot{SlotOf("X", att), SlotOf("Y", v)}, "Out", []int64{-1, heads, 20, hd})
	o = op("transpose2", []Slot{SlotOf("X", o)}, "Out", []int64{-1, 20, heads, hd}, AInts("axis", 0, 2, 1, 3))
	o = op("reshape2", []Slot{SlotOf("X", o)}, "Out", []int64{-1, 20, C}, AInts("shape", 0, -1, C))
	r := op("elementwise_add", []Slot{SlotOf("X", tk), SlotOf("Y", o)}, "Out", []int64{-1, 20, C}, AInt("axis", -1))
	ln2 := op("layer_norm", []Slot{SlotOf("X", r), SlotOf("Scale", lnS), SlotOf("Bias", lnB)}, "Y", []int64{-1, 20, C}, AFloat("epsilon", 1e-5), AInt("begin_norm_axis", 2))
	h := op("matmul_v2", []Slot{SlotOf("X", ln2), SlotOf("Y", w1)}, "Out", []int64{-1, 20, hidden})
	h = op("gelu", []Slot{SlotOf("X", h)}, "Out", []int64{-1, 20, hidden})
	h = op("matmul_v2", []Slot{SlotOf("X", h), SlotOf("Y", w2)}, "Out", []int64{-1, 20, C})
	out := op("elementwise_add", []Slot{SlotOf("X", r), SlotOf("Y", h)}, "Out", []int64{-1, 20, C}, AInt("axis", -1))
	b.Fetch(out)
	m, err := b.Model()
	if err != nil {
		t.Fatal(err)
	}
	model, err := ToONNX(m, ConvertOptions{})
	if err != nil {
		t.Fatal(err)
	}
	s := ortOpen(t, model)
	if got := fmt.Sprint(s.Inputs()[0].Shape, s.Outputs()[0].Shape); got != "[-1 4 -1 -1] [-1 -1 4]" {
		t.Errorf("input/output shapes %s", got)
	}

	// The reference, token by token.
	lnorm := func(tok []float64) []float64 {
		m, va := 0.0, 0.0
		for _, a := range tok {
			m += a
		}
		m /= C
		for _, a := range tok {
			va += (a - m) * (a - m)
		}
		va /= C
		o := make([]float64, C)
		for i, a := range tok {
			o[i] = (a-m)/math.Sqrt(va+1e-5)*float64(sv[i]) + float64(bv[i])
		}
		return o
	}
	lin := func(in []float64, w []float32, n int) []float64 {
		o := make([]float64, n)
		for j := range o {
			for i, a := range in {
				o[j] += a * float64(w[i*n+j])
			}
		}
		return o
	}
	ref := func(xv []float32, H, W int) []float32 {
		L := H * W
		tok := make([][]float64, L)
		for l := range tok {
			tok[l] = make([]float64, C)
			for c := 0; c < C; c++ {
				tok[l][c] = float64(xv[c*L+l])
			}
		}
		qkvs := make([][]float64, L)
		for l := range tok {
			qkvs[l] = lin(lnorm(tok[l]), qkvv, 3*C)
		}
		res := make([][]float64, L)
		for l := range res {
			res[l] = append([]float64(nil), tok[l]...)
		}
		for hh := 0; hh < heads; hh++ {
			for i := 0; i < L; i++ {
				sc := make([]float64, L)
				mx := math.Inf(-1)
				for j := 0; j < L; j++ {
					for d := 0; d < hd; d++ {
						sc[j] += qkvs[i][hh*hd+d] / math.Sqrt(hd) * qkvs[j][C+hh*hd+d]
					}
					mx = math.Max(mx, sc[j])
				}
				sum := 0.0
				for j := range sc {
					sc[j] = math.Exp(sc[j] - mx)
					sum += sc[j]
				}
				for d := 0; d < hd; d++ {
					a := 0.0
					for j := 0; j < L; j++ {
						a += sc[j] / sum * qkvs[j][2*C+hh*hd+d]
					}
					res[i][hh*hd+d] += a
				}
			}
		}
		o := make([]float32, 0, L*C)
		for l := range res {
			hv := lin(lnorm(res[l]), w1v, hidden)
			for i, a := range hv {
				hv[i] = 0.5 * a * (1 + math.Erf(a/math.Sqrt2))
			}
			y := lin(hv, w2v, C)
			for c := 0; c < C; c++ {
				o = append(o, float32(res[l][c]+y[c]))
			}
		}
		return o
	}
	for _, sz := range [][2]int{{2, 10}, {3, 7}} {
		in := randInput(9, 1, C, sz[0], sz[1])
		got := run(t, s, map[string]*tensor.Tensor{"x": in})[0]
		if !tensor.EqualShape(got.Shape(), []int{1, sz[0] * sz[1], C}) {
			t.Fatalf("%v: shape %v", sz, got.Shape())
		}
		want := ref(in.Float32s(), sz[0], sz[1])
		worst := 0.0
		for i, g := range got.Float32s() {
			worst = math.Max(worst, math.Abs(float64(g-want[i])))
		}
		t.Logf("%dx%d: max abs diff %.3g", sz[0], sz[1], worst)
		if worst > 1e-4 {
			t.Errorf("%v: max abs diff %.3g", sz, worst)
		}
	}
}
