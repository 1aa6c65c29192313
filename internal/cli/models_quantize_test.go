package cli

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shitu-go/shitu/internal/ortest"
	"github.com/shitu-go/shitu/models"
	"github.com/shitu-go/shitu/onnx"
)

// tinyRec is a 32×32 feature extractor: Conv+Relu, Conv+Relu, GAP, Flatten.
func tinyRec(t *testing.T, dir string) {
	t.Helper()
	rng := rand.New(rand.NewPCG(3, 3))
	vals := func(n int) []float32 {
		v := make([]float32, n)
		for i := range v {
			v[i] = float32(rng.NormFloat64() * 0.3)
		}
		return v
	}
	b := onnx.NewBuilder("tinyrec", 13)
	x := b.Input("x", onnx.TensorProto_FLOAT, -1, 3, 32, 32)
	h := b.Relu(b.Conv(x, b.Initializer("w1", []int64{8, 3, 3, 3}, vals(216)), b.Initializer("b1", []int64{8}, vals(8)), onnx.ConvAttrs{Pad: 1}))
	h = b.Relu(b.Conv(h, b.Initializer("w2", []int64{16, 8, 3, 3}, vals(16*72)), b.Initializer("b2", []int64{16}, vals(16)), onnx.ConvAttrs{Pad: 1, Stride: 2}))
	h = b.Flatten(b.GlobalAveragePool(h), 1)
	b.Output(b.Rename(h, "features"))
	m, err := b.Model()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := onnx.WriteFile(filepath.Join(dir, "inference.onnx"), m); err != nil {
		t.Fatal(err)
	}
}

func TestModelsQuantizeCompare(t *testing.T) {
	ortest.Backend(t)
	tmp := t.TempDir()
	dir := filepath.Join(tmp, "rec")
	tinyRec(t, dir)
	calib := filepath.Join(tmp, "calib")
	if out, errs, code := run(t, "models", "synth-images", "--out", calib, "--n", "6"); code != 0 {
		t.Fatalf("synth-images: %d %s %s", code, out, errs)
	}
	list := filepath.Join(tmp, "calib.txt")
	if err := os.WriteFile(list, []byte("# calibration\ncalib/crops_00000.png\ncalib/crops_00001.png\n\ncalib/crops_00002.png\tlabel\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, errs, code := run(t, "models", "quantize", dir, "--calib", list, "--batch", "2", "--sens-images=-1")
	if code != 0 {
		t.Fatalf("quantize: %d\n%s\n%s", code, out, errs)
	}
	if !strings.Contains(errs, "calibration: 3 images") || !strings.Contains(out, "layers: 2 int8, 0 kept float32") {
		t.Errorf("output:\n%s\n%s", out, errs)
	}
	q := dir + models.QuantizedSuffix
	if err := models.Verify(q); err != nil {
		t.Fatal(err)
	}
	m, err := models.ReadManifest(q)
	if err != nil || m.Kind != models.KindONNX || !strings.Contains(m.Note, "int8 QDQ") || m.Source != dir {
		t.Fatalf("manifest %+v %v", m, err)
	}
	// A second run refuses to replace the twin without --force.
	if _, errs, code := run(t, "models", "quantize", dir, "--calib", calib); code == 0 || !strings.Contains(errs, "already installed") {
		t.Errorf("second run: %d %s", code, errs)
	}
	out, errs, code = run(t, "models", "compare", dir, q, "--crops", "20")
	if code != 0 || !strings.Contains(out, "feature cosine int8 vs fp32 over 20 crops") || !strings.Contains(out, "agreement") {
		t.Fatalf("compare: %d\n%s\n%s", code, out, errs)
	}
}

func TestMatchBoxesAndRegions(t *testing.T) {
	a := []rect{{0, 0, 10, 10, 0.9, 0}, {20, 20, 30, 30, 0.8, 0}, {50, 50, 60, 60, 0.7, 1}}
	b := []rect{{0, 0, 10, 10.5, 0.9, 0}, {21, 21, 31, 31, 0.8, 0}, {50, 50, 60, 60, 0.7, 0}}
	if n := matchBoxes(a, b, 0.9); n != 1 {
		t.Errorf("matched %d, want 1 (IoU 0.95; 0.68; other class)", n)
	}
	w, h := 10, 6
	p := make([]float32, w*h)
	for y := 1; y < 5; y++ {
		for x := 1; x < 5; x++ {
			p[y*w+x] = 0.9 // 16 px region
		}
	}
	p[8] = 0.9 // a lone pixel, dropped
	r := regions(p, w, h, 0.3)
	if len(r) != 1 || r[0] != (rect{1, 1, 5, 5, 16, 0}) {
		t.Errorf("regions %v", r)
	}
}

func TestListImages(t *testing.T) {
	if _, err := listImages(filepath.Join(t.TempDir(), "none")); err == nil {
		t.Error("missing folder accepted")
	}
	if _, err := listImages(t.TempDir()); err == nil {
		t.Error("empty folder accepted")
	}
}
