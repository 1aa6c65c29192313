package eval

import (
	"context"
	"fmt"
	"image"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/shitu-go/shitu/detect"
	"github.com/shitu-go/shitu/gallery"
	"github.com/shitu-go/shitu/imaging"
	"github.com/shitu-go/shitu/recognize"
)

// halfDetector finds one box: the left half of the image.
type halfDetector struct{}

func (halfDetector) Detect(_ context.Context, img *imaging.Image) ([]detect.Box, error) {
	return []detect.Box{{X2: float32(img.W / 2), Y2: float32(img.H), Score: 0.9}}, nil
}

// angleEmbedder maps a crop of width w to the unit vector at w degrees,
// so image and box sizes decide what each box "looks like". It counts its
// batched runs when calls is set.
type angleEmbedder struct{ calls *int }

func (a angleEmbedder) Extract(_ context.Context, crops []*imaging.Image) ([][]float32, error) {
	if a.calls != nil {
		*a.calls++
	}
	out := make([][]float32, len(crops))
	for i, c := range crops {
		out[i] = unitAt(float64(c.W))
	}
	return out, nil
}

func unitAt(deg float64) []float32 {
	r := deg * math.Pi / 180
	return []float32{float32(math.Cos(r)), float32(math.Sin(r))}
}

func writePNG(t *testing.T, path string, w, h int) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := png.Encode(f, image.NewRGBA(image.Rect(0, 0, w, h))); err != nil {
		t.Fatal(err)
	}
}

// TestPipelineThroughSystem runs Pipeline on a real gallery and the real
// recognition system (fake detector and embedder): a=10°, b=40°, c=80°.
//
//	query  label  width  box (half) → top-1     whole image → top-1
//	q1     a      20     10° → a 1.000          20° → a 0.985
//	q2     b      90     45° → b 0.996          90° → c 0.985
//	q3     c      160    80° → c 1.000          160° → c 0.174 (below 0.5)
//	q4     z      130    65° → c 0.966          130° → c 0.643   (z is not in the gallery)
//
// Recognition NMS (IoU ≤ 0.05 kept) leaves one object per image.
func TestPipelineThroughSystem(t *testing.T) {
	dir := t.TempDir()
	g, err := gallery.Create(filepath.Join(dir, "gallery"), gallery.Options{Model: "test", Dims: 2, Method: "Flat"})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	if _, err := g.Add(gallery.Item{Label: "a", Vector: unitAt(10)}, gallery.Item{Label: "b", Vector: unitAt(40)},
		gallery.Item{Label: "c", Vector: unitAt(80)}); err != nil {
		t.Fatal(err)
	}
	var list []ListEntry
	for i, q := range []struct {
		label string
		w     int
	}{{"a", 20}, {"b", 90}, {"c", 160}, {"z", 130}} {
		name := fmt.Sprintf("q%d.png", i+1)
		writePNG(t, filepath.Join(dir, name), q.w, 10)
		list = append(list, ListEntry{Path: name, Label: q.label, Line: i + 1})
	}
	runs := 0
	sys, err := recognize.New(halfDetector{}, angleEmbedder{calls: &runs}, recognize.FromGallery(g), recognize.Options{})
	if err != nil {
		t.Fatal(err)
	}
	rec := SystemRecognizer(sys, recognize.Options{}, imaging.DecodeOptions{})
	_, counts, err := GalleryItems(g)
	if err != nil {
		t.Fatal(err)
	}
	known := map[string]bool{}
	for l := range counts {
		known[l] = true
	}
	run := func() ([]PipelineQuery, *PipelineResult) {
		t.Helper()
		qs, err := RunPipeline(context.Background(), rec, list, dir, known, nil)
		if err != nil {
			t.Fatal(err)
		}
		r, err := Pipeline(qs)
		if err != nil {
			t.Fatal(err)
		}
		return qs, r
	}

	qs, r := run()
	// One batched model run per image: raw and deployed share it.
	if runs != len(list) {
		t.Errorf("%d extractor runs for %d images, want one each", runs, len(list))
	}
	if got := byScore(qs[1].Raw, false); !reflect.DeepEqual(got, []string{"b", "c"}) {
		t.Errorf("q2 raw labels %v, want [b c] (box, whole image)", got)
	}
	if len(qs[2].Deployed) != 1 || qs[2].Deployed[0].Label != "c" || qs[2].Deployed[0].Unknown {
		t.Errorf("q3 deployed %+v, want c alone after NMS", qs[2].Deployed)
	}
	if want := []AtK{{1, 0.75}, {2, 0.75}}; !reflect.DeepEqual(r.RecallI, want) {
		t.Errorf("raw recall_i %v, want %v", r.RecallI, want)
	}
	if r.Top1 != 1 || r.UnknownRejected != 0 || r.ObjectsPerImage != 1 {
		t.Errorf("deployed before calibration: top1 %v unknown rejected %v objects %v", r.Top1, r.UnknownRejected, r.ObjectsPerImage)
	}

	// A stored per-label threshold for c (0.97) turns q4's 0.966 into
	// "unknown" while q3's 1.0 stays accepted.
	if err := SaveThresholds(g, Thresholds{Global: 0.5, PerLabel: map[string]float32{"c": 0.97}}); err != nil {
		t.Fatal(err)
	}
	qs, r2 := run()
	if !reflect.DeepEqual(r2.RecallI, r.RecallI) {
		t.Errorf("raw recall changed with stored thresholds: %v", r2.RecallI)
	}
	if r2.Top1 != 1 || r2.UnknownRejected != 1 {
		t.Errorf("deployed after calibration: top1 %v unknown rejected %v", r2.Top1, r2.UnknownRejected)
	}
	d := qs[3].Deployed
	if len(d) == 0 || !d[0].Unknown || d[0].Label != "c" || math.Abs(float64(d[0].Score)-math.Cos(15*math.Pi/180)) > 1e-5 {
		t.Errorf("q4 deployed %+v, want an unknown object with nearest candidate c 0.966", d)
	}
}

// TestLeaveOneOutGallery calibrates from the gallery itself and stores the
// thresholds where recognize reads them.
func TestLeaveOneOutGallery(t *testing.T) {
	g, err := gallery.Create(filepath.Join(t.TempDir(), "g"), gallery.Options{Model: "test", Dims: 2, Method: "Flat"})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	// a: 0°, 2°, 4°; b: 30°, 32°; lone c: 60° (its LOO query is unknown)
	var add []gallery.Item
	for _, x := range []struct {
		l string
		d float64
	}{{"a", 0}, {"a", 2}, {"a", 4}, {"b", 30}, {"b", 32}, {"c", 60}} {
		add = append(add, gallery.Item{Label: x.l, Vector: unitAt(x.d)})
	}
	if _, err := g.Add(add...); err != nil {
		t.Fatal(err)
	}
	items, counts, err := GalleryItems(g)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(counts, map[string]int{"a": 3, "b": 2, "c": 1}) {
		t.Fatalf("counts %v", counts)
	}
	ss, err := LeaveOneOut(items, LeaveOneOutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	c, err := Calibrate(ss, CalibrateOptions{TargetPrecision: 1, GalleryCounts: counts})
	if err != nil {
		t.Fatal(err)
	}
	// correct LOO answers score cos 2°; the lone c's nearest is b at 28°:
	// the target-1 threshold is cos 2° (all correct ones tie there).
	if want := float32(math.Cos(2 * math.Pi / 180)); math.Abs(float64(c.Thresholds.Global-want)) > 1e-6 {
		t.Errorf("global threshold %v, want cos 2° = %v", c.Thresholds.Global, want)
	}
	if c.Global.Correct != 5 || c.Unknown != 1 {
		t.Errorf("operating point %+v, unknown %d", c.Global, c.Unknown)
	}
	if err := SaveThresholds(g, c.Thresholds); err != nil {
		t.Fatal(err)
	}
	global, _, ok, err := g.Thresholds()
	if err != nil || !ok || global != c.Thresholds.Global {
		t.Errorf("stored global %v ok %v err %v", global, ok, err)
	}
	if err := SaveThresholds(g, Thresholds{Global: float32(math.NaN())}); err == nil {
		t.Error("NaN threshold stored")
	}
}
