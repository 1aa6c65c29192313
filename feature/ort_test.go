package feature

import (
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"testing"

	"github.com/shitu-go/shitu/arch"
	"github.com/shitu-go/shitu/imaging"
	"github.com/shitu-go/shitu/infer"
	"github.com/shitu-go/shitu/infer/ort"
	"github.com/shitu-go/shitu/internal/testutil"
	"github.com/shitu-go/shitu/onnx"
)

var (
	recOnce  sync.Once
	recBytes []byte
	recErr   error
)

// recModel is the synthesized PP-ShiTuV2 recognition network (seeded
// weights, arch.BuildRec) as ONNX bytes.
func recModel(t testing.TB) []byte {
	t.Helper()
	recOnce.Do(func() {
		m, err := arch.BuildRec(7, arch.RecOptions{})
		if err != nil {
			recErr = err
			return
		}
		recBytes, recErr = onnx.Marshal(m)
	})
	if recErr != nil {
		t.Fatal(recErr)
	}
	return recBytes
}

func recSession(t testing.TB, threads int) infer.Session {
	t.Helper()
	b, err := ort.New(ort.Config{LibPath: testutil.ORTLib(t)})
	if errors.Is(err, infer.ErrUnavailable) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	s, err := b.Open(recModel(t), infer.Options{IntraOpThreads: threads})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func demoImages(t testing.TB) []string {
	t.Helper()
	dir := filepath.Join(testutil.SharedDir(t), "testdata", "images", "paddleclas-demo")
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		switch filepath.Ext(e.Name()) {
		case ".jpg", ".jpeg", ".png", ".JPG":
			out = append(out, filepath.Join(dir, e.Name()))
		}
	}
	sort.Strings(out)
	if len(out) < 4 {
		t.Skipf("only %d demo images in %s", len(out), dir)
	}
	return out
}

// TestExtractWithRecModel runs the synthesized recognition model through
// ONNX Runtime: unit-norm 512-d features, batched runs equal single runs,
// ExtractFiles equals Extract, and binarisation follows the signs.
func TestExtractWithRecModel(t *testing.T) {
	sess := recSession(t, 2)
	paths := demoImages(t)[:6]
	var imgs []*imaging.Image
	for _, p := range paths {
		img, err := imaging.DecodeFile(p, imaging.DecodeOptions{})
		if err != nil {
			t.Fatal(err)
		}
		imgs = append(imgs, img)
	}
	ctx := context.Background()
	batched, _ := New(sess, Config{BatchSize: 4})
	single, _ := New(sess, Config{BatchSize: 1})
	fb, err := batched.Extract(ctx, imgs)
	if err != nil {
		t.Fatal(err)
	}
	fs, err := single.Extract(ctx, imgs)
	if err != nil {
		t.Fatal(err)
	}
	if batched.Dims() != 512 || len(fb) != len(imgs) {
		t.Fatalf("dims %d, %d features", batched.Dims(), len(fb))
	}
	for i := range fb {
		var n float64
		for j := range fb[i] {
			n += float64(fb[i][j]) * float64(fb[i][j])
			if d := math.Abs(float64(fb[i][j] - fs[i][j])); d > 1e-4 {
				t.Fatalf("image %d dim %d: batched %v single %v", i, j, fb[i][j], fs[i][j])
			}
		}
		if math.Abs(n-1) > 1e-5 {
			t.Fatalf("image %d: squared norm %v", i, n)
		}
		code := Binarize(fb[i])
		for j, v := range fb[i] {
			if bit := code[j/8]>>(7-j%8)&1 == 1; bit != (v > 0) {
				t.Fatalf("image %d bit %d: %v for %v", i, j, bit, v)
			}
		}
	}
	// Different images give different features.
	var dot float32
	for j := range fb[0] {
		dot += fb[0][j] * fb[1][j]
	}
	if dot > 0.9999 {
		t.Fatalf("images 0 and 1 have the same feature (dot %v)", dot)
	}
	got := make([][]float32, len(paths))
	err = batched.ExtractFiles(ctx, paths, func(i int, v []float32, err error) error {
		got[i] = v
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	for i := range got {
		for j := range got[i] {
			if got[i][j] != fb[i][j] {
				t.Fatalf("ExtractFiles image %d differs from Extract", i)
			}
		}
	}
}

// BenchmarkExtractFilesRec measures gallery-build extraction with the
// synthesized recognition model: images/s and the share of wall time the
// model is busy (decode and preprocessing overlap inference). Threads:
// SHITU_BENCH_THREADS (default 1 intra-op thread).
func BenchmarkExtractFilesRec(b *testing.B) {
	threads := 1
	if s := os.Getenv("SHITU_BENCH_THREADS"); s != "" {
		threads, _ = strconv.Atoi(s)
	}
	sess := recSession(b, threads)
	demo := demoImages(b)
	var paths []string
	for len(paths) < 128 {
		paths = append(paths, demo...)
	}
	paths = paths[:128]
	e, err := New(sess, Config{BatchSize: 32})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	// Warm up ORT.
	e.ExtractFiles(ctx, paths[:32], func(int, []float32, error) error { return nil })
	e.stats = Stats{}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		err := e.ExtractFiles(ctx, paths, func(i int, v []float32, err error) error { return err })
		if err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	st := e.Stats()
	b.ReportMetric(float64(st.Images)/st.Wall.Seconds(), "img/s")
	b.ReportMetric(100*st.BusyShare(), "busy%")
	b.ReportMetric(0, "ns/op")
}
