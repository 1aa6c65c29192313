package cli

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"runtime"

	"github.com/shitu-go/shitu/config"
	"github.com/shitu-go/shitu/detect"
	"github.com/shitu-go/shitu/feature"
	"github.com/shitu-go/shitu/gallery"
	"github.com/shitu-go/shitu/imaging"
	"github.com/shitu-go/shitu/infer"
	"github.com/shitu-go/shitu/models"
	"github.com/shitu-go/shitu/recognize"
)

// configFlags are -c and repeated -o, as PaddleClas' tools take them.
type configFlags struct {
	Config    string   `short:"c" required:"" type:"existingfile" help:"PaddleClas inference config (e.g. inference_general.yaml)."`
	Overrides []string `short:"o" help:"Override a config key, PaddleClas style: -o Global.threshold=0.3 (repeatable)."`
	Threads   int      `help:"Intra-op threads per model run (default: Global.cpu_num_threads, else all cores)."`
}

// load reads the config and prints its warnings (unknown keys, options
// shitu ignores) to stderr, once each per run.
func (c configFlags) load(g *Globals) (*config.Config, error) {
	cfg, err := config.Load(c.Config, c.Overrides)
	if err != nil {
		return nil, err
	}
	g.warnConfig(cfg)
	return cfg, nil
}

// warnConfig prints a config's warnings that were not printed yet.
func (g *Globals) warnConfig(cfg *config.Config) {
	for _, w := range cfg.Warnings() {
		if g.warned == nil {
			g.warned = map[string]bool{}
		}
		if !g.warned[w] {
			g.warned[w] = true
			fmt.Fprintln(g.stderr, "shitu: warning:", w)
		}
	}
}

func (c configFlags) threads(cfg *config.Config) int {
	if c.Threads > 0 {
		return c.Threads
	}
	if cfg.Global.CPUNumThreads > 0 {
		return min(cfg.Global.CPUNumThreads, runtime.NumCPU())
	}
	return runtime.NumCPU()
}

// pipeline holds the loaded sessions and the pieces built on them.
type pipeline struct {
	det         *detect.Detector // nil when the config has no detector
	ext         *feature.Extractor
	recModel    string // fingerprint of the recognition model
	binary      bool
	sessions    []infer.Session
	recognition recognize.Options
	gallery     *gallery.Gallery // set by openSystem; Close closes it
}

func (p *pipeline) Close() {
	if p.gallery != nil {
		p.gallery.Close()
	}
	for _, s := range p.sessions {
		s.Close()
	}
}

// openSystem loads the models a config names and the gallery of its
// IndexProcess.index_dir into a recognition system. edit, if set, adjusts
// the config's recognition options first. p.Close releases everything.
func (g *Globals) openSystem(cfg *config.Config, threads int, edit func(*recognize.Options) error) (*recognize.System, *pipeline, error) {
	p, err := g.buildPipeline(cfg, threads, true)
	if err != nil {
		return nil, nil, err
	}
	if p.gallery, err = openIndexDir(cfg.IndexProcess.IndexDir, p.recModel); err != nil {
		p.Close()
		return nil, nil, err
	}
	if edit != nil {
		if err := edit(&p.recognition); err != nil {
			p.Close()
			return nil, nil, err
		}
	}
	sys, err := recognize.New(p.detector(), embedder{p.ext}, recognize.FromGallery(p.gallery), p.recognition)
	if err != nil {
		p.Close()
		return nil, nil, err
	}
	return sys, p, nil
}

// resolveModel turns a config model folder (relative to the config file's
// folder if not found as given) into ONNX bytes, converting Paddle models
// once and caching the result.
func resolveModel(ctx context.Context, cfgPath, dir string) (string, []byte, error) {
	cand := dir
	if _, err := os.Stat(cand); err != nil && !filepath.IsAbs(dir) {
		alt := filepath.Join(filepath.Dir(cfgPath), dir)
		if _, err2 := os.Stat(alt); err2 == nil {
			cand = alt
		}
	}
	cache, _ := os.UserCacheDir()
	r, err := models.Resolve(ctx, cand, models.ResolveOptions{Converter: models.PaddleConverter,
		CacheDir: filepath.Join(cache, "shitu", "converted")})
	if err != nil {
		return "", nil, err
	}
	b, err := os.ReadFile(r.Path)
	return r.Path, b, err
}

func fingerprint(b []byte) string {
	s := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(s[:])
}

// buildPipeline loads the models a config names.
func (g *Globals) buildPipeline(cfg *config.Config, threads int, needDet bool) (*pipeline, error) {
	b, err := g.backend()
	if err != nil {
		return nil, err
	}
	p := &pipeline{}
	opts := cfg.Global.InferOptions(threads) // threads, ir_optim, use_gpu...: config/infer.go
	opts.GPU.Require = g.RequireGPU
	if cfg.Global.RecInferenceModelDir == "" {
		return nil, fmt.Errorf("config: Global.rec_inference_model_dir is not set")
	}
	_, recBytes, err := resolveModel(g.ctx, cfg.Path, cfg.Global.RecInferenceModelDir)
	if err != nil {
		return nil, fmt.Errorf("recognition model: %w", err)
	}
	rs, err := b.Open(recBytes, opts)
	if err != nil {
		return nil, fmt.Errorf("recognition model: %w", err)
	}
	p.sessions = append(p.sessions, rs)
	if g.wrapSession != nil {
		rs = g.wrapSession("rec", rs)
	}
	fc, err := featureConfig(cfg)
	if err != nil {
		p.Close()
		return nil, err
	}
	p.binary = fc.Binarize
	// Galleries are bound to the model and the preprocessing that made their vectors.
	p.recModel = feature.Fingerprint(recBytes, fc)
	if p.ext, err = feature.New(rs, fc); err != nil {
		p.Close()
		return nil, err
	}
	if needDet && cfg.Global.DetInferenceModelDir != "" {
		_, detBytes, err := resolveModel(g.ctx, cfg.Path, cfg.Global.DetInferenceModelDir)
		if err != nil {
			p.Close()
			return nil, fmt.Errorf("detection model: %w", err)
		}
		ds, err := b.Open(detBytes, opts)
		if err != nil {
			p.Close()
			return nil, fmt.Errorf("detection model: %w", err)
		}
		p.sessions = append(p.sessions, ds)
		if g.wrapSession != nil {
			ds = g.wrapSession("det", ds)
		}
		pre, err := detPre(cfg)
		if err != nil {
			p.Close()
			return nil, err
		}
		// The detector keeps everything its NMS keeps; recognize applies
		// max_det_results and threshold, so a request may change them.
		if p.det, err = detect.New(ds, detect.Options{Pre: pre, MaxDetResults: 1000, Threshold: -1}); err != nil {
			p.Close()
			return nil, err
		}
	}
	p.recognition = recognitionOptions(cfg)
	return p, nil
}

func recognitionOptions(cfg *config.Config) recognize.Options {
	gl, ip := cfg.Global, cfg.IndexProcess
	o := recognize.Options{
		MaxDetResults:  gl.MaxDetResults,
		DetThreshold:   float32(gl.Threshold),
		TopK:           ip.ReturnK,
		ScoreThreshold: float32(ip.ScoreThres),
		HammingRadius:  float32(ip.HammingRadius),
		NMSThreshold:   float32(gl.RecNMSThreshold),
	}
	if gl.MaxDetResults == 0 {
		o.MaxDetResults = -1 // keep none: max_det_results 0 means no detections
	}
	if gl.DetInferenceModelDir == "" {
		o.NoDetector = true
	}
	return o
}

// detPre maps DetPreProcess.transform_ops onto the detector's preprocessing.
func detPre(cfg *config.Config) (*detect.PreConfig, error) {
	p := detect.DefaultPre()
	for _, op := range cfg.DetPreProcess.Ops {
		switch t := op.Typed.(type) {
		case *config.DetResize:
			p.TargetSize, p.KeepRatio = t.TargetSize, t.KeepRatio
			in, err := imaging.InterpFromCode(t.Interp)
			if err != nil {
				return nil, fmt.Errorf("config: DetPreProcess DetResize.interp: %w", err)
			}
			p.Interp = in
		case *config.DetNormalizeImage:
			p.Mean, p.Std, p.NoScale = t.Mean, t.Std, !t.IsScale
		case *config.DetPadStride:
			p.PadStride = t.Stride
		case *config.DetPermute:
		default:
			return nil, fmt.Errorf("config: DetPreProcess op %s is not supported", op.Name)
		}
	}
	return &p, nil
}

// featureConfig maps RecPreProcess and RecPostProcess onto the extractor.
func featureConfig(cfg *config.Config) (feature.Config, error) {
	var f feature.Config
	for _, op := range cfg.RecPreProcess.Ops {
		switch t := op.Typed.(type) {
		case *config.ResizeImage:
			f.Width, f.Height, f.ResizeShort, f.Interp = t.Size[0], t.Size[1], t.ResizeShort, t.Interpolation
		case *config.NormalizeImage:
			f.Scale = float32(t.Scale)
			for i := range 3 {
				f.Mean[i], f.Std[i] = float32(t.Mean[i]), float32(t.Std[i])
			}
		case *config.ToCHWImage:
		default:
			return f, fmt.Errorf("config: RecPreProcess op %s is not supported by shitu", op.Name)
		}
	}
	if cfg.IndexProcess.BatchSize > 0 {
		f.BatchSize = cfg.IndexProcess.BatchSize
	}
	f.Binarize = cfg.RecPostProcess.MainIndicator == "Binarize" || cfg.IndexProcess.DistType == "hamming"
	return f, nil
}

// embedder adapts the feature extractor to recognize.Embedder.
type embedder struct{ e *feature.Extractor }

func (e embedder) Embed(ctx context.Context, crops []*imaging.Image) ([][]float32, error) {
	return e.e.Extract(ctx, crops)
}

// detector adapts detect.Detector, allowing a nil one.
func (p *pipeline) detector() recognize.Detector {
	if p.det == nil {
		return nil
	}
	return p.det
}
