package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
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
	missing := filepath.Join(tmp, "missing.jpg")
	out, errs, code = run(t, "predict", "-c", cfg, "--no-draw", bad, missing, good)
	if code != 1 || !strings.Contains(errs, "broken.jpg") || !strings.Contains(out, `"label":"product_01"`) ||
		!strings.Contains(errs, "2 of 3 images") {
		t.Fatalf("predict with a broken and a missing file: exit %d\nstdout %s\nstderr %s", code, out, errs)
	}
	// seeded networks say so: a field on every line, one stderr line per run
	if strings.Count(out, `"synthetic":true`) != 1 || strings.Count(errs, "[SYNTHETIC]") != 1 {
		t.Errorf("synthetic marks: stdout %s\nstderr %s", out, errs)
	}
	for _, l := range strings.Split(errs, "\n") { // each error line names its file once
		if strings.Contains(l, "missing.jpg") && (strings.Count(l, "missing.jpg") != 1 || !strings.Contains(l, "no such file")) {
			t.Errorf("error line for the missing file: %q", l)
		}
		if strings.Contains(l, "broken.jpg") && strings.Count(l, "broken.jpg") != 1 {
			t.Errorf("error line for the broken file: %q", l)
		}
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

	// -o overrides apply: return_k 2 gives two candidates per box; a
	// mistyped key is a warning with a suggestion, printed once per run.
	out, errs, code = run(t, "predict", "-c", cfg, "-o", "IndexProcess.return_k=2", "-o", "Global.treshold=0.3",
		"-o", "Global.image_shape=[3, 640, 640]", "--no-draw", good, other) // a value with commas stays one -o
	if w := "shitu: warning: -o Global.treshold=0.3: Global.treshold: unknown key, ignored (did you mean threshold?)"; code != 0 || strings.Count(errs, w) != 1 {
		t.Fatalf("typo warning not printed once:\n%s", errs)
	}
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

	// Removing what is not there says so and exits 1; a real removal still works.
	out, errs, code = run(t, "gallery", "remove", "-c", cfg, "--label", "no_such_product")
	if code != 1 || !strings.Contains(errs, `nothing matched label "no_such_product"`) || !strings.Contains(out, "removed 0 items") {
		t.Fatalf("remove of an absent label: exit %d\n%s\n%s", code, out, errs)
	}
	out, errs, code = run(t, "gallery", "remove", "-c", cfg, "--label", "product_11")
	if code != 0 || !strings.Contains(out, "removed 3 items") {
		t.Fatalf("remove of a label: exit %d\n%s\n%s", code, out, errs)
	}
	// gallery add takes a folder as predict does
	out, errs, code = run(t, "gallery", "add", "-c", cfg, "--label", "product_11", filepath.Join(work, "synthetic", "gallery", "product_11"))
	if code != 0 || strings.Count(out, "added ") != 3 || !strings.Contains(out, filepath.Join("product_11", "2.jpg")) {
		t.Fatalf("gallery add of a folder: exit %d\n%s\n%s", code, out, errs)
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

// `models convert` gives an image feed stored as [-1,3,32,100] a dynamic
// height and width; --pin-input-shape keeps the stored size.
func TestModelsConvertPinInputShape(t *testing.T) {
	testutil.ORTLib(t)
	src := filepath.Join(testutil.SharedDir(t), "testdata", "real-models", "ch_ppocr_mobile_v2.0_cls", "paddle-2020")
	// A private copy: convert caches next to the model when it can write there.
	dir := t.TempDir()
	for _, f := range []string{"inference.pdmodel", "inference.pdiparams"} {
		b, err := os.ReadFile(filepath.Join(src, f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cache := t.TempDir()
	steps := []struct {
		flags []string
		shape string
	}{
		{nil, "[-1 3 -1 -1]"},
		{[]string{"--pin-input-shape"}, "[-1 3 32 100]"},
		{nil, "[-1 3 32 100]"}, // the pinned conversion stays cached
		{[]string{"--force"}, "[-1 3 -1 -1]"},
	}
	for i, st := range steps {
		out, errs, code := run(t, append([]string{"models", "convert", dir, "--cache", cache}, st.flags...)...)
		if code != 0 {
			t.Fatalf("step %d: exit %d: %s", i, code, errs)
		}
		k := strings.Index(out, "→ ")
		if k < 0 {
			t.Fatalf("step %d: output %q", i, out)
		}
		m, err := models.ReadManifest(filepath.Dir(strings.TrimSpace(out[k+len("→ "):])))
		if err != nil {
			t.Fatal(err)
		}
		if got := fmt.Sprint(m.Inputs[0].Shape); got != st.shape {
			t.Errorf("step %d %v: input %s, want %s", i, st.flags, got, st.shape)
		}
	}
	// models info counts MACs of a dynamic image input at a given size.
	onnxFile := filepath.Join(dir, models.ConvertedFile)
	out, _, code := run(t, "models", "info", onnxFile)
	if code != 0 || !strings.Contains(out, "dynamic height and width") {
		t.Errorf("models info (exit %d):\n%s", code, out)
	}
	out, _, code = run(t, "models", "info", "--input-size", "48x192", onnxFile)
	if code != 0 || !strings.Contains(out, "MACs:       16314976 ") || strings.Contains(out, "dynamic height and width") {
		t.Errorf("models info --input-size 48x192 (exit %d):\n%s", code, out)
	}
	if _, errs, code := run(t, "models", "info", "--input-size", "48", onnxFile); code == 0 || !strings.Contains(errs, "want HxW") {
		t.Errorf("--input-size 48: exit %d, %s", code, errs)
	}
}
