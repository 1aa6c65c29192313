package paddle

import (
	"context"
	"math"
	"math/rand"
	"sync"
	"testing"

	"github.com/shitu-go/shitu/infer"
	"github.com/shitu-go/shitu/infer/ort"
	"github.com/shitu-go/shitu/internal/testutil"
	"github.com/shitu-go/shitu/tensor"
)

var (
	ortOnce    sync.Once
	ortBackend *ort.Backend
	ortErr     error
)

// ortOpen opens model bytes in ONNX Runtime with graph optimisations off
// (so both sides of a comparison compute the same arithmetic) or skips.
func ortOpen(t *testing.T, model []byte) infer.Session {
	t.Helper()
	lib := testutil.ORTLib(t)
	ortOnce.Do(func() { ortBackend, ortErr = ort.New(ort.Config{LibPath: lib}) })
	if ortErr != nil {
		t.Skipf("ONNX Runtime unavailable: %v", ortErr)
	}
	s, err := ortBackend.Open(model, infer.Options{IntraOpThreads: 1, OptLevel: infer.OptDisable})
	if err != nil {
		t.Fatalf("ORT open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// randInput is a seeded uniform [-1, 1) tensor.
func randInput(seed int64, shape ...int) *tensor.Tensor {
	r := rand.New(rand.NewSource(seed))
	n := 1
	for _, d := range shape {
		n *= d
	}
	v := make([]float32, n)
	for i := range v {
		v[i] = r.Float32()*2 - 1
	}
	return tensor.Must(shape, v)
}

// maxAbsDiff compares two output lists tensor by tensor.
func maxAbsDiff(t *testing.T, a, b []*tensor.Tensor) float64 {
	t.Helper()
	if len(a) != len(b) {
		t.Fatalf("%d outputs vs %d", len(a), len(b))
	}
	m := 0.0
	for i := range a {
		if !tensor.EqualShape(a[i].Shape(), b[i].Shape()) {
			t.Fatalf("output %d: shape %v vs %v", i, a[i].Shape(), b[i].Shape())
		}
		x, y := a[i].Float32s(), b[i].Float32s()
		for j := range x {
			d := math.Abs(float64(x[j] - y[j]))
			if math.IsNaN(d) {
				t.Fatalf("output %d: NaN at %d", i, j)
			}
			m = max(m, d)
		}
	}
	return m
}

func run(t *testing.T, s infer.Session, in map[string]*tensor.Tensor) []*tensor.Tensor {
	t.Helper()
	out, err := s.Run(context.Background(), in)
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	return out
}
