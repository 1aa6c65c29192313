package train

import (
	"context"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"runtime"
	"time"

	"github.com/shitu-go/shitu/eval"
	"github.com/shitu-go/shitu/infer"
	"github.com/shitu-go/shitu/onnx"
)

// Options configure Run.
type Options struct {
	Recipe *Recipe
	// ConfigPath and ConfigText are recorded in the manifest.
	ConfigPath string
	ConfigText []byte
	// BaseModel is the ONNX of the recognition model to start from;
	// BaseDir the folder it came from (recorded; when it holds Paddle
	// files, their parameters are edited for the Paddle export).
	BaseModel []byte
	BaseDir   string
	// Backend runs the backbone; Threads is its intra-op thread count (default all CPUs).
	Backend infer.Backend
	Threads int
	// BatchSize of backbone runs while caching (default 16).
	BatchSize int
	// OutDir overrides Recipe.OutDir.
	OutDir string
	// Log receives progress lines (nil: none).
	Log io.Writer
	// Now stamps the manifest (default time.Now).
	Now func() time.Time
}

// Result is what Run did.
type Result struct {
	Dir    string
	Report *Report
	// Head is the trained head (for tests and in-process checks).
	Head *Head
	// Base is the head as the base model has it.
	Base *Head
}

func (o *Options) logf(format string, a ...any) {
	if o.Log != nil {
		fmt.Fprintf(o.Log, format+"\n", a...)
	}
}

// prepared holds the data of a run once the lists are read and checked.
type prepared struct {
	train          []Sample
	labels         []int
	classes        []string
	query, gallery []Sample
	warnings       []string
}

func prepare(rc *Recipe) (*prepared, error) {
	p := &prepared{}
	var err error
	if p.train, err = ReadList(rc.TrainList, rc.TrainRoot); err != nil {
		return nil, err
	}
	if err := checkFiles(rc.TrainList, p.train); err != nil {
		return nil, err
	}
	idx := map[string]int{}
	count := map[string]int{}
	first := map[string]int{}
	for _, s := range p.train {
		if _, ok := idx[s.Label]; !ok {
			idx[s.Label] = len(p.classes)
			p.classes = append(p.classes, s.Label)
			first[s.Label] = s.Line
		}
		count[s.Label]++
		p.labels = append(p.labels, idx[s.Label])
	}
	if len(p.classes) < 2 {
		return nil, fmt.Errorf("%w: %s has %d label(s); training needs at least 2", ErrData, rc.TrainList, len(p.classes))
	}
	var singles []string
	for _, c := range p.classes {
		if count[c] == 1 {
			singles = append(singles, fmt.Sprintf("%s:%d (%s)", rc.TrainList, first[c], c))
		}
	}
	if len(singles) > 0 {
		p.warn("%d label(s) have a single image, so their positives are copies of it (augmented views differ): %s", len(singles), clip(singles))
	}
	if pp := rc.BatchSize / rc.SamplePerID; pp > len(p.classes) {
		p.warn("the sampler wants %d labels per batch and the list has %d; batches take all of them", pp, len(p.classes))
	}
	if rc.QueryList == "" && rc.GalleryList == "" {
		p.warn("no held-out lists (DataLoader.Eval.Query/Gallery.dataset.cls_label_path): the report has no recall figures")
		return p, nil
	}
	if rc.QueryList == "" || rc.GalleryList == "" {
		return nil, fmt.Errorf("%w: give both DataLoader.Eval.Query and DataLoader.Eval.Gallery lists", ErrConfig)
	}
	if p.query, err = ReadList(rc.QueryList, rc.QueryRoot); err != nil {
		return nil, err
	}
	if err := checkFiles(rc.QueryList, p.query); err != nil {
		return nil, err
	}
	if p.gallery, err = ReadList(rc.GalleryList, rc.GalleryRoot); err != nil {
		return nil, err
	}
	if err := checkFiles(rc.GalleryList, p.gallery); err != nil {
		return nil, err
	}
	inGal := map[string]bool{}
	for _, s := range p.gallery {
		inGal[s.Label] = true
	}
	var absent, unseen []string
	for _, s := range p.query {
		if !inGal[s.Label] {
			absent = append(absent, fmt.Sprintf("%s:%d (%s)", rc.QueryList, s.Line, s.Label))
		}
		if _, ok := idx[s.Label]; !ok {
			unseen = append(unseen, fmt.Sprintf("%s:%d (%s)", rc.QueryList, s.Line, s.Label))
		}
	}
	if len(absent) > 0 {
		p.warn("%d held-out queries have a label absent from the held-out gallery; recall counts them as misses: %s", len(absent), clip(absent))
	}
	if len(unseen) > 0 {
		p.warn("%d held-out queries have a label the training list does not have: %s", len(unseen), clip(unseen))
	}
	return p, nil
}

func (p *prepared) warn(format string, a ...any) {
	p.warnings = append(p.warnings, fmt.Sprintf(format, a...))
}

func clip(s []string) string {
	const n = 10
	if len(s) <= n {
		return fmt.Sprint(s)
	}
	return fmt.Sprintf("%v and %d more", s[:n], len(s)-n)
}

// Run fine-tunes the head of the base model and writes the new model folder.
func Run(ctx context.Context, o Options) (*Result, error) {
	rc := o.Recipe
	if rc == nil {
		return nil, fmt.Errorf("%w: no recipe", ErrConfig)
	}
	if o.Backend == nil {
		return nil, fmt.Errorf("%w: no inference backend", ErrConfig)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	out := o.OutDir
	if out == "" {
		out = rc.OutDir
	}
	if len(rc.Transforms) == 0 {
		return nil, fmt.Errorf("%w: DataLoader.Train.dataset.transform_ops is empty", ErrConfig)
	}
	p, err := prepare(rc)
	if err != nil {
		return nil, err
	}
	for _, w := range p.warnings {
		o.logf("train: warning: %s", w)
	}
	base, err := onnx.Read(o.BaseModel)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrModel, err)
	}
	t, err := findTail(base)
	if err != nil {
		return nil, err
	}
	head0, err := headFromGraph(base, t)
	if err != nil {
		return nil, err
	}
	cut, err := cutBackbone(base, t)
	if err != nil {
		return nil, err
	}
	threads := o.Threads
	if threads <= 0 {
		threads = runtime.NumCPU()
	}
	sess, err := o.Backend.Open(cut, infer.Options{IntraOpThreads: threads})
	if err != nil {
		return nil, fmt.Errorf("%w: backbone: %v", ErrModel, err)
	}
	defer sess.Close()
	bb, err := newBackbone(sess, t.In, max(o.BatchSize, 16))
	if err != nil {
		return nil, err
	}
	rep := &Report{Base: o.BaseDir, Config: o.ConfigPath, Data: rc.TrainList, Seed: rc.Seed, Epochs: rc.Epochs,
		Classes: len(p.classes), TrainImages: len(p.train), Views: rc.Views, Warnings: p.warnings,
		Trained: []string{"class_expand (1×1 conv " + fmt.Sprint(t.In) + "→" + fmt.Sprint(t.Out) + ", weight and bias)", "BNNeck scale and running statistics (bias frozen)", "FC classifier for CE (not exported)"},
		Frozen:  []string{"backbone (everything up to global pooling)", "BNNeck bias"}}

	// 1. Cache backbone features.
	o.logf("train: caching backbone features: %d images × %d augmented views", len(p.train), rc.Views)
	prog := progressEvery(o, "caching", 10*time.Second)
	paths := make([]string, len(p.train))
	for i, s := range p.train {
		paths[i] = s.Path
	}
	feats, cst, err := bb.cache(ctx, paths, rc.Transforms, rc.Views, rc.Seed, prog)
	if err != nil {
		return nil, err
	}
	rep.Cache = cacheFigures(cst)
	o.logf("train: cached %d views in %.1fs (%.1f images/s, model busy %.0f%%)", cst.Images*cst.Views, cst.Wall.Seconds(), cst.ImagesPerSecond(), 100*cst.BusyShare())
	var qf, gf []float32
	if len(p.query) > 0 {
		evalT := rc.EvalTransform
		if len(evalT) == 0 {
			size := bb.Size
			if size == 0 {
				size = 224
			}
			evalT = defaultEvalTransform(size)
		}
		o.logf("train: caching held-out features: %d queries, %d gallery images", len(p.query), len(p.gallery))
		if qf, _, err = bb.cache(ctx, samplePaths(p.query), evalT, 1, rc.Seed, nil); err != nil {
			return nil, err
		}
		if gf, _, err = bb.cache(ctx, samplePaths(p.gallery), evalT, 1, rc.Seed, nil); err != nil {
			return nil, err
		}
		if rep.Before, err = heldOut(head0, qf, gf, p.query, p.gallery); err != nil {
			return nil, err
		}
		o.logf("train: before: held-out recall@1 %.4f, mAP %.4f", rep.Before.Recall1, rep.Before.MAP)
	}

	// 2. Train the head.
	head := head0.clone()
	head.Classes = len(p.classes)
	rng := rand.New(rand.NewPCG(rc.Seed, 0x706b))
	head.initFC(rand.New(rand.NewPCG(rc.Seed, 0x6663)), rc.FCStd)
	tr := &trainer{rc: rc, head: head, feats: feats, labels: p.labels, views: rc.Views, rng: rng}
	sampler := newPKSampler(p.labels, len(p.classes), rc.BatchSize, rc.SamplePerID, rc.SampleMethod, rc.DropLast)
	rep.StepsPerEpoch = sampler.nBatches
	var epochTime time.Duration
	for ep := range rc.Epochs {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrCanceled, err)
		}
		t0 := time.Now()
		el := tr.epoch(sampler, ep)
		dt := time.Since(t0)
		epochTime += dt
		rep.Loss = append(rep.Loss, el)
		o.logf("train: epoch %d/%d: loss %.5f (CE %.5f, triplet %.5f), lr %.5g, %.2fs", ep+1, rc.Epochs, el.Loss, el.CE, el.Triplet, el.LR, dt.Seconds())
	}
	rep.EpochSeconds = epochTime.Seconds() / float64(max(rc.Epochs, 1))
	if len(p.query) > 0 {
		if rep.After, err = heldOut(head, qf, gf, p.query, p.gallery); err != nil {
			return nil, err
		}
		o.logf("train: after: held-out recall@1 %.4f, mAP %.4f", rep.After.Recall1, rep.After.MAP)
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	rep.CacheBytes = int64(len(feats)+len(qf)+len(gf)) * 4
	rep.HeapSysBytes = int64(ms.HeapSys)

	// 3. Export.
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCanceled, err)
	}
	if err := export(ctx, o, base, t, head, rep, out); err != nil {
		return nil, err
	}
	o.logf("train: wrote %s", out)
	return &Result{Dir: out, Report: rep, Head: head, Base: head0}, nil
}

func samplePaths(ss []Sample) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = s.Path
	}
	return out
}

func progressEvery(o Options, what string, every time.Duration) func(done, total int) {
	if o.Log == nil {
		return nil
	}
	last := time.Now()
	return func(done, total int) {
		if done == total || time.Since(last) >= every {
			last = time.Now()
			o.logf("train: %s %d/%d", what, done, total)
		}
	}
}

// headFromGraph reads the base model's head parameters.
func headFromGraph(m *onnx.ModelProto, t *tail) (*Head, error) {
	vals, err := initializerData(m, t.params()...)
	if err != nil {
		return nil, err
	}
	f64 := func(s []float32) []float64 {
		out := make([]float64, len(s))
		for i, v := range s {
			out[i] = float64(v)
		}
		return out
	}
	h := &Head{In: t.In, Out: t.Out, W: f64(vals[t.Weight]), B: f64(vals[t.Bias]),
		Gamma: f64(vals[t.BNScale]), Beta: f64(vals[t.BNBias]), Mean: f64(vals[t.BNMean]), Var: f64(vals[t.BNVar]),
		Keep: t.Keep, Eps: t.BNEpsilon, Momentum: 0.9}
	if len(h.W) != t.In*t.Out {
		return nil, fmt.Errorf("%w: conv weight has %d values, want %d", ErrModel, len(h.W), t.In*t.Out)
	}
	return h, nil
}

// trainer holds the state of the optimisation.
type trainer struct {
	rc     *Recipe
	head   *Head
	feats  []float32
	labels []int
	views  int
	rng    *rand.Rand
	vel    map[string][]float64
	iter   int
}

// EpochLoss is one epoch of the loss curve (means over its steps).
type EpochLoss struct {
	Epoch   int     `json:"epoch"`
	Loss    float64 `json:"loss"`
	CE      float64 `json:"ce"`
	Triplet float64 `json:"triplet"`
	LR      float64 `json:"lr"` // at the epoch's last step
}

func (tr *trainer) epoch(s *pkSampler, ep int) EpochLoss {
	h := tr.head
	el := EpochLoss{Epoch: ep + 1}
	batches := s.epoch(tr.rng)
	ce, tri := &tr.rc.CE, &tr.rc.Triplet
	if !tr.rc.HasCE {
		ce = nil
	}
	if !tr.rc.HasTri {
		tri = nil
	}
	if tr.vel == nil {
		tr.vel = map[string][]float64{}
	}
	for _, b := range batches {
		n := len(b)
		x := make([]float64, n*h.In)
		lab := make([]int, n)
		for j, i := range b {
			v := tr.rng.IntN(tr.views)
			src := tr.feats[(i*tr.views+v)*h.In : (i*tr.views+v+1)*h.In]
			for k, f := range src {
				x[j*h.In+k] = float64(f)
			}
			lab[j] = tr.labels[i]
		}
		var mask []float64
		if h.Keep < 1 {
			mask = make([]float64, n*h.Out)
			for k := range mask {
				if tr.rng.Float64() < h.Keep {
					mask[k] = 1
				}
			}
		}
		g := newGrads(h)
		st := h.forwardBackward(x, lab, mask, ce, tri, g, true)
		lr := tr.rc.lrAt(tr.iter, s.nBatches)
		tr.update(h.Params(g), lr)
		tr.iter++
		el.Loss += st.Loss
		el.CE += st.CE
		el.Triplet += st.Triplet
		el.LR = lr
	}
	k := float64(len(batches))
	el.Loss, el.CE, el.Triplet = el.Loss/k, el.CE/k, el.Triplet/k
	return el
}

// update is Paddle's Momentum with L2Decay: g' = g + coeff·p;
// v = μ·v + g'; p −= lr·v.
func (tr *trainer) update(ps []Param, lr float64) {
	mu, l2 := tr.rc.Momentum, tr.rc.L2
	for _, p := range ps {
		if p.Frozen {
			continue
		}
		v := tr.vel[p.Name]
		if v == nil {
			v = make([]float64, len(p.Value))
			tr.vel[p.Name] = v
		}
		for i := range p.Value {
			g := p.Grad[i] + l2*p.Value[i]
			v[i] = mu*v[i] + g
			p.Value[i] -= lr * v[i]
		}
	}
}

// Metrics are held-out retrieval figures.
type Metrics struct {
	Recall1 float64 `json:"recall_at_1"`
	Recall5 float64 `json:"recall_at_5"`
	MAP     float64 `json:"mAP"`
	Queries int     `json:"queries"`
	Gallery int     `json:"gallery"`
}

// heldOut embeds the cached held-out features with h and scores them.
func heldOut(h *Head, qf, gf []float32, q, g []Sample) (*Metrics, error) {
	qs := embedSet(h, qf, q)
	gs := embedSet(h, gf, g)
	r, err := eval.Retrieval(qs, gs, eval.RetrievalOptions{})
	if err != nil {
		return nil, err
	}
	return &Metrics{Recall1: eval.RecallAt(r.ExactRecall, 1), Recall5: eval.RecallAt(r.ExactRecall, 5),
		MAP: float64(r.ExactMAP), Queries: r.Queries, Gallery: r.Gallery}, nil
}

// EmbedFeatures maps pooled features [n, In] through h and L2-normalises
// them as the feature extractor does.
func EmbedFeatures(h *Head, f []float32) [][]float32 {
	n := len(f) / h.In
	x := make([]float64, len(f))
	for i, v := range f {
		x[i] = float64(v)
	}
	e := h.Embed(x, n)
	out := make([][]float32, n)
	for i := range n {
		row := e[i*h.Out : (i+1)*h.Out]
		var ss float64
		for _, v := range row {
			ss += v * v
		}
		s := 1 / math.Max(math.Sqrt(ss), 1e-12)
		out[i] = make([]float32, h.Out)
		for k, v := range row {
			out[i][k] = float32(v * s)
		}
	}
	return out
}

func embedSet(h *Head, f []float32, ss []Sample) eval.Set {
	set := eval.Set{Vecs: EmbedFeatures(h, f)}
	for _, s := range ss {
		set.Labels = append(set.Labels, s.Label)
	}
	return set
}
