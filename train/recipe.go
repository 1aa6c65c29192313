package train

import (
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/shitu-go/shitu/config"
)

// Errors of this package.
var (
	// ErrConfig: the training config has a missing, mistyped or
	// unsupported value (the message names the key and the line).
	ErrConfig = errors.New("train: invalid config")
	// ErrData: the image lists are unusable (the message names the line).
	ErrData = errors.New("train: invalid data")
	// ErrModel: the base model is not a PP-ShiTuV2-style recognition network.
	ErrModel = errors.New("train: unsupported model")
	// ErrCanceled: training was interrupted; nothing was written.
	ErrCanceled = errors.New("train: canceled")
)

// Recipe is what a PaddleClas training config
// (ppcls/configs/GeneralRecognitionV2/GeneralRecognitionV2_PPLCNetV2_base.yaml)
// says about training the embedding layers. Zero values are filled by
// RecipeFromConfig with the yaml's values.
type Recipe struct {
	Epochs int // Global.epochs
	// Seed (Global.seed, ours; default 0) drives sampling, dropout,
	// augmentation and the FC initialisation: the same seed gives the same weights.
	Seed uint64
	// Views is the number of augmented views cached per training image
	// (Global.augment_views, ours; default 10).
	Views int

	CE      CELoss
	Triplet TripletAngularMarginLoss
	HasCE   bool
	HasTri  bool

	Momentum     float64 // Optimizer.momentum (0.9)
	LR           float64 // Optimizer.lr.learning_rate
	WarmupEpochs float64 // Optimizer.lr.warmup_epoch
	WarmupStart  float64 // Optimizer.lr.warmup_start_lr (0)
	EtaMin       float64 // Optimizer.lr.eta_min (0)
	L2           float64 // Optimizer.regularizer.coeff (L2)
	FCStd        float64 // Arch.Head.weight_attr.initializer.std (0.001)

	BatchSize     int    // DataLoader.Train.sampler.batch_size
	SamplePerID   int    // DataLoader.Train.sampler.sample_per_id (K)
	SampleMethod  string // id_avg_prob (default) or sample_avg_prob
	DropLast      bool
	Transforms    []Transform // DataLoader.Train.dataset.transform_ops
	EvalTransform []Transform // DataLoader.Eval.Query.dataset.transform_ops

	// Lists and roots (relative paths are taken from the working directory,
	// as PaddleClas does).
	TrainList, TrainRoot     string
	QueryList, QueryRoot     string
	GalleryList, GalleryRoot string

	// BaseModel is Global.rec_inference_model_dir (ours in a training
	// config: the recognition model to start from); OutDir is
	// Global.save_inference_dir (default ./inference).
	BaseModel, OutDir string
}

type reader struct {
	file string
	errs []string
}

func (r *reader) fail(v *config.Value, key, format string, a ...any) {
	loc := r.file
	if v != nil && v.Origin != "" {
		loc = "-o " + v.Origin
	} else if v != nil && v.Line > 0 {
		loc = fmt.Sprintf("%s:%d", r.file, v.Line)
	}
	r.errs = append(r.errs, fmt.Sprintf("%s: %s: %s", loc, key, fmt.Sprintf(format, a...)))
}

func lookup(root *config.Value, path string) *config.Value {
	v, ok := root.Lookup(path)
	if !ok || v.Kind == config.Null {
		return nil
	}
	return v
}

func (r *reader) num(root *config.Value, path string, def float64) float64 {
	v := lookup(root, path)
	if v == nil {
		return def
	}
	if v.Kind == config.String {
		if e, err := config.Eval(v.Str); err == nil {
			v = e
		}
	}
	f, ok := v.Number()
	if !ok || math.IsNaN(f) || math.IsInf(f, 0) || v.Kind == config.Bool {
		r.fail(v, path, "want a number, got %s", v.Repr())
		return def
	}
	return f
}

// integer reads an integer in lo..hi: every number a config file sets is
// bounded before anything is sized by it.
func (r *reader) integer(root *config.Value, path string, def, lo, hi int) int {
	v := lookup(root, path)
	if v == nil {
		return def
	}
	if v.Kind != config.Int || v.Int < int64(lo) || v.Int > int64(hi) {
		r.fail(v, path, "want an integer in %d..%d, got %s", lo, hi, v.Repr())
		return def
	}
	return int(v.Int)
}

func (r *reader) boolean(root *config.Value, path string, def bool) bool {
	v := lookup(root, path)
	if v == nil {
		return def
	}
	if v.Kind != config.Bool {
		r.fail(v, path, "want True or False, got %s", v.Repr())
		return def
	}
	return v.Bool
}

func (r *reader) str(root *config.Value, path, def string) string {
	v := lookup(root, path)
	if v == nil {
		return def
	}
	if v.Kind != config.String {
		r.fail(v, path, "want a string, got %s", v.Repr())
		return def
	}
	return v.Str
}

// RecipeFromConfig reads a training config tree (config.Load's Raw, with
// the -o overrides applied). Keys PaddleClas has and shitu does not need
// (Arch.Backbone, AMP, loader workers, Metric, ...) are ignored; the
// losses, optimizer and transforms must be ones this package implements.
func RecipeFromConfig(root *config.Value, file string) (*Recipe, error) {
	r := &reader{file: file}
	rc := &Recipe{
		Epochs:    r.integer(root, "Global.epochs", 100, 1, 100_000),
		Views:     r.integer(root, "Global.augment_views", 10, 1, 1000),
		BaseModel: r.str(root, "Global.rec_inference_model_dir", ""),
		OutDir:    r.str(root, "Global.save_inference_dir", "./inference"),
		FCStd:     r.num(root, "Arch.Head.weight_attr.initializer.std", 0.001),
	}
	if v := lookup(root, "Global.seed"); v != nil {
		if v.Kind != config.Int || v.Int < 0 {
			r.fail(v, "Global.seed", "want a non-negative integer, got %s", v.Repr())
		} else {
			rc.Seed = uint64(v.Int)
		}
	}
	// Loss.Train: a list of single-key mappings.
	losses := lookup(root, "Loss.Train")
	if losses == nil || losses.Kind != config.List || len(losses.Items) == 0 {
		r.fail(losses, "Loss.Train", "want a list of losses (CELoss, TripletAngularMarginLoss)")
	} else {
		for i, it := range losses.Items {
			key := fmt.Sprintf("Loss.Train.%d", i)
			if it.Kind != config.Map || len(it.Keys) != 1 {
				r.fail(it, key, "want {LossName: params}")
				continue
			}
			name := it.Keys[0]
			p := it.Fields[name]
			if p == nil || p.Kind == config.Null {
				p = config.NewMap()
			}
			switch name {
			case "CELoss":
				rc.HasCE = true
				rc.CE = CELoss{Weight: r.num(p, "weight", 1), Epsilon: r.num(p, "epsilon", 0)}
			case "TripletAngularMarginLoss":
				rc.HasTri = true
				rc.Triplet = TripletAngularMarginLoss{
					Weight: r.num(p, "weight", 1), Margin: r.num(p, "margin", 0.5),
					NormalizeFeature: r.boolean(p, "normalize_feature", true),
					AddAbsolute:      r.boolean(p, "add_absolute", false),
					AbsoluteWeight:   r.num(p, "absolute_loss_weight", 1),
					AP:               r.num(p, "ap_value", 0.9), AN: r.num(p, "an_value", 0.5),
				}
				if f := r.str(p, "feature_from", "features"); f != "features" {
					r.fail(lookup(p, "feature_from"), key+".feature_from", "only \"features\" (the BNNeck output) is trained here, got %q", f)
				}
				if red := r.str(p, "reduction", "mean"); red != "mean" {
					r.fail(lookup(p, "reduction"), key+".reduction", "only \"mean\" is supported, got %q", red)
				}
			default:
				r.fail(it, key, "unsupported loss %q (supported: CELoss, TripletAngularMarginLoss)", name)
			}
		}
	}
	// Optimizer.
	if n := r.str(root, "Optimizer.name", "Momentum"); n != "Momentum" {
		r.fail(lookup(root, "Optimizer.name"), "Optimizer.name", "only Momentum is supported, got %q", n)
	}
	rc.Momentum = r.num(root, "Optimizer.momentum", 0.9)
	if n := r.str(root, "Optimizer.lr.name", "Cosine"); n != "Cosine" {
		r.fail(lookup(root, "Optimizer.lr.name"), "Optimizer.lr.name", "only Cosine is supported, got %q", n)
	}
	rc.LR = r.num(root, "Optimizer.lr.learning_rate", 0.06)
	rc.WarmupEpochs = r.num(root, "Optimizer.lr.warmup_epoch", 0)
	rc.WarmupStart = r.num(root, "Optimizer.lr.warmup_start_lr", 0)
	rc.EtaMin = r.num(root, "Optimizer.lr.eta_min", 0)
	if lookup(root, "Optimizer.regularizer") != nil {
		if n := r.str(root, "Optimizer.regularizer.name", "L2"); n != "L2" {
			r.fail(lookup(root, "Optimizer.regularizer.name"), "Optimizer.regularizer.name", "only L2 is supported, got %q", n)
		}
		rc.L2 = r.num(root, "Optimizer.regularizer.coeff", 0)
	}
	if rc.LR <= 0 || rc.Momentum < 0 || rc.Momentum >= 1 || rc.L2 < 0 || rc.WarmupEpochs < 0 {
		r.fail(lookup(root, "Optimizer"), "Optimizer", "learning_rate > 0, 0 ≤ momentum < 1, coeff ≥ 0 and warmup_epoch ≥ 0 are required")
	}
	// Data.
	const tr = "DataLoader.Train."
	rc.TrainList = r.str(root, tr+"dataset.cls_label_path", "")
	rc.TrainRoot = r.str(root, tr+"dataset.image_root", "")
	if rc.TrainList == "" {
		r.fail(lookup(root, "DataLoader.Train.dataset"), tr+"dataset.cls_label_path", "the training list is required")
	}
	if n := r.str(root, tr+"sampler.name", "PKSampler"); n != "PKSampler" {
		r.fail(lookup(root, tr+"sampler.name"), tr+"sampler.name", "only PKSampler is supported, got %q", n)
	}
	rc.BatchSize = r.integer(root, tr+"sampler.batch_size", 64, 2, 4096)
	rc.SamplePerID = r.integer(root, tr+"sampler.sample_per_id", 4, 1, 1024)
	rc.SampleMethod = r.str(root, tr+"sampler.sample_method", "sample_avg_prob")
	rc.DropLast = r.boolean(root, tr+"sampler.drop_last", true)
	if rc.SampleMethod != "id_avg_prob" && rc.SampleMethod != "sample_avg_prob" {
		r.fail(lookup(root, tr+"sampler.sample_method"), tr+"sampler.sample_method", "want id_avg_prob or sample_avg_prob, got %q", rc.SampleMethod)
	}
	if rc.BatchSize%rc.SamplePerID != 0 || rc.BatchSize/rc.SamplePerID < 2 {
		r.fail(lookup(root, tr+"sampler"), tr+"sampler", "batch_size %d must be a multiple of sample_per_id %d with at least 2 ids per batch", rc.BatchSize, rc.SamplePerID)
	}
	rc.Transforms = r.transforms(root, tr+"dataset.transform_ops", true)
	const ev = "DataLoader.Eval."
	rc.QueryList = r.str(root, ev+"Query.dataset.cls_label_path", "")
	rc.QueryRoot = r.str(root, ev+"Query.dataset.image_root", "")
	rc.GalleryList = r.str(root, ev+"Gallery.dataset.cls_label_path", "")
	rc.GalleryRoot = r.str(root, ev+"Gallery.dataset.image_root", "")
	rc.EvalTransform = r.transforms(root, ev+"Query.dataset.transform_ops", false)
	if !rc.HasCE && !rc.HasTri {
		r.fail(losses, "Loss.Train", "no loss to train with")
	}
	if len(r.errs) > 0 {
		return nil, fmt.Errorf("%w: %s", ErrConfig, strings.Join(r.errs, "; "))
	}
	return rc, nil
}
