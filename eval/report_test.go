package eval

import (
	"bytes"
	"encoding/json"
	"image"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func testReport(t *testing.T) *Report {
	t.Helper()
	q := Set{Vecs: [][]float32{{0.9, 0.1}, {0.2, 0.8}, {0.8, 0.2}, {0.5, 0.5}}, Labels: []string{"a", "a", "b", "z"}}
	g := Set{Vecs: oneHot(2), Labels: []string{"a", "b"}}
	rr, err := Retrieval(q, g, RetrievalOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pr, err := Pipeline(pipelineQueries())
	if err != nil {
		t.Fatal(err)
	}
	c, err := Calibrate(append(twoLabels(), samplesAt(hs(30, 70, 2), "x", "a", true)...),
		CalibrateOptions{TargetPrecision: 0.95, GalleryCounts: map[string]int{"a": 10, "b": 2, "c": 1}})
	if err != nil {
		t.Fatal(err)
	}
	return &Report{Name: "unit", Retrieval: rr, Pipeline: pr, Calibration: c}
}

func TestReportText(t *testing.T) {
	r := testReport(t)
	var b bytes.Buffer
	if err := r.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	s := b.String()
	for _, want := range []string{
		"evaluation: unit",
		"recall@1 0.3333", // a hit, a miss, b miss; z has no relevant item
		"4 queries, 2 gallery images, 3 queries with a relevant item",
		"recall_1 0.2500   recall_2 0.7500   recall_3 0.7500",
		"out-of-gallery rejected 1.0000",
		"target precision 0.950",
		"a <-> b: 37 (a->b 16, b->a 21), highest score 0.8000",
		"labels with fewer than 3 gallery images: c (1), b (2)",
		"weakest labels (recall@1): b 0.00 (0/1), a 0.50 (1/2)",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("text lacks %q:\n%s", want, s)
		}
	}
}

func TestReportTextBlockNote(t *testing.T) {
	q := Set{Vecs: [][]float32{{0.9, 0.1}, {0.2, 0.8}, {0.8, 0.2}, {0.5, 0.5}}, Labels: []string{"a", "a", "b", "z"}}
	g := Set{Vecs: oneHot(2), Labels: []string{"a", "b"}}
	for _, bs := range []int{2, 64} {
		rr, err := Retrieval(q, g, RetrievalOptions{BlockSize: bs})
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		if err := (&Report{Retrieval: rr}).WriteText(&b); err != nil {
			t.Fatal(err)
		}
		has := strings.Contains(b.String(), "1 queries have no relevant gallery item")
		if has != (bs == 2) {
			t.Errorf("block size %d: note present %v", bs, has)
		}
	}
}

func TestReportJSON(t *testing.T) {
	r := testReport(t)
	r.Retrieval.MAP = Metric(math.NaN())
	var b bytes.Buffer
	if err := r.WriteJSON(&b); err != nil {
		t.Fatal(err)
	}
	var back struct {
		Retrieval struct {
			MAP    *float64 `json:"mAP"`
			Recall []AtK    `json:"recall"`
		} `json:"retrieval"`
		Calibration struct {
			Thresholds Thresholds `json:"thresholds"`
		} `json:"calibration"`
	}
	if err := json.Unmarshal(b.Bytes(), &back); err != nil {
		t.Fatalf("%v\n%s", err, b.String())
	}
	if back.Retrieval.MAP != nil {
		t.Errorf("NaN mAP should be null, got %v", *back.Retrieval.MAP)
	}
	if !near(float64(back.Retrieval.Recall[0].Value), 1.0/3) {
		t.Errorf("recall %v", back.Retrieval.Recall)
	}
	th := back.Calibration.Thresholds
	if th.Global != r.Calibration.Thresholds.Global || len(th.PerLabel) != len(r.Calibration.Thresholds.PerLabel) {
		t.Errorf("thresholds did not round-trip: %+v", th)
	}
}

func TestReportFiles(t *testing.T) {
	r := testReport(t)
	dir := filepath.Join(t.TempDir(), "out")
	paths, err := r.WriteFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, p := range paths {
		names[filepath.Base(p)] = true
	}
	for _, n := range []string{"report.json", "report.txt", "threshold.png", "calibration_per_label.png", "retrieval_per_label.png", "pipeline_per_label.png"} {
		if !names[n] {
			t.Errorf("%s not written (got %v)", n, paths)
		}
	}
	f, err := os.Open(filepath.Join(dir, "threshold.png"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	lp := ThresholdPlot(r.Calibration, "")
	_, frame, err := lp.Render()
	if err != nil {
		t.Fatal(err)
	}
	checkSeries(t, img, frame, lp.Series)
	// the chosen global threshold is marked
	x := frame.Px(float64(r.Calibration.Thresholds.Global), 0).X
	if n := countColor(img, colRect(x, frame), ColorMarker); n < 20 {
		t.Errorf("threshold marker has %d pixels", n)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != len(paths) {
		t.Errorf("stray files in %s: %d entries for %d paths", dir, len(entries), len(paths))
	}
}

func colRect(x int, f Frame) image.Rectangle {
	return image.Rect(x, f.Plot.Min.Y, x+1, f.Plot.Max.Y)
}
