package cli

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shitu-go/shitu/arch"
	"github.com/shitu-go/shitu/internal/synthdata"
	"github.com/shitu-go/shitu/internal/testutil"
	"github.com/shitu-go/shitu/onnx"
	"github.com/shitu-go/shitu/train"
)

const trainRecConfig = `Global:
  rec_inference_model_dir: %q
  batch_size: 1
RecPreProcess:
  transform_ops:
    - ResizeImage:
        size: [%d, %d]
        interpolation: bilinear
    - NormalizeImage:
        scale: 1.0/255.0
        mean: [0.485, 0.456, 0.406]
        std: [0.229, 0.224, 0.225]
        order: hwc
    - ToCHWImage:
RecPostProcess: null
IndexProcess:
  index_method: "Flat"
  image_root: %q
  index_dir: %q
  data_file: %q
  index_operation: "new"
  delimiter: "\t"
  dist_type: "IP"
  embedding_size: 512
  batch_size: 32
  return_k: 5
  score_thres: 0.5
`

// shitu train on a synthetic product set, then the gallery bound to the
// old model is rebuilt with the new one (gallery build --sync) and
// `shitu eval retrieval` with the new model reproduces the report's
// held-out recall@1.
func TestTrainCommand(t *testing.T) {
	testutil.ORTLib(t)
	tmp := t.TempDir()
	const side = 32
	m, err := arch.BuildRec(4, arch.RecOptions{InputSize: side})
	if err != nil {
		t.Fatal(err)
	}
	b, err := onnx.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	base := filepath.Join(tmp, "base_rec")
	if err := synthdata.WriteFile(filepath.Join(base, "inference.onnx"), b); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(tmp, "data")
	r := rand.New(rand.NewPCG(1, 2))
	var tr, q, g strings.Builder
	for _, p := range synthdata.Products(10, 3) {
		for v := range 3 {
			rel := fmt.Sprintf("train/%s_%d.png", p.Label, v)
			pb, _ := synthdata.EncodePNG(synthdata.Perturb(p.Render(side, side, v+1), r.IntN(5)-2, r.IntN(5)-2, r.IntN(40)-20))
			if err := synthdata.WriteFile(filepath.Join(data, rel), pb); err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(&tr, "%s\t%s\n", rel, p.Label)
		}
		rel := fmt.Sprintf("gallery/%s.png", p.Label)
		pb, _ := synthdata.EncodePNG(p.Render(side, side, 0))
		if err := synthdata.WriteFile(filepath.Join(data, rel), pb); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&g, "%s\t%s\n", rel, p.Label)
		rel = fmt.Sprintf("query/%s.png", p.Label)
		pb, _ = synthdata.EncodePNG(synthdata.Perturb(p.Render(side, side, 50), r.IntN(5)-2, r.IntN(5)-2, r.IntN(40)-20))
		if err := synthdata.WriteFile(filepath.Join(data, rel), pb); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&q, "%s %s\n", rel, p.Label)
	}
	for f, s := range map[string]string{"train.txt": tr.String(), "gallery.txt": g.String(), "query.txt": q.String()} {
		if err := os.WriteFile(filepath.Join(data, f), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cfg := filepath.Join(tmp, "infer.yaml")
	index := filepath.Join(tmp, "index")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf(trainRecConfig, base, side, side, data, index, filepath.Join(data, "gallery.txt"))), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(tmp, "finetuned")
	sz := fmt.Sprintf("[%d, %d]", side, side)
	args := []string{"train", "-c", filepath.Join(testutil.RepoRoot(), "train", "testdata", "train_general.yaml"),
		"--infer-config", cfg, "--out", out, "--threads", "1",
		"-o", "Global.epochs=5", "-o", "Global.augment_views=2",
		"-o", "DataLoader.Train.dataset.image_root=" + data, "-o", "DataLoader.Train.dataset.cls_label_path=" + filepath.Join(data, "train.txt"),
		"-o", "DataLoader.Train.dataset.transform_ops.1.ResizeImage.size=" + sz, "-o", "DataLoader.Train.dataset.transform_ops.3.Pad.padding=2",
		"-o", "DataLoader.Train.dataset.transform_ops.4.RandCropImageV2.size=" + sz, "-o", "DataLoader.Train.dataset.transform_ops.6.ResizeImage.size=" + sz,
		"-o", "DataLoader.Train.sampler.batch_size=8",
		"-o", "DataLoader.Eval.Query.dataset.image_root=" + data, "-o", "DataLoader.Eval.Query.dataset.cls_label_path=" + filepath.Join(data, "query.txt"),
		"-o", "DataLoader.Eval.Gallery.dataset.image_root=" + data, "-o", "DataLoader.Eval.Gallery.dataset.cls_label_path=" + filepath.Join(data, "gallery.txt"),
	}
	stdout, stderr, code := run(t, args...)
	if code != 0 {
		t.Fatalf("train exit %d\n%s\n%s", code, stdout, stderr)
	}
	for _, want := range []string{"caching backbone features", "epoch 5/5", "recall@1", "gallery build"} {
		if !strings.Contains(stdout+stderr, want) {
			t.Errorf("output lacks %q:\n%s\n%s", want, stdout, stderr)
		}
	}
	var rep train.Report
	rb, err := os.ReadFile(filepath.Join(out, train.ReportJSON))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(rb, &rep); err != nil {
		t.Fatal(err)
	}
	var man train.Manifest
	mb, _ := os.ReadFile(filepath.Join(out, train.ManifestFile))
	if err := json.Unmarshal(mb, &man); err != nil || man.BaseModel != base || man.DataList == "" || man.ConfigSHA256 == "" {
		t.Errorf("manifest %s: %v", mb, err)
	}
	// A gallery made with the base model, then rebuilt with the new one.
	if o, e, c := run(t, "gallery", "build", "-c", cfg); c != 0 {
		t.Fatalf("gallery build: %d\n%s\n%s", c, o, e)
	}
	o, e, c := run(t, "gallery", "build", "-c", cfg, "-o", "Global.rec_inference_model_dir="+out, "--sync")
	if c != 0 || !strings.Contains(o, "another model") {
		t.Fatalf("rebuild with the new model: %d\n%s\n%s", c, o, e)
	}
	// eval retrieval with the new model reproduces the held-out figure.
	evOut := filepath.Join(tmp, "eval")
	if o, e, c := run(t, "eval", "retrieval", "-c", cfg, "-o", "Global.rec_inference_model_dir="+out,
		"--query", filepath.Join(data, "query.txt"), "--gallery", filepath.Join(data, "gallery.txt"), "--out", evOut); c != 0 {
		t.Fatalf("eval: %d\n%s\n%s", c, o, e)
	}
	var er struct {
		Retrieval struct {
			Recall []struct {
				K     int     `json:"k"`
				Value float64 `json:"value"`
			} `json:"recall"`
		} `json:"retrieval"`
	}
	eb, err := os.ReadFile(filepath.Join(evOut, "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(eb, &er); err != nil {
		t.Fatal(err)
	}
	if len(er.Retrieval.Recall) == 0 || er.Retrieval.Recall[0].K != 1 || math.Abs(er.Retrieval.Recall[0].Value-rep.After.Recall1) > 1e-9 {
		t.Errorf("eval retrieval with the new model: %s; the train report says recall@1 %.4f", eb, rep.After.Recall1)
	}
	t.Logf("held-out recall@1 %.4f → %.4f; shitu eval retrieval with the new model: %v", rep.Before.Recall1, rep.After.Recall1, er.Retrieval.Recall)
}
