package detect

import (
	"math/rand/v2"
	"testing"

	"github.com/shitu-go/shitu/imaging"
	"github.com/shitu-go/shitu/tensor"
)

// randomRaw returns raw head outputs for a 640×640 input with random
// scores (sigmoid-like, mostly small) and distribution logits.
func randomRaw() []*tensor.Tensor {
	r := rand.New(rand.NewPCG(3, 4))
	outs := make([]*tensor.Tensor, 8)
	for l, s := range []int{8, 16, 32, 64} {
		g := 640 / s
		sc := make([]float32, g*g)
		for i := range sc {
			sc[i] = float32(r.Float64() * r.Float64() * r.Float64())
		}
		rg := make([]float32, g*g*32)
		for i := range rg {
			rg[i] = float32(r.NormFloat64() * 2)
		}
		outs[l] = tensor.Must([]int{1, g * g, 1}, sc)
		outs[4+l] = tensor.Must([]int{1, g * g, 32}, rg)
	}
	return outs
}

func BenchmarkDecodeRawPicoDet640(b *testing.B) {
	outs := randomRaw()
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := DecodeRaw(outs, [2]float32{640, 640}, [2]float32{0.6, 0.33}, DecodeConfig{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMultiClassNMSPicoDet640(b *testing.B) {
	boxes, scores, err := DecodeRaw(randomRaw(), [2]float32{640, 640}, [2]float32{0.6, 0.33}, DecodeConfig{})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := MultiClassNMS(boxes, scores, PicoDetNMS()); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPostprocessRaw is the whole Go-side post-processing of a
// raw-head detector run: decode, NMS and selection.
func BenchmarkPostprocessRaw(b *testing.B) {
	d, err := New(rawSession(), Options{})
	if err != nil {
		b.Fatal(err)
	}
	outs := randomRaw()
	in := &Input{ImShape: [2]float32{640, 640}, Scale: [2]float32{0.5926, 0.3333}}
	b.ReportAllocs()
	for b.Loop() {
		dets, err := d.Postprocess(outs, in)
		if err != nil {
			b.Fatal(err)
		}
		_ = SelectTop(dets, 5, 0.2)
	}
}

func BenchmarkPreprocess1080p(b *testing.B) {
	img := &imaging.Image{W: 1920, H: 1080, C: 3, Pix: make([]uint8, 1920*1080*3)}
	for i := range img.Pix {
		img.Pix[i] = uint8(i * 31 >> 3)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Preprocess(img, DefaultPre()); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRecNMS6(b *testing.B) {
	boxes := [][4]int{{10, 10, 200, 300}, {400, 50, 700, 600}, {0, 0, 1920, 1080}, {15, 12, 210, 290}, {800, 800, 900, 1000}, {1000, 10, 1500, 400}}
	scores := []float32{0.8, 0.7, 0.6, 0.75, 0.55, 0.9}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := RecNMS(boxes, scores, 0.05); err != nil {
			b.Fatal(err)
		}
	}
}
