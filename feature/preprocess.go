package feature

import (
	"fmt"
	"math"
	"time"

	"github.com/shitu-go/shitu/imaging"
)

// Config is the recognition preprocessing and batching of PaddleClas'
// RecPreProcess (ppshitu-pipeline.md §6.1) plus RecPostProcess Binarize.
// Zero values mean the PP-ShiTuV2 defaults: resize to 224×224 bilinear,
// scale 1/255, ImageNet mean and std, batches of 32.
type Config struct {
	// Width, Height: ResizeImage.size (default 224×224). Ignored when
	// ResizeShort > 0.
	Width, Height int
	// ResizeShort: ResizeImage.resize_short; scales the short side to this
	// length, rounding both sides half-to-even as Python's round does.
	ResizeShort int
	// Interp: ResizeImage.interpolation: "bilinear" (default), "nearest",
	// "bicubic", "area" or "lanczos".
	Interp string
	// Scale: NormalizeImage.scale (default float32(1/255)). Note
	// float32(0.00392157) from some configs is 2 ulp away (§2.3).
	Scale float32
	// Mean, Std: NormalizeImage mean and std per RGB channel (default
	// ImageNet 0.485 0.456 0.406 / 0.229 0.224 0.225). A zero Std means
	// the default for all three.
	Mean, Std [3]float32
	// BatchSize: images per model run (default 32; capped by a fixed batch
	// dimension of the model).
	BatchSize int
	// Binarize records that the model's features are used binarised
	// (RecPostProcess Binarize "sign", ppshitu-pipeline.md §6.4). The
	// Extractor still returns L2-normalised float features; callers pack
	// them with Binarize (binary galleries do it themselves). Default false.
	Binarize bool
	// Workers: decode/preprocess goroutines of ExtractFiles (default: the
	// number of CPUs).
	Workers int
	// BatchWait turns on cross-call batching in Extract: the images of
	// concurrent calls are run together, up to BatchSize per run; a batch
	// waits up to this long after its oldest image was queued, and only
	// while calls announced by Extractor.Expect are on their way (default
	// 0: off, every call runs its own batches). Features do not depend on
	// it.
	BatchWait time.Duration
	// BatchRuns: shared model runs at once with cross-call batching
	// (default 1); while all are busy, images keep collecting.
	BatchRuns int
}

// ImageNet statistics.
var (
	ImageNetMean = [3]float32{0.485, 0.456, 0.406}
	ImageNetStd  = [3]float32{0.229, 0.224, 0.225}
)

func (c Config) withDefaults() Config {
	if c.Width == 0 && c.Height == 0 {
		c.Width, c.Height = 224, 224
	}
	if c.Width == 0 {
		c.Width = c.Height
	}
	if c.Height == 0 {
		c.Height = c.Width
	}
	if c.Interp == "" {
		c.Interp = "bilinear"
	}
	if c.Scale == 0 {
		c.Scale = float32(1.0 / 255.0)
	}
	if c.Std == ([3]float32{}) {
		c.Std = ImageNetStd
		if c.Mean == ([3]float32{}) {
			c.Mean = ImageNetMean
		}
	}
	if c.BatchSize <= 0 {
		c.BatchSize = 32
	}
	if c.BatchRuns <= 0 {
		c.BatchRuns = 1
	}
	return c
}

func (c Config) validate() error {
	if c.BatchWait < 0 {
		return fmt.Errorf("%w: negative batch wait %v", ErrConfig, c.BatchWait)
	}
	if c.Width < 0 || c.Height < 0 || c.ResizeShort < 0 {
		return fmt.Errorf("%w: size %dx%d resize_short %d", ErrConfig, c.Width, c.Height, c.ResizeShort)
	}
	for _, s := range c.Std {
		if s == 0 || math.IsNaN(float64(s)) {
			return fmt.Errorf("%w: std %v has a zero", ErrConfig, c.Std)
		}
	}
	if _, err := interpOf(c.Interp); err != nil {
		return err
	}
	return nil
}

// TargetSize is the size an image of w×h is resized to.
func (c Config) TargetSize(w, h int) (int, int) {
	c = c.withDefaults()
	if c.ResizeShort > 0 {
		p := float64(c.ResizeShort) / float64(min(w, h))
		return max(1, int(math.RoundToEven(float64(w)*p))), max(1, int(math.RoundToEven(float64(h)*p)))
	}
	return c.Width, c.Height
}

// Preprocess resizes img and writes it normalised, channel-first (RGB
// planes) into dst, which must hold 3·w·h values for the target size w×h.
// Math is float32 as NormalizeImage does: (p·scale − mean) / std (§6.1).
func (c Config) Preprocess(img *imaging.Image, dst []float32) error {
	c = c.withDefaults()
	if img == nil || img.W <= 0 || img.H <= 0 {
		return fmt.Errorf("%w: empty image", ErrImage)
	}
	img = imaging.ToRGB(img)
	w, h := c.TargetSize(img.W, img.H)
	if len(dst) < 3*w*h {
		return fmt.Errorf("%w: buffer of %d values for %dx%d", ErrConfig, len(dst), w, h)
	}
	var err error
	if img.W != w || img.H != h {
		if img, err = resize(img, w, h, c.Interp); err != nil {
			return fmt.Errorf("%w: resize: %v", ErrImage, err)
		}
	}
	o := imaging.NormOptions{Scale: float64(c.Scale)}
	for i := range 3 {
		o.Mean[i], o.Std[i] = float64(c.Mean[i]), float64(c.Std[i])
	}
	if err := imaging.NormalizeInto(dst[:3*w*h], img, o); err != nil {
		return fmt.Errorf("%w: normalise: %v", ErrImage, err)
	}
	return nil
}
