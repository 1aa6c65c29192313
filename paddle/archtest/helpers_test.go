package archtest

import (
	"archive/tar"
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shitu-go/shitu/infer"
	"github.com/shitu-go/shitu/internal/ortest"
	"github.com/shitu-go/shitu/paddle"
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

func untar(t *testing.T, data []byte, dir string) {
	t.Helper()
	tr := tar.NewReader(bytes.NewReader(data))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, filepath.FromSlash(h.Name))
		if !strings.HasPrefix(p, dir) {
			t.Fatalf("entry %q escapes", h.Name)
		}
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(p, 0o755); err != nil {
				t.Fatal(err)
			}
		case tar.TypeReg:
			b, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// officialRoundTrip writes m as an official-layout tarball, unpacks it and
// loads it back from the folder.
func officialRoundTrip(t *testing.T, m *paddle.Model, prefix string) *paddle.Model {
	t.Helper()
	var buf bytes.Buffer
	if err := paddle.WriteTar(&buf, prefix, m); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	untar(t, buf.Bytes(), dir)
	for _, f := range []string{"inference.pdmodel", "inference.pdiparams", "inference.pdiparams.info"} {
		if _, err := os.Stat(filepath.Join(dir, prefix, f)); err != nil {
			t.Fatalf("tarball lacks %s/%s: %v", prefix, f, err)
		}
	}
	back, err := paddle.Load(filepath.Join(dir, prefix))
	if err != nil {
		t.Fatal(err)
	}
	return back
}

// compareModels runs both models on 5 seeded inputs and checks max abs diff ≤ 1e-4.
func compareModels(t *testing.T, ours, ref []byte, input string, shape []int) {
	t.Helper()
	so, sr := ortOpen(t, ours), ortOpen(t, ref)
	worst := 0.0
	for seed := int64(1); seed <= 5; seed++ {
		in := map[string]*tensor.Tensor{input: randInput(100+seed, shape...)}
		worst = max(worst, maxAbsDiff(t, run(t, so, in), run(t, sr, in)))
	}
	t.Logf("max abs diff over 5 inputs: %.3g", worst)
	if worst > 1e-4 {
		t.Errorf("max abs diff %.3g > 1e-4", worst)
	}
}

// detSize is the detector input side: 128 by default (1/25 of the work,
// levels 16², 8², 4², 2²), the real 640 with SHITU_LONG=1.
func detSize() int64 {
	if os.Getenv("SHITU_LONG") == "1" {
		return 640
	}
	return 128
}
