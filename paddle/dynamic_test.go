package paddle

import (
	"context"
	"fmt"
	"math"
	"os"
	"strings"
	"testing"

	"github.com/shitu-go/shitu/onnx"
	"github.com/shitu-go/shitu/tensor"
)

// dynModel: x [-1,3,32,100] → relu → adaptive avg pool to 2×5, and a split
// of the relu output along W into [40, −1] (the rest depends on the width).
func dynModel(t *testing.T, poolType string) *Model {
	t.Helper()
	b := NewProgramBuilder()
	x := b.Feed("x", FP32, []int64{-1, 3, 32, 100})
	r := b.Tmp("relu_0.tmp_0", FP32, []int64{-1, 3, 32, 100})
	b.Op("relu", []Slot{SlotOf("X", x)}, []Slot{SlotOf("Out", r)})
	p := b.Tmp("pool2d_0.tmp_0", FP32, []int64{-1, 3, 2, 5})
	b.Op("pool2d", []Slot{SlotOf("X", r)}, []Slot{SlotOf("Out", p)},
		AString("pooling_type", poolType), AInts("ksize", 2, 5), ABool("adaptive", true))
	s0 := b.Tmp("split_0.tmp_0", FP32, []int64{-1, 3, 32, 40})
	s1 := b.Tmp("split_0.tmp_1", FP32, []int64{-1, 3, 32, 60})
	b.Op("split", []Slot{SlotOf("X", r)}, []Slot{SlotOf("Out", s0, s1)}, AInts("sections", 40, -1), AInt("axis", 3))
	b.Fetch(p)
	b.Fetch(s1)
	m, err := b.Model()
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// adaptiveAvgRef: bin i of n covers [floor(i·n/o), ceil((i+1)·n/o)).
func adaptiveAvgRef(x []float32, n, c, h, w, oh, ow int) []float32 {
	out := make([]float32, n*c*oh*ow)
	for b := 0; b < n*c; b++ {
		for i := 0; i < oh; i++ {
			h0, h1 := i*h/oh, ((i+1)*h+oh-1)/oh
			for j := 0; j < ow; j++ {
				w0, w1 := j*w/ow, ((j+1)*w+ow-1)/ow
				s := 0.0
				for y := h0; y < h1; y++ {
					for z := w0; z < w1; z++ {
						s += float64(max(x[(b*h+y)*w+z], 0))
					}
				}
				out[(b*oh+i)*ow+j] = float32(s / float64((h1-h0)*(w1-w0)))
			}
		}
	}
	return out
}

// Issue 13 point 4: an image feed stored as [-1,3,32,100] converts to an
// input with dynamic H and W (Paddle Inference accepts other sizes), and
// ops that read the stored size (adaptive pooling, a −1 split section)
// follow the runtime size; PinInputShapes keeps the stored size.
func TestConvertDynamicImageSize(t *testing.T) {
	m := dynModel(t, "avg")
	model, err := ToONNX(m, ConvertOptions{})
	if err != nil {
		t.Fatal(err)
	}
	s := ortOpen(t, model)
	if got := fmt.Sprint(s.Inputs()[0].Shape); got != "[-1 3 -1 -1]" {
		t.Errorf("input shape %s, want [-1 3 -1 -1]", got)
	}
	if got := fmt.Sprint(s.Outputs()[0].Shape); got != "[-1 3 2 5]" {
		t.Errorf("pool output declared %s, want [-1 3 2 5]", got)
	}
	if got := fmt.Sprint(s.Outputs()[1].Shape); got != "[-1 3 -1 -1]" {
		t.Errorf("split output declared %s, want [-1 3 -1 -1]", got)
	}
	for _, sz := range [][2]int{{32, 100}, {48, 160}, {37, 83}} {
		x := randInput(7, 1, 3, sz[0], sz[1])
		out := run(t, s, map[string]*tensor.Tensor{"x": x})
		want := adaptiveAvgRef(x.Float32s(), 1, 3, sz[0], sz[1], 2, 5)
		got := out[0].Float32s()
		for i := range want {
			if math.Abs(float64(got[i]-want[i])) > 1e-5 {
				t.Fatalf("%v: pool value %d = %v, want %v", sz, i, got[i], want[i])
			}
		}
		if sh := out[1].Shape(); !tensor.EqualShape(sh, []int{1, 3, sz[0], sz[1] - 40}) {
			t.Errorf("%v: split piece shape %v", sz, sh)
		}
	}

	pinned, err := ToONNX(m, ConvertOptions{PinInputShapes: true})
	if err != nil {
		t.Fatal(err)
	}
	ps := ortOpen(t, pinned)
	if got := fmt.Sprint(ps.Inputs()[0].Shape); got != "[-1 3 32 100]" {
		t.Errorf("pinned input shape %s", got)
	}
	if _, err := ps.Run(context.Background(), map[string]*tensor.Tensor{"x": randInput(7, 1, 3, 48, 160)}); err == nil {
		t.Errorf("pinned model accepted 48×160")
	}
	out := run(t, ps, map[string]*tensor.Tensor{"x": randInput(7, 1, 3, 32, 100)})
	ref := run(t, s, map[string]*tensor.Tensor{"x": randInput(7, 1, 3, 32, 100)})
	if d := maxAbsDiff(t, out, ref); d > 1e-5 {
		t.Errorf("pinned and dynamic differ by %g at the stored size", d)
	}
}

// An op that cannot follow a runtime size (adaptive max pooling to 2×5)
// makes the conversion keep the stored size, and the model says why.
func TestConvertDynamicFallsBackToPinned(t *testing.T) {
	mp, err := ConvertModel(dynModel(t, "max"), ConvertOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if d := mp.GetDocString(); !strings.Contains(d, "input dims pinned as stored") || !strings.Contains(d, "adaptive max pooling") {
		t.Errorf("doc string %q", d)
	}
	in := mp.GetGraph().GetInput()[0].GetType().GetTensorType().GetShape().GetDim()
	if len(in) != 4 || in[2].GetDimValue() != 32 || in[3].GetDimValue() != 100 {
		t.Errorf("input dims %v", in)
	}
}

// The real 2020 text-direction classifier stores x as [-1,3,32,100]: by
// default it converts to a model that runs at 48×192 and gives what the
// paddle2onnx conversion of the same weights gives there.
func TestRealModelDynamicFeed(t *testing.T) {
	m, err := Load(realDir(t, "ch_ppocr_mobile_v2.0_cls/paddle-2020"))
	if err != nil {
		t.Fatal(err)
	}
	if d := m.Program.Var(0, "x").Dims; fmt.Sprint(d) != "[-1 3 32 100]" {
		t.Fatalf("stored feed dims %v", d)
	}
	ours, err := ToONNX(m, ConvertOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ref, err := os.ReadFile(realDir(t, "ch_ppocr_mobile_v2.0_cls/onnx/kahsolt/ch_ppocr_mobile_v2.0_cls_infer.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	so, sr := ortOpen(t, ours), ortOpen(t, ref)
	if got := fmt.Sprint(so.Inputs()[0].Shape, so.Outputs()[0].Shape); got != "[-1 3 -1 -1] [-1 2]" {
		t.Errorf("input/output shapes %s", got)
	}
	for _, sz := range [][2]int{{48, 192}, {48, 160}} {
		in := map[string]*tensor.Tensor{"x": randInput(11, 2, 3, sz[0], sz[1])}
		d := maxAbsDiff(t, run(t, so, in), run(t, sr, in))
		t.Logf("%dx%d: max abs diff %.3g", sz[0], sz[1], d)
		if d > 1e-4 {
			t.Errorf("%v: max abs diff %.3g", sz, d)
		}
	}
}

// InputShapes other than the stored dims are honoured the same way: the
// stored export-time sizes are not used for the ops after the feed.
func TestConvertInputShapesOverrideStoredSize(t *testing.T) {
	model, err := ToONNX(dynModel(t, "avg"), ConvertOptions{InputShapes: map[string][]int64{"x": {1, 3, 48, 160}}})
	if err != nil {
		t.Fatal(err)
	}
	s := ortOpen(t, model)
	if got := fmt.Sprint(s.Inputs()[0].Shape); got != "[1 3 48 160]" {
		t.Errorf("input %s", got)
	}
	x := randInput(8, 1, 3, 48, 160)
	out := run(t, s, map[string]*tensor.Tensor{"x": x})
	want := adaptiveAvgRef(x.Float32s(), 1, 3, 48, 160, 2, 5)
	for i, g := range out[0].Float32s() {
		if math.Abs(float64(g-want[i])) > 1e-5 {
			t.Fatalf("pool value %d = %v, want %v", i, g, want[i])
		}
	}
}

// Adaptive average pooling to a size that does not divide the input
// (7×5 → 2×3, bins overlap) converts at a pinned size too.
func TestConvertAdaptiveAvgUneven(t *testing.T) {
	b := NewProgramBuilder()
	x := b.Feed("x", FP32, []int64{1, 2, 7, 5})
	p := b.Tmp("pool2d_0.tmp_0", FP32, []int64{1, 2, 2, 3})
	b.Op("pool2d", []Slot{SlotOf("X", x)}, []Slot{SlotOf("Out", p)}, AString("pooling_type", "avg"), AInts("ksize", 2, 3), ABool("adaptive", true))
	r := b.Tmp("relu_0.tmp_0", FP32, []int64{1, 2, 2, 3})
	b.Op("relu", []Slot{SlotOf("X", p)}, []Slot{SlotOf("Out", r)})
	b.Fetch(r)
	m, err := b.Model()
	if err != nil {
		t.Fatal(err)
	}
	model, err := ToONNX(m, ConvertOptions{PinInputShapes: true})
	if err != nil {
		t.Fatal(err)
	}
	in := randInput(4, 1, 2, 7, 5)
	got := run(t, ortOpen(t, model), map[string]*tensor.Tensor{"x": in})[0].Float32s()
	// adaptiveAvgRef applies relu before pooling; here relu follows it.
	v := in.Float32s()
	for i, w := range []struct{ h0, h1, w0, w1 int }{{0, 4, 0, 2}, {0, 4, 1, 4}, {0, 4, 3, 5}, {3, 7, 0, 2}, {3, 7, 1, 4}, {3, 7, 3, 5}} {
		for c := 0; c < 2; c++ {
			s := 0.0
			for y := w.h0; y < w.h1; y++ {
				for z := w.w0; z < w.w1; z++ {
					s += float64(v[(c*7+y)*5+z])
				}
			}
			want := max(float32(s/float64((w.h1-w.h0)*(w.w1-w.w0))), 0)
			if g := got[c*6+i]; math.Abs(float64(g-want)) > 1e-5 {
				t.Errorf("channel %d bin %d: %v, want %v", c, i, g, want)
			}
		}
	}
}

// Which feeds count as images, and which of their axes are released.
func TestImageAxes(t *testing.T) {
	f, i := onnx.TensorProto_FLOAT, onnx.TensorProto_INT64
	for _, tc := range []struct {
		dt   onnx.TensorProto_DataType
		dims []int64
		want string
	}{
		{f, []int64{-1, 3, 32, 100}, "2 3 true"},
		{f, []int64{1, 3, 640, 640}, "2 3 true"},
		{f, []int64{-1, 3, -1, -1}, "2 3 false"},
		{f, []int64{-1, 224, 224, 3}, "1 2 true"},
		{f, []int64{-1, 256, 20, 20}, "2 3 true"},
		{f, []int64{-1, 2}, "0 0 false"},
		{i, []int64{-1, 3, 32, 100}, "0 0 false"},
	} {
		h, w, ok := imageAxes(tc.dt, tc.dims)
		if got := fmt.Sprint(h, w, ok); got != tc.want {
			t.Errorf("%v %v: %s, want %s", tc.dt, tc.dims, got, tc.want)
		}
	}
}
