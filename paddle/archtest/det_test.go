package archtest

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/shitu-go/shitu/arch"
	"github.com/shitu-go/shitu/detect"
	"github.com/shitu-go/shitu/onnx"
	"github.com/shitu-go/shitu/paddle"
	"github.com/shitu-go/shitu/tensor"
)

const detPrefix = "picodet_PPLCNet_x2_5_mainbody_lite_v1.0_infer"

func buildDet(t *testing.T, size int64, clsBias float64) ([]byte, *paddle.Model) {
	t.Helper()
	ref, err := arch.BuildDet(3, arch.DetOptions{InputSize: size, ClsBias: &clsBias})
	if err != nil {
		t.Fatal(err)
	}
	refBytes, err := onnx.Marshal(ref)
	if err != nil {
		t.Fatal(err)
	}
	m, err := paddle.FromONNX(ref)
	if err != nil {
		t.Fatal(err)
	}
	return refBytes, m
}

// The released-form detector fixture (feeds image/im_shape/scale_factor,
// control-flow post-processing) refuses a whole conversion, naming the
// ops, and its head cut matches arch's raw head outputs.
func TestDetReleasedHeadCut(t *testing.T) {
	size := detSize()
	ref, m := buildDet(t, size, -4.595)
	if err := paddle.AppendPicoDetPost(m, paddle.PicoDetPost{Released: true}); err != nil {
		t.Fatal(err)
	}
	back := officialRoundTrip(t, m, detPrefix)
	p := back.Program
	if got := strings.Join(p.Feeds(), ","); got != "image,im_shape,scale_factor" {
		t.Errorf("feeds %s", got)
	}
	if got := strings.Join(p.Fetches(), ","); got != "save_infer_model/scale_0.tmp_1,save_infer_model/scale_1.tmp_1" {
		t.Errorf("fetches %s", got)
	}
	t.Logf("det fixture ops: %s", paddle.FormatInventory(back.OpInventory()))
	// §B.6: 486 network tensors (the released file adds the `project` buffer).
	if n := len(p.Persistables()); n != 486 {
		t.Errorf("%d persistables, want 486", n)
	}
	_, err := paddle.ToONNX(back, paddle.ConvertOptions{})
	if !errors.Is(err, paddle.ErrUnsupported) || !strings.Contains(err.Error(), "tensor_array_to_tensor×1") || !strings.Contains(err.Error(), "while×1") {
		t.Errorf("whole conversion: %v", err)
	}
	auto, err := paddle.ToONNX(back, paddle.ConvertOptions{AutoCut: true})
	if err != nil {
		t.Fatalf("AutoCut: %v", err)
	}
	if n := len(ortOpen(t, auto).Outputs()); n != 8 {
		t.Errorf("AutoCut gives %d outputs, want the 8 head outputs", n)
	}
	ours, err := paddle.ToONNX(back, paddle.ConvertOptions{DetectorHead: true, HeadLogits: true})
	if err != nil {
		t.Fatal(err)
	}
	s := ortOpen(t, ours)
	if n := len(s.Inputs()); n != 1 || s.Inputs()[0].Name != "image" {
		t.Errorf("inputs %v, want [image]", s.Inputs())
	}
	compareModels(t, ours, ref, "image", []int{1, 3, int(size), int(size)})
	// The image size stays dynamic (issue 13 point 4): the detector runs at
	// another size too, each level at its stride.
	if got := fmt.Sprint(s.Inputs()[0].Shape[1:]); got != "[3 -1 -1]" {
		t.Errorf("image input %v, want [N 3 -1 -1]", s.Inputs()[0].Shape)
	}
	h, w := int(size)+64, int(size)+128
	out := run(t, s, map[string]*tensor.Tensor{"image": randInput(2, 1, 3, h, w)})
	for i, o := range out {
		stride := []int{8, 16, 32, 64}[i%4]
		if sh := o.Shape(); len(sh) != 4 || sh[2] != h/stride || sh[3] != w/stride {
			t.Errorf("output %d at %dx%d: shape %v", i, h, w, sh)
		}
	}
}

// The default head form (sigmoid scores [N,HW,1], distances [N,HW,32])
// equals arch's logits after sigmoid and NCHW → [N,HW,C].
func TestDetHeadRawForm(t *testing.T) {
	size := detSize()
	ref, m := buildDet(t, size, -4.595)
	ours, err := paddle.ToONNX(m, paddle.ConvertOptions{DetectorHead: true})
	if err != nil {
		t.Fatal(err)
	}
	so, sr := ortOpen(t, ours), ortOpen(t, ref)
	in := map[string]*tensor.Tensor{"image": randInput(1, 1, 3, int(size), int(size))}
	a, b := run(t, so, in), run(t, sr, in)
	worst := 0.0
	for i := range b {
		sh := b[i].Shape() // [1, C, H, W]
		C, HW := sh[1], sh[2]*sh[3]
		if got := a[i].Shape(); !tensor.EqualShape(got, []int{1, HW, C}) {
			t.Fatalf("output %d shape %v, want [1 %d %d]", i, got, HW, C)
		}
		x, y := a[i].Float32s(), b[i].Float32s()
		for c := 0; c < C; c++ {
			for p := 0; p < HW; p++ {
				v := y[c*HW+p]
				if i < 4 {
					v = float32(1 / (1 + math.Exp(-float64(v))))
				}
				worst = max(worst, math.Abs(float64(x[p*C+c]-v)))
			}
		}
	}
	t.Logf("max abs diff: %.3g", worst)
	if worst > 1e-5 {
		t.Errorf("max abs diff %.3g", worst)
	}
}

// The modern-form fixture (multiclass_nms3 in the graph, no control flow)
// converts whole; its detections equal detect's decode + NMS of arch's
// raw head outputs.
func TestDetModernNMS(t *testing.T) {
	size := detSize()
	ref, m := buildDet(t, size, -1.5)
	if err := paddle.AppendPicoDetPost(m, paddle.PicoDetPost{}); err != nil {
		t.Fatal(err)
	}
	back := officialRoundTrip(t, m, detPrefix)
	ours, err := paddle.ToONNX(back, paddle.ConvertOptions{})
	if err != nil {
		t.Fatal(err)
	}
	so, sr := ortOpen(t, ours), ortOpen(t, ref)
	total := 0
	for seed := int64(1); seed <= 5; seed++ {
		// Low-contrast inputs keep the random head's scores below
		// saturation: with many scores of exactly 1.0, which of the tied
		// boxes NMS keeps first is implementation-defined.
		img := randInput(seed, 1, 3, int(size), int(size))
		for i, v := range img.Float32s() {
			img.Float32s()[i] = 0.02 * v
		}
		sy, sx := float32(1.25), float32(0.8)
		got := run(t, so, map[string]*tensor.Tensor{"image": img, "scale_factor": tensor.Must([]int{1, 2}, []float32{sy, sx})})
		raw := run(t, sr, map[string]*tensor.Tensor{"image": img})
		boxes, scores, err := detect.DecodeRaw(raw, [2]float32{float32(size), float32(size)}, [2]float32{sy, sx},
			detect.DecodeConfig{NoClip: true, PreNMSTopK: -1})
		if err != nil {
			t.Fatal(err)
		}
		want, err := detect.MultiClassNMS(boxes, scores, detect.PicoDetNMS())
		if err != nil {
			t.Fatal(err)
		}
		rows, num := got[0].Float32s(), got[1].Int32s()
		if len(num) != 1 || int(num[0]) != len(want) || len(rows) != 6*len(want) {
			t.Fatalf("seed %d: %d detections (count %v), want %d", seed, len(rows)/6, num, len(want))
		}
		worst := 0.0
		for i, w := range want {
			exp := []float32{float32(w.Class), w.Score, w.X1, w.Y1, w.X2, w.Y2}
			for k := range exp {
				worst = max(worst, math.Abs(float64(rows[6*i+k]-exp[k])))
			}
		}
		if worst > 1e-3 {
			t.Errorf("seed %d: max abs diff %.3g over %d detections", seed, worst, len(want))
		}
		total += len(want)
	}
	t.Logf("%d detections over 5 inputs", total)
	if total == 0 {
		t.Error("no detections: the test compares nothing")
	}
}
