package shitu

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/shitu-go/shitu/api"
	"github.com/shitu-go/shitu/config"
	"github.com/shitu-go/shitu/feature"
	"github.com/shitu-go/shitu/gallery"
	"github.com/shitu-go/shitu/gallery/paddleclas"
	"github.com/shitu-go/shitu/gallery/replica"
	"github.com/shitu-go/shitu/imaging"
	"github.com/shitu-go/shitu/infer"
	"github.com/shitu-go/shitu/recognize"
)

// System is an open recognition system: the model sessions, the named
// galleries and the background snapshot loop. Its methods are safe for
// concurrent use.
type System struct {
	cfg      *config.Config // nil for New
	o        Options
	model    string
	ip       paddleclas.IndexProcess
	opts     recognize.Options
	detector recognize.Detector // nil: whole image only
	ext      gallery.Extractor
	base     *recognize.System
	sessions []infer.Session
	// synthetic: a model has seeded weights (its manifest says so).
	synthetic bool

	mu     sync.Mutex
	gals   map[string]*gallery.Gallery
	reps   map[*gallery.Gallery]*replica.Replica // replicated galleries (OpenReplica)
	closed bool
	stop   context.CancelFunc
	done   chan struct{}
}

func newSystem(cfg *config.Config, o Options) *System {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	s := &System{cfg: cfg, o: o, gals: map[string]*gallery.Gallery{}}
	if cfg != nil {
		s.ip = IndexProcess(cfg)
		s.opts = RecognizeOptions(cfg)
	}
	return s
}

// start assembles the recognition system and starts the snapshot loop.
func (s *System) start() error {
	base, err := recognize.New(s.detector, s.ext, recognize.FromGallery(nil), s.opts)
	if err != nil {
		return err
	}
	s.base = base
	if s.o.SnapshotEvery > 0 {
		ctx, cancel := context.WithCancel(context.Background())
		s.stop, s.done = cancel, make(chan struct{})
		go s.snapshots(ctx, s.o.SnapshotEvery)
	}
	return nil
}

// Close stops the background work, writes the index snapshots of changed
// galleries, closes them and releases the model sessions. Close is
// idempotent; it returns the first error met.
func (s *System) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	stop, done := s.stop, s.done
	s.mu.Unlock()
	if stop != nil {
		stop()
		<-done
	}
	var first error
	// Replicas first: they stop applying the stream, then close their gallery.
	for _, r := range s.Replicas() {
		if err := r.Close(); err != nil && first == nil {
			first = fmt.Errorf("shitu: gallery %s: %w", r.Name(), err)
		}
	}
	s.mu.Lock()
	names := make([]string, 0, len(s.gals))
	for n := range s.gals {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if err := s.gals[n].Close(); err != nil && first == nil {
			first = fmt.Errorf("shitu: gallery %s: %w", n, err)
		}
	}
	s.mu.Unlock()
	for _, ss := range s.sessions {
		ss.Close()
	}
	return first
}

// Synthetic reports whether a model of the system has seeded weights
// (synthesized by shitu, also when installed from a synthesized mirror):
// its answers are not meaningful, and everything showing them says so.
func (s *System) Synthetic() bool { return s.synthetic }

// Config is the config the system was opened with (nil for New).
func (s *System) Config() *config.Config { return s.cfg }

// Model is the fingerprint of the recognition model and its preprocessing
// (feature.Fingerprint): galleries are bound to it, and opening a gallery
// made with another model fails with gallery.ErrModelMismatch.
func (s *System) Model() string { return s.model }

// Options are the base recognition options (from the config, defaults not
// applied).
func (s *System) Options() recognize.Options { return s.opts }

// IndexProcess is the config's IndexProcess block (how new galleries are laid out).
func (s *System) IndexProcess() paddleclas.IndexProcess { return s.ip }

// Extractor is the system's feature extractor (a *feature.Extractor for
// systems made by Open).
func (s *System) Extractor() gallery.Extractor { return s.ext }

// SetBatchWait changes the wait of cross-request batching
// (Options.BatchWait) for the recognitions that start from now on; 0
// turns it off. It reports false when the system's extractor does not
// batch across calls (systems made by New with another extractor).
func (s *System) SetBatchWait(d time.Duration) bool {
	e, ok := s.ext.(*feature.Extractor)
	if ok {
		e.SetBatchWait(d)
	}
	return ok
}

// Gallery returns a named gallery; "" is DefaultGallery.
func (s *System) Gallery(name string) (*gallery.Gallery, error) {
	if name == "" {
		name = DefaultGallery
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, ErrClosed
	}
	g, ok := s.gals[name]
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrNoGallery, name)
	}
	return g, nil
}

// Galleries lists the gallery names, sorted.
func (s *System) Galleries() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.gals))
	for n := range s.gals {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// adopt returns a function that registers a just opened gallery under
// name, or closes it when the name is taken or the system closed; it
// passes an opening error through.
func (s *System) adopt(name string) func(*gallery.Gallery, error) (*gallery.Gallery, error) {
	return func(g *gallery.Gallery, err error) (*gallery.Gallery, error) {
		if err != nil {
			return nil, err
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.closed {
			err = ErrClosed
		} else if _, ok := s.gals[name]; ok {
			err = fmt.Errorf("%w: %q", ErrExists, name)
		}
		if err != nil {
			g.Close()
			return nil, err
		}
		s.gals[name] = g
		return g, nil
	}
}

// CloseGallery unregisters the named gallery and closes it (writing its
// index snapshot); its files stay. Requests that still hold it finish
// with gallery.ErrClosed.
func (s *System) CloseGallery(name string) error {
	s.mu.Lock()
	g, ok := s.gals[name]
	delete(s.gals, name)
	r := s.reps[g]
	delete(s.reps, g)
	s.mu.Unlock()
	if !ok {
		return fmt.Errorf("%w: %q", ErrNoGallery, name)
	}
	if r != nil {
		return r.Close()
	}
	return g.Close()
}

// OpenGallery opens the gallery in dir under name. It must have been made
// with the system's model.
func (s *System) OpenGallery(name, dir string) (*gallery.Gallery, error) {
	return s.adopt(name)(gallery.Open(dir, gallery.Options{Model: s.model}))
}

// CreateGallery creates an empty gallery in dir, laid out as the config's
// IndexProcess says (dims, metric, index method), bound to the system's
// model, and registers it under name.
func (s *System) CreateGallery(name, dir string) (*gallery.Gallery, error) {
	o, err := s.ip.Options(s.model)
	if err != nil {
		return nil, err
	}
	return s.adopt(name)(gallery.Create(dir, o))
}

// Recognizer is the recognition system searching the named gallery; it
// shares the system's models.
func (s *System) Recognizer(name string) (*recognize.System, error) {
	g, err := s.Gallery(name)
	if err != nil {
		return nil, err
	}
	return s.RecognizerFor(g), nil
}

// RecognizerFor is the recognition system searching g (registered or not);
// it shares the system's models.
func (s *System) RecognizerFor(g *gallery.Gallery) *recognize.System {
	return s.base.WithGallery(recognize.FromGallery(g))
}

// Recognize detects, embeds and looks up the objects of an image in the
// default gallery with the system's options.
func (s *System) Recognize(ctx context.Context, img *imaging.Image) (*recognize.Result, error) {
	return s.RecognizeWith(ctx, DefaultGallery, img, s.opts)
}

// RecognizeWith recognises an image against the named gallery with
// per-call options (start from Options()).
func (s *System) RecognizeWith(ctx context.Context, name string, img *imaging.Image, opts recognize.Options) (*recognize.Result, error) {
	r, err := s.Recognizer(name)
	if err != nil {
		return nil, err
	}
	return r.RecognizeWith(ctx, img, opts)
}

// RecognizeStream recognises images 0…n−1 against the default gallery
// with the system's options, loading and preprocessing the next image
// while the current one is in the models (recognize.System.Stream). each
// gets every image in order: its frame and, when the frame has no error,
// its answer (the same as Recognize's).
func (s *System) RecognizeStream(ctx context.Context, n int, load func(ctx context.Context, i int) (*imaging.Image, error), each func(f recognize.Frame, res *recognize.Result) error) error {
	r, err := s.Recognizer(DefaultGallery)
	if err != nil {
		return err
	}
	opts := s.opts
	return r.Stream(ctx, n, opts, load, func(f recognize.Frame) error {
		if f.Err != nil {
			return each(f, nil)
		}
		res, err := f.Searched.Decide(opts)
		if err != nil {
			f.Err = err
		}
		return each(f, res)
	})
}

// RecognizeFile decodes an image file (EXIF orientation applied) and
// recognises it with Recognize.
func (s *System) RecognizeFile(ctx context.Context, path string) (*recognize.Result, error) {
	img, err := imaging.DecodeFile(path, imaging.DecodeOptions{})
	if err != nil {
		return nil, err
	}
	return s.Recognize(ctx, img)
}

// Embed returns the L2-normalised features of whole images, as a gallery
// build makes them.
func (s *System) Embed(ctx context.Context, imgs []*imaging.Image) ([][]float32, error) {
	return s.ext.Extract(ctx, imgs)
}

// Add is the one path from image bytes to stored items
// (gallery.Gallery.AddImages): decode (dec bounds the pixels), hash,
// embed in one batch, add to the named gallery as one durable change. It
// returns the stored items with their ids.
func (s *System) Add(ctx context.Context, name string, imgs []gallery.NewImage, dec imaging.DecodeOptions) ([]gallery.Item, error) {
	g, err := s.Gallery(name)
	if err != nil {
		return nil, err
	}
	items, _, err := s.AddTo(ctx, g, imgs, dec)
	return items, err
}

// Search looks a feature up in the named gallery: up to k hits, best first.
// A binary gallery binarises the vector.
func (s *System) Search(name string, vec []float32, k int, q gallery.Query) ([]gallery.Hit, error) {
	g, err := s.Gallery(name)
	if err != nil {
		return nil, err
	}
	return g.Search(vec, k, q)
}

// editTimeout bounds Remove and RemoveLabel, which take no context, on a
// replicated gallery (the cluster's acknowledgement and the local apply).
const editTimeout = 30 * time.Second

// Remove deletes items of the named gallery by id and reports how many existed.
func (s *System) Remove(name string, ids ...int64) (int, error) {
	g, err := s.Gallery(name)
	if err != nil {
		return 0, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), editTimeout)
	defer cancel()
	n, _, err := s.RemoveFrom(ctx, g, ids...)
	return n, err
}

// RemoveLabel deletes every item of a label from the named gallery.
func (s *System) RemoveLabel(name, label string) (int, error) {
	g, err := s.Gallery(name)
	if err != nil {
		return 0, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), editTimeout)
	defer cancel()
	n, _, err := s.RemoveLabelFrom(ctx, g, label)
	return n, err
}

// List returns a page of the named gallery's items and the id the next
// page starts from (-1 at the end).
func (s *System) List(name string, o gallery.ListOptions) ([]gallery.Item, int64, error) {
	g, err := s.Gallery(name)
	if err != nil {
		return nil, 0, err
	}
	return g.List(o)
}

// Export formats.
const (
	FormatPaddleClas = "paddleclas" // vector.index + id_map.pkl
	FormatPaddleX    = "paddlex"    // vector.index + id_map.yaml
)

// Export writes the named gallery into dir as a PaddleClas (FormatPaddleClas)
// or PaddleX (FormatPaddleX) index_dir and returns the files written.
func (s *System) Export(name, format, dir string) ([]string, error) {
	g, err := s.Gallery(name)
	if err != nil {
		return nil, err
	}
	return Export(g, format, dir)
}

// Export writes a gallery into dir as a PaddleClas or PaddleX index_dir.
func Export(g *gallery.Gallery, format, dir string) ([]string, error) {
	switch format {
	case FormatPaddleClas, "":
		return paddleclas.ExportPaddleClas(g, dir)
	case FormatPaddleX:
		return paddleclas.ExportPaddleX(g, dir)
	}
	return nil, fmt.Errorf("%w: export format %q (want paddleclas or paddlex)", ErrConfig, format)
}

// Import creates a gallery in dst from a PaddleClas or PaddleX index_dir
// made with this system's model and registers it under name ("" leaves
// it unregistered: the caller closes it).
func (s *System) Import(name, src, dst string) (*gallery.Gallery, error) {
	if s.model == "" {
		return nil, ErrNoModel
	}
	if name == "" {
		return paddleclas.Import(src, dst, s.model)
	}
	return s.adopt(name)(paddleclas.Import(src, dst, s.model))
}

// snapshots writes the index snapshot of every gallery that changed since
// its last one, every period, until ctx ends.
func (s *System) snapshots(ctx context.Context, every time.Duration) {
	defer close(s.done)
	last := map[*gallery.Gallery]uint64{}
	for _, n := range s.Galleries() {
		if g, err := s.Gallery(n); err == nil {
			last[g] = g.Version()
		}
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for _, n := range s.Galleries() {
			g, err := s.Gallery(n)
			if err != nil {
				continue
			}
			v, seen := last[g]
			if cur := g.Version(); !seen || cur != v {
				if err := g.Snapshot(); err != nil && !errors.Is(err, gallery.ErrClosed) {
					s.o.Logger.Error("snapshot", "gallery", n, "error", err.Error())
					continue
				}
				last[g] = cur
			}
		}
	}
}

// Response converts a recognition result into the JSON answer shared by
// predict's JSON lines and POST /v1/recognize (api.RecognizeResponse):
// gallery names the gallery searched, w×h is the image size and decode
// the time its decoding took (added to the timings). An unknown box has a
// null label.
func Response(gallery string, w, h int, res *recognize.Result, decode time.Duration) api.RecognizeResponse {
	out := api.RecognizeResponse{Gallery: gallery, GalleryVersion: res.GalleryVersion, Width: w, Height: h,
		Objects: make([]api.Object, 0, len(res.Objects))}
	for _, o := range res.Objects {
		a := api.Object{BBox: api.Box(o.Box), DetScore: o.DetScore, WholeImage: o.WholeImage, Score: o.Score,
			Threshold: o.Threshold, Candidates: make([]api.Candidate, len(o.Candidates))}
		if o.Known() {
			l := o.Label
			a.Label = &l
		}
		for i, c := range o.Candidates {
			a.Candidates[i] = api.Candidate(c)
		}
		out.Objects = append(out.Objects, a)
	}
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1e3 }
	t := res.Timings
	out.TimingsMS = api.Timings{Decode: ms(decode), Detect: ms(t.Detect), Crop: ms(t.Crop), Rec: ms(t.Rec),
		Search: ms(t.Search), NMS: ms(t.NMS), Total: ms(decode + t.Total)}
	return out
}

// BuildOptions tune Build. The zero value runs the config's
// index_operation leniently (bad lines and images reported and skipped)
// and writes vector.index + id_map.pkl for PaddleClas beside the gallery.
type BuildOptions struct {
	// Strict stops at the first bad line or unreadable image and leaves the
	// gallery unchanged.
	Strict bool
	// Sync makes the gallery hold exactly the list (index_operation new).
	Sync bool
	// NoExport skips writing vector.index + id_map.pkl.
	NoExport bool
	// Progress, when set, is called as images are processed.
	Progress func(done, total int)
}

// Build does build_gallery.py's job (paddleclas.RunIndexProcess) for the
// config's IndexProcess: the list file data_file with images under
// image_root becomes the gallery in index_dir, incrementally (unchanged
// images are not embedded again), bound to the system's model. index_dir
// must not be open in this system (open it with Options.NoGallery, then
// OpenGallery after Build to recognise with it).
func (s *System) Build(ctx context.Context, o BuildOptions) (paddleclas.IndexResult, error) {
	ip := s.ip
	if o.Sync {
		ip.IndexOperation = "new"
	}
	if g, err := s.Gallery(DefaultGallery); err == nil && ip.IndexDir != "" && g.Dir() == ip.IndexDir {
		return paddleclas.IndexResult{}, fmt.Errorf("%w: %s is open as the default gallery (open the system with NoGallery to build it)", ErrExists, ip.IndexDir)
	}
	return paddleclas.RunIndexProcess(ctx, ip, paddleclas.IndexRun{Model: s.model, Extractor: s.ext,
		Strict: o.Strict, Progress: o.Progress, NoExport: o.NoExport})
}

// OpenGalleryDir opens the gallery in dir on its own, without a model:
// for inspection (stats, listing), exports and removals, which need no
// features. Adding items needs a System (OpenGallery).
func OpenGalleryDir(dir string) (*gallery.Gallery, error) {
	return gallery.Open(dir, gallery.Options{})
}
