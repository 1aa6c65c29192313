package train

import (
	"context"
	"fmt"
	"image"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/shitu-go/shitu/arch"
	"github.com/shitu-go/shitu/config"
	"github.com/shitu-go/shitu/eval"
	"github.com/shitu-go/shitu/feature"
	"github.com/shitu-go/shitu/imaging"
	"github.com/shitu-go/shitu/internal/ortest"
	"github.com/shitu-go/shitu/internal/synthdata"
	"github.com/shitu-go/shitu/onnx"
	"github.com/shitu-go/shitu/paddle"
	"github.com/shitu-go/shitu/tensor"
)

// synthSet writes a seeded product set: for every product, trainViews
// photos for training (other framings, shifted and brightened), one canonical gallery view and queryViews
// held-out query views (other framings, shifted and brightened), as PNG
// files with path<TAB>label lists.
type synthSet struct {
	root                  string
	train, query, gallery string
}

func makeSynthSet(t testing.TB, dir string, products, trainViews, queryViews, side int, seed uint64) synthSet {
	t.Helper()
	s := synthSet{root: dir, train: filepath.Join(dir, "train_list.txt"), query: filepath.Join(dir, "query_list.txt"), gallery: filepath.Join(dir, "gallery_list.txt")}
	r := rand.New(rand.NewPCG(seed, 77))
	var tr, qu, ga strings.Builder
	write := func(rel string, img image.Image) {
		b, err := synthdata.EncodePNG(img)
		if err != nil {
			t.Fatal(err)
		}
		if err := synthdata.WriteFile(filepath.Join(dir, rel), b); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range synthdata.Products(products, seed) {
		for v := range trainViews {
			rel := fmt.Sprintf("train/%s_%d.png", p.Label, v)
			write(rel, synthdata.Perturb(p.Render(side, side, v+1), r.IntN(side/6)-side/12, r.IntN(side/6)-side/12, r.IntN(60)-30))
			fmt.Fprintf(&tr, "%s\t%s\n", rel, p.Label)
		}
		rel := fmt.Sprintf("gallery/%s.png", p.Label)
		write(rel, p.Render(side, side, 0))
		fmt.Fprintf(&ga, "%s\t%s\n", rel, p.Label)
		for q := range queryViews {
			img := synthdata.Perturb(p.Render(side, side, 100+q), r.IntN(side/6)-side/12, r.IntN(side/6)-side/12, r.IntN(60)-30)
			rel := fmt.Sprintf("query/%s_%d.png", p.Label, q)
			write(rel, img)
			fmt.Fprintf(&qu, "%s\t%s\n", rel, p.Label)
		}
	}
	for f, b := range map[string]string{s.train: tr.String(), s.query: qu.String(), s.gallery: ga.String()} {
		if err := os.WriteFile(f, []byte(b), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

// smallOverrides point the shipped config at the synthetic set and a
// model of input side `side`.
func smallOverrides(s synthSet, side, epochs, views, batch int) []string {
	sz := fmt.Sprintf("[%d, %d]", side, side)
	return []string{
		"Global.epochs=" + fmt.Sprint(epochs),
		"Global.augment_views=" + fmt.Sprint(views),
		"DataLoader.Train.dataset.image_root=" + s.root,
		"DataLoader.Train.dataset.cls_label_path=" + s.train,
		"DataLoader.Train.dataset.transform_ops.1.ResizeImage.size=" + sz,
		"DataLoader.Train.dataset.transform_ops.3.Pad.padding=" + fmt.Sprint(max(1, side/22)),
		"DataLoader.Train.dataset.transform_ops.4.RandCropImageV2.size=" + sz,
		"DataLoader.Train.dataset.transform_ops.6.ResizeImage.size=" + sz,
		"DataLoader.Train.sampler.batch_size=" + fmt.Sprint(batch),
		"DataLoader.Eval.Query.dataset.image_root=" + s.root,
		"DataLoader.Eval.Query.dataset.cls_label_path=" + s.query,
		"DataLoader.Eval.Gallery.dataset.image_root=" + s.root,
		"DataLoader.Eval.Gallery.dataset.cls_label_path=" + s.gallery,
	}
}

func loadRaw(t testing.TB, overrides []string) *config.Value {
	t.Helper()
	cfg, err := config.Load("testdata/train_general.yaml", overrides)
	if err != nil {
		t.Fatal(err)
	}
	return cfg.Raw
}

func loadRecipe(t testing.TB, overrides []string) *Recipe {
	t.Helper()
	rc, err := RecipeFromConfig(loadRaw(t, overrides), "testdata/train_general.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return rc
}

var smallModels sync.Map // side → []byte

func smallModel(t testing.TB, side int64) []byte {
	t.Helper()
	if b, ok := smallModels.Load(side); ok {
		return b.([]byte)
	}
	m, err := arch.BuildRec(11, arch.RecOptions{InputSize: side})
	if err != nil {
		t.Fatal(err)
	}
	b, err := onnx.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	smallModels.Store(side, b)
	return b
}

// It learns (always-run version): 20 synthetic products at 64×64 on a
// 64-pixel PPLCNetV2 with seeded weights; fine-tuning the head raises
// held-out recall@1. The ≥50-product, 224-pixel version is
// TestLearnsLong (SHITU_LONG=1).
func TestLearnsSmall(t *testing.T) {
	be := ortest.Backend(t)
	dir := t.TempDir()
	const side = 64
	s := makeSynthSet(t, filepath.Join(dir, "data"), 20, 4, 2, side, 5)
	rc := loadRecipe(t, smallOverrides(s, side, 60, 4, 16))
	var log strings.Builder
	res, err := Run(context.Background(), Options{Recipe: rc, BaseModel: smallModel(t, side), BaseDir: "arch seed 11 (64 px)",
		Backend: be, Threads: 2, OutDir: filepath.Join(dir, "out"), Log: &log})
	if err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	rep := res.Report
	t.Logf("\n%s", rep.Text())
	if rep.After.Recall1 <= rep.Before.Recall1 || rep.After.MAP <= rep.Before.MAP {
		t.Errorf("held-out recall@1 %.4f → %.4f, mAP %.4f → %.4f: no gain", rep.Before.Recall1, rep.After.Recall1, rep.Before.MAP, rep.After.MAP)
	}
	first, last := rep.Loss[0].Loss, rep.Loss[len(rep.Loss)-1].Loss
	if last >= first {
		t.Errorf("loss %.4f → %.4f did not fall", first, last)
	}
	checkRoundTrip(t, res, s, side)
}

// checkRoundTrip: the exported folder loads in shitu — its ONNX, run by
// the feature extractor on the held-out images, gives the embeddings the
// trainer computed (so a gallery built with it reproduces the held-out
// figures), and its Paddle files convert to a network giving the same
// features as the ONNX (≤ 1e-5).
func checkRoundTrip(t *testing.T, res *Result, s synthSet, side int) {
	t.Helper()
	for _, f := range []string{ONNXFile, "inference.pdmodel", "inference.pdiparams", ManifestFile, ReportText, ReportJSON, LossPNG, RecallPNG} {
		if _, err := os.Stat(filepath.Join(res.Dir, f)); err != nil {
			t.Errorf("output folder: %v", err)
		}
	}
	ob, err := os.ReadFile(filepath.Join(res.Dir, ONNXFile))
	if err != nil {
		t.Fatal(err)
	}
	sess := ortest.Exact(t, ob)
	ext, err := feature.New(sess, feature.Config{Width: side, Height: side})
	if err != nil {
		t.Fatal(err)
	}
	q, _ := ReadList(s.query, s.root)
	g, _ := ReadList(s.gallery, s.root)
	embed := func(ss []Sample) [][]float32 {
		var imgs []*imaging.Image
		for _, x := range ss {
			img, err := imaging.DecodeFile(x.Path, imaging.DecodeOptions{})
			if err != nil {
				t.Fatal(err)
			}
			imgs = append(imgs, img)
		}
		v, err := ext.Extract(context.Background(), imgs)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	qv, gv := embed(q), embed(g)
	// The trainer's own embeddings of the same images (float64 head on
	// cached pooled features).
	bsess := ortest.Exact(t, mustCut(t, ob))
	bb, err := newBackbone(bsess, res.Head.In, 16)
	if err != nil {
		t.Fatal(err)
	}
	pf, _, err := bb.cache(context.Background(), samplePaths(q), defaultEvalTransform(side), 1, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	hv := EmbedFeatures(res.Head, pf)
	var worst float64
	for i := range hv {
		for k := range hv[i] {
			worst = max(worst, math.Abs(float64(hv[i][k]-qv[i][k])))
		}
	}
	t.Logf("exported ONNX vs trainer embeddings: max |Δ| %.2g", worst)
	if worst > 1e-5 {
		t.Errorf("exported ONNX features differ from the trainer's by %.3g", worst)
	}
	qs, gs := eval.Set{Vecs: qv}, eval.Set{Vecs: gv}
	for _, x := range q {
		qs.Labels = append(qs.Labels, x.Label)
	}
	for _, x := range g {
		gs.Labels = append(gs.Labels, x.Label)
	}
	r, err := eval.Retrieval(qs, gs, eval.RetrievalOptions{})
	if err != nil {
		t.Fatal(err)
	}
	r1, mAP := eval.RecallAt(r.ExactRecall, 1), float64(r.ExactMAP)
	t.Logf("gallery of exported-model features: recall@1 %.4f, mAP %.4f (trainer: %.4f, %.4f)", r1, mAP, res.Report.After.Recall1, res.Report.After.MAP)
	if math.Abs(r1-res.Report.After.Recall1) > 1e-9 || math.Abs(mAP-res.Report.After.MAP) > 1e-4 {
		t.Errorf("exported model: recall@1 %.4f mAP %.4f, the report says %.4f %.4f", r1, mAP, res.Report.After.Recall1, res.Report.After.MAP)
	}
	// Paddle files → ONNX (shitu's converter) → same features as the ONNX.
	pm, err := paddle.Load(filepath.Join(res.Dir, "inference.pdmodel"))
	if err != nil {
		t.Fatal(err)
	}
	pb, err := paddle.ToONNX(pm, paddle.ConvertOptions{})
	if err != nil {
		t.Fatal(err)
	}
	psess := ortest.Exact(t, pb)
	in := ortest.RandInput(3, 4, 3, side, side)
	a := ortest.Run(t, sess, map[string]*tensor.Tensor{sess.Inputs()[0].Name: in})
	b := ortest.Run(t, psess, map[string]*tensor.Tensor{psess.Inputs()[0].Name: in})
	d := ortest.MaxAbsDiff(t, a, b)
	t.Logf("Paddle folder vs ONNX: max |Δ| %.2g", d)
	if d > 1e-5 {
		t.Errorf("Paddle and ONNX exports differ by %.3g", d)
	}
}

func mustCut(t *testing.T, model []byte) []byte {
	t.Helper()
	m, err := onnx.Read(model)
	if err != nil {
		t.Fatal(err)
	}
	tl, err := findTail(m)
	if err != nil {
		t.Fatal(err)
	}
	b, err := cutBackbone(m, tl)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
