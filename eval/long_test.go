package eval

import (
	"context"
	"fmt"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shitu-go/shitu/gallery"
	"github.com/shitu-go/shitu/imaging"
	"github.com/shitu-go/shitu/internal/synthdata"
	"github.com/shitu-go/shitu/recognize"
)

// TestSynthReportLong is a whole evaluation run on a larger generated set
// (30 products × 3 gallery views; one perturbed JPEG query per product
// plus 10 products not in the gallery) with the seeded network: retrieval
// metrics, leave-one-out and query calibration, thresholds stored in the
// gallery, the pipeline through recognize before and after, and every
// report file. The untrained network separates products poorly, so only
// structure is asserted; the figures are logged. Set SHITU_EVAL_OUT to
// keep the report files.
func TestSynthReportLong(t *testing.T) {
	if os.Getenv("SHITU_LONG") != "1" {
		t.Skip("set SHITU_LONG=1 to run the long evaluation run")
	}
	dir := t.TempDir()
	ext := synthExtractor(t, dir)
	var gl, ql strings.Builder
	write := func(name string, b []byte, err error) {
		if err != nil {
			t.Fatal(err)
		}
		if err := synthdata.WriteFile(filepath.Join(dir, name), b); err != nil {
			t.Fatal(err)
		}
	}
	const nKnown, nUnknown, views = 30, 10, 3
	for i, p := range synthdata.Products(nKnown+nUnknown, 5) {
		if i < nKnown {
			for v := range views {
				name := fmt.Sprintf("gallery/%s_%d.png", p.Label, v)
				b, err := synthdata.EncodePNG(p.Render(160, 160, v))
				write(name, b, err)
				fmt.Fprintf(&gl, "%s %s\n", name, p.Label)
			}
		}
		name := fmt.Sprintf("query/%s.jpg", p.Label)
		b, err := synthdata.EncodeJPEG(synthdata.Perturb(p.Render(160, 160, views), 2, -1, 8), 92)
		write(name, b, err)
		fmt.Fprintf(&ql, "%s %s\n", name, p.Label)
	}
	gal, err := ParseList(strings.NewReader(gl.String()))
	if err != nil {
		t.Fatal(err)
	}
	qry, err := ParseList(strings.NewReader(ql.String()))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	gv, err := ExtractFeatures(ctx, ext, ResolvePaths(dir, gal), 16, nil)
	if err != nil {
		t.Fatal(err)
	}
	qv, err := ExtractFeatures(ctx, ext, ResolvePaths(dir, qry), 16, nil)
	if err != nil {
		t.Fatal(err)
	}
	gset, _ := SetFromEntries(gal, gv)
	qset, _ := SetFromEntries(qry, qv)
	rr, err := Retrieval(qset, gset, RetrievalOptions{TopK: []int{1, 5}, BlockSize: 16})
	if err != nil {
		t.Fatal(err)
	}

	g, err := gallery.Create(filepath.Join(dir, "gallery.db"), gallery.Options{Model: "synth-1", Dims: 512, Method: "Flat"})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	for i, e := range gal {
		if _, err := g.Add(gallery.Item{Label: e.Label, Source: e.Path, Vector: gv[i]}); err != nil {
			t.Fatal(err)
		}
	}
	items, counts, err := GalleryItems(g)
	if err != nil {
		t.Fatal(err)
	}
	loo, err := LeaveOneOut(items, LeaveOneOutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cLOO, err := Calibrate(loo, CalibrateOptions{TargetPrecision: 0.9, MinSupport: 3, GalleryCounts: counts, MinImages: 4})
	if err != nil {
		t.Fatal(err)
	}
	qs, err := QuerySamples(qset, gset, nil)
	if err != nil {
		t.Fatal(err)
	}
	cQ, err := Calibrate(qs, CalibrateOptions{TargetPrecision: 0.9, MinSupport: 3, GalleryCounts: counts})
	if err != nil {
		t.Fatal(err)
	}

	sys, err := recognize.New(nil, ext, recognize.FromGallery(g), recognize.Options{NoDetector: true})
	if err != nil {
		t.Fatal(err)
	}
	known := map[string]bool{}
	for l := range counts {
		known[l] = true
	}
	rec := SystemRecognizer(sys, recognize.Options{NoDetector: true}, imaging.DecodeOptions{})
	before, err := RunPipeline(ctx, rec, qry, dir, known, nil)
	if err != nil {
		t.Fatal(err)
	}
	pBefore, _ := Pipeline(before)
	if err := SaveThresholds(g, cQ.Thresholds); err != nil {
		t.Fatal(err)
	}
	after, err := RunPipeline(ctx, rec, qry, dir, known, nil)
	if err != nil {
		t.Fatal(err)
	}
	pAfter, _ := Pipeline(after)
	for i, q := range after {
		d := q.Deployed[0]
		if d.Unknown != (d.Score < cQ.Thresholds.For(d.Label)) {
			t.Errorf("query %d: score %v threshold %v unknown %v", i, d.Score, cQ.Thresholds.For(d.Label), d.Unknown)
		}
	}

	out := os.Getenv("SHITU_EVAL_OUT")
	if out == "" {
		out = filepath.Join(dir, "report")
	}
	var summary strings.Builder
	for _, part := range []struct {
		name string
		r    *Report
	}{
		{"loo", &Report{Name: "leave-one-out on the gallery", Retrieval: rr, Calibration: cLOO, MinImages: 4}},
		{"query", &Report{Name: "query-set calibration, deployed before thresholds", Pipeline: pBefore, Calibration: cQ}},
		{"after", &Report{Name: "deployed after storing the thresholds", Pipeline: pAfter}},
	} {
		paths, err := part.r.WriteFiles(filepath.Join(out, part.name))
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range paths {
			if strings.HasSuffix(p, ".png") {
				f, err := os.Open(p)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := png.Decode(f); err != nil {
					t.Errorf("%s: %v", p, err)
				}
				f.Close()
			}
		}
		if err := part.r.WriteText(&summary); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("report files in %s\n%s", out, summary.String())
	if rr.Queries != nKnown+nUnknown || rr.WithRelevant != nKnown || len(loo) != nKnown*views {
		t.Errorf("counts: %d queries, %d with relevant, %d loo samples", rr.Queries, rr.WithRelevant, len(loo))
	}
}
