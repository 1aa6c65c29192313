// Package replica keeps a gallery replicated across machines through NATS
// JetStream (DESIGN.md: scale-out). Every change of the gallery — items
// added with their vectors and metadata, removals, relabels, thresholds —
// is a record in one JetStream stream per gallery, stored on a quorum of
// the cluster (R=3 by default) before the writer is answered. Every
// replica applies the stream in order to its own local gallery (package
// gallery: bbolt store and in-memory index), so the stream sequence of the
// last applied record is the gallery version that answers carry
// (gallery.Gallery.ApplyAt). Snapshots of the store and item images live
// in the gallery's JetStream object store: a replica that starts, or
// comes back after a crash, loads the newest snapshot when its own store
// is too old and replays the stream after it.
//
// The record and snapshot formats are in docs/format/replica.md.
package replica

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/shitu-go/shitu/gallery"
	"github.com/shitu-go/shitu/vecindex"
)

// Errors, wrapped with details.
var (
	// ErrUnavailable: the cluster did not acknowledge a change (no quorum,
	// NATS unreachable). Nothing was acknowledged.
	ErrUnavailable = errors.New("replica: the gallery's replicated log is unavailable")
	// ErrBehind: this replica has not applied the version asked for in time.
	ErrBehind = errors.New("replica: this replica has not reached the requested gallery version")
	// ErrModelMismatch: the gallery's stream was made with another model.
	ErrModelMismatch = errors.New("replica: the replicated gallery was made with a different recognition model")
	// ErrDiverged: the local store does not belong to the stream.
	ErrDiverged = errors.New("replica: the local store does not match the gallery's stream")
	// ErrTooLarge: a change is larger than the cluster takes in one record
	// (the NATS server's maximum payload, or MaxChangeIDs ids); nothing
	// was written. Split it into smaller changes.
	ErrTooLarge = errors.New("replica: the change is too large for one replicated record")
	// ErrRecord: a malformed record or snapshot.
	ErrRecord = errors.New("replica: malformed replicated record")
)

// Config configures a replica. Zero values mean the defaults in brackets.
type Config struct {
	// Name is the gallery's name (stream and object store names derive
	// from it).
	Name string
	// Dir is the local gallery directory of this replica (created).
	Dir string
	// Gallery is the layout of a new gallery (Model required; Dims, Metric
	// and Method as gallery.Options). A stream that exists keeps its own
	// layout, and refuses a different Model with ErrModelMismatch.
	Gallery gallery.Options
	// Replicas is how many NATS servers store the stream and the object
	// store [3]; 1 for a single NATS server.
	Replicas int
	// PublishTimeout bounds the wait for the cluster's acknowledgement of
	// a change [5 s].
	PublishTimeout time.Duration
	// SnapshotEvery writes a snapshot after this many applied changes
	// since the newest one [10 000].
	SnapshotEvery int
	// SnapshotInterval writes a snapshot this often when the gallery
	// changed since the newest one [5 min; negative: never].
	SnapshotInterval time.Duration
	// KeepSnapshots is how many snapshots are kept; the stream is trimmed
	// behind the oldest of them [2].
	KeepSnapshots int
	// ImageGrace is how long an item image (kept by Add in the object
	// store) stays after no item holds it any more: a replica that wrote
	// a snapshot deletes the images older than this that its gallery does
	// not hold [1 h]. An Add stores its images just before its change, so
	// the grace covers every change still on its way.
	ImageGrace time.Duration
	// Logger gets the replica's log lines [slog.Default()].
	Logger *slog.Logger
}

func (c Config) withDefaults() Config {
	if c.Replicas <= 0 {
		c.Replicas = 3
	}
	if c.PublishTimeout <= 0 {
		c.PublishTimeout = 5 * time.Second
	}
	if c.SnapshotEvery <= 0 {
		c.SnapshotEvery = 10_000
	}
	if c.SnapshotInterval == 0 {
		c.SnapshotInterval = 5 * time.Minute
	}
	if c.KeepSnapshots <= 0 {
		c.KeepSnapshots = 2
	}
	if c.ImageGrace <= 0 {
		c.ImageGrace = time.Hour
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// Replica is one replica of a replicated gallery. Its methods are safe for
// concurrent use.
type Replica struct {
	cfg     Config
	js      jetstream.JetStream
	st      jetstream.Stream
	obs     jetstream.ObjectStore
	kv      jetstream.KeyValue // applied versions of the live replicas
	id      string             // this replica's key in kv
	stream  string
	subject string
	g       *gallery.Gallery
	log     *slog.Logger

	target  uint64          // stream's last sequence when the replica started
	layout  gallery.Options // the stream's gallery layout
	ready   atomic.Bool     // caught up with target
	pending atomic.Uint64   // records after the last applied one, as last seen
	failed  atomic.Pointer[error]
	stalled atomic.Pointer[error] // the last apply failed for a reason of this machine; retried
	closed  atomic.Bool
	// applyAt is g.ApplyAt (tests replace it, holding applyMu, to fail).
	applyAt func(g *gallery.Gallery, version uint64, c gallery.Change) ([]int64, error)

	applyMu  sync.Mutex // one apply or snapshot at a time
	seen     map[string]uint64
	seenFIFO []string
	lastSnap atomic.Uint64 // version of the newest snapshot known
	snapping atomic.Bool
	snapMu   sync.Mutex // one Snapshot at a time
	// lastCollect is when collectImages last ran (unix ns, timeNow).
	lastCollect atomic.Int64

	mu      sync.Mutex
	changed chan struct{} // closed and replaced on every applied version
	results map[uint64]outcome

	bg     context.Context // the replica's own, until Close
	cancel context.CancelFunc
	done   sync.WaitGroup // background goroutines, snapshots included
}

type outcome struct {
	res Result
	err error
}

// nameRE is what a replicated gallery's name may be (as the server's
// stored galleries): its stream and bucket names derive from it.
var nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)

// Names derives the stream, subject and object store names of a gallery.
// Gallery names are 1-64 of [A-Za-z0-9_.-]; '.' is not allowed in stream
// names, so '_' is written "__" and '.' "_d" (an injective mapping).
func Names(gallery string) (stream, subject, bucket string) {
	enc := strings.NewReplacer("_", "__", ".", "_d").Replace(gallery)
	return "SHITU_G_" + enc, "shitu.gallery." + enc + ".change", "SHITU_O_" + enc
}

// Open joins (or creates) the replicated gallery cfg.Name: it creates the
// stream and object store when missing, checks the model, brings the
// local store in cfg.Dir up to the stream (loading the newest snapshot
// when the store is missing or older than the stream's start), applies
// the stream up to its end as seen when joining, and goes on applying it
// in the background. While JetStream cannot be reached it retries with
// backoff, logging each attempt, until ctx ends. Open returns once the
// replica caught up (Ready); a replica of another model, or whose store
// belongs to another stream, is refused at once.
func Open(ctx context.Context, js jetstream.JetStream, cfg Config) (*Replica, error) {
	cfg = cfg.withDefaults()
	if cfg.Gallery.Model == "" {
		return nil, fmt.Errorf("%w: a model fingerprint is required", gallery.ErrConfig)
	}
	if !nameRE.MatchString(cfg.Name) {
		return nil, fmt.Errorf("%w: gallery name %q: use 1 to 64 letters, digits, '_', '.' or '-', starting with a letter or digit", gallery.ErrConfig, cfg.Name)
	}
	r := &Replica{applyAt: (*gallery.Gallery).ApplyAt, cfg: cfg, js: js, id: "r" + newChangeID()[:16], log: cfg.Logger.With("gallery", cfg.Name), seen: map[string]uint64{},
		changed: make(chan struct{}), results: map[uint64]outcome{}}
	r.stream, r.subject, _ = Names(cfg.Name)
	for attempt := 0; ; attempt++ {
		err := r.join(ctx)
		if err == nil {
			break
		}
		if errors.Is(err, ErrModelMismatch) || errors.Is(err, ErrDiverged) || errors.Is(err, gallery.ErrModelMismatch) ||
			errors.Is(err, gallery.ErrLocked) || errors.Is(err, gallery.ErrFormat) {
			return nil, err
		}
		wait := backoff(attempt, 200*time.Millisecond, 10*time.Second)
		r.log.Warn("replica: cannot join the gallery yet (NATS JetStream unreachable or electing its leaders), retrying", "attempt", attempt+1, "retry_in", wait.String(), "error", err.Error())
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("%w: gave up joining gallery %q: %v", ErrUnavailable, cfg.Name, err)
		case <-timeAfter(wait):
		}
	}
	// The replica's own context: its background work (applying, announcing,
	// snapshots) ends with it, in Close.
	actx, cancel := context.WithCancel(context.Background())
	r.bg, r.cancel = actx, cancel
	r.announce(ctx)
	if err := r.catchUp(ctx); err != nil {
		r.closed.Store(true)
		cancel()
		// Wait for snapshots started while catching up; r.g is nil when
		// catching up failed to reopen the store.
		r.done.Wait()
		if r.g != nil {
			r.g.Close()
		}
		return nil, err
	}
	r.ready.Store(true)
	r.done.Add(2)
	go r.run(actx)
	go r.announceLoop(actx)
	if cfg.SnapshotInterval > 0 {
		r.done.Add(1)
		go r.snapshotLoop(actx)
	}
	r.log.Info("replica: joined", "stream", r.stream, "version", r.g.Version(), "stream_last", r.target)
	return r, nil
}

// catchUp applies the stream up to its last sequence as seen at join. When
// the stream was trimmed past this replica meanwhile (other replicas wrote
// snapshots), it loads the newest snapshot and goes on from there.
func (r *Replica) catchUp(ctx context.Context) error {
	for attempt := 0; r.g.Version() < r.target; attempt++ {
		err := r.consume(ctx, r.target)
		if err == nil {
			break
		}
		if errors.Is(err, ErrDiverged) {
			r.log.Info("replica: the stream was trimmed past this replica while it caught up, loading the newest snapshot", "version", r.g.Version())
			old := r.g
			r.g = nil // closed below: Open must not close it again
			if err := old.Close(); err != nil {
				return err
			}
			info, err := r.st.Info(ctx)
			if err != nil {
				return err
			}
			g, err := r.local(ctx, r.layout, info.State.FirstSeq, info.State.LastSeq)
			if err != nil {
				return err
			}
			r.g = g
			r.stalled.Store(nil) // a failure to apply a change of the old store
			continue
		}
		if ctx.Err() != nil {
			return fmt.Errorf("%w: catching up with gallery %q: %v", ErrUnavailable, r.cfg.Name, err)
		}
		wait := backoff(attempt, 200*time.Millisecond, 5*time.Second)
		r.log.Warn("replica: reading the stream failed while catching up, retrying", "retry_in", wait.String(), "version", r.g.Version(), "error", err.Error())
		select {
		case <-ctx.Done():
		case <-timeAfter(wait):
		}
	}
	r.log.Info("replica: caught up", "version", r.g.Version())
	return nil
}

// meta keys stored with the stream (StreamConfig.Metadata).
const (
	metaModel  = "shitu_model"
	metaDims   = "shitu_dims"
	metaMetric = "shitu_metric"
	metaMethod = "shitu_method"
	metaFormat = "shitu_format"
)

// join makes sure the stream and object store exist, checks the model and
// opens the local store at a version the stream can continue.
func (r *Replica) join(ctx context.Context) error {
	// A short bound per attempt: while the cluster elects its leader the
	// first requests go unanswered, and the next attempt succeeds.
	actx, cancel := context.WithTimeout(ctx, 4*time.Second)
	defer cancel()
	o := r.cfg.Gallery
	if o.Dims == 0 {
		o.Dims = 512
	}
	if o.Method == "" {
		o.Method = gallery.MethodHNSW
	}
	st, err := r.js.Stream(actx, r.stream)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		st, err = r.js.CreateStream(actx, jetstream.StreamConfig{
			Name: r.stream, Subjects: []string{r.subject}, Replicas: r.cfg.Replicas, Storage: jetstream.FileStorage,
			Duplicates: 2 * time.Minute, Description: "shitu gallery " + r.cfg.Name + ": its changes, in order",
			Metadata: map[string]string{metaModel: o.Model, metaDims: strconv.Itoa(o.Dims),
				metaMetric: strconv.Itoa(int(o.Metric)), metaMethod: o.Method, metaFormat: strconv.Itoa(msgFormat)},
		})
		if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
			st, err = r.js.Stream(actx, r.stream)
		}
	}
	if err != nil {
		return fmt.Errorf("replica: stream %s: %w", r.stream, err)
	}
	md := st.CachedInfo().Config.Metadata
	if md[metaModel] != o.Model {
		return fmt.Errorf("%w: gallery %q holds vectors of model %s, this replica's model is %s; start it with the gallery's model, or give the gallery another name",
			ErrModelMismatch, r.cfg.Name, short(md[metaModel]), short(o.Model))
	}
	if md[metaFormat] != strconv.Itoa(msgFormat) {
		return fmt.Errorf("%w: gallery %q's stream has record format %q, this build writes %d", ErrModelMismatch, r.cfg.Name, md[metaFormat], msgFormat)
	}
	dims, _ := strconv.Atoi(md[metaDims])
	metric, _ := strconv.Atoi(md[metaMetric])
	o.Dims, o.Method = dims, md[metaMethod]
	o.Metric = vecindex.Metric(metric)
	_, _, bucket := Names(r.cfg.Name)
	obs, err := r.js.CreateOrUpdateObjectStore(actx, jetstream.ObjectStoreConfig{Bucket: bucket, Replicas: r.cfg.Replicas,
		Storage: jetstream.FileStorage, Description: "shitu gallery " + r.cfg.Name + ": snapshots and item images"})
	if err != nil {
		return fmt.Errorf("replica: object store %s: %w", bucket, err)
	}
	kvName := strings.Replace(bucket, "SHITU_O_", "SHITU_K_", 1)
	kv, err := r.js.CreateOrUpdateKeyValue(actx, jetstream.KeyValueConfig{Bucket: kvName, Replicas: r.cfg.Replicas,
		TTL: announceTTL, Storage: jetstream.FileStorage, Description: "shitu gallery " + r.cfg.Name + ": versions applied by the live replicas"})
	if err != nil {
		return fmt.Errorf("replica: key-value store %s: %w", kvName, err)
	}
	r.kv = kv
	info, err := st.Info(actx)
	if err != nil {
		return fmt.Errorf("replica: stream %s: %w", r.stream, err)
	}
	r.st, r.obs, r.target, r.layout = st, obs, info.State.LastSeq, o
	if r.g != nil { // a retry after the local store was opened
		return nil
	}
	g, err := r.local(ctx, o, info.State.FirstSeq, info.State.LastSeq)
	if err != nil {
		return err
	}
	r.g = g
	return nil
}

// local opens the replica's store so that the stream continues it: the
// store itself when the stream still holds what follows it, else the
// newest snapshot, else a new empty gallery (a stream not yet trimmed).
func (r *Replica) local(ctx context.Context, o gallery.Options, first, last uint64) (*gallery.Gallery, error) {
	dir := r.cfg.Dir
	if _, err := os.Stat(filepath.Join(dir, gallery.DBFile)); err == nil {
		g, err := gallery.Open(dir, gallery.Options{Model: o.Model, NewIndex: o.NewIndex, NewBinaryIndex: o.NewBinaryIndex})
		if err != nil {
			return nil, err
		}
		v := g.Version()
		switch {
		case v > last:
			g.Close()
			return nil, fmt.Errorf("%w: %s is at version %d but gallery %q's stream ends at %d (a store of another cluster?); move it away to rejoin from the stream",
				ErrDiverged, dir, v, r.cfg.Name, last)
		case v+1 >= first:
			return g, nil
		}
		g.Close()
		r.log.Info("replica: local store is older than the stream's start, loading the newest snapshot", "version", v, "stream_first", first)
	}
	snap, err := r.newestSnapshot(ctx)
	if err != nil {
		return nil, err
	}
	if snap != nil && snap.version+1 >= first {
		t0 := time.Now()
		if err := r.restore(ctx, snap.name); err != nil {
			return nil, err
		}
		g, err := gallery.Open(dir, gallery.Options{Model: o.Model, NewIndex: o.NewIndex, NewBinaryIndex: o.NewBinaryIndex})
		if err != nil {
			return nil, err
		}
		r.lastSnap.Store(snap.version)
		r.log.Info("replica: loaded snapshot", "version", g.Version(), "items", g.Len(), "took", time.Since(t0).String())
		return g, nil
	}
	if first > 1 {
		return nil, fmt.Errorf("%w: gallery %q's stream starts at %d and no snapshot covers what came before", ErrDiverged, r.cfg.Name, first)
	}
	os.Remove(filepath.Join(dir, gallery.DBFile))
	return gallery.Create(dir, o)
}

// Gallery is the replica's local gallery: search it (views carry the
// version); change it only through the Replica.
func (r *Replica) Gallery() *gallery.Gallery { return r.g }

// Name is the gallery's name.
func (r *Replica) Name() string { return r.cfg.Name }

// Version is the last applied version (stream sequence).
func (r *Replica) Version() uint64 { return r.g.Version() }

// Lag is how many records of the stream this replica had not applied when
// it last heard from JetStream.
func (r *Replica) Lag() uint64 { return r.pending.Load() }

// Ready reports whether the replica caught up with the stream as it was
// when it started, and has not stopped applying.
func (r *Replica) Ready() bool {
	return r.ready.Load() && r.failed.Load() == nil && r.stalled.Load() == nil
}

// Stalled is why the replica cannot apply the next change of the stream
// for a reason of its own machine (a disk full, an I/O error), while it
// retries; nil when it is not stalled.
func (r *Replica) Stalled() error {
	if p := r.stalled.Load(); p != nil {
		return *p
	}
	return nil
}

// Err is why the replica stopped applying the stream (nil while it applies).
func (r *Replica) Err() error {
	if p := r.failed.Load(); p != nil {
		return *p
	}
	return nil
}

// WaitReady waits until the replica caught up (Ready) or ctx ends.
func (r *Replica) WaitReady(ctx context.Context) error {
	if err := r.WaitVersion(ctx, r.target); err != nil {
		return err
	}
	return r.Err()
}

// WaitVersion waits until the replica applied version v or ctx ends (then
// ErrBehind says how far it is).
func (r *Replica) WaitVersion(ctx context.Context, v uint64) error {
	for {
		r.mu.Lock()
		ch := r.changed
		r.mu.Unlock()
		cur := r.g.Version()
		if cur >= v {
			return nil
		}
		if r.closed.Load() {
			return fmt.Errorf("%w: replica of gallery %q, at version %d (asked for %d)", gallery.ErrClosed, r.cfg.Name, cur, v)
		}
		if err := r.Err(); err != nil {
			return fmt.Errorf("%w: %v", ErrBehind, err)
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("%w: asked for version %d, this replica is at %d (%d records behind); retry, or ask another replica",
				ErrBehind, v, r.g.Version(), r.Lag())
		}
	}
}

// await waits until this replica applied seq and returns what it did.
func (r *Replica) await(ctx context.Context, seq uint64) (Result, error) {
	if err := r.WaitVersion(ctx, seq); err != nil {
		return Result{Version: seq}, fmt.Errorf("%w (the change is acknowledged as version %d and will be applied)", err, seq)
	}
	r.mu.Lock()
	o, ok := r.results[seq]
	r.mu.Unlock()
	if !ok {
		return Result{Version: seq}, nil
	}
	return o.res, o.err
}

// announceTTL is how long a replica's announced version protects the
// stream's changes after it from trimming without being refreshed.
const announceTTL = 2 * time.Minute

// announce records this replica's applied version in the gallery's
// key-value store: trimming never passes a live replica (snapshot.go).
func (r *Replica) announce(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	r.kv.Put(ctx, r.id, []byte(strconv.FormatUint(r.g.Version(), 10)))
}

func (r *Replica) announceLoop(ctx context.Context) {
	defer r.done.Done()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timeAfter(announceTTL / 12):
		}
		r.announce(ctx)
	}
}

// Close stops applying the stream and closes the local gallery.
func (r *Replica) Close() error {
	if r.closed.Swap(true) {
		return nil
	}
	r.broadcast() // wakes WaitVersion and writers awaiting their change
	if r.cancel != nil {
		r.cancel()
	}
	r.done.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	r.kv.Delete(ctx, r.id)
	cancel()
	return r.g.Close()
}

// run applies the stream from the local version on, in order, until ctx
// ends. The ordered consumer recreates itself after a lost connection or
// a NATS server failure, from the last sequence it delivered.
func (r *Replica) run(ctx context.Context) {
	defer r.done.Done()
	for attempt := 0; ctx.Err() == nil; attempt++ {
		err := r.consume(ctx, 0)
		if ctx.Err() != nil || r.failed.Load() != nil {
			return
		}
		wait := backoff(attempt, 200*time.Millisecond, 5*time.Second)
		r.log.Warn("replica: reading or applying the stream failed, retrying", "retry_in", wait.String(), "version", r.g.Version(), "error", errString(err))
		select {
		case <-ctx.Done():
			return
		case <-timeAfter(wait):
		}
	}
}

// consume applies the stream from the local version on; with until > 0
// it returns once that version is applied, and returns a gap (ErrDiverged)
// to its caller instead of stopping the replica.
func (r *Replica) consume(ctx context.Context, until uint64) error {
	cons, err := r.st.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{
		DeliverPolicy: jetstream.DeliverByStartSequencePolicy, OptStartSeq: r.g.Version() + 1})
	if err != nil {
		return err
	}
	it, err := cons.Messages(jetstream.PullMaxMessages(256))
	if err != nil {
		return err
	}
	stop := context.AfterFunc(ctx, it.Stop)
	defer stop()
	defer it.Stop()
	for {
		msg, err := it.Next()
		if err != nil {
			return err
		}
		md, err := msg.Metadata()
		if err != nil {
			return err
		}
		if err := r.apply(ctx, md.Sequence.Stream, md.NumPending, msg.Data()); err != nil {
			if until > 0 {
				return err
			}
			var st *stalledError
			if errors.As(err, &st) {
				return err // retried by run, from the version applied
			}
			r.failed.Store(&err)
			r.broadcast()
			r.log.Error("replica: stopped applying the stream", "version", r.g.Version(), "error", err.Error())
			return err
		}
		if until > 0 && r.g.Version() >= until {
			return nil
		}
	}
}

// apply applies one record at its sequence. Records at or below the
// local version were applied already (a redelivery, or a replay after a
// snapshot): they are skipped, so applying is idempotent. A record whose
// change id was applied before (a writer's retry that JetStream's
// duplicate window no longer caught) and a record that cannot be applied
// (malformed, or refused by the gallery) are applied as empty changes:
// the version moves on every replica alike.
func (r *Replica) apply(ctx context.Context, seq, pending uint64, data []byte) error {
	r.applyMu.Lock()
	defer r.applyMu.Unlock()
	r.pending.Store(pending)
	cur := r.g.Version()
	if seq <= cur {
		return nil
	}
	if seq != cur+1 {
		return fmt.Errorf("%w: the stream continues at %d but this replica is at %d (it was trimmed behind a snapshot this replica had not reached); restart the replica to load the newest snapshot",
			ErrDiverged, seq, cur)
	}
	var rec record
	var res Result
	ch, aerr := r.change(&rec, data, &res)
	if aerr == nil && rec.ID != "" {
		if first, dup := r.seen[rec.ID]; dup {
			ch, aerr = gallery.Change{}, nil
			res = Result{}
			r.log.Info("replica: duplicate change applied once", "change", rec.ID, "first_version", first, "version", seq)
		}
	}
	if aerr != nil {
		ch = gallery.Change{}
	}
	var ids []int64
	err := aerr
	if aerr == nil || errors.Is(aerr, ErrRecord) || refused(aerr) {
		ids, err = r.applyAt(r.g, seq, ch)
	}
	if err != nil && r.g.Version() >= seq {
		// Committed, then the in-memory index failed (the gallery rebuilds
		// it when reopened): the change is applied.
		r.log.Error("replica: change applied, but the in-memory index failed; restart the replica to rebuild it", "version", seq, "error", err.Error())
		err = nil
	}
	if refused(err) {
		// Refused by the gallery (bad label, dims): every replica refuses
		// it alike, so an empty change instead.
		aerr, res = err, Result{}
		ids, err = r.applyAt(r.g, seq, gallery.Change{})
	}
	if err != nil && !errors.Is(err, gallery.ErrClosed) {
		// A failure of this machine (disk full, I/O error): the other
		// replicas applied the change, so skipping it would make this one
		// differ from them for good. It is retried from this version on,
		// and the replica is not ready meanwhile (Stalled says why).
		err = &stalledError{fmt.Errorf("replica: applying version %d: %w", seq, err)}
		r.stalled.Store(&err)
		r.broadcast()
		return err
	}
	if err != nil {
		return fmt.Errorf("replica: applying version %d: %w", seq, err)
	}
	if r.stalled.Load() != nil {
		r.stalled.Store(nil)
		r.log.Info("replica: applying again", "version", seq)
	}
	if aerr != nil {
		r.log.Warn("replica: change not applied", "version", seq, "change", rec.ID, "error", aerr.Error())
	}
	if rec.ID != "" {
		r.remember(rec.ID, seq)
	}
	res.Version, res.IDs = seq, ids
	if rec.Op == opRelabel && aerr == nil {
		res.Removed = len(ch.Removes)
	}
	if aerr != nil {
		res.IDs = nil
	}
	r.mu.Lock()
	r.results[seq] = outcome{res, aerr}
	delete(r.results, seq-resultsKept)
	r.mu.Unlock()
	r.broadcast()
	if r.lastSnap.Load()+uint64(r.cfg.SnapshotEvery) <= seq && !r.closed.Load() && !r.snapping.Load() {
		// Tracked by done (apply runs in a tracked goroutine, or in Open
		// before Close can be called) and on the replica's own context, so
		// Close waits for the snapshot.
		r.done.Add(1)
		go func() {
			defer r.done.Done()
			r.trySnapshot(r.bg)
		}()
	}
	return nil
}

// refused reports whether the gallery refused a change for what the
// change holds (a vector of the wrong size, a label or metadata not
// allowed), the same on every replica, rather than for a state or failure
// of this machine (an id already taken would mean this replica's store
// differs from the others already: that stalls it, loudly).
func refused(err error) bool {
	for _, e := range []error{gallery.ErrDims, gallery.ErrLabel, gallery.ErrKind} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// stalledError is a change this replica failed to apply for a reason of
// its own (see apply); the stream is read again from the version applied.
type stalledError struct{ err error }

func (e *stalledError) Error() string { return e.err.Error() }
func (e *stalledError) Unwrap() error { return e.err }

// resultsKept is how many recent versions keep their Result for writers.
const resultsKept = 4096

// seenKept is how many recent change ids are remembered for deduplication.
const seenKept = 100_000

func (r *Replica) remember(id string, seq uint64) {
	r.seen[id] = seq
	r.seenFIFO = append(r.seenFIFO, id)
	if len(r.seenFIFO) > seenKept {
		delete(r.seen, r.seenFIFO[0])
		r.seenFIFO = r.seenFIFO[1:]
	}
}

func (r *Replica) broadcast() {
	r.mu.Lock()
	close(r.changed)
	r.changed = make(chan struct{})
	r.mu.Unlock()
}

// change decodes a record into the gallery change it makes here.
func (r *Replica) change(rec *record, data []byte, res *Result) (gallery.Change, error) {
	if err := json.Unmarshal(data, rec); err != nil {
		return gallery.Change{}, fmt.Errorf("%w: %v", ErrRecord, err)
	}
	if rec.Format != msgFormat {
		return gallery.Change{}, fmt.Errorf("%w: record format %d", ErrRecord, rec.Format)
	}
	var c gallery.Change
	if len(rec.IDs) > MaxChangeIDs {
		return c, fmt.Errorf("%w: %d item ids in one change, at most %d", ErrRecord, len(rec.IDs), MaxChangeIDs)
	}
	switch rec.Op {
	case opAdd:
		for _, it := range rec.Items {
			gi, err := it.galleryItem()
			if err != nil {
				return c, err
			}
			c.Adds = append(c.Adds, gi)
		}
	case opRemove:
		for _, id := range uniqueIDs(rec.IDs) {
			_, err := r.g.Get(id)
			if errors.Is(err, gallery.ErrNotFound) {
				continue
			}
			if err != nil {
				return c, err // a local read failure: the change stalls, not skipped
			}
			c.Removes = append(c.Removes, id)
		}
		res.Removed = len(c.Removes)
	case opRemoveLabel:
		items, _, err := r.g.List(gallery.ListOptions{Label: rec.Label, Limit: -1})
		if err != nil {
			return c, err
		}
		for _, it := range items {
			c.Removes = append(c.Removes, it.ID)
		}
		res.Removed = len(c.Removes)
	case opRelabel:
		for _, id := range uniqueIDs(rec.IDs) {
			it, err := r.g.Get(id)
			if errors.Is(err, gallery.ErrNotFound) {
				continue
			}
			if err != nil {
				return c, err
			}
			c.Removes = append(c.Removes, id)
			it.Label = rec.Label
			if it.Source != "" {
				it.Doc = it.Source + "\t" + it.Label
			}
			c.Adds = append(c.Adds, it)
		}
	case opThresholds:
		if rec.Thresh == nil {
			return c, fmt.Errorf("%w: thresholds record without thresholds", ErrRecord)
		}
		c.Thresholds = rec.Thresh
	default:
		return c, fmt.Errorf("%w: unknown operation %q", ErrRecord, rec.Op)
	}
	return c, nil
}

// MaxChangeIDs is how many item ids one remove or relabel change may
// name; a record with more is applied as an empty change (ErrRecord).
const MaxChangeIDs = 100_000

// uniqueIDs is ids without repetitions, in the order of their first
// occurrence, so a change names each item once.
func uniqueIDs(ids []int64) []int64 {
	seen := make(map[int64]struct{}, len(ids))
	out := make([]int64, 0, len(ids))
	for _, id := range ids {
		if _, dup := seen[id]; dup {
			continue
		}
		seen[id] = struct{}{}
		out = append(out, id)
	}
	return out
}

// backoff is min(max, base·2^attempt) with ±20 % jitter.
func backoff(attempt int, base, max time.Duration) time.Duration {
	d := base
	for i := 0; i < attempt && d < max; i++ {
		d *= 2
	}
	d = min(d, max)
	return time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
}

func timeAfter(d time.Duration) <-chan time.Time { return time.After(d) }

func short(s string) string {
	if len(s) > 16 {
		return s[:16] + "…"
	}
	return s
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
