package train

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/shitu-go/shitu/internal/ortest"
	"github.com/shitu-go/shitu/onnx"
	"github.com/shitu-go/shitu/paddle"
	"github.com/shitu-go/shitu/tensor"
)

// tinyRun trains 8 products for a few epochs (a second or two).
func tinyRun(t *testing.T, dir string, seed int, extra ...string) (*Result, string, error) {
	t.Helper()
	const side = 32
	s := makeSynthSet(t, filepath.Join(dir, "data"), 8, 2, 1, side, 9)
	ov := append(smallOverrides(s, side, 3, 2, 8), "Global.seed="+itoa(seed))
	rc := loadRecipe(t, append(ov, extra...))
	var log strings.Builder
	out := filepath.Join(dir, "out")
	res, err := Run(context.Background(), Options{Recipe: rc, BaseModel: smallModel(t, side), Backend: ortest.Backend(t), Threads: 1, OutDir: out, Log: &log})
	return res, log.String(), err
}

func itoa(i int) string { return strconv.Itoa(i) }

// The same seed gives the same weights; another seed other weights.
func TestSeededRunsAreReproducible(t *testing.T) {
	ortest.Backend(t)
	read := func(seed int) []byte {
		dir := t.TempDir()
		if _, log, err := tinyRun(t, dir, seed); err != nil {
			t.Fatalf("%v\n%s", err, log)
		}
		b, err := os.ReadFile(filepath.Join(dir, "out", ONNXFile))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	a, b, c := read(1), read(1), read(2)
	if string(a) != string(b) {
		t.Error("two runs with seed 1 wrote different models")
	}
	if string(a) == string(c) {
		t.Error("seeds 1 and 2 wrote the same model")
	}
}

// Ctrl-C (a canceled context) during training leaves no model folder and
// no temporary files behind.
func TestCanceledRunLeavesNothing(t *testing.T) {
	be := ortest.Backend(t)
	dir := t.TempDir()
	const side = 32
	s := makeSynthSet(t, filepath.Join(dir, "data"), 8, 2, 1, side, 9)
	rc := loadRecipe(t, smallOverrides(s, side, 50, 2, 8))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w := &cancelAt{needle: "epoch 2/", cancel: cancel}
	out := filepath.Join(dir, "out")
	_, err := Run(ctx, Options{Recipe: rc, BaseModel: smallModel(t, side), Backend: be, Threads: 1, OutDir: out, Log: w})
	if !errors.Is(err, ErrCanceled) {
		t.Fatalf("err %v, want ErrCanceled", err)
	}
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if e.Name() != "data" {
			t.Errorf("left behind: %s", e.Name())
		}
	}
}

type cancelAt struct {
	needle string
	cancel func()
}

func (c *cancelAt) Write(p []byte) (int, error) {
	if strings.Contains(string(p), c.needle) {
		c.cancel()
	}
	return len(p), nil
}

// Bad input: missing images are errors naming the list line; a label with
// a single image and held-out labels absent from the gallery are warnings
// naming the lines.
func TestBadInputNamesTheLine(t *testing.T) {
	dir := t.TempDir()
	s := makeSynthSet(t, filepath.Join(dir, "data"), 4, 2, 1, 16, 3)
	rc := loadRecipe(t, smallOverrides(s, 16, 1, 1, 8))
	if err := os.WriteFile(s.train, []byte("train/product_00_0.png\tproduct_00\ntrain/product_00_1.png\tproduct_00\n\ntrain/nope.png\tproduct_01\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := prepare(rc)
	if !errors.Is(err, ErrData) || !strings.Contains(err.Error(), "train_list.txt:4") {
		t.Fatalf("missing image: %v", err)
	}
	if err := os.WriteFile(s.train, []byte("train/product_00_0.png\tproduct_00\ntrain/product_00_1.png\tproduct_00\ntrain/product_01_0.png\tproduct_01\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(s.gallery, []byte("gallery/product_00.png\tproduct_00\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := prepare(rc)
	if err != nil {
		t.Fatal(err)
	}
	all := strings.Join(p.warnings, "\n")
	for _, want := range []string{"single image", "train_list.txt:3 (product_01)", "absent from the held-out gallery", "query_list.txt:2 (product_01)", "training list does not have"} {
		if !strings.Contains(all, want) {
			t.Errorf("warnings lack %q:\n%s", want, all)
		}
	}
	if err := os.WriteFile(s.train, []byte("train/product_00_0.png\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := prepare(rc); !errors.Is(err, ErrData) || !strings.Contains(err.Error(), "train_list.txt:1") {
		t.Fatalf("line without label: %v", err)
	}
}

// Config errors name the key and line.
func TestRecipeErrors(t *testing.T) {
	for _, c := range []struct{ o, want string }{
		{"Optimizer.name=AdamW", "Optimizer.name"},
		{"Loss.Train.0={'ArcMargin': {}}", "unsupported loss"},
		{"DataLoader.Train.sampler.batch_size=6", "multiple of sample_per_id"},
		{"DataLoader.Train.dataset.transform_ops.2={'RandomErasing': {}}", "transform_ops.2.RandomErasing"},
		{"Loss.Train.1.TripletAngularMarginLoss.feature_from=backbone", "feature_from"},
	} {
		_, err := func() (*Recipe, error) {
			cfgRoot := loadRaw(t, []string{c.o})
			return RecipeFromConfig(cfgRoot, "train_general.yaml")
		}()
		if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("-o %s: %v, want an error naming %q", c.o, err, c.want)
		}
	}
	rc := loadRecipe(t, nil)
	if rc.CE.Epsilon != 0.1 || rc.Triplet.Margin != 0.5 || rc.Triplet.AP != 0.8 || rc.Triplet.AN != 0.4 || rc.Triplet.AbsoluteWeight != 0.1 ||
		!rc.Triplet.AddAbsolute || !rc.Triplet.NormalizeFeature || rc.Momentum != 0.9 || rc.L2 != 1e-5 || rc.SamplePerID != 4 || len(rc.Transforms) != 8 {
		t.Errorf("recipe %+v", rc)
	}
}

// PK batches hold P labels × K samples; the learning rate warms up
// linearly from 0 and then follows the cosine to eta_min.
func TestSamplerAndSchedule(t *testing.T) {
	labels := []int{0, 0, 0, 0, 0, 1, 1, 2, 2, 2, 2, 3}
	s := newPKSampler(labels, 4, 8, 4, "id_avg_prob", false)
	r := rand.New(rand.NewPCG(1, 2))
	for _, b := range s.epoch(r) {
		if len(b) != 8 {
			t.Fatalf("batch of %d", len(b))
		}
		count := map[int]int{}
		for _, i := range b {
			count[labels[i]]++
		}
		if len(count) != 2 {
			t.Errorf("batch labels %v, want 2 labels × 4", count)
		}
		for l, n := range count {
			if n != 4 {
				t.Errorf("label %d has %d samples in the batch", l, n)
			}
		}
	}
	if s.nBatches != 2 {
		t.Errorf("%d batches per epoch, want ceil(12/8) = 2", s.nBatches)
	}
	rc := &Recipe{Epochs: 10, LR: 0.06, WarmupEpochs: 5}
	const steps = 4
	if v := rc.lrAt(0, steps); v != 0 {
		t.Errorf("lr at 0 = %v, want 0", v)
	}
	if v := rc.lrAt(10, steps); math.Abs(v-0.03) > 1e-12 {
		t.Errorf("lr at 10 = %v, want 0.03", v)
	}
	if v := rc.lrAt(20, steps); math.Abs(v-0.06) > 1e-12 {
		t.Errorf("lr at 20 = %v, want 0.06", v)
	}
	if v := rc.lrAt(30, steps); math.Abs(v-0.03) > 1e-12 {
		t.Errorf("lr at 30 = %v, want 0.03 (half way down the cosine)", v)
	}
}

// A Paddle base folder (the official layout, as `shitu models pull`
// installs it): LoadBase converts it, and the export edits the base's own
// Paddle parameters, which then give the same features as the exported ONNX.
func TestPaddleBaseFolder(t *testing.T) {
	be := ortest.Backend(t)
	dir := t.TempDir()
	const side = 32
	m, err := onnx.Read(smallModel(t, side))
	if err != nil {
		t.Fatal(err)
	}
	pm, err := paddle.FromONNX(m)
	if err != nil {
		t.Fatal(err)
	}
	baseDir := filepath.Join(dir, "general_PPLCNetV2_base_pretrained_v1.0_infer")
	if err := paddle.Write(baseDir, pm); err != nil {
		t.Fatal(err)
	}
	model, resolved, err := LoadBase(context.Background(), baseDir, "", filepath.Join(dir, "cache"))
	if err != nil {
		t.Fatal(err)
	}
	s := makeSynthSet(t, filepath.Join(dir, "data"), 6, 2, 1, side, 4)
	rc := loadRecipe(t, smallOverrides(s, side, 2, 1, 8))
	out := filepath.Join(dir, "out")
	res, err := Run(context.Background(), Options{Recipe: rc, BaseModel: model, BaseDir: resolved, Backend: be, Threads: 1, OutDir: out})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Report.Warnings) > 0 && strings.Contains(strings.Join(res.Report.Warnings, " "), "no Paddle files") {
		t.Fatalf("warnings: %v", res.Report.Warnings)
	}
	got, err := paddle.Load(filepath.Join(out, "inference.pdmodel"))
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Program.Persistables()) != len(pm.Program.Persistables()) {
		t.Errorf("the exported program has %d persistables, the base %d", len(got.Program.Persistables()), len(pm.Program.Persistables()))
	}
	pb, err := paddle.ToONNX(got, paddle.ConvertOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ob, err := os.ReadFile(filepath.Join(out, ONNXFile))
	if err != nil {
		t.Fatal(err)
	}
	a, b := ortest.Exact(t, ob), ortest.Exact(t, pb)
	in := ortest.RandInput(5, 3, 3, side, side)
	d := ortest.MaxAbsDiff(t, ortest.Run(t, a, map[string]*tensor.Tensor{a.Inputs()[0].Name: in}), ortest.Run(t, b, map[string]*tensor.Tensor{b.Inputs()[0].Name: in}))
	if d > 1e-5 {
		t.Errorf("Paddle export vs ONNX export: max |Δ| %.3g", d)
	}
	// And the weights did change.
	base := ortest.Exact(t, model)
	d0 := ortest.MaxAbsDiff(t, ortest.Run(t, a, map[string]*tensor.Tensor{a.Inputs()[0].Name: in}), ortest.Run(t, base, map[string]*tensor.Tensor{base.Inputs()[0].Name: in}))
	if d0 < 1e-4 {
		t.Errorf("the fine-tuned model gives the base's features (max |Δ| %.3g)", d0)
	}
}

// Ctrl-C while the backbone features are being cached.
func TestCanceledWhileCaching(t *testing.T) {
	be := ortest.Backend(t)
	dir := t.TempDir()
	const side = 32
	s := makeSynthSet(t, filepath.Join(dir, "data"), 8, 2, 1, side, 9)
	rc := loadRecipe(t, smallOverrides(s, side, 2, 50, 8))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w := &cancelAt{needle: "caching backbone features", cancel: cancel}
	_, err := Run(ctx, Options{Recipe: rc, BaseModel: smallModel(t, side), Backend: be, Threads: 1, OutDir: filepath.Join(dir, "out"), Log: w})
	if !errors.Is(err, ErrCanceled) {
		t.Fatalf("err %v, want ErrCanceled", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "out")); !os.IsNotExist(err) {
		t.Errorf("output folder exists after an interrupted run: %v", err)
	}
}
