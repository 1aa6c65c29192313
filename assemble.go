package shitu

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/shitu-go/shitu/config"
	"github.com/shitu-go/shitu/detect"
	"github.com/shitu-go/shitu/feature"
	"github.com/shitu-go/shitu/gallery"
	"github.com/shitu-go/shitu/gallery/paddleclas"
	"github.com/shitu-go/shitu/imaging"
	"github.com/shitu-go/shitu/models"
	"github.com/shitu-go/shitu/recognize"
)

// resolveModel turns a config model folder (found by findModel) into ONNX
// bytes, converting Paddle models
// once and caching the result.
func (s *System) resolveModel(ctx context.Context, dir string) ([]byte, error) {
	cand, err := s.findModel(dir)
	if err != nil {
		return nil, err
	}
	r, err := models.Resolve(ctx, cand, models.ResolveOptions{Converter: models.PaddleConverter,
		CacheDir: filepath.Join(s.o.CacheDir, "converted")})
	if err != nil {
		return nil, err
	}
	if r.Manifest != nil && r.Manifest.Synthetic {
		s.synthetic = true
	}
	return os.ReadFile(r.Path)
}

// findModel locates a config's model folder: as given (relative to the
// working directory, as PaddleClas reads it), next to the config file, or
// in the models store by its folder name — so the official configs'
// "./models/<name>" work after `shitu models pull`, which installs into
// the store. It says where it looked when none exists.
func (s *System) findModel(dir string) (string, error) {
	cands := []string{dir}
	if !filepath.IsAbs(dir) && s.cfg.Path != "" {
		cands = append(cands, filepath.Join(filepath.Dir(s.cfg.Path), dir))
	}
	if s.o.ModelsRoot != "" {
		cands = append(cands, filepath.Join(s.o.ModelsRoot, filepath.Base(filepath.Clean(dir))))
	}
	for _, c := range cands {
		if _, err := os.Stat(c); err == nil {
			return c, nil
		}
	}
	if len(cands) == 1 {
		return dir, nil // Resolve says what is missing
	}
	return "", fmt.Errorf("%w: %s not found; looked in %s (`shitu models pull` installs the official models in the store)",
		models.ErrNoModel, dir, strings.Join(cands, ", "))
}

// RecognizeOptions maps Global and IndexProcess onto recognition options.
func RecognizeOptions(cfg *config.Config) recognize.Options {
	gl, ip := cfg.Global, cfg.IndexProcess
	o := recognize.Options{
		MaxDetResults:  gl.MaxDetResults,
		DetThreshold:   gl.Threshold,
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

// DetPreprocess maps DetPreProcess.transform_ops onto the detector's preprocessing.
func DetPreprocess(cfg *config.Config) (*detect.PreConfig, error) {
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

// FeatureConfig maps RecPreProcess and RecPostProcess onto the extractor.
func FeatureConfig(cfg *config.Config) (feature.Config, error) {
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

// IndexProcess converts the config's IndexProcess block.
func IndexProcess(cfg *config.Config) paddleclas.IndexProcess {
	ip := cfg.IndexProcess
	return paddleclas.IndexProcess{IndexMethod: ip.IndexMethod, ImageRoot: ip.ImageRoot, IndexDir: ip.IndexDir,
		DataFile: ip.DataFile, IndexOperation: ip.IndexOperation, Delimiter: ip.Delimiter, DistType: ip.DistType,
		EmbeddingSize: ip.EmbeddingSize, BatchSize: ip.BatchSize, ReturnK: ip.ReturnK,
		ScoreThres: float32(ip.ScoreThres), HammingRadius: ip.HammingRadius}
}

// openIndexDir opens the gallery of IndexProcess.index_dir: a shitu
// gallery as is, or a PaddleClas/PaddleX index_dir (vector.index +
// id_map.pkl/yaml) imported once into a folder of cache keyed by its
// content and the model.
func openIndexDir(dir, model, cache string) (*gallery.Gallery, error) {
	if dir == "" {
		return nil, fmt.Errorf("%w: IndexProcess.index_dir is not set", ErrConfig)
	}
	if _, err := os.Stat(filepath.Join(dir, gallery.DBFile)); err == nil {
		return gallery.Open(dir, gallery.Options{Model: model})
	}
	if _, err := os.Stat(filepath.Join(dir, paddleclas.VectorIndexFile)); err != nil {
		return nil, fmt.Errorf("%w: %s holds no gallery (neither a shitu gallery nor vector.index + id_map.pkl): build one with `shitu gallery build -c CONFIG`", ErrNoGallery, dir)
	}
	h := sha256.New()
	for _, f := range []string{paddleclas.VectorIndexFile, paddleclas.IDMapPickle, paddleclas.IDMapYAML} {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err == nil {
			sum := sha256.Sum256(b)
			h.Write([]byte("sha256:" + hex.EncodeToString(sum[:])))
		}
	}
	h.Write([]byte(model))
	dst := filepath.Join(cache, hex.EncodeToString(h.Sum(nil))[:24])
	if _, err := os.Stat(filepath.Join(dst, gallery.DBFile)); err == nil {
		return gallery.Open(dst, gallery.Options{Model: model})
	}
	os.RemoveAll(dst)
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return nil, err
	}
	return paddleclas.Import(dir, dst, model)
}
