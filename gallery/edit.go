package gallery

import (
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"sort"

	"github.com/shitu-go/shitu/vecindex"
	bolt "go.etcd.io/bbolt"
)

// change is one atomic edit: it commits in a single bbolt transaction, so
// after a crash either all of it is present or none of it.
type change struct {
	adds    []Item // IDs assigned (or kept, for imports) before commit
	removes []int64
	// ix, when set, already holds exactly the adds (imports of faiss
	// files): it replaces the gallery's index instead of being fed.
	ix index
	// version, when non-zero, is the store version the change commits as
	// (ApplyAt: a replicated gallery's version is its stream sequence);
	// zero means the current version plus one.
	version uint64
	// thresholds, when set, are stored with the change (encodeThresholds).
	thresholds []byte
}

// Add stores items under fresh ids, returned in order, in one atomic
// change. Float galleries need Item.Vector (Dims values, stored as given:
// callers pass L2-normalised features); binary galleries need Item.Code
// (Dims/8 bytes) or a Vector, which is binarised (sign, MSB first).
// Add returns after the change is durable on disk.
func (g *Gallery) Add(items ...Item) ([]int64, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.db == nil {
		return nil, ErrClosed
	}
	c := change{adds: make([]Item, len(items))}
	ids := make([]int64, len(items))
	for i, it := range items {
		it.ID = g.nextID + int64(i)
		ids[i] = it.ID
		c.adds[i] = it
	}
	if err := g.applyLocked(c); err != nil {
		return nil, err
	}
	return ids, nil
}

// Remove deletes items by id and reports how many existed.
func (g *Gallery) Remove(ids ...int64) (int, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.db == nil {
		return 0, ErrClosed
	}
	st := g.view.Load()
	var c change
	seen := map[int64]bool{}
	for _, id := range ids {
		if st.get(id) != nil && !seen[id] {
			seen[id] = true
			c.removes = append(c.removes, id)
		}
	}
	return len(c.removes), g.applyLocked(c)
}

// RemoveLabel deletes every item with that label and reports how many.
func (g *Gallery) RemoveLabel(label string) (int, error) {
	return g.removeWhere(func(e *entry) bool { return e.label == label })
}

// RemoveSource deletes every item whose source path is path.
func (g *Gallery) RemoveSource(path string) (int, error) {
	return g.removeWhere(func(e *entry) bool { return e.source == path })
}

func (g *Gallery) removeWhere(match func(*entry) bool) (int, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.db == nil {
		return 0, ErrClosed
	}
	var c change
	g.view.Load().each(func(e *entry) {
		if match(e) {
			c.removes = append(c.removes, e.id)
		}
	})
	return len(c.removes), g.applyLocked(c)
}

func (s *state) each(f func(*entry)) {
	for _, m := range s.items {
		for _, e := range m {
			f(e)
		}
	}
}

// Get returns one item with its vector or code.
func (g *Gallery) Get(id int64) (Item, error) {
	var it Item
	err := g.read(func(tx *bolt.Tx) error {
		v := tx.Bucket(bItems).Get(idKey(id))
		if v == nil {
			return fmt.Errorf("%w: id %d", ErrNotFound, id)
		}
		var err error
		if it, _, err = decodeItem(id, v); err != nil {
			return err
		}
		it.Vector, it.Code, err = g.decodeVec(id, tx.Bucket(bVecs).Get(idKey(id)), nil)
		return err
	})
	return it, err
}

func (g *Gallery) read(f func(*bolt.Tx) error) error {
	g.mu.Lock()
	db := g.db
	g.mu.Unlock()
	if db == nil {
		return ErrClosed
	}
	return db.View(f)
}

// validate checks and normalises one item to add.
func (g *Gallery) validate(it *Item) error {
	if err := checkItemText(it); err != nil {
		return err
	}
	if g.hdr.binary() {
		if it.Code == nil && it.Vector != nil {
			if len(it.Vector) != g.hdr.Dims {
				return fmt.Errorf("%w: item %q has %d values, gallery has %d", ErrDims, it.Label, len(it.Vector), g.hdr.Dims)
			}
			it.Code = packSign(it.Vector)
		}
		if len(it.Code) != g.hdr.Dims/8 {
			return fmt.Errorf("%w: item %q has a %d-byte code, gallery has %d bits", ErrDims, it.Label, len(it.Code), g.hdr.Dims)
		}
		it.Vector = nil
		return nil
	}
	if len(it.Vector) != g.hdr.Dims {
		return fmt.Errorf("%w: item %q has %d values, gallery has %d", ErrDims, it.Label, len(it.Vector), g.hdr.Dims)
	}
	for _, v := range it.Vector {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return fmt.Errorf("%w: item %q has a non-finite vector value", ErrDims, it.Label)
		}
	}
	it.Code = nil
	return nil
}

// packSign binarises like PaddleClas' Binarize "sign": bit 1 iff value > 0,
// most significant bit first (ppshitu-pipeline.md §6.4).
func packSign(v []float32) []byte {
	out := make([]byte, len(v)/8)
	for i, x := range v {
		if x > 0 {
			out[i/8] |= 0x80 >> (i % 8)
		}
	}
	return out
}

// applyLocked commits c durably, then updates the index and publishes a
// new read view. g.mu is held.
func (g *Gallery) applyLocked(c change) error {
	if len(c.adds) == 0 && len(c.removes) == 0 && c.version == 0 && c.thresholds == nil {
		return nil
	}
	for i := range c.adds {
		if err := g.validate(&c.adds[i]); err != nil {
			return err
		}
	}
	old := g.view.Load()
	version := old.version + 1
	if c.version != 0 {
		version = c.version
	}
	next := g.nextID
	for _, it := range c.adds {
		if it.ID >= next {
			next = it.ID + 1
		}
	}
	err := g.db.Update(func(tx *bolt.Tx) error {
		items, vecs, m := tx.Bucket(bItems), tx.Bucket(bVecs), tx.Bucket(bMeta)
		for _, id := range c.removes {
			if err := items.Delete(idKey(id)); err != nil {
				return err
			}
			if err := vecs.Delete(idKey(id)); err != nil {
				return err
			}
		}
		for i := range c.adds {
			it := &c.adds[i]
			k := idKey(it.ID)
			if items.Get(k) != nil {
				return fmt.Errorf("%w: id %d already exists", vecindex.ErrDuplicate, it.ID)
			}
			if err := items.Put(k, encodeItem(it, version)); err != nil {
				return err
			}
			if err := vecs.Put(k, g.encodeVec(it.Vector, it.Code)); err != nil {
				return err
			}
		}
		if c.thresholds != nil {
			if err := m.Put(kThresholds, c.thresholds); err != nil {
				return err
			}
		}
		if err := m.Put(kNextID, u64(uint64(next))); err != nil {
			return err
		}
		return m.Put(kVersion, u64(version))
	})
	if err != nil {
		return fmt.Errorf("gallery: commit: %w", err)
	}
	// Durable from here on. Bring the in-memory index and view up to date;
	// until that is done, searches filter their hits through their view.
	g.exact.Store(nil)
	g.nextID = next
	g.dirty = true
	st := &state{version: version, n: old.n, ix: old.ix}
	cp := *old.items
	st.items = &cp
	copied := [nShards]bool{}
	shard := func(id int64) map[int64]*entry {
		s := uint64(id) % nShards
		if !copied[s] {
			m := make(map[int64]*entry, len(cp[s])+1)
			for k, v := range cp[s] {
				m[k] = v
			}
			cp[s], copied[s] = m, true
		}
		return cp[s]
	}
	var ierr error
	if len(c.adds) > 0 {
		ids := make([]int64, len(c.adds))
		var vecs []float32
		var codes []byte
		for i, it := range c.adds {
			ids[i] = it.ID
			vecs = append(vecs, it.Vector...)
			codes = append(codes, it.Code...)
		}
		if c.ix != nil {
			st.ix = c.ix
			useFaissSearch(st.ix)
		} else {
			ierr = st.ix.add(ids, vecs, codes)
		}
		for _, it := range c.adds {
			e := g.entryOf(&it, version)
			shard(it.ID)[it.ID] = e
			st.n++
			g.noteAdd(e)
		}
	}
	for _, id := range c.removes {
		if e := old.get(id); e != nil {
			delete(shard(id), id)
			st.n--
			g.noteRemove(e)
		}
	}
	g.view.Store(st)
	if len(c.removes) > 0 {
		st.ix.remove(c.removes...)
	}
	if ierr != nil {
		return fmt.Errorf("gallery: change committed but the index update failed (reopen rebuilds it): %w", ierr)
	}
	// The index now holds exactly st's items (removals done above).
	g.exact.Store(st)
	if c.ix != nil {
		// An imported faiss index: snapshot it now, so that a process that
		// dies before Close does not reopen with an index rebuilt by shitu
		// (another graph or other centroids than faiss'). On failure Close
		// tries again.
		_ = g.saveSnapshotLocked()
	}
	return nil
}

// addTrained adds vectors, training an untrained index (IVF) on them first.
func addTrained(ix vecindex.Index, ids []int64, vecs []float32) error {
	err := ix.Add(ids, vecs)
	if err == nil {
		return nil
	}
	if t, ok := ix.(interface{ Train([]float32) error }); ok {
		if terr := t.Train(vecs); terr != nil {
			return terr
		}
		return ix.Add(ids, vecs)
	}
	return err
}

// ListOptions select a page of items. Zero values: every label, from the
// lowest id, 100 items, no vectors.
type ListOptions struct {
	Label   string // only this label when non-empty
	Source  string // only this source path when non-empty
	Start   int64  // first id to consider (inclusive)
	Limit   int    // page size (default 100; negative = no limit)
	Vectors bool   // fill Item.Vector / Item.Code
}

// List returns items in id order and the id to start the next page from
// (-1 when there are no more).
func (g *Gallery) List(o ListOptions) ([]Item, int64, error) {
	if o.Limit == 0 {
		o.Limit = 100
	}
	var out []Item
	next := int64(-1)
	err := g.read(func(tx *bolt.Tx) error {
		c := tx.Bucket(bItems).Cursor()
		vb := tx.Bucket(bVecs)
		for k, v := c.Seek(idKey(o.Start)); k != nil; k, v = c.Next() {
			id := keyID(k)
			if o.Limit > 0 && len(out) == o.Limit {
				next = id
				return nil
			}
			it, _, err := decodeItem(id, v)
			if err != nil {
				return err
			}
			if (o.Label != "" && it.Label != o.Label) || (o.Source != "" && it.Source != o.Source) {
				continue
			}
			if o.Vectors {
				if it.Vector, it.Code, err = g.decodeVec(id, vb.Get(k), nil); err != nil {
					return err
				}
			}
			out = append(out, it)
		}
		return nil
	})
	return out, next, err
}

// Stats summarise a gallery.
type Stats struct {
	Items     int
	Labels    int
	Dims      int
	Metric    string
	Method    string
	Binary    bool
	Model     string
	Version   uint64
	DiskBytes int64 // gallery.db plus the index snapshot
}

// Stats returns the gallery's figures.
func (g *Gallery) Stats() Stats {
	g.mu.Lock()
	defer g.mu.Unlock()
	st := g.view.Load()
	s := Stats{Items: st.n, Labels: len(g.labels), Dims: g.hdr.Dims, Metric: g.hdr.Metric.String(),
		Method: g.hdr.Method, Binary: g.hdr.binary(), Model: g.hdr.Model, Version: st.version}
	for _, f := range []string{DBFile, SnapshotFile} {
		if fi, err := os.Stat(g.dir + string(os.PathSeparator) + f); err == nil {
			s.DiskBytes += fi.Size()
		}
	}
	return s
}

// Labels returns the item count of every label.
func (g *Gallery) Labels() map[string]int {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := make(map[string]int, len(g.labels))
	for k, v := range g.labels {
		out[k] = v
	}
	return out
}

// LabelNames returns the labels, sorted.
func (g *Gallery) LabelNames() []string {
	m := g.Labels()
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// SetThresholds stores acceptance thresholds (e.g. from calibration): a
// global score threshold and per-label overrides. It is a durable change
// but does not bump the item-set version.
func (g *Gallery) SetThresholds(global float32, perLabel map[string]float32) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.db == nil {
		return ErrClosed
	}
	b := encodeThresholds(global, perLabel)
	if err := g.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bMeta).Put(kThresholds, b) }); err != nil {
		return fmt.Errorf("gallery: %w", err)
	}
	return nil
}

// encodeThresholds is the sealed thresholds record (docs/format/gallery.md).
func encodeThresholds(global float32, perLabel map[string]float32) []byte {
	b := binary.LittleEndian.AppendUint32(nil, math.Float32bits(global))
	keys := make([]string, 0, len(perLabel))
	for k := range perLabel {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	b = binary.AppendUvarint(b, uint64(len(keys)))
	for _, k := range keys {
		b = appendStr(b, k)
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(perLabel[k]))
	}
	return seal(b)
}

// Thresholds returns the stored thresholds; ok is false when none were set.
func (g *Gallery) Thresholds() (global float32, perLabel map[string]float32, ok bool, err error) {
	err = g.read(func(tx *bolt.Tx) error {
		v := tx.Bucket(bMeta).Get(kThresholds)
		if v == nil {
			return nil
		}
		p, err := unseal(v, "thresholds")
		if err != nil {
			return err
		}
		if len(p) < 4 {
			return fmt.Errorf("%w: thresholds", ErrFormat)
		}
		global = math.Float32frombits(binary.LittleEndian.Uint32(p))
		r := reader{b: p[4:]}
		n := r.uvarint()
		perLabel = map[string]float32{}
		for i := uint64(0); i < n && r.err == nil; i++ {
			k := r.str()
			if len(r.b) < 4 {
				r.err = ErrFormat
				break
			}
			perLabel[k] = math.Float32frombits(binary.LittleEndian.Uint32(r.b))
			r.b = r.b[4:]
		}
		if r.err != nil {
			return fmt.Errorf("%w: thresholds", ErrFormat)
		}
		ok = true
		return nil
	})
	return
}
