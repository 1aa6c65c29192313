package arch_test

import (
	"context"
	"errors"
	"fmt"
	"image"
	_ "image/jpeg"
	_ "image/png"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/shitu-go/shitu/arch"
	"github.com/shitu-go/shitu/infer"
	"github.com/shitu-go/shitu/infer/ort"
	"github.com/shitu-go/shitu/internal/testutil"
	"github.com/shitu-go/shitu/onnx"
	"github.com/shitu-go/shitu/tensor"
)

// models returns the default networks (seed 1) as ONNX bytes, built once.
func models(t *testing.T) (rec, det []byte) { return arch.CachedModels(t) }

// backend loads ONNX Runtime, skipping when this build cannot (CGO_ENABLED=0).
func backend(t *testing.T) *ort.Backend {
	t.Helper()
	b, err := ort.New(ort.Config{LibPath: testutil.ORTLib(t)})
	if errors.Is(err, infer.ErrUnavailable) && !arch.CgoBuild {
		t.Skipf("ONNX Runtime backend unavailable in this build: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func open(t *testing.T, model []byte) infer.Session {
	t.Helper()
	s, err := backend(t).Open(model, infer.Options{IntraOpThreads: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// loadImage decodes an image, area-averages it to size×size (after
// shifting the sampling window by shift output pixels), scales brightness
// by gain and normalises as PaddleClas does (RGB /255, ImageNet mean/std, CHW).
func loadImage(t *testing.T, path string, size int, shift int, gain float32) []float32 {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, _, err := image.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	b := img.Bounds()
	mean := [3]float32{0.485, 0.456, 0.406}
	std := [3]float32{0.229, 0.224, 0.225}
	out := make([]float32, 3*size*size)
	for y := range size {
		y0 := b.Min.Y + min(max((y+shift)*b.Dy()/size, 0), b.Dy()-1)
		y1 := max(min(b.Min.Y+(y+1+shift)*b.Dy()/size, b.Max.Y), y0+1)
		for x := range size {
			x0 := b.Min.X + min(max((x+shift)*b.Dx()/size, 0), b.Dx()-1)
			x1 := max(min(b.Min.X+(x+1+shift)*b.Dx()/size, b.Max.X), x0+1)
			var acc [3]float32
			n := float32(0)
			for sy := y0; sy < y1; sy++ {
				for sx := x0; sx < x1; sx++ {
					r, g, bl, _ := img.At(sx, sy).RGBA()
					acc[0] += float32(r >> 8)
					acc[1] += float32(g >> 8)
					acc[2] += float32(bl >> 8)
					n++
				}
			}
			for c := range 3 {
				v := min(acc[c]/n/255*gain, 1)
				out[c*size*size+y*size+x] = (v - mean[c]) / std[c]
			}
		}
	}
	return out
}

func cosine(a, b []float32) float64 {
	var d, na, nb float64
	for i := range a {
		d += float64(a[i]) * float64(b[i])
		na += float64(a[i]) * float64(a[i])
		nb += float64(b[i]) * float64(b[i])
	}
	return d / math.Sqrt(na*nb)
}

// features runs rec on one normalised 224×224 image.
func features(t *testing.T, s infer.Session, x []float32) []float32 {
	t.Helper()
	in, err := tensor.New([]int{1, 3, 224, 224}, x)
	if err != nil {
		t.Fatal(err)
	}
	out, err := s.Run(context.Background(), map[string]*tensor.Tensor{arch.RecInput: in})
	if err != nil {
		t.Fatal(err)
	}
	return out[0].Float32s()
}

// discrimination feeds real photos (area-resized, PaddleClas normalisation)
// to a rec model: it returns the lowest cosine between a photo and its copy
// shifted by 4 px and brightened by 10 %, the mean and max cosine between
// different photos, how many perturbed copies retrieve their original first
// and the smallest margin (own cosine − best other).
func discrimination(t *testing.T, rec []byte) (minSelf, meanCross, maxCross float64, hits int, margin float64) {
	t.Helper()
	dir := filepath.Join(testutil.SharedDir(t), "testdata", "images", "paddleclas-demo")
	names := []string{
		"drink_data_demo__test_images__100.jpeg",
		"drink_data_demo__test_images__nongfu_spring.jpeg",
		"images__wangzai.jpg",
		"product_demo__query__anmuxi.jpg",
		"vehicle__cars.JPG",
		"images__coco_000000570688.jpg",
	}
	s := open(t, rec)
	var fs, gs [][]float32
	minSelf = 1
	for _, n := range names {
		p := filepath.Join(dir, n)
		f := features(t, s, loadImage(t, p, 224, 0, 1))
		g := features(t, s, loadImage(t, p, 224, 4, 1.1))
		minSelf = min(minSelf, cosine(f, g))
		fs, gs = append(fs, f), append(gs, g)
	}
	var cnt int
	for i := range fs {
		for j := i + 1; j < len(fs); j++ {
			c := cosine(fs[i], fs[j])
			maxCross = max(maxCross, c)
			meanCross += c
			cnt++
		}
	}
	meanCross /= float64(cnt)
	margin = 2
	for i := range gs {
		other := -2.0
		for j := range fs {
			if j != i {
				other = max(other, cosine(gs[i], fs[j]))
			}
		}
		if cosine(gs[i], fs[i]) > other {
			hits++
		}
		margin = min(margin, cosine(gs[i], fs[i])-other)
	}
	t.Logf("same image, perturbed: min cosine %.3f; different images: mean %.3f, max %.3f; perturbed copy retrieved first %d/%d, min margin %.3f",
		minSelf, meanCross, maxCross, hits, len(gs), margin)
	return minSelf, meanCross, maxCross, hits, margin
}

// TestRecFeaturesDiscriminate: features of different objects must differ
// while a slightly shifted, brightened copy stays close and is retrieved first.
func TestRecFeaturesDiscriminate(t *testing.T) {
	rec, _ := models(t)
	minSelf, meanCross, maxCross, hits, _ := discrimination(t, rec)
	if minSelf < 0.9 {
		t.Errorf("perturbed copies: min cosine %.3f < 0.9", minSelf)
	}
	if meanCross > 0.8 || maxCross > 0.95 {
		t.Errorf("different images too similar: mean cosine %.3f, max %.3f", meanCross, maxCross)
	}
	if hits != 6 {
		t.Errorf("perturbed copy retrieved first for %d of 6 images", hits)
	}
}

// TestRecFeaturesSeeds repeats the check for other seeds (SHITU_LONG=1).
// Seeded weights separate photos less well for some seeds (measured: mean
// cross cosine 0.70–0.77, min margin −0.02…0.04 for seeds 2, 3, 7, 11), so
// this only guards against regressions: ≥ 5 of 6 retrieved, mean < 0.85.
func TestRecFeaturesSeeds(t *testing.T) {
	if os.Getenv("SHITU_LONG") != "1" {
		t.Skip("set SHITU_LONG=1 to check more seeds")
	}
	for _, seed := range []int64{2, 3, 7, 11} {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			m, err := arch.BuildRec(seed, arch.RecOptions{})
			if err != nil {
				t.Fatal(err)
			}
			b, err := onnx.Marshal(m)
			if err != nil {
				t.Fatal(err)
			}
			if _, meanCross, _, hits, _ := discrimination(t, b); hits < 5 || meanCross > 0.85 {
				t.Errorf("seed %d: %d/6 retrieved, mean cross cosine %.3f", seed, hits, meanCross)
			}
		})
	}
}

func checkFinite(t *testing.T, name string, f []float32) {
	t.Helper()
	lo, hi := f[0], f[0]
	var ss float64
	for _, v := range f {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			t.Fatalf("%s: non-finite output", name)
		}
		lo, hi = min(lo, v), max(hi, v)
		ss += float64(v) * float64(v)
	}
	if lo == hi {
		t.Errorf("%s: all values equal %g", name, lo)
	}
	t.Logf("%s: values in [%.3g, %.3g], RMS %.3g", name, lo, hi, math.Sqrt(ss/float64(len(f))))
}

func TestRecRuns(t *testing.T) {
	rec, _ := models(t)
	s := open(t, rec)
	if in := s.Inputs(); len(in) != 1 || in[0].Name != arch.RecInput || in[0].Shape[0] != -1 {
		t.Fatalf("inputs %v", in)
	}
	x4 := synthBatch(4, 224)
	run := func(n int) []float32 {
		in, err := tensor.New([]int{n, 3, 224, 224}, x4[:n*3*224*224])
		if err != nil {
			t.Fatal(err)
		}
		out, err := s.Run(context.Background(), map[string]*tensor.Tensor{arch.RecInput: in})
		if err != nil {
			t.Fatal(err)
		}
		if got := out[0].Shape(); len(got) != 2 || got[0] != n || got[1] != arch.RecDim {
			t.Fatalf("batch %d: output shape %v, want [%d,512]", n, got, n)
		}
		checkFinite(t, "features", out[0].Float32s())
		return out[0].Float32s()
	}
	one, four, again := run(1), run(4), run(4)
	if !slices.Equal(four, again) {
		t.Error("two runs of the same batch differ")
	}
	for i := range 512 {
		if d := math.Abs(float64(one[i] - four[i])); d > 1e-3*(1+math.Abs(float64(one[i]))) {
			t.Fatalf("row 0 of batch 4 differs from batch 1 at %d: %g vs %g", i, four[i], one[i])
		}
	}
	if c := cosine(four[:512], four[512:1024]); c > 0.99 {
		t.Errorf("features of different inputs nearly equal: cosine %.4f", c)
	}
}

// synthBatch makes n varied, normalised-image-like inputs.
func synthBatch(n, size int) []float32 {
	x := make([]float32, n*3*size*size)
	for i := range x {
		b := i / (3 * size * size)
		p := i % (size * size)
		y, xx := p/size, p%size
		x[i] = float32(math.Sin(float64(xx)*0.05*float64(b+1))*math.Cos(float64(y)*0.03*float64(b+2))) * 1.5
	}
	return x
}

func TestDetRuns(t *testing.T) {
	_, det := models(t)
	s := open(t, det)
	var names []string
	for _, o := range s.Outputs() {
		names = append(names, o.Name)
	}
	if !slices.Equal(names, arch.DetOutputs) {
		t.Fatalf("outputs %v, want %v", names, arch.DetOutputs)
	}
	dir := filepath.Join(testutil.SharedDir(t), "testdata", "images", "paddleclas-demo")
	x := loadImage(t, filepath.Join(dir, "images__wangzai.jpg"), 640, 0, 1)
	in, err := tensor.New([]int{1, 3, 640, 640}, x)
	if err != nil {
		t.Fatal(err)
	}
	out, err := s.Run(context.Background(), map[string]*tensor.Tensor{arch.DetInput: in})
	if err != nil {
		t.Fatal(err)
	}
	again, err := s.Run(context.Background(), map[string]*tensor.Tensor{arch.DetInput: in})
	if err != nil {
		t.Fatal(err)
	}
	for i, o := range out {
		side := 640 / int(arch.DetStrides[i%4])
		ch := 1
		if i >= 4 {
			ch = 32
		}
		if !slices.Equal(o.Shape(), []int{1, ch, side, side}) {
			t.Errorf("%s: shape %v, want [1,%d,%d,%d]", names[i], o.Shape(), ch, side, side)
		}
		checkFinite(t, names[i], o.Float32s())
		if !slices.Equal(o.Float32s(), again[i].Float32s()) {
			t.Errorf("%s: two runs differ", names[i])
		}
	}
}

// TestBadInputs: wrong names and shapes, corrupt and truncated models,
// a missing library — each a clear error, never a crash.
func TestBadInputs(t *testing.T) {
	rec, _ := models(t)
	s := open(t, rec)
	good := synthBatch(1, 224)
	for _, tc := range []struct {
		name  string
		feeds func() map[string]*tensor.Tensor
	}{
		{"wrong name", func() map[string]*tensor.Tensor {
			return map[string]*tensor.Tensor{"image": tensor.Must([]int{1, 3, 224, 224}, good)}
		}},
		{"wrong shape", func() map[string]*tensor.Tensor {
			return map[string]*tensor.Tensor{arch.RecInput: tensor.Must([]int{1, 3, 112, 448}, good)}
		}},
		{"wrong rank", func() map[string]*tensor.Tensor {
			return map[string]*tensor.Tensor{arch.RecInput: tensor.Must([]int{3, 224, 224}, good)}
		}},
		{"no input", func() map[string]*tensor.Tensor { return nil }},
	} {
		if _, err := s.Run(context.Background(), tc.feeds()); err == nil {
			t.Errorf("%s: no error", tc.name)
		} else {
			t.Logf("%s: %v", tc.name, err)
		}
	}
	be := backend(t)
	corrupt := append([]byte(nil), rec...)
	for i := 100; i < len(corrupt); i += 997 {
		corrupt[i] ^= 0x5a
	}
	for name, model := range map[string][]byte{
		"truncated": rec[:len(rec)/2],
		"corrupt":   corrupt,
		"empty":     nil,
		"text":      []byte("not a model"),
	} {
		if _, err := onnx.Read(model); err == nil && name != "corrupt" {
			t.Errorf("onnx.Read %s: no error", name)
		}
		if sess, err := be.Open(model, infer.Options{}); err == nil {
			sess.Close()
			if name != "corrupt" {
				t.Errorf("Open %s: no error", name)
			}
		} else {
			t.Logf("Open %s: %v", name, err)
		}
	}
	if _, err := ort.New(ort.Config{LibPath: filepath.Join(t.TempDir(), "libonnxruntime.so.1")}); err == nil {
		t.Error("missing library: no error")
	} else {
		t.Logf("missing library: %v", err)
	}
}
