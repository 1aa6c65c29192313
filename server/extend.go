package server

import (
	"context"
	"io"
	"net/http"
	"strings"

	"github.com/shitu-go/shitu/api"
	"github.com/shitu-go/shitu/gallery"
	"github.com/shitu-go/shitu/imaging"
	"github.com/shitu-go/shitu/recognize"
)

// This file is what the web console (package server/console) builds on:
// the same galleries, work queue, bounds, key and metrics as the API.

// ConsolePrefix is the path prefix of the console's pages besides "/".
const ConsolePrefix = "/ui/"

// MountConsole serves h at "/" (GET, exactly) and under ConsolePrefix,
// behind the server's middleware (timeouts, body limit, metrics, logs,
// panic recovery). The console authenticates its own requests (a session
// cookie from its login form), so AuthReads' header check does not apply
// to these paths.
func (s *Server) MountConsole(h http.Handler) {
	s.mux.Handle("GET /{$}", h)
	s.mux.Handle(ConsolePrefix, h)
	s.console.Store(true)
}

// consolePath reports the paths MountConsole serves, when it did.
func (s *Server) consolePath(p string) bool {
	return s.console.Load() && (p == "/" || strings.HasPrefix(p, ConsolePrefix))
}

// CheckKey reports whether key is the server's API key (always true when
// none is set).
func (s *Server) CheckKey(key string) bool { return s.checkKey("", key) == nil }

// KeySet reports whether an API key protects changes.
func (s *Server) KeySet() bool { return s.cfg.APIKey != "" }

// AuthReads reports whether reads need the key too (Config.AuthReads).
func (s *Server) AuthReads() bool { return s.cfg.AuthReads }

// DefaultGallery is the name of the gallery used when none is named.
func (s *Server) DefaultGallery() string { return s.cfg.DefaultGallery }

// Synthetic reports whether the models have seeded weights.
func (s *Server) Synthetic() bool { return s.sys.Synthetic() }

// Limits are the bounds the console shows and applies.
type Limits struct {
	MaxBodyBytes int64
	MaxPixels    int64
	MaxBatch     int
}

// Limits returns the server's request bounds.
func (s *Server) Limits() Limits {
	return Limits{MaxBodyBytes: s.cfg.MaxBodyBytes, MaxPixels: s.cfg.MaxPixels, MaxBatch: s.cfg.MaxBatch}
}

// Gallery returns a served gallery by name ("" is the default one).
func (s *Server) Gallery(name string) (*gallery.Gallery, error) {
	e, err := s.gallery(name)
	if err != nil {
		return nil, err
	}
	return e.g, nil
}

// Recognize decodes and recognises image bytes against a served gallery
// under the work queue, as POST /v1/recognize does, with the server's
// base options adjusted by opts (when not nil). Unknown boxes are kept.
func (s *Server) Recognize(ctx context.Context, galleryName string, data []byte, opts func(*recognize.Options)) (*recognize.Result, *imaging.Image, error) {
	e, err := s.gallery(galleryName)
	if err != nil {
		return nil, nil, err
	}
	ro := s.cfg.Recognize
	ro.KeepUnknown = true
	if opts != nil {
		opts(&ro)
	}
	res, img, _, err := s.recognize(ctx, data, e, ro)
	return res, img, err
}

// AddImages adds images to a served gallery as one durable change, with
// the bounds, quota and work queue of POST /v1/gallery/items.
func (s *Server) AddImages(ctx context.Context, galleryName string, imgs []gallery.NewImage) ([]gallery.Item, error) {
	e, err := s.gallery(galleryName)
	if err != nil {
		return nil, err
	}
	items := make([]api.NewItem, len(imgs))
	raw := make([][]byte, len(imgs))
	for i, im := range imgs {
		items[i] = api.NewItem{Label: im.Label, Source: im.Source, Metadata: im.Meta}
		raw[i] = im.Data
	}
	added, _, err := s.addImages(ctx, e, items, raw)
	return added, err
}

// RemoveItems deletes items of a served gallery by id (through the
// cluster when the gallery is replicated); it returns how many existed and
// the gallery version after the change.
func (s *Server) RemoveItems(ctx context.Context, galleryName string, ids ...int64) (int, uint64, error) {
	e, err := s.gallery(galleryName)
	if err != nil {
		return 0, 0, err
	}
	return s.sys.RemoveFrom(ctx, e.g, ids...)
}

// RemoveLabel deletes every item of a label from a served gallery.
func (s *Server) RemoveLabel(ctx context.Context, galleryName, label string) (int, uint64, error) {
	e, err := s.gallery(galleryName)
	if err != nil {
		return 0, 0, err
	}
	return s.sys.RemoveLabelFrom(ctx, e.g, label)
}

// Relabel gives items of a served gallery a new label, as one change.
func (s *Server) Relabel(ctx context.Context, galleryName, label string, ids ...int64) (int, uint64, error) {
	e, err := s.gallery(galleryName)
	if err != nil {
		return 0, 0, err
	}
	return s.sys.RelabelIn(ctx, e.g, label, ids...)
}

// OnRecognized registers f to see every successful recognition of the
// API (POST /v1/recognize, gRPC Recognize) with its decoded image, e.g.
// to keep the unsure ones for review. f runs on the request's goroutine
// and must be quick.
func (s *Server) OnRecognized(f func(galleryName string, img *imaging.Image, res *recognize.Result)) {
	s.observeMu.Lock()
	defer s.observeMu.Unlock()
	s.observers = append(s.observers, f)
}

func (s *Server) observe(galleryName string, img *imaging.Image, res *recognize.Result) {
	s.observeMu.Lock()
	obs := s.observers
	s.observeMu.Unlock()
	for _, f := range obs {
		f(galleryName, img, res)
	}
}

// AddMetrics registers f to append Prometheus text-format lines to /metrics.
func (s *Server) AddMetrics(f func(w io.Writer)) {
	s.observeMu.Lock()
	defer s.observeMu.Unlock()
	s.extraMetrics = append(s.extraMetrics, f)
}

// Classify maps an error to the HTTP status and short kind the API
// answers with.
func Classify(err error) (status int, kind string) { return classify(err) }
