// Package gallery is shitu's labelled, durable store of gallery items: each
// item has an id, a label, the source path of its image, the sha256 of the
// image bytes, free-form metadata and its feature vector. Items live in a
// bbolt file (every acknowledged change survives kill -9); the vector index
// is rebuilt from it or loaded from a snapshot bound to the store version.
// A gallery is bound to the fingerprint of the recognition model that made
// its vectors and refuses another model.
//
// The on-disk layout is described in docs/format/gallery.md.
package gallery

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/shitu-go/shitu/vecindex"
	bolt "go.etcd.io/bbolt"
)

// Errors. They are wrapped with %w and details.
var (
	ErrNotFound      = errors.New("gallery: item not found")
	ErrExists        = errors.New("gallery: gallery already exists")
	ErrNoGallery     = errors.New("gallery: no gallery in directory")
	ErrModelMismatch = errors.New("gallery: gallery was built with a different recognition model")
	ErrDims          = errors.New("gallery: vector dimension mismatch")
	ErrFormat        = errors.New("gallery: malformed gallery data")
	ErrClosed        = errors.New("gallery: gallery is closed")
	ErrListLine      = errors.New("gallery: malformed list line")
	ErrImage         = errors.New("gallery: unreadable image")
	ErrConfig        = errors.New("gallery: bad index configuration")
	ErrKind          = errors.New("gallery: operation does not match the gallery kind (float or binary)")
	ErrUnsupported   = errors.New("gallery: unsupported")
	ErrLocked        = errors.New("gallery: gallery is open in another process")
	ErrLabel         = errors.New("gallery: label or metadata not allowed")
)

// File names inside a gallery directory (docs/format/gallery.md).
const (
	DBFile       = "gallery.db"
	SnapshotFile = "index.snap"
)

// Index methods, as in PaddleClas' IndexProcess.index_method.
const (
	MethodFlat  = "Flat"
	MethodHNSW  = "HNSW32"
	MethodIVF   = "IVF"
	defaultMeth = MethodHNSW
)

// Options describe a new gallery. Zero values mean: 512 dims, metric IP,
// float vectors, index method HNSW32.
type Options struct {
	// Model is the fingerprint of the recognition model and of the
	// preprocessing that feeds it: feature.Fingerprint computes it, and
	// shitu.System.Model returns it for a config. Required by Create; Open
	// refuses a different non-empty value.
	Model string
	// Dims is the vector dimension, in bits for binary galleries (default 512).
	Dims int
	// Metric is vecindex.IP (default), vecindex.L2 or vecindex.Hamming; Hamming
	// makes a binary gallery of packed sign bits (ppshitu-pipeline.md §6.4).
	Metric vecindex.Metric
	// Method is the index method: "HNSW32" (default), "Flat" or "IVF".
	Method string
	// NewIndex overrides how the in-memory float index is made (tests, tuning).
	// Default: DefaultIndexFactory.
	NewIndex IndexFactory
	// NewBinaryIndex overrides how the in-memory binary index is made.
	NewBinaryIndex BinaryIndexFactory
}

// IndexSpec says which index a gallery needs.
type IndexSpec struct {
	Method string
	Metric vecindex.Metric
	Dims   int
	// Count is the number of vectors about to be added (IVF sizes nlist from it).
	Count int
}

// IndexFactory makes an empty float index for a spec.
type IndexFactory func(IndexSpec) (vecindex.Index, error)

// BinaryIndexFactory makes an empty binary index for a spec.
type BinaryIndexFactory func(IndexSpec) (vecindex.BinaryIndex, error)

// Item is one gallery entry.
type Item struct {
	ID     int64
	Label  string
	Source string // image path as given in the list, may be empty
	SHA256 string // hex sha256 of the image bytes, may be empty
	// Doc is the PaddleClas doc line (the whole stripped list line); empty
	// means "Source<TAB>Label" when exported.
	Doc  string
	Meta map[string]string
	// Vector is the L2-normalised feature (float galleries); Code the packed
	// bits (binary galleries). List fills them only when asked.
	Vector []float32
	Code   []byte
}

// entry is the compact in-memory record of a live item (no vector): a
// million items cost ~150 bytes each beside their vectors.
type entry struct {
	id     int64
	label  string // interned
	source string
	doc    string // "" when it is source<TAB>label
	meta   map[string]string
	sha    [32]byte
	hasSHA bool
	added  uint64 // store version that added it
}

// Doc is the item's PaddleClas doc line ("" for API items without source).
func (e *entry) Doc() string {
	if e.doc != "" || e.source == "" {
		return e.doc
	}
	return e.source + "\t" + e.label
}

// item expands the entry (without vector).
func (e *entry) item() Item {
	it := Item{ID: e.id, Label: e.label, Source: e.source, Doc: e.Doc(), Meta: e.meta}
	if e.hasSHA {
		it.SHA256 = hex.EncodeToString(e.sha[:])
	}
	return it
}

// nShards is the number of copy-on-write shards of the item map: a change
// copies only the shards it touches.
const nShards = 256

type shards [nShards]map[int64]*entry

// state is an immutable read view published through an atomic pointer:
// searches load it without locks while writes happen. The index itself is
// shared between views (vecindex indexes are safe for concurrent searches
// during writes); searches filter its hits through the view's items.
type state struct {
	version uint64
	n       int
	items   *shards
	ix      index
}

func (s *state) get(id int64) *entry { return s.items[uint64(id)%nShards][id] }

// Gallery is an open gallery directory. Methods are safe for concurrent
// use; searches never block on writes.
type Gallery struct {
	dir  string
	db   *bolt.DB
	hdr  header
	opts Options

	mu   sync.Mutex // serialises writers
	view atomic.Pointer[state]
	// exact is the published state whose items the shared index holds
	// exactly (nil while a change is being applied, or after an index
	// update failed): searches of that state need no filter (search.go).
	exact    atomic.Pointer[state]
	labels   map[string]int    // label → item count (writer-side)
	interned map[string]string // one string per label, shared by entries
	nextID   int64
	dirty    bool // snapshot out of date
	close    sync.Once
}

// header is the gallery's fixed description stored in the meta bucket.
type header struct {
	StoreID string // 16 random bytes made by Create; snapshots carry it
	Model   string
	Dims    int
	Metric  vecindex.Metric
	Method  string
}

func (h header) binary() bool { return h.Metric == vecindex.Hamming }

// Create makes a new gallery in dir (created if needed). It fails with
// ErrExists when dir already holds one.
func Create(dir string, opts Options) (*Gallery, error) {
	if opts.Model == "" {
		return nil, fmt.Errorf("%w: a model fingerprint is required", ErrConfig)
	}
	if opts.Dims == 0 {
		opts.Dims = 512
	}
	if opts.Dims < 0 || (opts.Metric == vecindex.Hamming && opts.Dims%8 != 0) {
		return nil, fmt.Errorf("%w: dims %d (binary galleries need a multiple of 8)", ErrConfig, opts.Dims)
	}
	if opts.Method == "" {
		opts.Method = defaultMeth
	}
	m, err := normMethod(opts.Method)
	if err != nil {
		return nil, err
	}
	opts.Method = m
	if opts.Metric < vecindex.IP || opts.Metric > vecindex.Hamming {
		return nil, fmt.Errorf("%w: metric %v", ErrConfig, opts.Metric)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("gallery: %w", err)
	}
	path := filepath.Join(dir, DBFile)
	if _, err := os.Stat(path); err == nil {
		return nil, fmt.Errorf("%w: %s", ErrExists, path)
	}
	db, err := openDB(path)
	if err != nil {
		return nil, err
	}
	sid := make([]byte, 16)
	if _, err := rand.Read(sid); err != nil {
		db.Close()
		return nil, fmt.Errorf("gallery: %w", err)
	}
	// A snapshot left by an earlier gallery in this directory is not ours.
	os.Remove(filepath.Join(dir, SnapshotFile))
	h := header{StoreID: string(sid), Model: opts.Model, Dims: opts.Dims, Metric: opts.Metric, Method: opts.Method}
	if err := db.Update(func(tx *bolt.Tx) error { return initDB(tx, h) }); err != nil {
		db.Close()
		os.Remove(path)
		return nil, err
	}
	if err := syncDir(dir); err != nil {
		db.Close()
		return nil, err
	}
	return start(dir, db, h, opts)
}

// Open opens the gallery in dir. A non-empty opts.Model must equal the
// fingerprint the gallery was created with (else ErrModelMismatch); an
// empty one skips the check (inspection, export). Dims, Metric and Method
// of opts are ignored: the gallery's own are used. A stale or damaged index
// snapshot is ignored and the index rebuilt from the store.
func Open(dir string, opts Options) (*Gallery, error) {
	path := filepath.Join(dir, DBFile)
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("%w: %s", ErrNoGallery, dir)
	}
	db, err := openDB(path)
	if err != nil {
		return nil, err
	}
	var h header
	if err := db.View(func(tx *bolt.Tx) error {
		var err error
		h, err = readHeader(tx)
		return err
	}); err != nil {
		db.Close()
		return nil, err
	}
	if opts.Model != "" && opts.Model != h.Model {
		db.Close()
		return nil, fmt.Errorf("%w: %s holds vectors of model %s, the configured model is %s; rebuild the gallery with this model or configure the original one",
			ErrModelMismatch, dir, short(h.Model), short(opts.Model))
	}
	return start(dir, db, h, opts)
}

func short(s string) string {
	if len(s) > 16 {
		return s[:16] + "…"
	}
	return s
}

func start(dir string, db *bolt.DB, h header, opts Options) (*Gallery, error) {
	if opts.NewIndex == nil {
		opts.NewIndex = DefaultIndexFactory
	}
	if opts.NewBinaryIndex == nil {
		opts.NewBinaryIndex = DefaultBinaryIndexFactory
	}
	g := &Gallery{dir: dir, db: db, hdr: h, opts: opts, labels: map[string]int{}}
	// Leftover temp files of an interrupted snapshot write are garbage.
	if tmps, _ := filepath.Glob(filepath.Join(dir, "*.tmp*")); len(tmps) > 0 {
		for _, t := range tmps {
			os.Remove(t)
		}
	}
	if err := g.load(); err != nil {
		db.Close()
		return nil, err
	}
	return g, nil
}

// Dir is the gallery directory.
func (g *Gallery) Dir() string { return g.dir }

// Model is the fingerprint of the model the gallery is bound to.
func (g *Gallery) Model() string { return g.hdr.Model }

// Dims is the vector dimension (bits for binary galleries).
func (g *Gallery) Dims() int { return g.hdr.Dims }

// Metric is the search metric.
func (g *Gallery) Metric() vecindex.Metric { return g.hdr.Metric }

// Method is the index method ("HNSW32", "Flat" or "IVF").
func (g *Gallery) Method() string { return g.hdr.Method }

// Binary reports whether the gallery holds packed bit codes.
func (g *Gallery) Binary() bool { return g.hdr.binary() }

// Version is the store version: it increments on every committed change.
func (g *Gallery) Version() uint64 {
	if s := g.view.Load(); s != nil {
		return s.version
	}
	return 0
}

// Len is the number of items.
func (g *Gallery) Len() int {
	if s := g.view.Load(); s != nil {
		return s.n
	}
	return 0
}

// Close writes an index snapshot when the index changed since the last one
// and closes the store. Close is idempotent.
func (g *Gallery) Close() error {
	var err error
	g.close.Do(func() {
		g.mu.Lock()
		defer g.mu.Unlock()
		if g.dirty {
			err = g.saveSnapshotLocked()
		}
		if e := g.db.Close(); err == nil && e != nil {
			err = fmt.Errorf("gallery: %w", e)
		}
		g.db = nil
	})
	return err
}

// ParseMethod normalises an index_method ("HNSW32", "hnsw", "Flat", "IVF"…)
// to MethodHNSW, MethodFlat or MethodIVF.
func ParseMethod(m string) (string, error) { return normMethod(m) }

func normMethod(m string) (string, error) {
	switch m {
	case "HNSW32", "hnsw32", "HNSW", "hnsw":
		return MethodHNSW, nil
	case "Flat", "flat", "FLAT":
		return MethodFlat, nil
	case "IVF", "ivf":
		return MethodIVF, nil
	}
	return "", fmt.Errorf("%w: index_method %q (want HNSW32, IVF or Flat)", ErrConfig, m)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("gallery: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("gallery: sync %s: %w", dir, err)
	}
	return nil
}

// lockWait is how long Open waits for another process to release the
// gallery (bbolt allows one writer process per file).
const lockWait = 2 * time.Second

func openDB(path string) (*bolt.DB, error) {
	db, err := bolt.Open(path, 0o644, &bolt.Options{Timeout: lockWait})
	if errors.Is(err, bolt.ErrTimeout) {
		return nil, fmt.Errorf("%w: %s (waited %v)", ErrLocked, path, lockWait)
	}
	if err != nil {
		return nil, fmt.Errorf("gallery: open %s: %w", path, err)
	}
	return db, nil
}

// Delete removes the gallery in dir: its store and index snapshot (and
// leftover temp files), then dir itself if nothing else is left in it.
// Other files — a PaddleClas vector.index and id_map.pkl exported or
// adopted beside the gallery — are kept. It fails with ErrNoGallery when
// dir holds no gallery and with ErrLocked while a process has it open.
func Delete(dir string) error {
	path := filepath.Join(dir, DBFile)
	if _, err := os.Stat(path); err != nil {
		return fmt.Errorf("%w: %s", ErrNoGallery, dir)
	}
	db, err := openDB(path) // takes the lock: nobody else has it open
	if err != nil {
		return err
	}
	tmps, _ := filepath.Glob(filepath.Join(dir, "*.tmp*"))
	for _, f := range append([]string{filepath.Join(dir, SnapshotFile)}, tmps...) {
		if err := os.Remove(f); err != nil && !os.IsNotExist(err) {
			db.Close()
			return fmt.Errorf("gallery: delete: %w", err)
		}
	}
	// The store goes last, while still locked, so a crash midway leaves a
	// gallery that opens (and rebuilds its index) rather than half a one.
	if err := os.Remove(path); err != nil {
		db.Close()
		return fmt.Errorf("gallery: delete: %w", err)
	}
	db.Close()
	if err := syncDir(dir); err != nil {
		return err
	}
	os.Remove(dir) // only when empty
	return nil
}
