// Package ortest holds test helpers that run models in ONNX Runtime: one
// backend per test binary, sessions closed with the test, seeded inputs
// and output comparison. Tests skip with a message when the library or
// cgo is missing.
package ortest

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
	once    sync.Once
	backend *ort.Backend
	initErr error
)

// Backend returns the process's ONNX Runtime backend, or skips the test.
func Backend(t testing.TB) *ort.Backend {
	t.Helper()
	lib := testutil.ORTLib(t)
	once.Do(func() { backend, initErr = ort.New(ort.Config{LibPath: lib}) })
	if initErr != nil {
		t.Skipf("ONNX Runtime unavailable: %v", initErr)
	}
	return backend
}

// Open opens model bytes; the session is closed when the test ends.
func Open(t testing.TB, model []byte, opts infer.Options) infer.Session {
	t.Helper()
	s, err := Backend(t).Open(model, opts)
	if err != nil {
		t.Fatalf("ORT open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// Exact opens model bytes with one thread and graph optimisations off, so
// two models compared in a test compute the same arithmetic.
func Exact(t testing.TB, model []byte) infer.Session {
	t.Helper()
	return Open(t, model, infer.Options{IntraOpThreads: 1, OptLevel: infer.OptDisable})
}

// Run runs a session or fails the test.
func Run(t testing.TB, s infer.Session, in map[string]*tensor.Tensor) []*tensor.Tensor {
	t.Helper()
	out, err := s.Run(context.Background(), in)
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	return out
}

// RandInput is a seeded uniform [-1, 1) float32 tensor.
func RandInput(seed int64, shape ...int) *tensor.Tensor {
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

// MaxAbsDiff compares two output lists tensor by tensor; shapes must match
// and a NaN fails the test.
func MaxAbsDiff(t testing.TB, a, b []*tensor.Tensor) float64 {
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
