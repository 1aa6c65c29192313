package recognize_test

import (
	"context"
	"testing"

	"github.com/shitu-go/shitu/detect"
	"github.com/shitu-go/shitu/gallery"
	"github.com/shitu-go/shitu/imaging"
	"github.com/shitu-go/shitu/recognize"
	"github.com/shitu-go/shitu/vecindex"
)

// constExtractor embeds every crop as the same unit vector.
type constExtractor struct{}

func (constExtractor) Extract(_ context.Context, imgs []*imaging.Image) ([][]float32, error) {
	out := make([][]float32, len(imgs))
	for i := range out {
		out[i] = []float32{1, 0}
	}
	return out, nil
}

// TestDetectionSelectionInOnePlace: a detector made with detect.New's
// zero options hands every NMS row to recognize, so the recognition
// options alone decide how many detections are kept and at which score:
// MaxDetResults 10 means 10, a threshold below 0.2 is honoured.
func TestDetectionSelectionInOnePlace(t *testing.T) {
	scores := []float32{0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.25, 0.15, 0.05}
	var rows [][6]float32
	for i, s := range scores {
		x := float32(i * 20)
		rows = append(rows, [6]float32{0, s, x, 0, x + 10, 10}) // disjoint boxes
	}
	det, err := detect.New(nmsSession{rows: rows}, detect.Options{})
	if err != nil {
		t.Fatal(err)
	}
	g, err := gallery.Create(t.TempDir(), gallery.Options{Model: "m", Dims: 2, Metric: vecindex.IP, Method: gallery.MethodFlat})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	if _, err := g.Add(gallery.Item{Label: "a", Vector: []float32{1, 0}}); err != nil {
		t.Fatal(err)
	}
	img, _ := imaging.NewImage(200, 20, 3)
	for _, c := range []struct {
		max  int
		thr  float64
		want int
	}{
		{0, 0, 5},      // PaddleClas defaults: top 5, score ≥ 0.2
		{10, 0, 8},     // top 10, then ≥ 0.2
		{10, 0.1, 9},   // a threshold below the default
		{10, -1, 10},   // every score
		{3, 0.1, 3},    // top 3
		{-1, 0.1, 0},   // max_det_results 0: none
		{20, 0.55, 4},  // threshold above the default
		{1000, -1, 10}, // more than there are
	} {
		sys, err := recognize.New(det, constExtractor{}, recognize.FromGallery(g),
			recognize.Options{MaxDetResults: c.max, DetThreshold: c.thr, WholeImage: recognize.WholeNever, NMSThreshold: 1})
		if err != nil {
			t.Fatal(err)
		}
		r, err := sys.Recognize(context.Background(), img)
		if err != nil {
			t.Fatal(err)
		}
		if len(r.Objects) != c.want {
			t.Errorf("max %d threshold %v: %d objects, want %d", c.max, c.thr, len(r.Objects), c.want)
		}
	}
}
