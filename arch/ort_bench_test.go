package arch

import (
	"context"
	"math/rand/v2"
	"testing"

	"github.com/shitu-go/shitu/infer"
	"github.com/shitu-go/shitu/infer/ort"
	"github.com/shitu-go/shitu/internal/testutil"
	"github.com/shitu-go/shitu/tensor"
)

// benchDet runs the default detector (one 640×640 image, 1 intra-op
// thread) in ONNX Runtime, emitted at the given opset: at 13 HardSwish is
// HardSigmoid+Mul, at 14 the HardSwish op.
func benchDet(b *testing.B, opset int64) {
	be, err := ort.New(ort.Config{LibPath: testutil.ORTLib(b)})
	if err != nil {
		b.Skipf("ONNX Runtime unavailable: %v", err)
	}
	_, det := CachedNets(b)
	model, err := det.Bytes(opset)
	if err != nil {
		b.Fatal(err)
	}
	s, err := be.Open(model, infer.Options{IntraOpThreads: 1})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	x := synthImages(rand.New(rand.NewPCG(1, 2)), 1, 640)
	in := map[string]*tensor.Tensor{DetInput: tensor.Must([]int{1, 3, 640, 640}, x.d)}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Run(context.Background(), in); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(2*9.0575e9*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}

func BenchmarkDetORTOpset13(b *testing.B) { benchDet(b, 13) }
func BenchmarkDetORTOpset14(b *testing.B) { benchDet(b, 14) }
