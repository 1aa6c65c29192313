package paddle

import (
	"testing"

	"github.com/shitu-go/shitu/infer"
	"github.com/shitu-go/shitu/internal/ortest"
	"github.com/shitu-go/shitu/tensor"
)

// Shared ONNX Runtime test helpers (internal/ortest).
var (
	randInput = ortest.RandInput
	run       = ortest.Run
)

// ortOpen opens model bytes in ONNX Runtime with graph optimisations off
// (so both sides of a comparison compute the same arithmetic) or skips.
func ortOpen(t *testing.T, model []byte) infer.Session { return ortest.Exact(t, model) }

func maxAbsDiff(t *testing.T, a, b []*tensor.Tensor) float64 { return ortest.MaxAbsDiff(t, a, b) }
