package detect_test

import (
	"context"
	"errors"
	"math"
	"reflect"
	"sync"
	"testing"

	"github.com/shitu-go/shitu/arch"
	"github.com/shitu-go/shitu/detect"
	"github.com/shitu-go/shitu/imaging"
	"github.com/shitu-go/shitu/infer"
	"github.com/shitu-go/shitu/infer/ort"
	"github.com/shitu-go/shitu/internal/testutil"
	"github.com/shitu-go/shitu/onnx"
	"github.com/shitu-go/shitu/tensor"
)

// TestDetectorORT runs the synthesized PicoDet (arch, raw-head form with
// NCHW class logits, 128×128 input to stay light) through ONNX Runtime.
// It checks that the form and inputs are recognised from a real session,
// that the best detection's score is the sigmoid of the largest class
// logit (the top box can never be suppressed), that boxes lie inside the
// original image, and that concurrent calls agree. It does not check
// detection quality: the weights are random.
func TestDetectorORT(t *testing.T) {
	lib := testutil.ORTLib(t)
	b, err := ort.New(ort.Config{LibPath: lib})
	if errors.Is(err, infer.ErrUnavailable) {
		t.Skipf("ONNX Runtime backend unavailable in this build: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	bias := 0.0 // class prior 0.5, so boxes pass the 0.2 threshold
	m, err := arch.BuildDet(11, arch.DetOptions{InputSize: 128, ClsBias: &bias})
	if err != nil {
		t.Fatal(err)
	}
	model, err := onnx.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	sess, err := b.Open(model, infer.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	pre := detect.DefaultPre()
	pre.TargetSize = [2]int{128, 128}
	d, err := detect.New(sess, detect.Options{Pre: &pre})
	if err != nil {
		t.Fatal(err)
	}
	if d.Form() != detect.FormRaw {
		t.Fatalf("form %v", d.Form())
	}
	img := &imaging.Image{W: 300, H: 200, C: 3, Pix: make([]uint8, 300*200*3)}
	for i := range img.Pix {
		img.Pix[i] = uint8((i/3%300)*(i/900) + i%3*80)
	}
	all, err := d.Detect(context.Background(), img)
	if err != nil {
		t.Fatal(err)
	}
	got := detect.SelectTop(all, 5, 0.2)
	if len(got) == 0 || len(got) > 5 {
		t.Fatalf("%d detections", len(got))
	}
	in, err := detect.Preprocess(img, pre)
	if err != nil {
		t.Fatal(err)
	}
	outs, err := sess.Run(context.Background(), map[string]*tensor.Tensor{"image": in.Image})
	if err != nil {
		t.Fatal(err)
	}
	best := math.Inf(-1)
	for _, o := range outs[:4] {
		for _, v := range o.Float32s() {
			best = math.Max(best, float64(v))
		}
	}
	if want := 1 / (1 + math.Exp(-best)); math.Abs(float64(got[0].Score)-want) > 1e-6 {
		t.Errorf("best score %v, want sigmoid(max logit) %v", got[0].Score, want)
	}
	for _, bx := range got {
		if bx.X1 < 0 || bx.Y1 < 0 || bx.X2 > 300 || bx.Y2 > 200 || bx.X1 > bx.X2 || bx.Y1 > bx.Y2 || bx.Score < 0.2 {
			t.Errorf("box %v outside the 300×200 image or below threshold", bx)
		}
	}
	var wg sync.WaitGroup
	res := make([][]detect.Box, 8)
	for i := range res {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, _ := d.Detect(context.Background(), img)
			res[i] = detect.SelectTop(r, 5, 0.2)
		}()
	}
	wg.Wait()
	for i, r := range res {
		if !reflect.DeepEqual(r, got) {
			t.Errorf("goroutine %d: %v, want %v", i, r, got)
		}
	}
}
