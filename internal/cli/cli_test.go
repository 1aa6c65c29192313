package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shitu-go/shitu/internal/testutil"
	"github.com/shitu-go/shitu/models"
)

func run(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Main(append([]string{"--ort-lib", testutil.ORTLibPath()}, args...), &out, &errb)
	return out.String(), errb.String(), code
}

// TestDemoFromMirror is the quick start offline: a mirror folder of
// official-layout Paddle tarballs (the synthesized networks, written by the
// paddle writer) → pull → convert → gallery build → recognise → draw.
func TestDemoFromMirror(t *testing.T) {
	testutil.ORTLib(t)
	tmp := t.TempDir()
	mirror := filepath.Join(tmp, "mirror")
	if _, err := models.SynthMirror(mirror, 1); err != nil {
		t.Fatal(err)
	}
	work := filepath.Join(tmp, "demo")
	out, errs, code := run(t, "demo", "--mirror", mirror, "--root", filepath.Join(tmp, "models"), "--dir", work)
	if code != 0 {
		t.Fatalf("demo exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errs)
	}
	for _, want := range []string{"models from mirror", "converting to ONNX", "building the gallery", "36 added",
		"[{'bbox': [0, 0, 240, 320], 'rec_docs': 'product_00', 'rec_scores': "} {
		if !strings.Contains(out+errs, want) {
			t.Errorf("demo output lacks %q:\n%s\n%s", want, out, errs)
		}
	}
	for _, name := range []string{"query_0_product_00.jpg", "shelf_0.jpg"} {
		if st, err := os.Stat(filepath.Join(work, "output", name)); err != nil || st.Size() == 0 {
			t.Errorf("visualisation %s missing: %v", name, err)
		}
	}
	// the converted models were cached next to the pulled Paddle files
	for _, m := range []string{"picodet_PPLCNet_x2_5_mainbody_lite_v1.0_infer", "general_PPLCNetV2_base_pretrained_v1.0_infer"} {
		if _, err := os.Stat(filepath.Join(tmp, "models", m, models.ConvertedFile)); err != nil {
			t.Errorf("%s not converted: %v", m, err)
		}
	}

	// predict on the same config: JSON lines, and an unreadable file gives
	// an error line, the run goes on, the exit code is 1.
	cfg := filepath.Join(work, "inference_demo.yaml")
	bad := filepath.Join(tmp, "broken.jpg")
	os.WriteFile(bad, []byte("not a jpeg"), 0o644)
	good := filepath.Join(work, "synthetic", "query", "query_1_product_01.jpg")
	out, errs, code = run(t, "predict", "-c", cfg, "--no-draw", bad, good)
	if code != 1 || !strings.Contains(errs, "broken.jpg") || !strings.Contains(out, `"label":"product_01"`) {
		t.Fatalf("predict with a broken file: exit %d\nstdout %s\nstderr %s", code, out, errs)
	}
	// -o overrides apply: a threshold of 0.999 rejects everything (PaddleClas format prints []).
	out, _, code = run(t, "predict", "-c", cfg, "-o", "IndexProcess.score_thres=0.999", "--format", "paddleclas", "--no-draw", good)
	if code != 0 || strings.TrimSpace(out) != "[]" {
		t.Fatalf("override: exit %d, %q", code, out)
	}
}

func TestUsageErrors(t *testing.T) {
	_, errs, code := run(t, "nonsense")
	if code != 2 || !strings.Contains(errs, "unexpected argument") {
		t.Fatalf("exit %d: %s", code, errs)
	}
	_, errs, code = run(t, "predict", "-c", filepath.Join(t.TempDir(), "missing.yaml"))
	if code == 0 || errs == "" {
		t.Fatalf("missing config: exit %d: %s", code, errs)
	}
	out, _, code := run(t, "version")
	if code != 0 || !strings.HasPrefix(out, "shitu ") {
		t.Fatalf("version: %d %q", code, out)
	}
}
