package recognize_test

import (
	"context"
	"fmt"
	"image"
	"path/filepath"
	"reflect"
	"sync"
	"testing"

	"github.com/shitu-go/shitu/arch"
	"github.com/shitu-go/shitu/detect"
	"github.com/shitu-go/shitu/eval"
	"github.com/shitu-go/shitu/feature"
	"github.com/shitu-go/shitu/gallery"
	"github.com/shitu-go/shitu/imaging"
	"github.com/shitu-go/shitu/infer"
	"github.com/shitu-go/shitu/infer/ort"
	"github.com/shitu-go/shitu/internal/synthdata"
	"github.com/shitu-go/shitu/internal/testutil"
	"github.com/shitu-go/shitu/onnx"
	"github.com/shitu-go/shitu/recognize"
	"github.com/shitu-go/shitu/tensor"
)

// jpegImage re-encodes a rendering as JPEG (quality 90) and decodes it as
// shitu decodes any input.
func jpegImage(t testing.TB, img image.Image) *imaging.Image {
	t.Helper()
	b, err := synthdata.EncodeJPEG(img, 90)
	if err != nil {
		t.Fatal(err)
	}
	m, err := imaging.Decode(b, imaging.DecodeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// nmsSession is a fake detector model in the in-graph NMS form whose
// output rows are fixed: the detector path is exercised with known boxes.
type nmsSession struct{ rows [][6]float32 }

func (s nmsSession) Inputs() []infer.ValueInfo {
	return []infer.ValueInfo{{Name: "im_shape", DType: tensor.Float32, Shape: []int64{-1, 2}},
		{Name: "image", DType: tensor.Float32, Shape: []int64{-1, 3, 640, 640}},
		{Name: "scale_factor", DType: tensor.Float32, Shape: []int64{-1, 2}}}
}
func (s nmsSession) Outputs() []infer.ValueInfo {
	return []infer.ValueInfo{{Name: "dets", DType: tensor.Float32, Shape: []int64{-1, 6}},
		{Name: "num", DType: tensor.Int32, Shape: []int64{-1}}}
}
func (s nmsSession) Run(_ context.Context, in map[string]*tensor.Tensor) ([]*tensor.Tensor, error) {
	if err := infer.CheckInputs(s.Inputs(), in); err != nil {
		return nil, err
	}
	var flat []float32
	for _, r := range s.rows {
		flat = append(flat, r[:]...)
	}
	return []*tensor.Tensor{tensor.Must([]int{len(s.rows), 6}, flat), tensor.Must([]int{1}, []int32{int32(len(s.rows))})}, nil
}
func (s nmsSession) Close() error { return nil }

// TestEndToEndSynthetic runs the whole system on the synthesized
// recognition network (seeded weights) in ONNX Runtime:
//   - a gallery of rendered products (2 views each) plus 4 distractors that
//     have one view each;
//   - a threshold calibrated (precision 0.95) on separate labelled queries
//     — other views and perturbations, and products not in the gallery —
//     stored in the gallery;
//   - queries that are view 0 of each product shifted by (2, 1) px,
//     brightened by 8 levels and re-encoded as JPEG must get their labels;
//     a product that is not in the gallery must get none;
//   - a shelf scene through the detector path, with a fake detector model
//     whose NMS rows are known, must give exactly the truncated boxes, each
//     with the right best candidate;
//   - 8 goroutines must get the same answers as serial calls.
//
// What it proves: the mechanics (decode, crop, resize, normalise, batched
// ORT runs, L2, search, stored thresholds, NMS, box truncation) work
// together and are deterministic. What it does not prove: accuracy on real
// photographs — random weights respond to colour and layout, and the
// renderings are easy by construction.
func TestEndToEndSynthetic(t *testing.T) {
	be, err := ort.New(ort.Config{LibPath: testutil.ORTLib(t)})
	if err != nil {
		t.Fatal(err)
	}
	m, err := arch.BuildRec(1, arch.RecOptions{})
	if err != nil {
		t.Fatal(err)
	}
	mb, err := onnx.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	sess, err := be.Open(mb, infer.Options{IntraOpThreads: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	ext, err := feature.New(sess, feature.Config{BatchSize: 8})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	ps := synthdata.Products(13, 2026)
	known, distractors, stranger := ps[:8], ps[8:12], ps[12]

	g, err := gallery.Create(filepath.Join(t.TempDir(), "g"), gallery.Options{Model: "synth-1", Dims: 512, Method: gallery.MethodFlat})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	var imgs []*imaging.Image
	var labels []string
	for _, p := range known {
		for v := 0; v < 2; v++ {
			imgs = append(imgs, jpegImage(t, p.Render(240, 320, v)))
			labels = append(labels, p.Label)
		}
	}
	for _, p := range distractors {
		imgs = append(imgs, jpegImage(t, p.Render(240, 320, 0)))
		labels = append(labels, p.Label)
	}
	feats, err := ext.Extract(ctx, imgs)
	if err != nil {
		t.Fatal(err)
	}
	for i := range imgs {
		if _, err := g.Add(gallery.Item{Label: labels[i], Vector: feats[i]}); err != nil {
			t.Fatal(err)
		}
	}
	// Calibration queries, separate from the test queries: both views of
	// each known product perturbed in three other ways, and six more
	// products that are not in the gallery (the open-set side).
	var calImgs []*imaging.Image
	var calSamples []eval.Sample
	for _, p := range known {
		for v := 0; v < 2; v++ {
			for _, d := range [][3]int{{-1, 2, -6}, {2, -1, 8}, {-2, -1, 10}} {
				calImgs = append(calImgs, jpegImage(t, synthdata.Perturb(p.Render(240, 320, v), d[0], d[1], d[2])))
				calSamples = append(calSamples, eval.Sample{Label: p.Label})
			}
		}
	}
	for _, p := range synthdata.Products(19, 2026)[13:] {
		calImgs = append(calImgs, jpegImage(t, p.Render(240, 320, 0)))
		calSamples = append(calSamples, eval.Sample{Label: p.Label, Unknown: true})
	}
	calFeats, err := ext.Extract(ctx, calImgs)
	if err != nil {
		t.Fatal(err)
	}
	for i, f := range calFeats {
		hits, err := g.Search(f, 1, gallery.Query{})
		if err != nil {
			t.Fatal(err)
		}
		calSamples[i].Predicted, calSamples[i].Score = hits[0].Label, hits[0].Score
	}
	cal, err := eval.Calibrate(calSamples, eval.CalibrateOptions{TargetPrecision: 0.95, MinSupport: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if err := eval.SaveThresholds(g, cal.Thresholds); err != nil {
		t.Fatal(err)
	}
	t.Logf("calibrated global threshold %.4f (reachable %v, %d samples, %d unknown)", cal.Thresholds.Global, cal.Reachable, cal.Samples, cal.Unknown)
	if !cal.Reachable {
		t.Fatal("calibration could not reach precision 0.95")
	}

	sys, err := recognize.New(nil, ext, recognize.FromGallery(g), recognize.Options{NoDetector: true, KeepUnknown: true})
	if err != nil {
		t.Fatal(err)
	}
	var queries []*imaging.Image
	var want []string
	for _, p := range known {
		queries = append(queries, jpegImage(t, synthdata.Perturb(p.Render(240, 320, 0), 2, 1, 8)))
		want = append(want, p.Label)
	}
	queries = append(queries, jpegImage(t, stranger.Render(240, 320, 0)))
	want = append(want, "")
	serial := make([]*recognize.Result, len(queries))
	for i, q := range queries {
		r, err := sys.Recognize(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		serial[i] = r
		o := r.Objects[0]
		t.Logf("query %d: want %q got %q score %.4f threshold %.4f (best %s %.4f)", i, want[i], o.Label, o.Score, o.Threshold, o.Candidates[0].Label, o.Candidates[0].Score)
		if len(r.Objects) != 1 || o.Label != want[i] || o.Threshold != cal.Thresholds.Global {
			t.Errorf("query %d: want label %q, got %+v", i, want[i], o)
		}
	}

	// Detector path: a 1280×720 shelf of 4 known products; the fake model
	// reports their boxes with fractional coordinates and one low-scoring box.
	scene, places := synthdata.Scene(1280, 720, known[:4], 5)
	var rows [][6]float32
	wantBoxes := map[[4]int]string{}
	for i, pl := range places {
		x1, y1 := float32(pl.X1)+0.7, float32(pl.Y1)+0.2
		x2, y2 := float32(pl.X2)-0.4, float32(pl.Y2)-0.9
		rows = append(rows, [6]float32{0, 0.9 - 0.1*float32(i), x1, y1, x2, y2})
		wantBoxes[[4]int{int(x1), int(y1), int(x2), int(y2)}] = pl.Label
	}
	rows = append(rows, [6]float32{0, 0.1, 10, 10, 200, 200}) // below Global.threshold 0.2
	det, err := detect.New(nmsSession{rows: rows}, detect.Options{})
	if err != nil {
		t.Fatal(err)
	}
	dsys, err := recognize.New(det, ext, recognize.FromGallery(g), recognize.Options{KeepUnknown: true, WholeImage: recognize.WholeNever})
	if err != nil {
		t.Fatal(err)
	}
	simg := jpegImage(t, scene)
	r, err := dsys.Recognize(ctx, simg)
	if err != nil {
		t.Fatal(err)
	}
	got := map[[4]int]string{}
	for _, o := range r.Objects {
		got[o.Box] = o.Candidates[0].Label // crops are resized renderings: check the ranking
	}
	if !reflect.DeepEqual(got, wantBoxes) {
		t.Errorf("detector path: got %v, want %v", got, wantBoxes)
	}

	// Concurrency: 8 goroutines, identical answers.
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := range queries {
				k := (i + w) % len(queries)
				r, err := sys.Recognize(ctx, queries[k])
				if err != nil {
					errs <- err
					return
				}
				if !reflect.DeepEqual(r.Objects, serial[k].Objects) {
					errs <- fmt.Errorf("goroutine %d query %d differs from the serial answer", w, k)
					return
				}
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
