package recognize

import (
	"context"
	"fmt"
	"math"
	"reflect"
	"sync"
	"testing"

	"github.com/shitu-go/shitu/detect"
	"github.com/shitu-go/shitu/imaging"
)

// fakeDetector returns fixed boxes.
type fakeDetector struct{ boxes []detect.Box }

func (f fakeDetector) Detect(context.Context, *imaging.Image) ([]detect.Box, error) {
	return f.boxes, nil
}

// fakeEmbedder maps a crop to a 2-d feature derived from its size, so a
// test controls what each box "looks like": feature = unit vector at angle
// (crop width) degrees.
type fakeEmbedder struct {
	mu    sync.Mutex
	calls int
	sizes [][2]int
}

func (f *fakeEmbedder) Extract(_ context.Context, crops []*imaging.Image) ([][]float32, error) {
	f.mu.Lock()
	f.calls++
	for _, c := range crops {
		f.sizes = append(f.sizes, [2]int{c.W, c.H})
	}
	f.mu.Unlock()
	out := make([][]float32, len(crops))
	for i, c := range crops {
		a := float64(c.W) * math.Pi / 180
		out[i] = []float32{float32(math.Cos(a)), float32(math.Sin(a))}
	}
	return out, nil
}

// fakeGallery holds labelled 2-d unit vectors at given angles and answers
// with exact inner products.
type fakeGallery struct {
	labels []string
	angles []float64
	thr    map[string]float32
	binary bool
}

func (g *fakeGallery) View() GalleryView { return g }
func (g *fakeGallery) Version() uint64   { return 7 }
func (g *fakeGallery) Binary() bool      { return g.binary }
func (g *fakeGallery) Current() bool     { return true }
func (g *fakeGallery) Threshold(l string) (float32, bool) {
	t, ok := g.thr[l]
	return t, ok
}
func (g *fakeGallery) Search(v []float32, k int, f *Filter) ([]Candidate, error) {
	var c []Candidate
	for i, a := range g.angles {
		if f != nil && len(f.Labels) > 0 && f.Labels[0] != g.labels[i] {
			continue
		}
		r := a * math.Pi / 180
		s := v[0]*float32(math.Cos(r)) + v[1]*float32(math.Sin(r))
		c = append(c, Candidate{ID: int64(i), Label: g.labels[i], Score: s})
	}
	for i := 1; i < len(c); i++ { // insertion sort, descending
		for j := i; j > 0 && c[j].Score > c[j-1].Score; j-- {
			c[j], c[j-1] = c[j-1], c[j]
		}
	}
	if len(c) > k {
		c = c[:k]
	}
	return c, nil
}

func img(w, h int) *imaging.Image {
	return &imaging.Image{W: w, H: h, C: 3, Pix: make([]uint8, w*h*3)}
}

func TestBoxesWholeImageModes(t *testing.T) {
	dets := []detect.Box{{X1: 10.9, Y1: -0.5, X2: 50.2, Y2: 60.99, Score: 0.9}}
	got := Boxes(dets, 100, 80, WholeAlways)
	want := []Object{
		{Box: [4]int{10, 0, 50, 60}, DetScore: 0.9}, // truncation toward zero (§5.2)
		{Box: [4]int{0, 0, 100, 80}, DetScore: 1, WholeImage: true},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("always: %+v", got)
	}
	if got := Boxes(dets, 100, 80, WholeFallback); len(got) != 1 || got[0].WholeImage {
		t.Fatalf("fallback with detections: %+v", got)
	}
	if got := Boxes(nil, 100, 80, WholeFallback); len(got) != 1 || !got[0].WholeImage {
		t.Fatalf("fallback without detections: %+v", got)
	}
	if got := Boxes(nil, 100, 80, WholeNever); len(got) != 0 {
		t.Fatalf("never: %+v", got)
	}
}

func TestClipBox(t *testing.T) {
	cases := []struct {
		in             [4]int
		x1, y1, x2, y2 int
		ok             bool
	}{
		{[4]int{10, 10, 20, 20}, 10, 10, 20, 20, true},
		{[4]int{-5, -3, 200, 300}, 0, 0, 100, 80, true},
		{[4]int{10, 10, 10, 20}, 10, 10, 10, 20, false}, // zero width
		{[4]int{30, 10, 20, 20}, 30, 10, 20, 20, false}, // inverted
		{[4]int{99, 79, 150, 150}, 99, 79, 100, 80, true},
		{[4]int{100, 0, 120, 10}, 100, 0, 100, 10, false}, // right of the image
	}
	for _, c := range cases {
		x1, y1, x2, y2, ok := ClipBox(c.in, 100, 80)
		if ok != c.ok || (ok && [4]int{x1, y1, x2, y2} != [4]int{c.x1, c.y1, c.x2, c.y2}) {
			t.Errorf("ClipBox(%v) = %d %d %d %d %v", c.in, x1, y1, x2, y2, ok)
		}
	}
}

// TestRecognizePipeline checks the order of rules on one image: top-5 then
// threshold, whole image last, empty crops skipped, one batched embed,
// acceptance ≥ threshold, and recognition NMS.
func TestRecognizePipeline(t *testing.T) {
	// Crop widths pick feature angles: box A (width 30) matches "a" at 30°,
	// box B (width 60) matches "b", the whole image (width 200) is far from all.
	det := fakeDetector{boxes: []detect.Box{
		{X1: 0, Y1: 0, X2: 30, Y2: 20, Score: 0.5},     // A
		{X1: 100, Y1: 50, X2: 160, Y2: 90, Score: 0.9}, // B
		{X1: 50, Y1: 50, X2: 50.5, Y2: 90, Score: 0.8}, // empty after truncation: skipped
		{X1: 10, Y1: 10, X2: 20, Y2: 20, Score: 0.1},   // below 0.2
		{X1: 0, Y1: 0, X2: 5, Y2: 5, Score: 0.3},       // 6th best: cut by top-5 before threshold
		{X1: 0, Y1: 0, X2: 6, Y2: 6, Score: 0.35},
		{X1: 0, Y1: 0, X2: 7, Y2: 7, Score: 0.4},
	}}
	emb := &fakeEmbedder{}
	gal := &fakeGallery{labels: []string{"a", "b", "c"}, angles: []float64{30, 60, 270}}
	sys, err := New(det, emb, gal, Options{})
	if err != nil {
		t.Fatal(err)
	}
	res, err := sys.Recognize(context.Background(), img(200, 100))
	if err != nil {
		t.Fatal(err)
	}
	if emb.calls != 1 {
		t.Fatalf("embed calls = %d, want one batched call", emb.calls)
	}
	// top-5 by score: B .9, empty .8, A .5, 7px .4, 6px .35 → the empty one skipped;
	// plus the whole image.
	wantSizes := [][2]int{{60, 40}, {30, 20}, {7, 7}, {6, 6}, {200, 100}}
	if !reflect.DeepEqual(emb.sizes, wantSizes) {
		t.Fatalf("crops = %v, want %v", emb.sizes, wantSizes)
	}
	// Accepted: B (score 1 for "b"), A (1 for "a"); 7px → angle 7 vs a at 30: cos 23° = .92 ≥ .5
	// accepted as "a" but it overlaps A (IoU = 64/(64+651-64) > .05) and loses to A's score;
	// 6px likewise; whole image: angle 200 → best "c" at 270: cos 70° = .34 < .5: unknown, dropped.
	if len(res.Objects) != 2 {
		t.Fatalf("objects = %+v", res.Objects)
	}
	a, b := res.Objects[0], res.Objects[1]
	if a.Label != "a" && b.Label != "a" || a.Label != "b" && b.Label != "b" {
		t.Fatalf("labels %q %q", a.Label, b.Label)
	}
	if res.GalleryVersion != 7 {
		t.Fatalf("version %d", res.GalleryVersion)
	}
	for _, o := range res.Objects {
		if o.Score < 0.999 || len(o.Candidates) != 3 || o.Candidates[0].Label != o.Label || o.Threshold != 0.5 {
			t.Fatalf("object %+v", o)
		}
	}
}

func TestAcceptanceThresholds(t *testing.T) {
	emb := &fakeEmbedder{}
	// Whole image 100 wide → angle 100; gallery "x" at 40° → score cos 60° = 0.5 exactly.
	gal := &fakeGallery{labels: []string{"x"}, angles: []float64{40}}
	sys, _ := New(nil, emb, gal, Options{})
	res, err := sys.Recognize(context.Background(), img(100, 10))
	if err != nil {
		t.Fatal(err)
	}
	score := float32(math.Cos(60 * math.Pi / 180))
	if score >= 0.5 && (len(res.Objects) != 1 || res.Objects[0].Label != "x") {
		t.Fatalf("score %v ≥ 0.5 must be accepted: %+v", score, res.Objects)
	}
	// A stored per-label threshold above the score rejects it; KeepUnknown keeps the box.
	gal.thr = map[string]float32{"x": 0.6}
	res, _ = sys.RecognizeWith(context.Background(), img(100, 10), Options{KeepUnknown: true})
	if len(res.Objects) != 1 || res.Objects[0].Known() || res.Objects[0].Threshold != 0.6 ||
		len(res.Objects[0].Candidates) != 1 || res.Objects[0].Candidates[0].Label != "x" {
		t.Fatalf("per-label threshold: %+v", res.Objects)
	}
	res, _ = sys.Recognize(context.Background(), img(100, 10))
	if len(res.Objects) != 0 {
		t.Fatalf("unknown must be dropped without KeepUnknown: %+v", res.Objects)
	}
	// Binary galleries accept distance ≤ radius.
	bg := &fakeGallery{labels: []string{"h"}, angles: []float64{100}, binary: true}
	sys, _ = New(nil, emb, bg, Options{HammingRadius: 0.5})
	res, _ = sys.Recognize(context.Background(), img(100, 10)) // score (used as distance) = 1 > 0.5
	if len(res.Objects) != 0 {
		t.Fatalf("binary: distance above radius accepted: %+v", res.Objects)
	}
	sys, _ = New(nil, emb, bg, Options{HammingRadius: 1})
	res, _ = sys.Recognize(context.Background(), img(100, 10))
	if len(res.Objects) != 1 {
		t.Fatalf("binary: distance ≤ radius rejected: %+v", res.Objects)
	}
}

func TestFormatPaddleClas(t *testing.T) {
	objs := []Object{
		{Box: [4]int{437, 71, 660, 728}, Label: "元气森林", Score: 0.7740249},
		{Box: [4]int{221, 72, 449, 701}, Label: "", Score: 0.3}, // unknown: not printed
		{Box: [4]int{221, 72, 449, 701}, Label: "元气森林", Score: 0.6950992},
		{Box: [4]int{794, 104, 979, 652}, Label: "元气森林", Score: 0.6305153},
	}
	want := `[{'bbox': [437, 71, 660, 728], 'rec_docs': '元气森林', 'rec_scores': 0.7740249}, {'bbox': [221, 72, 449, 701], 'rec_docs': '元气森林', 'rec_scores': 0.6950992}, {'bbox': [794, 104, 979, 652], 'rec_docs': '元气森林', 'rec_scores': 0.6305153}]`
	if got := FormatPaddleClas(objs, false); got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	if got := FormatPaddleClas(nil, false); got != "[]" {
		t.Fatalf("empty: %s", got)
	}
	bin := []Object{{Box: [4]int{0, 0, 600, 600}, Label: "Red Bull-Enhanced", Score: 12}}
	if got := FormatPaddleClas(bin, true); got != `[{'bbox': [0, 0, 600, 600], 'rec_docs': 'Red Bull-Enhanced', 'rec_scores': 12}]` {
		t.Fatalf("binary: %s", got)
	}
}

func TestConcurrentRecognize(t *testing.T) {
	det := fakeDetector{boxes: []detect.Box{{X1: 0, Y1: 0, X2: 30, Y2: 20, Score: 0.5}, {X1: 100, Y1: 50, X2: 160, Y2: 90, Score: 0.9}}}
	gal := &fakeGallery{labels: []string{"a", "b"}, angles: []float64{30, 60}}
	sys, _ := New(det, &fakeEmbedder{}, gal, Options{KeepUnknown: true})
	want, _ := sys.Recognize(context.Background(), img(200, 100))
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				got, err := sys.Recognize(context.Background(), img(200, 100))
				if err != nil || !reflect.DeepEqual(got.Objects, want.Objects) {
					errs <- fmt.Errorf("concurrent result differs: %v %+v", err, got)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// TestPaddleClasLineFromPipeline: fixed detector outputs and a fixture
// gallery through the whole system, printed as predict_system.py prints
// (ppshitu-pipeline.md §9.1); the expected line is written by hand.
func TestPaddleClasLineFromPipeline(t *testing.T) {
	det := fakeDetector{boxes: []detect.Box{
		{X1: 437.8, Y1: 71.2, X2: 660.9, Y2: 728.4, Score: 0.9},  // width 223 → angle 223°
		{X1: 794.1, Y1: 104.7, X2: 979.5, Y2: 652.2, Score: 0.8}, // width 185
		{X1: 10, Y1: 10, X2: 70, Y2: 50, Score: 0.7},             // width 60: no match ≥ 0.5
	}}
	gal := &fakeGallery{labels: []string{"元气森林", "it's", "far"}, angles: []float64{223, 185, 160}}
	sys, _ := New(det, &fakeEmbedder{}, gal, Options{})
	res, err := sys.Recognize(context.Background(), img(1000, 800))
	if err != nil {
		t.Fatal(err)
	}
	// Box 3 (60°) is more than 90° from every gallery angle: rejected.
	// The whole image (width 1000 → 280°): best "元气森林" at 223° (cos 57° =
	// 0.5446) is accepted but overlaps both boxes (IoU 0.18 > 0.05) with a
	// lower score, so NMS drops it. The two boxes tie at 1.0: the later one
	// comes first, as numpy orders small ties (§8.3).
	want := `[{'bbox': [794, 104, 979, 652], 'rec_docs': "it's", 'rec_scores': 1.0}, {'bbox': [437, 71, 660, 728], 'rec_docs': '元气森林', 'rec_scores': 1.0}]`
	if got := FormatPaddleClas(res.Objects, false); got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
}
