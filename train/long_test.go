package train

import (
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/shitu-go/shitu/arch"
	"github.com/shitu-go/shitu/internal/ortest"
	"github.com/shitu-go/shitu/onnx"
)

func needLong(t *testing.T) {
	t.Helper()
	if os.Getenv("SHITU_LONG") != "1" {
		t.Skip("set SHITU_LONG=1: the full-size version takes minutes")
	}
}

// It learns (full version): 60 synthetic products, 224×224, the
// synthesized PP-ShiTuV2 recognition model (arch seed 1, as `shitu models
// synth` writes it), the shipped recipe; held-out recall@1 before → after,
// and the exported model's round trip.
//
//	SHITU_LONG=1 go test ./train -run TestLearnsLong -v
func TestLearnsLong(t *testing.T) {
	needLong(t)
	be := ortest.Backend(t)
	dir := t.TempDir()
	const side = 224
	s := makeSynthSet(t, filepath.Join(dir, "data"), 60, 4, 2, side, 5)
	rc := loadRecipe(t, smallOverrides(s, side, 60, 5, 32))
	var log strings.Builder
	base := synthRec(t)
	res, err := Run(context.Background(), Options{Recipe: rc, BaseModel: base, BaseDir: "shitu models synth --seed 1 (recognition model)",
		Backend: be, OutDir: filepath.Join(dir, "out"), Log: &log})
	if err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	rep := res.Report
	t.Logf("\n%s", rep.Text())
	if rep.After.Recall1 <= rep.Before.Recall1 {
		t.Errorf("held-out recall@1 %.4f → %.4f: no gain", rep.Before.Recall1, rep.After.Recall1)
	}
	checkRoundTrip(t, res, s, side)
}

// synthRec is the recognition model `shitu models synth --seed 1` writes
// (models.Synth: arch.BuildRec(seed, RecOptions{}), 224×224).
func synthRec(t *testing.T) []byte {
	t.Helper()
	m, err := arch.BuildRec(1, arch.RecOptions{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := onnx.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Cost of an epoch at 1,000 images × 10 augmented views (the head only;
// the cached features are drawn at random here, the epoch does not
// depend on their values), batch 64 (16 ids × 4), 512-d embedding.
//
//	SHITU_LONG=1 go test ./train -run TestEpochCost -v
func TestEpochCost(t *testing.T) {
	needLong(t)
	const images, views, in, classes = 1000, 10, 1024, 100
	r := rand.New(rand.NewPCG(1, 1))
	feats := make([]float32, images*views*in)
	for i := range feats {
		feats[i] = float32(r.ExpFloat64())
	}
	labels := make([]int, images)
	for i := range labels {
		labels[i] = i % classes
	}
	h := smallHead(r, in, 512, classes)
	rc := loadRecipe(t, []string{"DataLoader.Train.sampler.batch_size=64"})
	tr := &trainer{rc: rc, head: h, feats: feats, labels: labels, views: views, rng: r}
	s := newPKSampler(labels, classes, rc.BatchSize, rc.SamplePerID, rc.SampleMethod, rc.DropLast)
	var ms runtime.MemStats
	t0 := time.Now()
	const epochs = 3
	for ep := range epochs {
		tr.epoch(s, ep)
	}
	runtime.ReadMemStats(&ms)
	t.Logf("epoch of %d images (%d cached views each, %d steps of %d): %.2fs on GOMAXPROCS=%d; cached features %.1f MiB; Go heap %.1f MiB",
		images, views, s.nBatches, rc.BatchSize, time.Since(t0).Seconds()/epochs, runtime.GOMAXPROCS(0),
		float64(len(feats)*4)/(1<<20), float64(ms.HeapSys)/(1<<20))
}

// Cost of a realistic run: 1,000 training images (100 products × 10
// photos, 224×224 PNG) × 10 augmented views through the synthesized
// PP-ShiTuV2 backbone on all cores, then 3 epochs; the report's caching
// throughput and model busy share, the epoch time, and the process's peak
// resident memory.
//
//	SHITU_LONG=1 go test ./train -run TestCostLong -v -timeout 30m
func TestCostLong(t *testing.T) {
	needLong(t)
	be := ortest.Backend(t)
	dir := t.TempDir()
	const side = 224
	s := makeSynthSet(t, filepath.Join(dir, "data"), 100, 10, 1, side, 8)
	rc := loadRecipe(t, smallOverrides(s, side, 3, 10, 64))
	res, err := Run(context.Background(), Options{Recipe: rc, BaseModel: synthRec(t), Backend: be, OutDir: filepath.Join(dir, "out")})
	if err != nil {
		t.Fatal(err)
	}
	rep := res.Report
	hwm := ""
	if b, err := os.ReadFile("/proc/self/status"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(l, "VmHWM") {
				hwm = strings.TrimSpace(strings.TrimPrefix(l, "VmHWM:"))
			}
		}
	}
	t.Logf("caching %d views: %.1fs, %.1f images/s, model busy %.0f%%; epoch %.2fs (%d steps of 64); cached features %.1f MiB; Go heap %.1f MiB; peak RSS %s",
		rep.Cache.Views, rep.Cache.Seconds, rep.Cache.ImagesPerSec, 100*rep.Cache.BusyShare, rep.EpochSeconds, rep.StepsPerEpoch,
		float64(rep.CacheBytes)/(1<<20), float64(rep.HeapSysBytes)/(1<<20), hwm)
}
