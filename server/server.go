// Package server is shitu's HTTP service: REST under /v1, the Paddle
// Serving pipeline endpoint, the PaddleX serving endpoints, health,
// readiness and Prometheus metrics. Galleries change live: an
// acknowledged add or remove is durable and visible to the next request.
package server

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc/health"

	"github.com/shitu-go/shitu"
	"github.com/shitu-go/shitu/gallery"
	"github.com/shitu-go/shitu/imaging"
	"github.com/shitu-go/shitu/recognize"
)

// Config configures a Server. Zero values mean the defaults in brackets.
// Every number a request can set is bounded by one of these before any
// work starts (DESIGN.md: safety by default).
type Config struct {
	// APIKey, when set, is required (header "Authorization: Bearer KEY" or
	// "X-API-Key: KEY") on every endpoint that changes a gallery, and on
	// every endpoint but the health checks when AuthReads is set.
	APIKey string
	// AuthReads requires the API key on reads too (recognition, listing,
	// metrics); /healthz, /readyz and /health stay open.
	AuthReads bool
	// MaxBodyBytes caps request bodies [32 MiB].
	MaxBodyBytes int64
	// MaxPixels refuses larger images before decoding them [40 000 000].
	MaxPixels int64
	// MaxTopK bounds the gallery candidates a request may ask per box
	// (/v1 topk, PaddleX topk) [100].
	MaxTopK int
	// MaxBatch bounds the images of one add or index-build request [64].
	MaxBatch int
	// MaxIDs bounds the ids of one remove request [10 000].
	MaxIDs int
	// Workers is how many recognitions or feature extractions run at once [GOMAXPROCS].
	Workers int
	// Queue is how many more may wait for a worker; beyond it requests get
	// 429 with Retry-After [4 × Workers].
	Queue int
	// Timeout bounds one request's work: decoding, the model runs and the
	// search observe it [30 s].
	Timeout time.Duration
	// ReadHeaderTimeout, ReadTimeout (headers and body), WriteTimeout and
	// IdleTimeout (keep-alive) of HTTPServer [min(10 s, ReadTimeout), 30 s,
	// Timeout + 15 s, 30 s]. A connection that sends no request is closed
	// after ReadHeaderTimeout.
	ReadHeaderTimeout, ReadTimeout, WriteTimeout, IdleTimeout time.Duration
	// MaxConns bounds the open connections of Listen [512].
	MaxConns int
	// DefaultGallery names the gallery used when a request names none ["default"].
	DefaultGallery string
	// Store keeps galleries created through the API (PaddleX
	// /shitu-index-build, POST /v1/galleries) and reopens them at start;
	// they are registered in the System, which snapshots and closes them
	// (nil: creating galleries answers 501).
	Store *DirStore
	// MaxGalleries bounds how many galleries Store holds [64].
	MaxGalleries int
	// MaxStoreBytes bounds the bytes on disk of Store's galleries; adds and
	// creations past it answer 507 [8 GiB].
	MaxStoreBytes int64
	// FetchAllow lists the hosts whose http(s) image URLs are fetched (an
	// entry "*.example.com" admits its subdomains). Empty: image URLs are
	// refused, as they always were.
	FetchAllow []string
	// PXNoImage stops /shitu-infer from returning the visualised image,
	// which PaddleX returns by default (a request's "visualize" still can).
	PXNoImage bool
	// Logger gets one structured line per request [slog.Default()].
	Logger *slog.Logger
	// MaxVersionWait bounds how long a recognition asking for a minimum
	// gallery version (min_version) waits for a replica to reach it before
	// 503 [5 s; the request's Timeout bounds it too].
	MaxVersionWait time.Duration
	// Recognize are the base options of every recognition.
	Recognize recognize.Options
}

func (c Config) withDefaults() Config {
	if c.MaxBodyBytes <= 0 {
		c.MaxBodyBytes = 32 << 20
	}
	if c.MaxPixels == 0 {
		c.MaxPixels = 40_000_000
	}
	if c.MaxTopK <= 0 {
		c.MaxTopK = 100
	}
	if c.MaxBatch <= 0 {
		c.MaxBatch = 64
	}
	if c.MaxIDs <= 0 {
		c.MaxIDs = 10_000
	}
	if c.Workers <= 0 {
		c.Workers = runtime.GOMAXPROCS(0)
	}
	if c.Queue <= 0 {
		c.Queue = 4 * c.Workers
	}
	if c.Timeout <= 0 {
		c.Timeout = 30 * time.Second
	}
	if c.ReadTimeout <= 0 {
		c.ReadTimeout = 30 * time.Second
	}
	if c.ReadHeaderTimeout <= 0 {
		c.ReadHeaderTimeout = min(10*time.Second, c.ReadTimeout)
	}
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = c.Timeout + 15*time.Second
	}
	if c.IdleTimeout <= 0 {
		c.IdleTimeout = 30 * time.Second
	}
	if c.MaxConns <= 0 {
		c.MaxConns = 512
	}
	if c.DefaultGallery == "" {
		c.DefaultGallery = "default"
	}
	if c.MaxGalleries <= 0 {
		c.MaxGalleries = 64
	}
	if c.MaxStoreBytes <= 0 {
		c.MaxStoreBytes = 8 << 30
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.MaxVersionWait <= 0 {
		c.MaxVersionWait = 5 * time.Second
	}
	return c
}

// entry is one named gallery with its recognition system.
type entry struct {
	name   string
	g      *gallery.Gallery
	sys    *recognize.System
	stored bool // created through the API, kept in Config.Store
}

func (s *Server) newEntry(name string, g *gallery.Gallery, stored bool) *entry {
	return &entry{name: name, g: g, sys: s.sys.RecognizerFor(g), stored: stored}
}

// Server serves the HTTP API. Create it with New.
type Server struct {
	cfg   Config
	sys   *shitu.System
	gals  atomic.Pointer[map[string]*entry] // copy-on-write: lock-free lookups
	galMu sync.Mutex                        // serialises changes to the map
	mux   *http.ServeMux
	slots chan struct{}
	load  atomic.Int64 // requests holding or waiting for a slot
	ready atomic.Bool
	m     *metrics
	seq   atomic.Uint64
	fetch *fetcher
	// painter draws visualisations, marked SYNTHETIC for seeded models.
	painter *recognize.Painter
	// healths are the gRPC health services of GRPCServer, told of SetReady.
	healthMu sync.Mutex
	healths  []*health.Server
	// console: MountConsole was called (extend.go); observers and
	// extraMetrics are the console's hooks.
	console      atomic.Bool
	observeMu    sync.Mutex
	observers    []func(string, *imaging.Image, *recognize.Result)
	extraMetrics []func(io.Writer)
}

// New builds a server around a recognition system: its models are shared
// by all its named galleries. The system stays the caller's to close.
func New(sys *shitu.System, cfg Config) (*Server, error) {
	cfg = cfg.withDefaults()
	if sys == nil {
		return nil, errors.New("server: a recognition system is required")
	}
	s := &Server{cfg: cfg, sys: sys, mux: http.NewServeMux(), slots: make(chan struct{}, cfg.Workers)}
	s.m = newMetrics(s)
	m := map[string]*entry{}
	for _, name := range sys.Galleries() {
		g, err := sys.Gallery(name)
		if err != nil {
			return nil, err
		}
		m[name] = s.newEntry(name, g, false)
	}
	s.openStored(m)
	s.gals.Store(&m)
	s.fetch = newFetcher(cfg)
	s.painter = recognize.NewPainter("")
	if sys.Synthetic() {
		s.painter.Mark = "SYNTHETIC: seeded weights, not trained"
	}
	s.routes()
	s.ready.Store(true)
	return s, nil
}

// Handler is the server's http.Handler, with logging, metrics and panic recovery.
func (s *Server) Handler() http.Handler { return s.middleware(s.mux) }

// SetReady flips /readyz and the gRPC health status (e.g. false while
// shutting down).
func (s *Server) SetReady(ok bool) {
	s.ready.Store(ok)
	s.healthMu.Lock()
	defer s.healthMu.Unlock()
	for _, hs := range s.healths {
		s.setHealth(hs, ok)
	}
}

// AddGallery registers (or replaces) a named gallery.
func (s *Server) AddGallery(name string, g *gallery.Gallery) {
	s.galMu.Lock()
	defer s.galMu.Unlock()
	s.putLocked(name, s.newEntry(name, g, false))
}

// putLocked publishes the map with e under name; galMu is held.
func (s *Server) putLocked(name string, e *entry) {
	old := *s.gals.Load()
	m := make(map[string]*entry, len(old)+1)
	for k, v := range old {
		m[k] = v
	}
	m[name] = e
	s.gals.Store(&m)
}

// Galleries lists the gallery names, sorted.
func (s *Server) Galleries() []string {
	var n []string
	for k := range *s.gals.Load() {
		n = append(n, k)
	}
	sort.Strings(n)
	return n
}

func (s *Server) gallery(name string) (*entry, error) {
	if name == "" {
		name = s.cfg.DefaultGallery
	}
	e, ok := (*s.gals.Load())[name]
	if !ok {
		return nil, fmt.Errorf("%w: %q", errNoGallery, name)
	}
	return e, nil
}

// acquire admits one unit of heavy work: it waits for a worker slot while
// the queue has room, and fails with errBusy when it does not.
func (s *Server) acquire(ctx context.Context) (release func(), err error) {
	if s.load.Add(1) > int64(s.cfg.Workers+s.cfg.Queue) {
		s.load.Add(-1)
		return nil, errBusy
	}
	select {
	case s.slots <- struct{}{}:
		return func() { <-s.slots; s.load.Add(-1) }, nil
	case <-ctx.Done():
		s.load.Add(-1)
		return nil, ctx.Err()
	}
}

// authorized checks the API key of a gallery-changing request.
func (s *Server) authorized(r *http.Request) error {
	return s.checkKey(r.Header.Get("Authorization"), r.Header.Get("X-API-Key"))
}

// checkKey checks an API key given as "Bearer KEY" (authorization) or
// as the key itself (apiKey), in HTTP headers or gRPC metadata alike.
func (s *Server) checkKey(authorization, apiKey string) error {
	if s.cfg.APIKey == "" {
		return nil
	}
	key := apiKey
	if len(authorization) > 7 && authorization[:7] == "Bearer " {
		key = authorization[7:]
	}
	if subtle.ConstantTimeCompare([]byte(key), []byte(s.cfg.APIKey)) != 1 {
		return errAuth
	}
	return nil
}

func (s *Server) routes() {
	h := s.mux.HandleFunc
	h("POST /v1/recognize", s.handleRecognize)
	h("GET /v1/gallery", s.handleGalleryInfo)
	h("GET /v1/galleries", s.handleGalleries)
	h("POST /v1/galleries", s.mutating(s.handleCreateGallery))
	h("DELETE /v1/galleries/{name}", s.mutating(s.handleDeleteGallery))
	h("POST /v1/gallery/items", s.mutating(s.handleAddItems))
	h("GET /v1/gallery/items", s.handleListItems)
	h("GET /v1/gallery/items/{id}", itemHandler(s, s.getItem))
	h("DELETE /v1/gallery/items/{id}", s.mutating(itemHandler(s, s.deleteItem)))
	h("DELETE /v1/gallery/labels/{label}", s.mutating(s.handleDeleteLabel))
	h("GET /v1/gallery/thresholds", s.handleGetThresholds)
	h("PUT /v1/gallery/thresholds", s.mutating(s.handlePutThresholds))
	h("GET /v1/openapi.json", s.handleOpenAPI)
	h("POST /recognition/prediction", s.handleServing)
	h("POST /shitu-infer", s.handlePXInfer)
	h("POST /shitu-index-build", s.mutating(s.handlePXBuild))
	h("POST /shitu-index-add", s.mutating(s.handlePXAdd))
	h("POST /shitu-index-remove", s.mutating(s.handlePXRemove))
	h("GET /healthz", func(w http.ResponseWriter, r *http.Request) { writeText(w, http.StatusOK, "ok\n") })
	h("GET /health", s.handlePXHealth)
	h("GET /readyz", s.handleReady)
	h("GET /metrics", s.m.handle)
	h("/", func(w http.ResponseWriter, r *http.Request) {
		if allow := s.allowed(r); len(allow) > 0 {
			w.Header().Set("Allow", strings.Join(allow, ", "))
			s.fail(w, r, fmt.Errorf("%w: %s %s (allowed: %s)", errMethod, r.Method, r.URL.Path, strings.Join(allow, ", ")))
			return
		}
		s.fail(w, r, fmt.Errorf("%w: %s %s", errNoRoute, r.Method, r.URL.Path))
	})
}

func (s *Server) handleReady(w http.ResponseWriter, r *http.Request) {
	if !s.ready.Load() {
		writeText(w, http.StatusServiceUnavailable, "not ready\n")
		return
	}
	// A replicated gallery is ready once it caught up with its stream.
	for _, rp := range s.sys.Replicas() {
		if !rp.Ready() {
			msg := fmt.Sprintf("not ready: gallery %s is catching up (version %d, %d behind)\n", rp.Name(), rp.Version(), rp.Lag())
			if err := rp.Stalled(); err != nil {
				msg = fmt.Sprintf("not ready: gallery %s cannot apply its next change on this machine, retrying: %v\n", rp.Name(), err)
			}
			if err := rp.Err(); err != nil {
				msg = fmt.Sprintf("not ready: gallery %s: %v\n", rp.Name(), err)
			}
			writeText(w, http.StatusServiceUnavailable, msg)
			return
		}
	}
	writeText(w, http.StatusOK, "ready\n")
}

// mutating wraps a gallery-changing handler with the API-key check.
func (s *Server) mutating(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := s.authorized(r); err != nil {
			s.fail(w, r, err)
			return
		}
		h(w, r)
	}
}

// statusRecorder remembers the status for logs and metrics.
type statusRecorder struct {
	http.ResponseWriter
	status int
	kind   string
}

func (r *statusRecorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

func (s *Server) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t0 := time.Now()
		rec := &statusRecorder{ResponseWriter: w}
		ctx, cancel := context.WithTimeout(r.Context(), s.cfg.Timeout)
		defer cancel()
		r = r.WithContext(context.WithValue(ctx, recorderKey{}, rec))
		r.Body = http.MaxBytesReader(rec, r.Body, s.cfg.MaxBodyBytes)
		s.m.inflight.Add(1)
		h := next
		if s.cfg.AuthReads && !openPath(r.URL.Path) && !s.consolePath(r.URL.Path) {
			if err := s.authorized(r); err != nil {
				h = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { s.fail(w, r, err) })
			}
		}
		defer func() {
			s.m.inflight.Add(-1)
			if p := recover(); p != nil {
				s.cfg.Logger.Error("panic", "path", r.URL.Path, "panic", fmt.Sprint(p))
				writeError(rec, r, fmt.Errorf("internal error"))
			}
			if rec.status == 0 {
				rec.status = http.StatusOK
			}
			route := r.Pattern
			if route == "" {
				route = "unmatched"
			}
			d := time.Since(t0)
			s.m.observeRequest(route, rec.status, rec.kind, d)
			s.cfg.Logger.Info("request", "method", r.Method, "path", r.URL.Path, "route", route,
				"status", rec.status, "ms", float64(d.Microseconds())/1e3, "bytes_in", r.ContentLength, "error", rec.kind)
		}()
		h.ServeHTTP(rec, r)
	})
}

// allowed lists the methods that have a route for r's path (the mux
// sends a request with another method to the catch-all "/").
func (s *Server) allowed(r *http.Request) []string {
	var out []string
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodDelete} {
		r2 := r.Clone(r.Context())
		r2.Method = m
		if _, pat := s.mux.Handler(r2); pat != "/" && pat != "" {
			out = append(out, m)
		}
	}
	return out
}

// openPath reports the endpoints that never need the API key: the health
// and readiness checks of orchestrators.
func openPath(p string) bool { return p == "/healthz" || p == "/readyz" || p == "/health" }

type recorderKey struct{}

func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	if rec, ok := r.Context().Value(recorderKey{}).(*statusRecorder); ok {
		_, rec.kind = classify(err)
	}
	writeError(w, r, err)
}

func writeText(w http.ResponseWriter, code int, s string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(code)
	w.Write([]byte(s))
}

func parseID(s string) (int64, error) {
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: item id %q is not an integer", errBadRequest, s)
	}
	return id, nil
}
