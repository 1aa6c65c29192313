package gallery

import (
	"errors"
	"fmt"
	"io"

	bolt "go.etcd.io/bbolt"
)

// ErrVersion is returned by ApplyAt for a version that is not past the
// gallery's current one.
var ErrVersion = errors.New("gallery: change version is not past the gallery version")

// Change is one edit of a replicated gallery (gallery/replica), applied
// with ApplyAt at the version its log gave it.
type Change struct {
	// Adds are stored under fresh ids (their ID is ignored), in order.
	Adds []Item
	// Removes are ids to delete; ids that do not exist are skipped.
	Removes []int64
	// Thresholds, when set, replace the stored thresholds (SetThresholds).
	Thresholds *Thresholds
}

// Thresholds are acceptance thresholds: a global score threshold and
// per-label overrides.
type Thresholds struct {
	Global   float32
	PerLabel map[string]float32
}

// ApplyAt commits c as store version version, which must be greater than
// Version() (else ErrVersion), in one durable transaction: the items, the
// thresholds and the version are all present after a crash or none of
// them is. Even an empty change moves the version, so a replica's version
// is the sequence of the last log entry it applied and a replayed entry
// is recognised by its version alone. Ids are assigned from the gallery's
// next id, as Add does, so replicas that apply the same changes in the
// same order from the same state assign the same ids; they are returned
// in order. An error with the version reached (Version() ≥ version) means
// the change was committed but the in-memory index failed: the ids are
// returned with it, and reopening the gallery rebuilds the index.
func (g *Gallery) ApplyAt(version uint64, c Change) ([]int64, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.db == nil {
		return nil, ErrClosed
	}
	if cur := g.view.Load().version; version <= cur {
		return nil, fmt.Errorf("%w: %d, the gallery is at %d", ErrVersion, version, cur)
	}
	ch := change{version: version, adds: make([]Item, len(c.Adds))}
	ids := make([]int64, len(c.Adds))
	for i, it := range c.Adds {
		it.ID = g.nextID + int64(i)
		ids[i] = it.ID
		ch.adds[i] = it
	}
	st := g.view.Load()
	seen := map[int64]bool{}
	for _, id := range c.Removes {
		if st.get(id) != nil && !seen[id] {
			seen[id] = true
			ch.removes = append(ch.removes, id)
		}
	}
	if c.Thresholds != nil {
		ch.thresholds = encodeThresholds(c.Thresholds.Global, c.Thresholds.PerLabel)
	}
	if err := g.applyLocked(ch); err != nil {
		if g.view.Load().version >= version {
			return ids, err // committed; the in-memory index failed
		}
		return nil, err
	}
	return ids, nil
}

// Backup writes a consistent copy of the gallery's store (gallery.db, as
// of one version) to w and returns that version and the bytes written.
// Opening the copy as DBFile of another directory gives the same gallery
// (same items, ids, thresholds, version and store id); writers are not
// blocked meanwhile.
func (g *Gallery) Backup(w io.Writer) (version uint64, n int64, err error) {
	err = g.read(func(tx *bolt.Tx) error {
		if version, err = getU64(tx.Bucket(bMeta), kVersion); err != nil {
			return err
		}
		n, err = tx.WriteTo(w)
		return err
	})
	if err != nil {
		return 0, n, fmt.Errorf("gallery: backup: %w", err)
	}
	return version, n, nil
}
