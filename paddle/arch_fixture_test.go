package paddle

import (
	"archive/tar"
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shitu-go/shitu/arch"
	"github.com/shitu-go/shitu/onnx"
	"github.com/shitu-go/shitu/tensor"
)

// untar extracts a (trusted, test-made) tarball into dir.
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
func officialRoundTrip(t *testing.T, m *Model, prefix string) *Model {
	t.Helper()
	var buf bytes.Buffer
	if err := WriteTar(&buf, prefix, m); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	untar(t, buf.Bytes(), dir)
	for _, f := range []string{"inference.pdmodel", "inference.pdiparams", "inference.pdiparams.info"} {
		if _, err := os.Stat(filepath.Join(dir, prefix, f)); err != nil {
			t.Fatalf("tarball lacks %s/%s: %v", prefix, f, err)
		}
	}
	back, err := Load(filepath.Join(dir, prefix))
	if err != nil {
		t.Fatal(err)
	}
	return back
}

// The rec fixture: arch's seeded PPLCNetV2 network written as an official
// Paddle model converts back to ONNX with the same outputs as arch's ONNX.
func TestArchRecRoundTrip(t *testing.T) {
	ref, err := arch.BuildRec(7, arch.RecOptions{})
	if err != nil {
		t.Fatal(err)
	}
	m, err := FromONNX(ref)
	if err != nil {
		t.Fatal(err)
	}
	back := officialRoundTrip(t, m, "general_PPLCNetV2_base_pretrained_v1.0_infer")
	p := back.Program
	// Structural facts of the released rec model (models-and-formats §F.3).
	if n := len(p.Persistables()); n != 171 {
		t.Errorf("%d persistables, want 171", n)
	}
	inv := back.OpInventory()
	if inv["batch_norm"] != 26 || inv["dropout"] != 1 || inv["feed"] != 1 || inv["fetch"] != 1 {
		t.Errorf("inventory %s", FormatInventory(inv))
	}
	if got := p.Fetches(); len(got) != 1 || got[0] != "batch_norm_25.tmp_2" {
		t.Errorf("fetches %v, want [batch_norm_25.tmp_2]", got)
	}
	t.Logf("rec fixture ops: %s", FormatInventory(inv))
	ours, err := ToONNX(back, ConvertOptions{})
	if err != nil {
		t.Fatal(err)
	}
	refBytes, err := onnx.Marshal(ref)
	if err != nil {
		t.Fatal(err)
	}
	compareModels(t, ours, refBytes, "x", []int{2, 3, 224, 224})
}

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
