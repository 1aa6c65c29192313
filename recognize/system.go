package recognize

import (
	"context"
	"fmt"
	"time"

	"github.com/shitu-go/shitu/detect"
	"github.com/shitu-go/shitu/gallery"
	"github.com/shitu-go/shitu/imaging"
)

// System is the recognition pipeline. It is safe for concurrent Recognize
// calls when its Detector, Extractor and Gallery are.
type System struct {
	det  Detector // nil: no detector, whole image only
	emb  gallery.Extractor
	gal  Gallery
	opts Options
}

// New assembles a system around a feature extractor (feature.Extractor
// implements gallery.Extractor). det may be nil (whole-image recognition
// only).
func New(det Detector, ext gallery.Extractor, gal Gallery, opts Options) (*System, error) {
	if ext == nil || gal == nil {
		return nil, fmt.Errorf("%w: an extractor and a gallery are required", ErrOptions)
	}
	if opts.TopK < 0 || opts.NMSThreshold < 0 {
		return nil, fmt.Errorf("%w: negative count or threshold", ErrOptions)
	}
	return &System{det: det, emb: ext, gal: gal, opts: opts}, nil
}

// Options returns the system's options (defaults not applied).
func (s *System) Options() Options { return s.opts }

// Recognize runs the whole pipeline on one decoded image with the system's options.
func (s *System) Recognize(ctx context.Context, img *imaging.Image) (*Result, error) {
	return s.RecognizeWith(ctx, img, s.opts)
}

// RecognizeWith runs the pipeline with per-call options (e.g. a service
// request's thresholds). It is Candidates followed by Decide.
func (s *System) RecognizeWith(ctx context.Context, img *imaging.Image, opts Options) (*Result, error) {
	c, err := s.Candidates(ctx, img, opts)
	if err != nil {
		return nil, err
	}
	return c.Decide(opts)
}

// expecter is an extractor that batches across calls and likes to know
// of calls to come (feature.Extractor.Expect).
type expecter interface{ Expect() (done func()) }

// Searched is an image after detection, embedding and gallery search:
// every box with its candidates, none accepted or suppressed yet. Decide
// turns it into the answer under some acceptance options, as often as
// needed, without running the models again.
type Searched struct {
	objs    []Object // Box, DetScore, WholeImage and Candidates set
	view    GalleryView
	crops   int
	timings Timings
}

// Candidates runs detection (MaxDetResults, DetThreshold, WholeImage),
// embedding and the search (TopK, Filter) of opts on one image.
func (s *System) Candidates(ctx context.Context, img *imaging.Image, opts Options) (*Searched, error) {
	return s.candidates(ctx, img, nil, opts)
}

// Prepared is an image with the detector's input already made (Prepare),
// ready for CandidatesPrepared.
type Prepared struct {
	img *imaging.Image
	det *detect.Detector // the detector whose preprocessing made in
	in  *detect.Input    // nil: no *detect.Detector, or NoDetector
	pre time.Duration
}

// Image returns the prepared image.
func (p *Prepared) Image() *imaging.Image { return p.img }

// Prepare does the model-free work that precedes detection: the
// detector's preprocessing (resize, normalise, CHW) when the detector is
// a *detect.Detector and opts run it. Streams prepare the next image while
// the current one is in the models (Stream).
func (s *System) Prepare(img *imaging.Image, opts Options) (*Prepared, error) {
	if img == nil || img.W <= 0 || img.H <= 0 {
		return nil, fmt.Errorf("%w: empty image", ErrImage)
	}
	p := &Prepared{img: img}
	if d, ok := s.det.(*detect.Detector); ok && !opts.NoDetector {
		t0 := time.Now()
		in, err := detect.Preprocess(img, d.Pre())
		if err != nil {
			return nil, err
		}
		p.det, p.in, p.pre = d, in, time.Since(t0)
	}
	return p, nil
}

// CandidatesPrepared is Candidates for an image made ready by Prepare
// with the same opts; the answer is the same as Candidates'. An image
// prepared by another System's detector is detected afresh.
func (s *System) CandidatesPrepared(ctx context.Context, p *Prepared, opts Options) (*Searched, error) {
	if p == nil {
		return nil, fmt.Errorf("%w: nil prepared image", ErrImage)
	}
	return s.candidates(ctx, p.img, p, opts)
}

func (s *System) candidates(ctx context.Context, img *imaging.Image, prep *Prepared, opts Options) (*Searched, error) {
	opts = opts.withDefaults()
	if img == nil || img.W <= 0 || img.H <= 0 {
		return nil, fmt.Errorf("%w: empty image", ErrImage)
	}
	t0 := time.Now()
	// A batching extractor waits for recognitions on their way to it.
	arrived := func() {}
	if x, ok := s.emb.(expecter); ok {
		arrived = x.Expect()
	}
	defer arrived()
	sr := &Searched{}
	var dets []detect.Box
	if s.det != nil && !opts.NoDetector {
		var err error
		if d, ok := s.det.(*detect.Detector); ok && prep != nil && prep.in != nil && prep.det == d {
			// Preprocessed ahead: its time still counts in Total, as
			// the work this image took, and Detect stays the run alone.
			sr.timings.DetPreprocess = prep.pre
			dets, err = d.DetectInput(ctx, prep.in)
			t0 = t0.Add(-prep.pre)
		} else {
			dets, err = s.detect(ctx, img, &sr.timings)
		}
		if err != nil {
			return nil, err
		}
		// The one selection of detections: top max_det_results first, then
		// the threshold, as PaddleClas predict_system does (§10.3).
		dets = detect.SelectTop(dets, opts.MaxDetResults, opts.DetThreshold)
	}
	sr.timings.Detect = time.Since(t0) - sr.timings.DetPreprocess

	t := time.Now()
	boxes := Boxes(dets, img.W, img.H, opts.WholeImage)
	var crops []*imaging.Image
	var kept []Object
	for _, b := range boxes {
		x1, y1, x2, y2, ok := ClipBox(b.Box, img.W, img.H)
		if !ok {
			continue // §5.3: empty crop, skipped (PaddleClas would crash)
		}
		c := img // the whole image needs no copy
		if x1 != 0 || y1 != 0 || x2 != img.W || y2 != img.H {
			var err error
			if c, err = imaging.Crop(img, x1, y1, x2, y2); err != nil {
				return nil, err
			}
		}
		crops = append(crops, c)
		kept = append(kept, b)
	}
	sr.timings.Crop = time.Since(t)
	sr.crops = len(crops)
	if len(crops) == 0 {
		sr.timings.Total = time.Since(t0)
		return sr, nil
	}

	t = time.Now()
	arrived()
	feats, err := s.emb.Extract(ctx, crops)
	if err != nil {
		return nil, err
	}
	if len(feats) != len(crops) {
		return nil, fmt.Errorf("recognize: extractor returned %d features for %d crops", len(feats), len(crops))
	}
	sr.timings.Rec = time.Since(t)
	if err := ctx.Err(); err != nil { // the request's time ran out during the model runs
		return nil, err
	}

	t = time.Now()
	if sr.objs, sr.view, err = s.search(kept, feats, opts); err != nil {
		return nil, err
	}
	sr.timings.Search = time.Since(t)
	sr.timings.Total = time.Since(t0)
	return sr, nil
}

// Decide applies acceptance (ScoreThreshold / HammingRadius, stored
// thresholds, KeepUnknown) and recognition NMS (NMSThreshold) of opts to
// the searched boxes. Detection and search options of opts are ignored:
// they were applied by Candidates.
func (c *Searched) Decide(opts Options) (*Result, error) {
	opts = opts.withDefaults()
	t := time.Now()
	res := &Result{Crops: c.crops, Timings: c.timings, Objects: []Object{}}
	if c.view == nil {
		return res, nil
	}
	res.GalleryVersion = c.view.Version()
	objs := make([]Object, 0, len(c.objs))
	for _, o := range c.objs {
		if accept(&o, c.view, opts) || opts.KeepUnknown {
			objs = append(objs, o)
		}
	}
	res.Timings.Search += time.Since(t)

	t = time.Now()
	var err error
	if res.Objects, err = recNMS(objs, opts.NMSThreshold); err != nil {
		return nil, err
	}
	res.Timings.NMS = time.Since(t)
	res.Timings.Total = c.timings.Total + res.Timings.Search - c.timings.Search + res.Timings.NMS
	return res, nil
}

// detect runs the detector, timing its preprocessing apart when it is a
// *detect.Detector.
func (s *System) detect(ctx context.Context, img *imaging.Image, t *Timings) ([]detect.Box, error) {
	d, ok := s.det.(*detect.Detector)
	if !ok {
		return s.det.Detect(ctx, img)
	}
	t0 := time.Now()
	in, err := detect.Preprocess(img, d.Pre())
	if err != nil {
		return nil, err
	}
	t.DetPreprocess = time.Since(t0)
	return d.DetectInput(ctx, in)
}

// maxViewRetries bounds how often the searches of one image are repeated
// because the gallery changed under them; past it the last answer stands
// (it is then consistent with its version up to the concurrent removals).
const maxViewRetries = 8

// search looks every box up in one gallery view, repeating the lookups on
// a fresh view when a change was published meanwhile, so that the answer
// matches the version it reports.
func (s *System) search(kept []Object, feats [][]float32, opts Options) ([]Object, GalleryView, error) {
	for attempt := 0; ; attempt++ {
		view := s.gal.View()
		objs := make([]Object, 0, len(kept))
		for i, o := range kept {
			hits, err := view.Search(feats[i], opts.TopK, opts.Filter)
			if err != nil {
				return nil, nil, err
			}
			o.Candidates = hits
			objs = append(objs, o)
		}
		if view.Current() || attempt >= maxViewRetries {
			return objs, view, nil
		}
	}
}

// accept applies §7.2: only the top-1 hit counts; a float gallery accepts
// score ≥ threshold, a binary one distance ≤ radius. A label's stored
// threshold replaces the global one for that label.
func accept(o *Object, view GalleryView, opts Options) bool {
	if len(o.Candidates) == 0 {
		return false
	}
	top := o.Candidates[0]
	o.Score = top.Score
	binary := view.Binary()
	th := opts.ScoreThreshold
	if binary {
		th = opts.HammingRadius
	}
	if lt, ok := view.Threshold(top.Label); ok && !opts.IgnoreStoredThresholds {
		th = lt
	}
	o.Threshold = th
	ok := top.Score >= th
	if binary {
		ok = top.Score <= th
	}
	if ok {
		o.Label = top.Label
	}
	return ok
}

// Boxes turns detections into objects with integer boxes truncated toward
// zero (§5.2) and adds the whole-image box [0, 0, W, H] with score 1 per mode.
func Boxes(dets []detect.Box, w, h int, mode WholeImage) []Object {
	objs := make([]Object, 0, len(dets)+1)
	for _, d := range dets {
		objs = append(objs, Object{Box: [4]int{int(d.X1), int(d.Y1), int(d.X2), int(d.Y2)}, DetScore: d.Score})
	}
	if mode == WholeAlways || (mode == WholeFallback && len(dets) == 0) {
		objs = append(objs, Object{Box: [4]int{0, 0, w, h}, DetScore: 1, WholeImage: true})
	}
	return objs
}

// ClipBox clips an integer box to the image. It reports false when less
// than one pixel remains in either direction. This deliberately differs
// from PaddleClas (§5.3), whose numpy slicing treats a negative start as
// counting from the end and whose resize then crashes on an empty crop.
func ClipBox(b [4]int, w, h int) (x1, y1, x2, y2 int, ok bool) {
	x1, y1 = max(b[0], 0), max(b[1], 0)
	x2, y2 = min(b[2], w), min(b[3], h)
	return x1, y1, x2, y2, x2-x1 >= 1 && y2-y1 >= 1
}

// recNMS runs the recognition-level NMS of §8 over accepted objects (and,
// with KeepUnknown, unknown ones, which take part with their top-1 score).
func recNMS(objs []Object, thresh float32) ([]Object, error) {
	boxes := make([][4]int, len(objs))
	scores := make([]float32, len(objs))
	for i, o := range objs {
		boxes[i], scores[i] = o.Box, o.Score
	}
	keep, err := detect.RecNMS(boxes, scores, thresh)
	if err != nil {
		return nil, err
	}
	out := make([]Object, len(keep))
	for i, k := range keep {
		out[i] = objs[k]
	}
	return out, nil
}
