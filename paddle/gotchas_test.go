package paddle

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/shitu-go/shitu/tensor"
)

// opCase is one op on one input x, checked against a Go reference.
type opCase struct {
	name    string
	op      string
	inDims  []int64
	outDims []int64
	xSlot   string             // default "X"
	outSlot string             // default "Out"
	params  map[string]*Tensor // extra inputs: slot → parameter
	attrs   []Attr
	want    func(x []float32, idx func(...int) int) []float32
	opset   int64
}

func buildOneOp(t *testing.T, tc opCase) *Model {
	t.Helper()
	b := NewProgramBuilder()
	x := b.Feed("x", FP32, tc.inDims)
	xs, os := tc.xSlot, tc.outSlot
	if xs == "" {
		xs = "X"
	}
	if os == "" {
		os = "Out"
	}
	ins := []Slot{SlotOf(xs, x)}
	for slot, p := range tc.params {
		ins = append(ins, SlotOf(slot, b.Param("p_"+strings.ToLower(slot)+".w_0", p)))
	}
	out := b.Tmp("out.tmp_0", FP32, tc.outDims)
	b.Op(tc.op, ins, []Slot{SlotOf(os, out)}, tc.attrs...)
	b.Fetch(out)
	m, err := b.Model()
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func numel(d []int64) int {
	n := 1
	for _, v := range d {
		n *= int(v)
	}
	return n
}

func ints(d []int64) []int {
	o := make([]int, len(d))
	for i, v := range d {
		o[i] = int(v)
	}
	return o
}

// strides4 gives an NCHW indexer for dims d.
func indexer(d []int64) func(...int) int {
	return func(i ...int) int {
		k := 0
		for j, v := range i {
			k = k*int(d[j]) + v
		}
		return k
	}
}

func clip(v, lo, hi float32) float32 { return min(max(v, lo), hi) }

// The conversion gotchas of models-and-formats §D.3, each checked in ONNX
// Runtime against a direct computation of Paddle's documented semantics.
func TestConvertGotchas(t *testing.T) {
	d4 := []int64{1, 2, 3, 4}
	bias := NewFloat32([]int64{2}, []float32{10, -20})
	cases := []opCase{
		{name: "elementwise_add axis 1", op: "elementwise_add", inDims: d4, outDims: d4, params: map[string]*Tensor{"Y": bias},
			attrs: []Attr{AInt("axis", 1)}, want: func(x []float32, ix func(...int) int) []float32 {
				o := make([]float32, len(x))
				for c := 0; c < 2; c++ {
					for h := 0; h < 3; h++ {
						for w := 0; w < 4; w++ {
							o[ix(0, c, h, w)] = x[ix(0, c, h, w)] + []float32{10, -20}[c]
						}
					}
				}
				return o
			}},
		{name: "hard_sigmoid default slope 0.2", op: "hard_sigmoid", inDims: d4, outDims: d4,
			want: mapf(func(v float32) float32 { return clip(0.2*v+0.5, 0, 1) })},
		{name: "hard_sigmoid slope 1/6", op: "hard_sigmoid", inDims: d4, outDims: d4, attrs: []Attr{AFloat("slope", 0.1666667), AFloat("offset", 0.5)},
			want: mapf(func(v float32) float32 { return clip(0.1666667*v+0.5, 0, 1) })},
		{name: "hard_swish standard", op: "hard_swish", inDims: d4, outDims: d4, attrs: []Attr{AFloat("threshold", 6), AFloat("scale", 6), AFloat("offset", 3)},
			want: mapf(func(v float32) float32 { return v * clip(v+3, 0, 6) / 6 })},
		{name: "hard_swish standard opset 13", op: "hard_swish", inDims: d4, outDims: d4, opset: 13,
			want: mapf(func(v float32) float32 { return v * clip(v+3, 0, 6) / 6 })},
		{name: "hard_swish custom", op: "hard_swish", inDims: d4, outDims: d4, attrs: []Attr{AFloat("threshold", 5), AFloat("scale", 4), AFloat("offset", 2)},
			want: mapf(func(v float32) float32 { return v * clip(v+2, 0, 5) / 4 })},
		{name: "dropout downgrade_in_infer", op: "dropout", inDims: d4, outDims: d4, attrs: []Attr{AFloat("dropout_prob", 0.2), AString("dropout_implementation", "downgrade_in_infer")},
			want: mapf(func(v float32) float32 { return v * 0.8 })},
		{name: "dropout default implementation", op: "dropout", inDims: d4, outDims: d4, attrs: []Attr{AFloat("dropout_prob", 0.3)},
			want: mapf(func(v float32) float32 { return v * 0.7 })},
		{name: "dropout upscale_in_train", op: "dropout", inDims: d4, outDims: d4, attrs: []Attr{AFloat("dropout_prob", 0.2), AString("dropout_implementation", "upscale_in_train")},
			want: mapf(func(v float32) float32 { return v })},
		{name: "scale bias after", op: "scale", inDims: d4, outDims: d4, attrs: []Attr{AFloat("scale", 2), AFloat("bias", 1)},
			want: mapf(func(v float32) float32 { return 2*v + 1 })},
		{name: "scale bias before", op: "scale", inDims: d4, outDims: d4, attrs: []Attr{AFloat("scale", 2), AFloat("bias", 1), ABool("bias_after_scale", false)},
			want: mapf(func(v float32) float32 { return 2 * (v + 1) })},
		{name: "nearest_interp_v2 scale", op: "nearest_interp_v2", inDims: d4, outDims: []int64{1, 2, 6, 8},
			attrs: []Attr{AFloats("scale", 2, 2), AInt("out_h", -1), AInt("out_w", -1), AString("interp_method", "nearest"), ABool("align_corners", false)},
			want:  nearestRef(d4, 6, 8)},
		{name: "nearest_interp_v2 out size", op: "nearest_interp_v2", inDims: d4, outDims: []int64{1, 2, 5, 7},
			attrs: []Attr{AInt("out_h", 5), AInt("out_w", 7), AString("interp_method", "nearest"), ABool("align_corners", false)},
			want:  nearestRef(d4, 5, 7)},
		{name: "bilinear_interp_v2 half_pixel", op: "bilinear_interp_v2", inDims: d4, outDims: []int64{1, 2, 6, 8},
			attrs: []Attr{AInt("out_h", 6), AInt("out_w", 8), AString("interp_method", "bilinear"), ABool("align_corners", false), AInt("align_mode", 0)},
			want:  bilinearRef(d4, 6, 8, false)},
		{name: "bilinear_interp_v2 align_corners", op: "bilinear_interp_v2", inDims: d4, outDims: []int64{1, 2, 6, 8},
			attrs: []Attr{AFloats("scale", 2, 2), AString("interp_method", "bilinear"), ABool("align_corners", true), AInt("align_mode", 1)},
			want:  bilinearRef(d4, 6, 8, true)},
		{name: "matmul transpose_Y alpha", op: "matmul", inDims: []int64{2, 3}, outDims: []int64{2, 2},
			params: map[string]*Tensor{"Y": NewFloat32([]int64{2, 3}, []float32{1, 2, 3, -1, 0, 1})},
			attrs:  []Attr{ABool("transpose_Y", true), AFloat("alpha", 0.5)},
			want: func(x []float32, _ func(...int) int) []float32 {
				y := []float32{1, 2, 3, -1, 0, 1}
				o := make([]float32, 4)
				for i := 0; i < 2; i++ {
					for j := 0; j < 2; j++ {
						for k := 0; k < 3; k++ {
							o[i*2+j] += 0.5 * x[i*3+k] * y[j*3+k]
						}
					}
				}
				return o
			}},
		{name: "nearest_interp_v2 OutSize tensor", op: "nearest_interp_v2", inDims: d4, outDims: []int64{1, 2, 5, 7},
			params: map[string]*Tensor{"OutSize": {DType: Int32, Dims: []int64{2}, Data: []byte{5, 0, 0, 0, 7, 0, 0, 0}}},
			attrs:  []Attr{AInt("out_h", -1), AInt("out_w", -1), AString("interp_method", "nearest"), ABool("align_corners", false)},
			want:   nearestRef(d4, 5, 7)},
		{name: "scale as SCALAR attrs (Paddle ≥2.5)", op: "scale", inDims: d4, outDims: d4,
			attrs: []Attr{{Name: "scale", Type: AttrScalar, Scalar: &Scalar{Type: 3, R: 3}}, {Name: "bias", Type: AttrScalar, Scalar: &Scalar{Type: 2, I: -1}}},
			want:  mapf(func(v float32) float32 { return 3*v - 1 })},
		{name: "pool2d adaptive 2x2 max", op: "pool2d", inDims: []int64{1, 1, 4, 4}, outDims: []int64{1, 1, 2, 2},
			attrs: []Attr{AString("pooling_type", "max"), AInts("ksize", 2, 2), ABool("adaptive", true)},
			want: func(x []float32, _ func(...int) int) []float32 {
				o := make([]float32, 4)
				for i := range o {
					r, c := i/2*2, i%2*2
					o[i] = max(x[r*4+c], x[r*4+c+1], x[(r+1)*4+c], x[(r+1)*4+c+1])
				}
				return o
			}},
		{name: "flatten_contiguous_range 1..-1", op: "flatten_contiguous_range", inDims: d4, outDims: []int64{1, 24},
			attrs: []Attr{AInt("start_axis", 1), AInt("stop_axis", -1)}, want: mapf(func(v float32) float32 { return v })},
		{name: "flatten_contiguous_range 1..2", op: "flatten_contiguous_range", inDims: d4, outDims: []int64{1, 6, 4},
			attrs: []Attr{AInt("start_axis", 1), AInt("stop_axis", 2)}, want: mapf(func(v float32) float32 { return v })},
		{name: "reshape2 0 and -1", op: "reshape2", inDims: d4, outDims: []int64{1, 6, 4},
			attrs: []Attr{AInts("shape", 0, -1, 4)}, want: mapf(func(v float32) float32 { return v })},
		{name: "transpose2 axis", op: "transpose2", inDims: d4, outDims: []int64{1, 3, 4, 2},
			attrs: []Attr{AInts("axis", 0, 2, 3, 1)}, want: func(x []float32, ix func(...int) int) []float32 {
				o := make([]float32, len(x))
				ox := indexer([]int64{1, 3, 4, 2})
				for c := 0; c < 2; c++ {
					for h := 0; h < 3; h++ {
						for w := 0; w < 4; w++ {
							o[ox(0, h, w, c)] = x[ix(0, c, h, w)]
						}
					}
				}
				return o
			}},
		{name: "conv2d 4-value paddings", op: "conv2d", inDims: []int64{1, 1, 3, 4}, outDims: []int64{1, 1, 4, 6}, xSlot: "Input", outSlot: "Output",
			params: map[string]*Tensor{"Filter": NewFloat32([]int64{1, 1, 1, 1}, []float32{2})},
			// [top, bottom, left, right] = [1, 0, 2, 0]
			attrs: []Attr{AInts("paddings", 1, 0, 2, 0), AInts("strides", 1, 1), AInt("groups", 1)},
			want: func(x []float32, ix func(...int) int) []float32 {
				o := make([]float32, 24)
				for h := 0; h < 3; h++ {
					for w := 0; w < 4; w++ {
						o[(h+1)*6+w+2] = 2 * x[ix(0, 0, h, w)]
					}
				}
				return o
			}},
		{name: "conv2d SAME", op: "conv2d", inDims: []int64{1, 1, 3, 4}, outDims: []int64{1, 1, 2, 2}, xSlot: "Input", outSlot: "Output",
			params: map[string]*Tensor{"Filter": NewFloat32([]int64{1, 1, 1, 1}, []float32{1})},
			attrs:  []Attr{AString("padding_algorithm", "SAME"), AInts("paddings", 0, 0), AInts("strides", 2, 2), AInt("groups", 1)},
			want: func(x []float32, ix func(...int) int) []float32 {
				return []float32{x[ix(0, 0, 0, 0)], x[ix(0, 0, 0, 2)], x[ix(0, 0, 2, 0)], x[ix(0, 0, 2, 2)]}
			}},
		{name: "pool2d avg exclusive", op: "pool2d", inDims: []int64{1, 1, 2, 2}, outDims: []int64{1, 1, 3, 3},
			attrs: []Attr{AString("pooling_type", "avg"), AInts("ksize", 2, 2), AInts("strides", 1, 1), AInts("paddings", 1, 1), ABool("exclusive", true)},
			want:  poolRef(true)},
		{name: "pool2d avg inclusive", op: "pool2d", inDims: []int64{1, 1, 2, 2}, outDims: []int64{1, 1, 3, 3},
			attrs: []Attr{AString("pooling_type", "avg"), AInts("ksize", 2, 2), AInts("strides", 1, 1), AInts("paddings", 1, 1), ABool("exclusive", false)},
			want:  poolRef(false)},
		{name: "pool2d adaptive 1x1", op: "pool2d", inDims: d4, outDims: []int64{1, 2, 1, 1},
			attrs: []Attr{AString("pooling_type", "avg"), AInts("ksize", 1, 1), ABool("adaptive", true)},
			want: func(x []float32, ix func(...int) int) []float32 {
				o := make([]float32, 2)
				for c := 0; c < 2; c++ {
					for i := 0; i < 12; i++ {
						o[c] += x[c*12+i] / 12
					}
				}
				return o
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := buildOneOp(t, tc)
			model, err := ToONNX(m, ConvertOptions{Opset: tc.opset})
			if err != nil {
				t.Fatal(err)
			}
			s := ortOpen(t, model)
			x := randInput(3, ints(tc.inDims)...)
			out, err := s.Run(context.Background(), map[string]*tensor.Tensor{"x": x})
			if err != nil {
				t.Fatal(err)
			}
			if got := out[0].Shape(); !tensor.EqualShape(got, ints(tc.outDims)) {
				t.Fatalf("shape %v, want %v", got, tc.outDims)
			}
			want := tc.want(x.Float32s(), indexer(tc.inDims))
			got := out[0].Float32s()
			if len(want) != numel(tc.outDims) {
				t.Fatalf("reference has %d values", len(want))
			}
			for i := range want {
				if math.Abs(float64(got[i]-want[i])) > 1e-5 {
					t.Fatalf("value %d: got %v, want %v", i, got[i], want[i])
				}
			}
		})
	}
}

func mapf(f func(float32) float32) func([]float32, func(...int) int) []float32 {
	return func(x []float32, _ func(...int) int) []float32 {
		o := make([]float32, len(x))
		for i, v := range x {
			o[i] = f(v)
		}
		return o
	}
}

// nearestRef is Paddle nearest without align_corners: src = floor(dst·in/out).
func nearestRef(in []int64, oh, ow int) func([]float32, func(...int) int) []float32 {
	return func(x []float32, ix func(...int) int) []float32 {
		ox := indexer([]int64{in[0], in[1], int64(oh), int64(ow)})
		o := make([]float32, int(in[0]*in[1])*oh*ow)
		for c := 0; c < int(in[1]); c++ {
			for h := 0; h < oh; h++ {
				for w := 0; w < ow; w++ {
					sh, sw := h*int(in[2])/oh, w*int(in[3])/ow
					o[ox(0, c, h, w)] = x[ix(0, c, sh, sw)]
				}
			}
		}
		return o
	}
}

// poolRef: 2×2 average, stride 1, padding 1 on a 2×2 input → 3×3.
func poolRef(exclusive bool) func([]float32, func(...int) int) []float32 {
	return func(x []float32, _ func(...int) int) []float32 {
		o := make([]float32, 9)
		for oh := 0; oh < 3; oh++ {
			for ow := 0; ow < 3; ow++ {
				sum, n := float32(0), 0
				for kh := 0; kh < 2; kh++ {
					for kw := 0; kw < 2; kw++ {
						h, w := oh+kh-1, ow+kw-1
						if h >= 0 && h < 2 && w >= 0 && w < 2 {
							sum += x[h*2+w]
							n++
						}
					}
				}
				if !exclusive {
					n = 4
				}
				o[oh*3+ow] = sum / float32(n)
			}
		}
		return o
	}
}

// Unsupported ops are all named with their counts in one error.
func TestUnsupportedOps(t *testing.T) {
	b := NewProgramBuilder()
	x := b.Feed("x", FP32, []int64{1, 4})
	cur := x
	for i, typ := range []string{"relu", "while", "while", "write_to_array"} {
		out := b.Tmp(b.Unique("t")+".tmp_0", FP32, []int64{1, 4})
		b.Op(typ, []Slot{SlotOf("X", cur)}, []Slot{SlotOf("Out", out)})
		cur = out
		_ = i
	}
	b.Fetch(cur)
	m, err := b.Model()
	if err != nil {
		t.Fatal(err)
	}
	_, err = ToONNX(m, ConvertOptions{})
	if !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), "while×2, write_to_array×1") {
		t.Errorf("got %v", err)
	}
	// Cutting before the unsupported ops converts.
	if _, err := ToONNX(m, ConvertOptions{Outputs: []string{"t_0.tmp_0"}}); err != nil {
		t.Errorf("cut: %v", err)
	}
}

// bilinearRef is Paddle's bilinear interpolation: align_corners maps
// dst·(in−1)/(out−1); otherwise align_mode 0 maps (dst+0.5)·in/out−0.5,
// clamped at 0, with the far neighbour clamped to the last pixel.
func bilinearRef(in []int64, oh, ow int, alignCorners bool) func([]float32, func(...int) int) []float32 {
	return func(x []float32, ix func(...int) int) []float32 {
		H, W := int(in[2]), int(in[3])
		src := func(d, n, o int) float64 {
			if alignCorners {
				return float64(d) * float64(n-1) / float64(o-1)
			}
			return max(0, (float64(d)+0.5)*float64(n)/float64(o)-0.5)
		}
		ox := indexer([]int64{in[0], in[1], int64(oh), int64(ow)})
		o := make([]float32, int(in[0]*in[1])*oh*ow)
		for c := 0; c < int(in[1]); c++ {
			for h := 0; h < oh; h++ {
				sh := src(h, H, oh)
				h0 := int(math.Floor(sh))
				h1 := min(h0+1, H-1)
				lh := sh - float64(h0)
				for w := 0; w < ow; w++ {
					sw := src(w, W, ow)
					w0 := int(math.Floor(sw))
					w1 := min(w0+1, W-1)
					lw := sw - float64(w0)
					v := (1-lh)*((1-lw)*float64(x[ix(0, c, h0, w0)])+lw*float64(x[ix(0, c, h0, w1)])) +
						lh*((1-lw)*float64(x[ix(0, c, h1, w0)])+lw*float64(x[ix(0, c, h1, w1)]))
					o[ox(0, c, h, w)] = float32(v)
				}
			}
		}
		return o
	}
}

// split with a −1 section infers it from the static dim; both pieces are outputs.
func TestConvertSplitInferredSection(t *testing.T) {
	b := NewProgramBuilder()
	x := b.Feed("x", FP32, []int64{1, 5, 2})
	o1 := b.Tmp("split_0.tmp_0", FP32, []int64{1, 2, 2})
	o2 := b.Tmp("split_0.tmp_1", FP32, []int64{1, 3, 2})
	b.Op("split", []Slot{SlotOf("X", x)}, []Slot{SlotOf("Out", o1, o2)}, AInts("sections", 2, -1), AInt("axis", 1), AInt("num", 0))
	b.Fetch(o2)
	b.Fetch(o1)
	m, err := b.Model()
	if err != nil {
		t.Fatal(err)
	}
	model, err := ToONNX(m, ConvertOptions{})
	if err != nil {
		t.Fatal(err)
	}
	in := randInput(4, 1, 5, 2)
	out := run(t, ortOpen(t, model), map[string]*tensor.Tensor{"x": in})
	xs := in.Float32s()
	if got := out[0].Float32s(); len(got) != 6 || got[0] != xs[4] || got[5] != xs[9] {
		t.Errorf("second piece %v from %v", got, xs)
	}
	if got := out[1].Float32s(); len(got) != 4 || got[3] != xs[3] {
		t.Errorf("first piece %v from %v", got, xs)
	}
}
