package config

import (
	"path/filepath"
	"strings"
	"testing"
)

func TestWarnings(t *testing.T) {
	yml := `Global:
  rec_inference_model_dir: ./rec
  treshold: 0.3
  use_gpu: True
  use_fp16: True
  enable_mkldnn: true
IndexProcess:
  index_dir: ./index
  scor_thres: 0.4
RecPreProcess:
  transform_ops:
    - ResizeImage:
        size: 224
        return_numpy: False
        intrepolation: 1
IndexProces: {}
Arch: {name: RecModel}
`
	c, err := Parse([]byte(yml), "c.yaml", []string{"Global.max_det_result=3", "IndexProcess.return_k=3"})
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(c.Warnings(), "\n")
	for _, want := range []string{
		"c.yaml:3: Global.treshold: unknown key, ignored (did you mean threshold?)",
		"c.yaml:9: IndexProcess.scor_thres: unknown key, ignored (did you mean score_thres?)",
		"c.yaml:15: RecPreProcess.transform_ops.0.ResizeImage.intrepolation: unknown key, ignored (did you mean interpolation?)",
		"c.yaml:16: IndexProces: unknown section, ignored (did you mean IndexProcess?)",
		"-o Global.max_det_result=3: Global.max_det_result: unknown key, ignored (did you mean max_det_results?)",
		"c.yaml:5: Global.use_fp16: True is ignored: fp16 applies to TensorRT engines only",
		"c.yaml:6: Global.enable_mkldnn: True is ignored",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("missing warning %q in:\n%s", want, got)
		}
	}
	// use_gpu maps to ONNX Runtime's CUDA provider; a CPU-only library is
	// reported when the models load, not here.
	for _, not := range []string{"return_numpy", "Global.use_gpu", "Arch", "return_k"} {
		if strings.Contains(got, not) {
			t.Errorf("warned about %s:\n%s", not, got)
		}
	}
	if n := len(c.Warnings()); n != 7 {
		t.Errorf("%d warnings, want 7:\n%s", n, got)
	}
}

// The official configs have no unknown keys: only the options shitu
// ignores are reported.
func TestOfficialConfigsNoUnknownKeys(t *testing.T) {
	files, _ := filepath.Glob("../../shared/testdata/configs/paddleclas/*.yaml")
	if len(files) == 0 {
		t.Skip("../shared/testdata/configs absent")
	}
	for _, f := range files {
		c, err := Load(f, nil)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, w := range c.Warnings() {
			if !strings.Contains(w, "is ignored:") {
				t.Errorf("%s: %s", filepath.Base(f), w)
			}
		}
	}
}

func TestEditDistance(t *testing.T) {
	for _, c := range []struct {
		a, b string
		d    int
	}{{"", "", 0}, {"abc", "abc", 0}, {"treshold", "threshold", 1}, {"scor_thres", "score_thres", 1}, {"ab", "ba", 1}, {"kitten", "sitting", 3}, {"安慕希", "安慕", 1}} {
		if got := editDistance(c.a, c.b); got != c.d {
			t.Errorf("%q %q: %d, want %d", c.a, c.b, got, c.d)
		}
	}
}
