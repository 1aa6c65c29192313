package replica

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/shitu-go/shitu/gallery"
)

// Snapshot objects (docs/format/replica.md): "snap/<version, 20 digits>"
// holding magic, version, the store copy (gallery.Backup) and the index
// snapshot file written at the same version (may be empty), each with its
// length. The object store checks its own SHA-256 digest on reading.
const (
	snapPrefix = "snap/"
	snapMagic  = "SHITURS1"
	imgPrefix  = "img/"
)

type snapInfo struct {
	name    string
	version uint64
}

// snapshots lists the stored snapshots, oldest first.
func (r *Replica) snapshots(ctx context.Context) ([]snapInfo, error) {
	list, err := r.obs.List(ctx)
	if errors.Is(err, jetstream.ErrNoObjectsFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("replica: list snapshots: %w", err)
	}
	var out []snapInfo
	for _, o := range list {
		if !strings.HasPrefix(o.Name, snapPrefix) || o.Deleted {
			continue
		}
		v, err := strconv.ParseUint(strings.TrimPrefix(o.Name, snapPrefix), 10, 64)
		if err != nil {
			continue
		}
		out = append(out, snapInfo{o.Name, v})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].version < out[j].version })
	return out, nil
}

func (r *Replica) newestSnapshot(ctx context.Context) (*snapInfo, error) {
	s, err := r.snapshots(ctx)
	if err != nil || len(s) == 0 {
		return nil, err
	}
	return &s[len(s)-1], nil
}

// restore writes the snapshot object into the replica's directory as its
// store and index snapshot (replacing what was there).
func (r *Replica) restore(ctx context.Context, name string) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Minute)
	defer cancel()
	obj, err := r.obs.Get(ctx, name)
	if err != nil {
		return fmt.Errorf("replica: snapshot %s: %w", name, err)
	}
	defer obj.Close()
	if err := os.MkdirAll(r.cfg.Dir, 0o755); err != nil {
		return fmt.Errorf("replica: %w", err)
	}
	br := bufio.NewReaderSize(obj, 1<<20)
	var h [16]byte
	if _, err := io.ReadFull(br, h[:]); err != nil || string(h[:8]) != snapMagic {
		return fmt.Errorf("%w: snapshot %s: bad header", ErrRecord, name)
	}
	dbPath, ixPath := filepath.Join(r.cfg.Dir, gallery.DBFile), filepath.Join(r.cfg.Dir, gallery.SnapshotFile)
	os.Remove(ixPath)
	os.Remove(dbPath)
	part := func(path string) error {
		var n [8]byte
		if _, err := io.ReadFull(br, n[:]); err != nil {
			return err
		}
		size := binary.LittleEndian.Uint64(n[:])
		return gallery.WriteFileAtomic(path, func(w io.Writer) error {
			m, err := io.CopyN(w, br, int64(size))
			if err == nil && uint64(m) != size {
				err = io.ErrUnexpectedEOF
			}
			return err
		})
	}
	if err := part(dbPath); err != nil {
		os.Remove(dbPath)
		return fmt.Errorf("%w: snapshot %s: store: %v", ErrRecord, name, err)
	}
	if err := part(ixPath); err != nil {
		os.Remove(ixPath) // the index is rebuilt from the store
	}
	// The object store verifies its digest once the object is read to the end.
	if _, err := io.Copy(io.Discard, br); err != nil {
		os.Remove(dbPath)
		os.Remove(ixPath)
		return fmt.Errorf("%w: snapshot %s: %v", ErrRecord, name, err)
	}
	return nil
}

// snapshotLoop writes a snapshot every SnapshotInterval (±20 %, so that
// replicas rarely write the same one) when the gallery changed since the
// newest stored one.
func (r *Replica) snapshotLoop(ctx context.Context) {
	defer r.done.Done()
	for {
		d := time.Duration(float64(r.cfg.SnapshotInterval) * (0.8 + 0.4*rand.Float64()))
		select {
		case <-ctx.Done():
			return
		case <-timeAfter(d):
		}
		r.trySnapshot(ctx)
	}
}

// trySnapshot writes a snapshot unless one at this version or newer is
// stored, or one is being written; errors are logged.
func (r *Replica) trySnapshot(ctx context.Context) {
	if !r.snapping.CompareAndSwap(false, true) {
		return
	}
	defer r.snapping.Store(false)
	if err := r.Snapshot(ctx); err != nil && ctx.Err() == nil {
		r.log.Error("replica: snapshot", "error", err.Error())
	}
}

// Snapshot stores a snapshot of the local gallery in the object store
// (unless one at its version or newer exists), deletes all but the newest
// KeepSnapshots and trims the stream behind the oldest one kept.
func (r *Replica) Snapshot(ctx context.Context) error {
	// One at a time: a call made while a background snapshot runs waits
	// for it, then finds it (and stores one only if the gallery moved on).
	r.snapMu.Lock()
	defer r.snapMu.Unlock()
	newest, err := r.newestSnapshot(ctx)
	if err != nil {
		return err
	}
	if newest != nil && newest.version > r.lastSnap.Load() {
		r.lastSnap.Store(newest.version)
	}
	if r.g.Version() <= r.lastSnap.Load() {
		r.maybeCollectImages(ctx)
		return nil
	}
	tmp, err := os.MkdirTemp(r.cfg.Dir, "upload.tmp")
	if err != nil {
		return fmt.Errorf("replica: %w", err)
	}
	defer os.RemoveAll(tmp)
	dbPath, ixPath := filepath.Join(tmp, "db"), filepath.Join(tmp, "ix")
	// Between two applies: the store copy and the index file are of one version.
	r.applyMu.Lock()
	err = r.g.Snapshot()
	if err == nil {
		if lerr := os.Link(filepath.Join(r.cfg.Dir, gallery.SnapshotFile), ixPath); lerr != nil {
			os.WriteFile(ixPath, nil, 0o644)
		}
	}
	var version uint64
	if err == nil {
		var f *os.File
		if f, err = os.Create(dbPath); err == nil {
			bw := bufio.NewWriterSize(f, 1<<20)
			version, _, err = r.g.Backup(bw)
			if err == nil {
				err = bw.Flush()
			}
			f.Close()
		}
	}
	r.applyMu.Unlock()
	if err != nil {
		return fmt.Errorf("replica: snapshot: %w", err)
	}
	t0 := time.Now()
	db, err := os.Open(dbPath)
	if err != nil {
		return fmt.Errorf("replica: %w", err)
	}
	defer db.Close()
	ix, err := os.Open(ixPath)
	if err != nil {
		return fmt.Errorf("replica: %w", err)
	}
	defer ix.Close()
	dbi, _ := db.Stat()
	ixi, _ := ix.Stat()
	hdr := append([]byte(snapMagic), binary.LittleEndian.AppendUint64(nil, version)...)
	size := func(n int64) io.Reader {
		return strings.NewReader(string(binary.LittleEndian.AppendUint64(nil, uint64(n))))
	}
	name := fmt.Sprintf("%s%020d", snapPrefix, version)
	body := io.MultiReader(strings.NewReader(string(hdr)), size(dbi.Size()), db, size(ixi.Size()), ix)
	if _, err := r.obs.Put(ctx, jetstream.ObjectMeta{Name: name, Metadata: map[string]string{"version": strconv.FormatUint(version, 10)}}, body); err != nil {
		return fmt.Errorf("replica: snapshot upload: %w", err)
	}
	r.lastSnap.Store(version)
	r.log.Info("replica: snapshot stored", "version", version, "bytes", dbi.Size()+ixi.Size(), "took", time.Since(t0).String())
	if err := r.trim(ctx, snapInfo{name, version}); err != nil {
		return err
	}
	r.maybeCollectImages(ctx)
	return nil
}

// maybeCollectImages runs collectImages, at most once a quarter of
// Config.ImageGrace (it reads every item of the gallery), from Snapshot:
// after a snapshot is written, and on the snapshot timer when the gallery
// did not change.
func (r *Replica) maybeCollectImages(ctx context.Context) {
	if !r.Ready() || r.pending.Load() != 0 {
		return
	}
	now := timeNow()
	if last := r.lastCollect.Load(); last != 0 && now.Sub(time.Unix(0, last)) < r.cfg.ImageGrace/4 {
		return
	}
	r.lastCollect.Store(now.UnixNano())
	if n, err := r.collectImages(ctx); err != nil {
		r.log.Warn("replica: deleting item images no item holds failed", "deleted", n, "error", err.Error())
	} else if n > 0 {
		r.log.Info("replica: deleted item images no item holds", "deleted", n)
	}
}

// collectImages deletes the item images (img/<sha256>) stored more than
// Config.ImageGrace ago that no item of this replica's gallery holds, and
// returns how many it deleted. Its caller runs it only on a replica that
// is caught up. An image is checked again just before it is deleted; putImage stores an
// image again when its object is older than half the grace, and Add
// checks its images are still there once its change is applied, so an Add
// of an image that was about to go keeps it. The grace must be the same
// on every replica of a gallery (the default is), and longer than the
// clock difference between the machines and the NATS servers.
func (r *Replica) collectImages(ctx context.Context) (int, error) {
	objs, err := r.obs.List(ctx)
	if errors.Is(err, jetstream.ErrNoObjectsFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	cutoff := timeNow().Add(-r.cfg.ImageGrace)
	var old []string
	for _, o := range objs {
		if strings.HasPrefix(o.Name, imgPrefix) && !o.Deleted && o.ModTime.Before(cutoff) {
			old = append(old, o.Name)
		}
	}
	if len(old) == 0 {
		return 0, nil
	}
	held := map[string]bool{}
	for start := int64(0); start >= 0; {
		items, next, err := r.g.List(gallery.ListOptions{Start: start, Limit: 10_000})
		if err != nil {
			return 0, err
		}
		for _, it := range items {
			if it.SHA256 != "" {
				held[it.SHA256] = true
			}
		}
		start = next
	}
	n := 0
	for _, name := range old {
		if held[strings.TrimPrefix(name, imgPrefix)] {
			continue
		}
		if info, err := r.obs.GetInfo(ctx, name); err != nil || !info.ModTime.Before(cutoff) {
			continue
		}
		if err := r.obs.Delete(ctx, name); err != nil && !errors.Is(err, jetstream.ErrObjectNotFound) {
			return n, err
		}
		n++
	}
	return n, nil
}

// timeNow is time.Now, moved by clockSkew (tests).
func timeNow() time.Time { return time.Now().Add(time.Duration(clockSkew.Load())) }

var clockSkew atomic.Int64

// trim deletes all but the newest KeepSnapshots snapshots and purges the
// stream up to the oldest kept one, or to the oldest version a live
// replica announced if that is older: every live replica can continue
// from the stream, and one that starts finds a snapshot and what follows.
func (r *Replica) trim(ctx context.Context, written snapInfo) error {
	s, err := r.snapshots(ctx)
	if err != nil {
		return err
	}
	// The object store lists through a new consumer, which may sit on a
	// NATS server that has not yet received the snapshot just written:
	// that one counts whether listed or not.
	if !slices.ContainsFunc(s, func(x snapInfo) bool { return x.name == written.name }) {
		s = append(s, written)
		sort.Slice(s, func(i, j int) bool { return s[i].version < s[j].version })
	}
	keep := s
	if len(s) > r.cfg.KeepSnapshots {
		keep = s[len(s)-r.cfg.KeepSnapshots:]
		for _, old := range s[:len(s)-r.cfg.KeepSnapshots] {
			if err := r.obs.Delete(ctx, old.name); err != nil && !errors.Is(err, jetstream.ErrObjectNotFound) {
				return fmt.Errorf("replica: delete snapshot %s: %w", old.name, err)
			}
		}
	}
	if len(keep) < r.cfg.KeepSnapshots {
		return nil // keep the whole stream until there are enough snapshots
	}
	floor := keep[0].version
	r.announce(ctx) // this replica's own entry, fresh
	// Nor past a live replica still applying changes before it.
	keys, err := r.kv.Keys(ctx)
	if err != nil && !errors.Is(err, jetstream.ErrNoKeysFound) {
		return fmt.Errorf("replica: trim: %w", err)
	}
	for _, k := range keys {
		e, err := r.kv.Get(ctx, k)
		if err != nil {
			continue
		}
		if v, err := strconv.ParseUint(string(e.Value()), 10, 64); err == nil && v < floor {
			floor = v
		}
	}
	if err := r.st.Purge(ctx, jetstream.WithPurgeSequence(floor+1)); err != nil {
		return fmt.Errorf("replica: trim stream: %w", err)
	}
	return nil
}

// putImage keeps an item image in the object store under its SHA-256.
func (r *Replica) putImage(ctx context.Context, sha string, b []byte) error {
	name := imgPrefix + sha
	if info, err := r.obs.GetInfo(ctx, name); err == nil && !info.ModTime.Before(timeNow().Add(-r.cfg.ImageGrace/2)) {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, r.cfg.PublishTimeout)
	defer cancel()
	if _, err := r.obs.PutBytes(ctx, name, b); err != nil {
		return fmt.Errorf("%w: storing an item image: %v", ErrUnavailable, err)
	}
	return nil
}

// ensureImages stores again any of an applied Add's images that is gone
// (collectImages ran between putImage and the change), logging failures:
// the change itself is committed.
func (r *Replica) ensureImages(ctx context.Context, items []gallery.Item, images [][]byte) {
	for i, b := range images {
		if b == nil || i >= len(items) || items[i].SHA256 == "" {
			continue
		}
		name := imgPrefix + items[i].SHA256
		if _, err := r.obs.GetInfo(ctx, name); !errors.Is(err, jetstream.ErrObjectNotFound) {
			continue
		}
		if _, err := r.obs.PutBytes(ctx, name, b); err != nil {
			r.log.Warn("replica: storing an item image again failed", "sha256", items[i].SHA256, "error", err.Error())
		}
	}
}

// Image returns an item image kept by Add, by its SHA-256 (hex).
func (r *Replica) Image(ctx context.Context, sha string) ([]byte, error) {
	b, err := r.obs.GetBytes(ctx, imgPrefix+sha)
	if errors.Is(err, jetstream.ErrObjectNotFound) {
		return nil, fmt.Errorf("%w: image %s", gallery.ErrNotFound, sha)
	}
	return b, err
}
