// Package shitu is the library entry point of shitu, PP-ShiTuV2 general
// image recognition in Go: mainbody detection → feature extraction →
// search in a labelled gallery.
//
// Open (or OpenFile, which reads a PaddleClas inference config with -o
// style overrides) loads the models a config names and the gallery of its
// IndexProcess.index_dir into a *System. A System owns the model sessions,
// the named galleries and the background work (periodic index snapshots);
// its methods recognise images, search with vectors and add, remove, list
// and export gallery items. Close releases all of it.
//
//	sys, err := shitu.OpenFile(ctx, "inference_general.yaml", nil, shitu.Options{ORTLib: lib})
//	if err != nil { ... }
//	defer sys.Close()
//	res, err := sys.RecognizeFile(ctx, "query.jpg")
//
// The command-line tool, the HTTP service (package server) and the
// evaluation tools are built on this package.
package shitu

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/shitu-go/shitu/config"
	"github.com/shitu-go/shitu/detect"
	"github.com/shitu-go/shitu/feature"
	"github.com/shitu-go/shitu/gallery"
	"github.com/shitu-go/shitu/gallery/paddleclas"
	"github.com/shitu-go/shitu/infer"
	"github.com/shitu-go/shitu/infer/ort"
	"github.com/shitu-go/shitu/recognize"
)

// DefaultGallery is the name of the gallery of IndexProcess.index_dir.
const DefaultGallery = "default"

// Errors. They are wrapped with %w and details.
var (
	ErrConfig    = errors.New("shitu: bad configuration")
	ErrNoGallery = errors.New("shitu: no such gallery")
	ErrExists    = errors.New("shitu: gallery name already in use")
	ErrClosed    = errors.New("shitu: system is closed")
	ErrNoModel   = errors.New("shitu: the system was opened without a recognition model")
)

// Options tune Open. The zero value loads both models with ONNX Runtime
// from ORTLib, opens IndexProcess.index_dir as the default gallery and runs
// no background snapshots.
type Options struct {
	// Backend runs the models (default: ONNX Runtime loaded from ORTLib).
	Backend infer.Backend
	// ORTLib is the path of libonnxruntime.so.1, used when Backend is nil.
	ORTLib string
	// Threads is the intra-op thread count per model run (default:
	// Global.cpu_num_threads capped at the number of CPUs, else all CPUs).
	Threads int
	// RequireGPU makes Open fail (infer.ErrNoGPU) when Global.use_gpu asks
	// for a GPU the ONNX Runtime library cannot use, instead of warning and
	// running on the CPU.
	RequireGPU bool
	// ModelsRoot is the models store (`shitu models pull` installs there):
	// a config's model folder that is found neither as given nor next to
	// the config, e.g. the official "./models/<name>", is looked up there
	// by its folder name. Empty: not looked up.
	ModelsRoot string
	// CacheDir holds converted Paddle models and imported PaddleClas
	// index_dirs (default: the user cache folder + "/shitu").
	CacheDir string
	// NoDetector skips loading the detector even when the config names
	// one (building galleries and retrieval evaluation need none).
	NoDetector bool
	// NoGallery skips opening IndexProcess.index_dir: the system then has
	// no default gallery until one is opened or built.
	NoGallery bool
	// SnapshotEvery writes the index snapshot of every gallery that
	// changed since its last one this often (0: only on Close). Changes are
	// durable without it; snapshots only make the next start fast.
	SnapshotEvery time.Duration
	// Logger gets background errors (default slog.Default()).
	Logger *slog.Logger
	// WrapSession, when set, wraps every model session; role is "det" or
	// "rec" (benchmarks time the model runs with it).
	WrapSession func(role string, s infer.Session) infer.Session
	// Recognize, when set, adjusts the recognition options derived from
	// the config before the system is assembled.
	Recognize func(*recognize.Options) error
	// BatchWait turns on cross-request batching of the recognition model:
	// the crops of concurrent recognitions (and other embeddings) are
	// collected for up to this long and run as one batch of at most
	// IndexProcess.batch_size crops (feature.Config.BatchWait). Default 0:
	// off, every call runs its own batches. SetBatchWait changes it later.
	BatchWait time.Duration
	// BatchRuns is the number of shared recognition runs at once with
	// cross-request batching (default: CPUs ÷ Threads, at least 1, so the
	// runs together use every CPU).
	BatchRuns int
}

// OpenFile loads a PaddleClas inference config with -o style overrides
// ("Global.threshold=0.3") and opens it with Open.
func OpenFile(ctx context.Context, path string, overrides []string, o Options) (*System, error) {
	cfg, err := config.Load(path, overrides)
	if err != nil {
		return nil, err
	}
	return Open(ctx, cfg, o)
}

// Open loads the recognition model (Global.rec_inference_model_dir), the
// detector (Global.det_inference_model_dir, unless empty or
// o.NoDetector) and the gallery of IndexProcess.index_dir (unless
// o.NoGallery) of a parsed config. Paddle inference models are converted
// to ONNX once and cached. A PaddleClas or PaddleX index_dir (vector.index
// + id_map.pkl or id_map.yaml) is imported once into the cache folder.
func Open(ctx context.Context, cfg *config.Config, o Options) (*System, error) {
	if cfg == nil {
		return nil, fmt.Errorf("%w: nil config", ErrConfig)
	}
	if o.CacheDir == "" {
		c, err := os.UserCacheDir()
		if err != nil {
			c = os.TempDir()
		}
		o.CacheDir = filepath.Join(c, "shitu")
	}
	if o.Threads <= 0 {
		o.Threads = runtime.NumCPU()
		if n := cfg.Global.CPUNumThreads; n > 0 {
			o.Threads = min(n, runtime.NumCPU())
		}
	}
	b := o.Backend
	if b == nil {
		ob, err := ort.New(ort.Config{LibPath: o.ORTLib})
		if err != nil {
			return nil, err
		}
		b = ob
	}
	s := newSystem(cfg, o)
	if err := s.loadModels(ctx, b); err != nil {
		s.Close()
		return nil, err
	}
	if !o.NoGallery {
		g, err := openIndexDir(cfg.IndexProcess.IndexDir, s.model, filepath.Join(o.CacheDir, "imported"))
		if err != nil {
			s.Close()
			return nil, err
		}
		s.gals[DefaultGallery] = g
	}
	if o.Recognize != nil {
		if err := o.Recognize(&s.opts); err != nil {
			s.Close()
			return nil, err
		}
	}
	if err := s.start(); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// loadModels opens the sessions a config names.
func (s *System) loadModels(ctx context.Context, b infer.Backend) error {
	cfg := s.cfg
	if cfg.Global.RecInferenceModelDir == "" {
		return fmt.Errorf("%w: Global.rec_inference_model_dir is not set", ErrConfig)
	}
	recBytes, rs, err := s.openModel(ctx, b, "rec", cfg.Global.RecInferenceModelDir)
	if err != nil {
		return fmt.Errorf("recognition model: %w", err)
	}
	fc, err := FeatureConfig(cfg)
	if err != nil {
		return err
	}
	// Galleries are bound to the model and the preprocessing that made their vectors.
	s.model = feature.Fingerprint(recBytes, fc)
	fc.BatchWait, fc.BatchRuns = s.o.BatchWait, s.o.BatchRuns
	if fc.BatchRuns <= 0 {
		fc.BatchRuns = max(1, runtime.NumCPU()/max(s.o.Threads, 1))
	}
	ext, err := feature.New(rs, fc)
	if err != nil {
		return err
	}
	s.ext = ext // *feature.Extractor: its pipelined ExtractFiles serves gallery builds
	if s.o.NoDetector || cfg.Global.DetInferenceModelDir == "" {
		return nil
	}
	_, ds, err := s.openModel(ctx, b, "det", cfg.Global.DetInferenceModelDir)
	if err != nil {
		return fmt.Errorf("detection model: %w", err)
	}
	pre, err := DetPreprocess(cfg)
	if err != nil {
		return err
	}
	// The detector returns everything its NMS keeps; recognize applies
	// max_det_results and threshold, so a request may change them.
	d, err := detect.New(ds, detect.Options{Pre: pre})
	if err != nil {
		return err
	}
	s.detector = d
	return nil
}

// openModel resolves a config model folder, opens a session on it (owned
// by the system from then on) and returns the model bytes and the session,
// wrapped by Options.WrapSession when set.
func (s *System) openModel(ctx context.Context, b infer.Backend, role, dir string) ([]byte, infer.Session, error) {
	model, err := s.resolveModel(ctx, dir)
	if err != nil {
		return nil, nil, err
	}
	opts := infer.Options{IntraOpThreads: s.o.Threads}
	if s.cfg != nil { // threads, ir_optim, use_gpu, use_tensorrt, use_fp16, gpu_mem (config/infer.go)
		opts = s.cfg.Global.InferOptions(s.o.Threads)
	}
	opts.GPU.Require = s.o.RequireGPU
	sess, err := b.Open(model, opts)
	if err != nil {
		return nil, nil, err
	}
	s.sessions = append(s.sessions, sess)
	if s.o.WrapSession != nil {
		sess = s.o.WrapSession(role, sess)
	}
	return model, sess, nil
}

// Parts are the pieces of a System assembled by the caller (a custom
// backend, tests): New wraps them without loading anything.
type Parts struct {
	// Extractor embeds crops (required).
	Extractor gallery.Extractor
	// Detector finds the objects (nil: whole-image recognition only).
	Detector recognize.Detector
	// Model is the fingerprint galleries created by the system are bound to.
	Model string
	// Galleries are the named galleries; the system owns them from here on
	// and closes them in Close.
	Galleries map[string]*gallery.Gallery
	// Recognize are the base recognition options.
	Recognize recognize.Options
	// IndexProcess describes galleries made by CreateGallery (zero: 512-dim
	// IP HNSW32).
	IndexProcess paddleclas.IndexProcess
	// Synthetic marks models with seeded weights (System.Synthetic).
	Synthetic bool
}

// New assembles a System from parts built by the caller.
func New(p Parts, o Options) (*System, error) {
	if p.Extractor == nil {
		return nil, fmt.Errorf("%w: an extractor is required", ErrConfig)
	}
	s := newSystem(nil, o)
	s.ext, s.model, s.opts, s.ip, s.synthetic = p.Extractor, p.Model, p.Recognize, p.IndexProcess, p.Synthetic
	if p.Detector != nil {
		s.detector = p.Detector
	}
	for name, g := range p.Galleries {
		s.gals[name] = g
	}
	if err := s.start(); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}
