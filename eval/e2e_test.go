package eval

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/shitu-go/shitu/feature"
	"github.com/shitu-go/shitu/gallery"
	"github.com/shitu-go/shitu/imaging"
	"github.com/shitu-go/shitu/infer"
	"github.com/shitu-go/shitu/infer/ort"
	"github.com/shitu-go/shitu/internal/synthdata"
	"github.com/shitu-go/shitu/internal/testutil"
	"github.com/shitu-go/shitu/models"
	"github.com/shitu-go/shitu/recognize"
)

// synthSet writes a labelled image set from seeded product renderings:
// the gallery holds one PNG view of each of nGallery products plus two
// distractor products; the queries are byte-identical copies of the
// gallery views (under other names) plus nUnknown products that are not in
// the gallery. The seeded network is untrained and sensitive to small
// pixel changes, so identical copies are what make the expected figures
// derivable by hand: each copy's own gallery image scores 1 and ranks
// first. It returns the gallery and query list paths.
func synthSet(t *testing.T, dir string, nGallery, nUnknown int) (string, string) {
	t.Helper()
	var gl, ql strings.Builder
	ps := synthdata.Products(nGallery+nUnknown+2, 11)
	write := func(name string, b []byte) {
		if err := synthdata.WriteFile(filepath.Join(dir, name), b); err != nil {
			t.Fatal(err)
		}
	}
	for i, p := range ps {
		b, err := synthdata.EncodePNG(p.Render(120, 120, 0))
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case i < nGallery:
			write("gallery/"+p.Label+".png", b)
			write("query/"+p.Label+"_copy.png", b)
			fmt.Fprintf(&gl, "gallery/%s.png %s\n", p.Label, p.Label)
			fmt.Fprintf(&ql, "query/%s_copy.png %s\n", p.Label, p.Label)
		case i < nGallery+nUnknown:
			write("query/"+p.Label+".png", b)
			fmt.Fprintf(&ql, "query/%s.png %s\n", p.Label, p.Label)
		default:
			write("gallery/"+p.Label+".png", b)
			fmt.Fprintf(&gl, "gallery/%s.png %s\n", p.Label, p.Label)
		}
	}
	gp, qp := filepath.Join(dir, "gallery.txt"), filepath.Join(dir, "query.txt")
	if err := os.WriteFile(gp, []byte(gl.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(qp, []byte(ql.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return gp, qp
}

var synth struct {
	once sync.Once
	dir  string
	ext  *feature.Extractor
	err  error
}

// TestMain removes the shared seeded model after the tests.
func TestMain(m *testing.M) {
	code := m.Run()
	if synth.dir != "" {
		os.RemoveAll(synth.dir)
	}
	os.Exit(code)
}

// synthExtractor opens the seeded PP-LCNetV2 network in ONNX Runtime, once
// per test binary (writing and optimising it takes seconds). The tests
// use it one at a time.
func synthExtractor(t *testing.T, _ string) *feature.Extractor {
	t.Helper()
	lib := testutil.ORTLib(t)
	synth.once.Do(func() {
		synth.dir, synth.err = os.MkdirTemp("", "shitu-eval-synth-")
		if synth.err != nil {
			return
		}
		inst, err := models.Synth(filepath.Join(synth.dir, "models"), 1)
		if err != nil {
			synth.err = err
			return
		}
		var rec string
		for _, m := range inst {
			if strings.Contains(m.Dir, "PPLCNetV2") {
				rec = filepath.Join(m.Dir, models.SynthFile)
			}
		}
		be, err := ort.New(ort.Config{LibPath: lib})
		if err != nil {
			synth.err = err
			return
		}
		sess, err := be.OpenFile(rec, infer.Options{IntraOpThreads: 2})
		if err != nil {
			synth.err = err
			return
		}
		synth.ext, synth.err = feature.New(sess, feature.Config{BatchSize: 8})
	})
	if errors.Is(synth.err, infer.ErrUnavailable) {
		t.Skipf("ONNX Runtime unavailable: %v", synth.err)
	}
	if synth.err != nil {
		t.Fatal(synth.err)
	}
	return synth.ext
}

// TestSynthEndToEnd evaluates the seeded recognition network on a
// generated labelled image set: list files → features (ONNX Runtime) →
// retrieval metrics, calibration, thresholds stored in a gallery, and the
// pipeline through recognize. The seeded network is not trained, but it
// maps a product's views stably, so the figures are fixed by the seeds.
func TestSynthEndToEnd(t *testing.T) {
	dir := t.TempDir()
	ext := synthExtractor(t, dir)
	gp, qp := synthSet(t, dir, 8, 2)
	gal, err := ReadList(gp)
	if err != nil {
		t.Fatal(err)
	}
	qry, err := ReadList(qp)
	if err != nil {
		t.Fatal(err)
	}
	var last [2]int
	r, err := EvaluateLists(context.Background(), ext, ListEval{
		Query: qry, QueryRoot: dir, Gallery: gal, GalleryRoot: dir, Batch: 8,
		Progress: func(d, n int) { last = [2]int{d, n} },
		Options:  RetrievalOptions{TopK: []int{1, 5}},
	})
	if err != nil {
		t.Fatal(err)
	}
	// 8 copies + 2 unknown queries; 8 products + 2 distractors in the gallery
	if last != [2]int{20, 20} || r.Queries != 10 || r.Gallery != 10 || r.WithRelevant != 8 {
		t.Fatalf("progress %v, counts %+v", last, r)
	}
	var txt strings.Builder
	if err := (&Report{Retrieval: r}).WriteText(&txt); err != nil {
		t.Fatal(err)
	}
	t.Logf("retrieval:\n%s", txt.String())
	// Every copy ranks its own gallery image first: recall@k = 8/8 in the
	// one block of 10 (weight 10/10), mAP 1 (one relevant item each);
	// precision@k counts all 10 queries: 8·(1/k)/10.
	for _, want := range []struct {
		name      string
		got, want float64
	}{
		{"recall@1", RecallAt(r.Recall, 1), 1},
		{"recall@5", RecallAt(r.Recall, 5), 1},
		{"exact recall@1", RecallAt(r.ExactRecall, 1), 1},
		{"mAP", float64(r.MAP), 1},
		{"precision@1", RecallAt(r.Precision, 1), 0.8},
		{"precision@5", RecallAt(r.Precision, 5), 0.16},
	} {
		if !near(want.got, want.want) {
			t.Errorf("%s = %v, want %v", want.name, want.got, want.want)
		}
	}
}

// TestSynthPipeline runs the pipeline evaluation through recognize (whole
// image, no detector) with the seeded network, then calibrates from the
// query set, stores the thresholds and checks the deployed answers change
// exactly as the stored thresholds say.
func TestSynthPipeline(t *testing.T) {
	dir := t.TempDir()
	ext := synthExtractor(t, dir)
	gp, qp := synthSet(t, dir, 8, 2)
	gl, _ := ReadList(gp)
	ql, _ := ReadList(qp)
	g, err := gallery.Create(filepath.Join(dir, "gallery.db"), gallery.Options{Model: "synth-1", Dims: 512, Method: "Flat"})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	gv, err := ExtractFeatures(context.Background(), ext, ResolvePaths(dir, gl), 8, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i, e := range gl {
		if _, err := g.Add(gallery.Item{Label: e.Label, Source: e.Path, Vector: gv[i]}); err != nil {
			t.Fatal(err)
		}
	}
	sys, err := recognize.New(nil, ext, recognize.FromGallery(g), recognize.Options{NoDetector: true})
	if err != nil {
		t.Fatal(err)
	}
	_, counts, err := GalleryItems(g)
	if err != nil {
		t.Fatal(err)
	}
	known := map[string]bool{}
	for l := range counts {
		known[l] = true
	}
	rec := SystemRecognizer(sys, recognize.Options{NoDetector: true}, imaging.DecodeOptions{})
	qs, err := RunPipeline(context.Background(), rec, ql, dir, known, nil)
	if err != nil {
		t.Fatal(err)
	}
	pr, err := Pipeline(qs)
	if err != nil {
		t.Fatal(err)
	}
	// whole image only: one raw prediction per query; the 8 copies find
	// their product, the 2 unknown products cannot.
	if len(pr.RecallI) != 1 || !near(float64(pr.RecallI[0].Value), 0.8) {
		t.Errorf("raw recall_i %v, want [recall_1 0.8]", pr.RecallI)
	}

	// Calibrate on the system's own top-1 scores: for precision 1 the
	// right threshold is the lowest correct score above every wrong or
	// unknown answer (the copies score ≈ 1, the unknown products less).
	ss := PipelineSamples(qs)
	c, err := Calibrate(ss, CalibrateOptions{TargetPrecision: 1, GalleryCounts: counts})
	if err != nil {
		t.Fatal(err)
	}
	var maxWrong float32 = -2
	for _, s := range ss {
		if !s.correct() {
			maxWrong = max(maxWrong, s.Score)
		}
	}
	want := float32(2)
	for _, s := range ss {
		if s.correct() && s.Score > maxWrong {
			want = min(want, s.Score)
		}
	}
	if c.Thresholds.Global != want || want < 0.999 {
		t.Errorf("global threshold %v, want %v (lowest correct score above the highest wrong %v)", c.Thresholds.Global, want, maxWrong)
	}
	if err := SaveThresholds(g, c.Thresholds); err != nil {
		t.Fatal(err)
	}
	qs, err = RunPipeline(context.Background(), rec, ql, dir, known, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Deployed answers follow the stored threshold exactly.
	for i, q := range qs {
		if len(q.Deployed) != 1 {
			t.Fatalf("query %d: %d deployed objects", i, len(q.Deployed))
		}
		d := q.Deployed[0]
		if wantUnknown := d.Score < c.Thresholds.For(d.Label); d.Unknown != wantUnknown {
			t.Errorf("query %d (%s): score %v, threshold %v, unknown %v", i, q.Label, d.Score, c.Thresholds.For(d.Label), d.Unknown)
		}
	}
	pr, err = Pipeline(qs)
	if err != nil {
		t.Fatal(err)
	}
	if pr.UnknownRejected != 1 || pr.Wrong != 0 || pr.Top1 != 1 {
		t.Errorf("after calibration: top1 %v, unknown rejected %v, wrong %v", pr.Top1, pr.UnknownRejected, pr.Wrong)
	}
	t.Logf("pipeline after calibration: top1 %v no-answer %v unknown rejected %v threshold %v", pr.Top1, pr.NoAnswer, pr.UnknownRejected, c.Thresholds.Global)
}
