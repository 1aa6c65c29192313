package cli

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shitu-go/shitu/api"
	"github.com/shitu-go/shitu/gallery"
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
	// A stored per-label threshold (as `eval calibrate --save` writes) makes
	// predict answer unknown for that label only, candidates still listed.
	g, err := gallery.Open(filepath.Join(work, "index"), gallery.Options{})
	if err != nil {
		t.Fatal(err)
	}
	err = g.SetThresholds(0.5, map[string]float32{"product_01": 0.9999})
	g.Close()
	if err != nil {
		t.Fatal(err)
	}
	other := filepath.Join(work, "synthetic", "query", "query_2_product_02.jpg")
	out, _, code = run(t, "predict", "-c", cfg, "--no-draw", "--whole-image", "always", good, other)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 || len(lines) != 2 {
		t.Fatalf("predict with stored thresholds: exit %d\n%s", code, out)
	}
	var l1, l2 api.RecognizeResponse
	json.Unmarshal([]byte(lines[0]), &l1)
	json.Unmarshal([]byte(lines[1]), &l2)
	whole := func(l api.RecognizeResponse) api.Object {
		for _, o := range l.Objects {
			if o.WholeImage {
				return o
			}
		}
		return api.Object{}
	}
	if o := whole(l1); o.Label != nil || o.Threshold != 0.9999 || len(o.Candidates) == 0 || o.Candidates[0].Label != "product_01" {
		t.Fatalf("product_01 must be unknown under its stored threshold: %+v", o)
	}
	// An unknown answer is written as the /v1 API writes it: "label": null.
	if !strings.Contains(lines[0], `"label":null`) || l1.Path != good || l1.Gallery != "default" {
		t.Fatalf("predict's JSON line is not the /v1 answer: %s", lines[0])
	}
	if o := whole(l2); o.Label == nil || *o.Label != "product_02" || o.Threshold != 0.5 {
		t.Fatalf("product_02 must be accepted under the stored global threshold: %+v", o)
	}

	// -o overrides apply: return_k 2 gives two candidates per box.
	out, _, code = run(t, "predict", "-c", cfg, "-o", "IndexProcess.return_k=2", "--no-draw", good)
	var l3 api.RecognizeResponse
	json.Unmarshal([]byte(out), &l3)
	if code != 0 || len(l3.Objects) == 0 || len(whole(l3).Candidates) != 2 {
		t.Fatalf("-o IndexProcess.return_k=2: exit %d, %s", code, out)
	}

	// A stored global threshold of 0.999 rejects everything (PaddleClas format prints []).
	g, _ = gallery.Open(filepath.Join(work, "index"), gallery.Options{})
	g.SetThresholds(0.999, nil)
	g.Close()
	out, _, code = run(t, "predict", "-c", cfg, "--format", "paddleclas", "--no-draw", good)
	if code != 0 || strings.TrimSpace(out) != "[]" {
		t.Fatalf("stored global threshold: exit %d, %q", code, out)
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
