package imaging

import (
	"github.com/shitu-go/shitu/imaging/internal/simd"
	"os"
	"path/filepath"
	"testing"
)

// The benchmarks time the operations scripts/bench_opencv.py times in
// OpenCV on the same 1920×1080 JPEG (testdata/bench_1080p.jpg). Run both
// with one thread: go test -run=NONE -bench=. -cpu=1 ./imaging

func benchJPEG(b *testing.B) []byte {
	data, err := os.ReadFile(filepath.Join("testdata", "bench_1080p.jpg"))
	if err != nil {
		b.Fatal(err)
	}
	return data
}

func benchImage(b *testing.B) *Image {
	img, err := Decode(benchJPEG(b), DecodeOptions{})
	if err != nil {
		b.Fatal(err)
	}
	return img
}

func BenchmarkDecodeJPEG1080p(b *testing.B) {
	data := benchJPEG(b)
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := Decode(data, DecodeOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

func benchResize(b *testing.B, w, h int, interp Interp) {
	img := benchImage(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Resize(img, w, h, interp); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkResizeCubic1080pTo640(b *testing.B)  { benchResize(b, 640, 640, Cubic) }
func BenchmarkResizeLinear1080pTo224(b *testing.B) { benchResize(b, 224, 224, Linear) }
func BenchmarkResizeLinear1080pTo640(b *testing.B) { benchResize(b, 640, 640, Linear) }
func BenchmarkResizeArea1080pTo960(b *testing.B)   { benchResize(b, 960, 540, Area) }

func BenchmarkNormalizeCHW640(b *testing.B) {
	img := patternImage(640, 640, 3, 1)
	dst := make([]float32, 3*640*640)
	o := NormOptions{Det: true}
	b.ReportAllocs()
	for b.Loop() {
		if err := NormalizeInto(dst, img, o); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDetPreprocess1080p is PaddleClas' detector input: decode →
// DetResize 640×640 cubic → DetNormalizeImage → CHW (the last three fused).
func BenchmarkDetPreprocess1080p(b *testing.B) {
	data := benchJPEG(b)
	dst := make([]float32, 3*640*640)
	o := NormOptions{Det: true}
	b.ReportAllocs()
	for b.Loop() {
		img, err := Decode(data, DecodeOptions{})
		if err != nil {
			b.Fatal(err)
		}
		// The fused pass detect.Preprocess uses.
		if _, _, err := ResizeScaleNormalizeInto(dst, 640, 640, img, 640/float64(img.W), 640/float64(img.H), Cubic, o); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRecPreprocess1080p is the recogniser input from a decoded
// image: resize 224×224 linear → NormalizeImage → CHW.
func BenchmarkRecPreprocess1080p(b *testing.B) {
	img := benchImage(b)
	dst := make([]float32, 3*224*224)
	b.ReportAllocs()
	for b.Loop() {
		r, err := Resize(img, 224, 224, Linear)
		if err != nil {
			b.Fatal(err)
		}
		if err := NormalizeInto(dst, r, NormOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

// The same resizes with the gather kernel instead of the 3-channel
// linear one (A/B of the two AVX2 paths).

func BenchmarkResizeLinear1080pTo224Gather(b *testing.B) {
	noLin3 = true
	defer func() { noLin3 = false }()
	benchResize(b, 224, 224, Linear)
}
func BenchmarkResizeLinear1080pTo640Gather(b *testing.B) {
	noLin3 = true
	defer func() { noLin3 = false }()
	benchResize(b, 640, 640, Linear)
}

// The same resizes with the AVX2 kernels only, where the CPU has AVX-512
// (A/B of the AVX-512 path).

func benchNo512(b *testing.B, w, h int, interp Interp) {
	if !simd.AVX512 {
		b.Skip("no AVX-512 on this CPU")
	}
	simd.AVX512 = false
	defer func() { simd.AVX512 = true }()
	benchResize(b, w, h, interp)
}

func BenchmarkResizeCubic1080pTo640AVX2(b *testing.B)  { benchNo512(b, 640, 640, Cubic) }
func BenchmarkResizeLinear1080pTo224AVX2(b *testing.B) { benchNo512(b, 224, 224, Linear) }
func BenchmarkResizeLinear1080pTo640AVX2(b *testing.B) { benchNo512(b, 640, 640, Linear) }
