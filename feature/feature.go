// Package feature is the recognition feature extractor of PP-ShiTuV2:
// RecPreProcess (resize, normalise, CHW), batched model runs, L2
// normalisation of every feature, and the "sign" binarisation of the
// binary variant (ppshitu-pipeline.md §6). ExtractFiles decodes and
// preprocesses the next batch while the model runs the current one.
package feature

import (
	"context"
	"errors"
	"fmt"
	"math"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/shitu-go/shitu/imaging"
	"github.com/shitu-go/shitu/infer"
	"github.com/shitu-go/shitu/tensor"
)

// Errors.
var (
	ErrConfig = errors.New("feature: bad configuration")
	ErrImage  = errors.New("feature: unusable image")
	ErrModel  = errors.New("feature: unexpected model signature")
)

// Extractor turns images into L2-normalised features. It is safe for
// concurrent use when its session is.
type Extractor struct {
	sess  infer.Session
	cfg   Config
	input string
	batch int // max images per run
	dims  int // feature size, 0 until known

	mu    sync.Mutex
	stats Stats

	wait atomic.Int64 // cross-call batching wait in ns (0: off)
	q    queue
}

// Stats accumulate what an Extractor did.
type Stats struct {
	Images  int           // features produced
	Batches int           // model runs
	Busy    time.Duration // time inside the model
	Wall    time.Duration // wall time of ExtractFiles calls
	Joined  int           // model runs that carried images of more than one Extract call
}

// BusyShare is the share of ExtractFiles wall time the model was running.
func (s Stats) BusyShare() float64 {
	if s.Wall <= 0 {
		return 0
	}
	return float64(s.Busy) / float64(s.Wall)
}

// New makes an extractor for a recognition model session: one float32
// input [N, 3, H, W] and a first output [N, D].
func New(sess infer.Session, cfg Config) (*Extractor, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	in := sess.Inputs()
	if len(in) != 1 || in[0].DType != tensor.Float32 || len(in[0].Shape) != 4 {
		return nil, fmt.Errorf("%w: want one float32 input [N,3,H,W], model has %v", ErrModel, in)
	}
	out := sess.Outputs()
	if len(out) == 0 || out[0].DType != tensor.Float32 {
		return nil, fmt.Errorf("%w: want a float32 feature output, model has %v", ErrModel, out)
	}
	e := &Extractor{sess: sess, cfg: cfg, input: in[0].Name, batch: cfg.BatchSize}
	e.wait.Store(int64(cfg.BatchWait))
	e.q.kick = make(chan struct{}, 1)
	e.q.slots = make(chan struct{}, cfg.BatchRuns)
	if n := in[0].Shape[0]; n > 0 && int(n) < e.batch {
		e.batch = int(n)
	}
	s := in[0].Shape
	if (s[1] > 0 && s[1] != 3) || (cfg.ResizeShort == 0 && ((s[2] > 0 && int(s[2]) != cfg.Height) || (s[3] > 0 && int(s[3]) != cfg.Width))) {
		return nil, fmt.Errorf("%w: model input %v does not take 3x%dx%d images", ErrModel, s, cfg.Height, cfg.Width)
	}
	if os := out[0].Shape; len(os) == 2 && os[1] > 0 {
		e.dims = int(os[1])
	}
	return e, nil
}

// Dims is the feature size (0 until the first run when the model output
// has a dynamic size).
func (e *Extractor) Dims() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.dims
}

// Config is the effective configuration (defaults filled in).
func (e *Extractor) Config() Config { return e.cfg }

// Stats returns the accumulated counters.
func (e *Extractor) Stats() Stats {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.stats
}

// SetBatchWait changes Config.BatchWait for the Extract calls that start
// from now on: 0 turns cross-call batching off.
func (e *Extractor) SetBatchWait(d time.Duration) {
	e.wait.Store(int64(max(d, 0)))
	e.q.wake() // queued calls wait by the new value
}

// BatchWait is the current cross-call batching wait (0: off).
func (e *Extractor) BatchWait() time.Duration { return e.batchWait() }

func (e *Extractor) batchWait() time.Duration { return time.Duration(e.wait.Load()) }

// Extract returns one L2-normalised feature per image, running the model
// in batches of Config.BatchSize. The images of a batch are preprocessed
// on up to GOMAXPROCS goroutines (the model is idle meanwhile). With
// cross-call batching on (Config.BatchWait), the images of concurrent
// calls share model runs; the features are the same up to float rounding.
func (e *Extractor) Extract(ctx context.Context, imgs []*imaging.Image) ([][]float32, error) {
	// Plan the batches: consecutive images of one target size, at most e.batch each.
	var batches []*batch
	var cur *batch
	for i, img := range imgs {
		if img == nil || img.W <= 0 || img.H <= 0 {
			return nil, fmt.Errorf("%w: image %d is empty", ErrImage, i)
		}
		w, h := e.cfg.TargetSize(img.W, img.H)
		if cur == nil || cur.w != w || cur.h != h || len(cur.idx) == e.batch {
			cur = &batch{w: w, h: h}
			batches = append(batches, cur)
		}
		cur.idx = append(cur.idx, i)
	}
	out := make([][]float32, 0, len(imgs))
	for _, b := range batches {
		if err := e.preprocess(imgs, b); err != nil {
			return nil, err
		}
		run := e.run
		if e.batchWait() > 0 {
			run = e.extractShared
		}
		f, err := run(ctx, b)
		if err != nil {
			return nil, err
		}
		out = append(out, f...)
	}
	return out, nil
}

// preprocess fills b.data with its images, in parallel.
func (e *Extractor) preprocess(imgs []*imaging.Image, b *batch) error {
	per := 3 * b.w * b.h
	b.data = make([]float32, len(b.idx)*per)
	workers := min(runtime.GOMAXPROCS(0), len(b.idx))
	errs := make([]error, len(b.idx))
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				k := int(next.Add(1)) - 1
				if k >= len(b.idx) {
					return
				}
				if err := e.cfg.Preprocess(imgs[b.idx[k]], b.data[k*per:(k+1)*per]); err != nil {
					errs[k] = fmt.Errorf("image %d: %w", b.idx[k], err)
				}
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// batch is a set of preprocessed images of one size.
type batch struct {
	w, h int
	idx  []int
	data []float32
}

// run feeds one batch to the model and returns normalised features.
func (e *Extractor) run(ctx context.Context, b *batch) ([][]float32, error) {
	n := len(b.idx)
	x, err := tensor.New([]int{n, 3, b.h, b.w}, b.data[:n*3*b.h*b.w])
	if err != nil {
		return nil, fmt.Errorf("feature: %w", err)
	}
	t0 := time.Now()
	outs, err := e.sess.Run(ctx, map[string]*tensor.Tensor{e.input: x})
	busy := time.Since(t0)
	if err != nil {
		return nil, fmt.Errorf("feature: run: %w", err)
	}
	y := outs[0]
	shape := y.Shape()
	if len(shape) < 2 || shape[0] != n {
		return nil, fmt.Errorf("%w: output shape %v for a batch of %d", ErrModel, shape, n)
	}
	vals := y.Float32s()
	if y.DType() != tensor.Float32 || len(vals) == 0 {
		return nil, fmt.Errorf("%w: output is %v", ErrModel, y.DType())
	}
	d := len(vals) / n
	feats := make([][]float32, n)
	for i := range feats {
		f := make([]float32, d)
		copy(f, vals[i*d:(i+1)*d])
		Normalize(f)
		feats[i] = f
	}
	e.mu.Lock()
	e.dims = d
	e.stats.Images += n
	e.stats.Batches++
	e.stats.Busy += busy
	e.mu.Unlock()
	return feats, nil
}

// Normalize divides v by its L2 norm in place (feature_normalize, §6.2).
// The norm is accumulated in float64 and applied in float32; an all-zero
// vector is left as is (PaddleClas would produce NaNs).
func Normalize(v []float32) {
	var s float64
	for _, x := range v {
		s += float64(x) * float64(x)
	}
	if s == 0 {
		return
	}
	n := float32(math.Sqrt(s))
	for i := range v {
		v[i] /= n
	}
}

// Binarize packs the signs of v into bytes, most significant bit first:
// bit 1 iff the value is > 0 (0 and NaN give 0). len(v) must be a
// multiple of 8 (PaddleClas asserts it); the remainder is ignored
// (ppshitu-pipeline.md §6.4).
func Binarize(v []float32) []byte {
	out := make([]byte, len(v)/8)
	for i := range len(out) * 8 {
		if v[i] > 0 {
			out[i/8] |= 0x80 >> (i % 8)
		}
	}
	return out
}
