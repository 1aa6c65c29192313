package gallery

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash/crc32"
	"math"
	"sort"
	"sync/atomic"

	"github.com/shitu-go/shitu/vecindex"
	bolt "go.etcd.io/bbolt"
)

// Store layout (docs/format/gallery.md): three buckets in gallery.db.
var (
	bMeta  = []byte("meta")
	bItems = []byte("items")
	bVecs  = []byte("vecs")

	kMagic      = []byte("magic")
	kFormat     = []byte("format")
	kHeader     = []byte("header")
	kVersion    = []byte("version")
	kNextID     = []byte("nextid")
	kThresholds = []byte("thresholds")
	kStoreID    = []byte("storeid")
)

const (
	magic        = "shitu-gallery"
	formatV1     = 1
	itemRecordV1 = 1
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// seal appends the CRC-32C of p to p.
func seal(p []byte) []byte {
	return binary.LittleEndian.AppendUint32(p, crc32.Checksum(p, castagnoli))
}

// unseal checks and strips the CRC-32C trailer. The result aliases rec.
func unseal(rec []byte, what string) ([]byte, error) {
	if len(rec) < 4 {
		return nil, fmt.Errorf("%w: %s record too short", ErrFormat, what)
	}
	p := rec[:len(rec)-4]
	if binary.LittleEndian.Uint32(rec[len(rec)-4:]) != crc32.Checksum(p, castagnoli) {
		return nil, fmt.Errorf("%w: %s record checksum mismatch", ErrFormat, what)
	}
	return p, nil
}

// idKey orders ids as signed integers under bbolt's byte order.
func idKey(id int64) []byte {
	return binary.BigEndian.AppendUint64(nil, uint64(id)^(1<<63))
}

func keyID(k []byte) int64 { return int64(binary.BigEndian.Uint64(k) ^ (1 << 63)) }

func u64(v uint64) []byte { return seal(binary.LittleEndian.AppendUint64(nil, v)) }

func getU64(b *bolt.Bucket, k []byte) (uint64, error) {
	v := b.Get(k)
	if v == nil {
		return 0, nil
	}
	p, err := unseal(v, string(k))
	if err != nil || len(p) != 8 {
		return 0, fmt.Errorf("%w: bad %s value", ErrFormat, k)
	}
	return binary.LittleEndian.Uint64(p), nil
}

func initDB(tx *bolt.Tx, h header) error {
	m, err := tx.CreateBucket(bMeta)
	if err != nil {
		return fmt.Errorf("gallery: %w", err)
	}
	if _, err := tx.CreateBucket(bItems); err != nil {
		return fmt.Errorf("gallery: %w", err)
	}
	if _, err := tx.CreateBucket(bVecs); err != nil {
		return fmt.Errorf("gallery: %w", err)
	}
	var hb []byte
	hb = appendStr(hb, h.Model)
	hb = binary.AppendUvarint(hb, uint64(h.Dims))
	hb = binary.AppendUvarint(hb, uint64(h.Metric))
	hb = appendStr(hb, h.Method)
	for _, kv := range []struct{ k, v []byte }{
		{kMagic, []byte(magic)},
		{kFormat, u64(formatV1)},
		{kHeader, seal(hb)},
		{kVersion, u64(0)},
		{kNextID, u64(0)},
		{kStoreID, seal([]byte(h.StoreID))},
	} {
		if err := m.Put(kv.k, kv.v); err != nil {
			return fmt.Errorf("gallery: %w", err)
		}
	}
	return nil
}

func readHeader(tx *bolt.Tx) (header, error) {
	var h header
	m := tx.Bucket(bMeta)
	if m == nil || tx.Bucket(bItems) == nil || tx.Bucket(bVecs) == nil || string(m.Get(kMagic)) != magic {
		return h, fmt.Errorf("%w: not a shitu gallery store", ErrFormat)
	}
	f, err := getU64(m, kFormat)
	if err != nil {
		return h, err
	}
	if f != formatV1 {
		return h, fmt.Errorf("%w: store format %d (this build reads %d)", ErrFormat, f, formatV1)
	}
	if v := m.Get(kStoreID); v != nil { // absent in galleries made before it existed
		sid, err := unseal(v, "store id")
		if err != nil {
			return h, err
		}
		h.StoreID = string(sid)
	}
	p, err := unseal(m.Get(kHeader), "header")
	if err != nil {
		return h, err
	}
	r := reader{b: p}
	h.Model = r.str()
	h.Dims = int(r.uvarint())
	h.Metric = vecindex.Metric(r.uvarint())
	h.Method = r.str()
	if r.err != nil || h.Dims <= 0 || h.Metric > vecindex.Hamming {
		return h, fmt.Errorf("%w: bad header", ErrFormat)
	}
	return h, nil
}

func appendStr(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

type reader struct {
	b   []byte
	err error
}

func (r *reader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err = ErrFormat
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) str() string {
	n := r.uvarint()
	if r.err != nil || n > uint64(len(r.b)) {
		r.err = ErrFormat
		return ""
	}
	s := string(r.b[:n])
	r.b = r.b[n:]
	return s
}

func encodeItem(it *Item, added uint64) []byte {
	b := []byte{itemRecordV1}
	b = appendStr(b, it.Label)
	b = appendStr(b, it.Source)
	b = appendStr(b, it.SHA256)
	b = appendStr(b, it.Doc)
	keys := make([]string, 0, len(it.Meta))
	for k := range it.Meta {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	b = binary.AppendUvarint(b, uint64(len(keys)))
	for _, k := range keys {
		b = appendStr(b, k)
		b = appendStr(b, it.Meta[k])
	}
	b = binary.AppendUvarint(b, added)
	return seal(b)
}

func decodeItem(id int64, rec []byte) (Item, uint64, error) {
	p, err := unseal(rec, "item")
	if err != nil {
		return Item{}, 0, fmt.Errorf("%w (id %d)", err, id)
	}
	if len(p) == 0 || p[0] != itemRecordV1 {
		return Item{}, 0, fmt.Errorf("%w: item %d: unknown record version", ErrFormat, id)
	}
	r := reader{b: p[1:]}
	it := Item{ID: id}
	it.Label = r.str()
	it.Source = r.str()
	it.SHA256 = r.str()
	it.Doc = r.str()
	n := r.uvarint()
	if n > uint64(len(r.b)) {
		r.err = ErrFormat
	}
	for i := uint64(0); i < n && r.err == nil; i++ {
		if it.Meta == nil {
			it.Meta = map[string]string{}
		}
		k := r.str()
		it.Meta[k] = r.str()
	}
	added := r.uvarint()
	if r.err != nil || len(r.b) != 0 {
		return Item{}, 0, fmt.Errorf("%w: item %d: bad record", ErrFormat, id)
	}
	return it, added, nil
}

// entryOf makes the compact in-memory entry of an item, interning its label.
func (g *Gallery) entryOf(it *Item, added uint64) *entry {
	e := &entry{id: it.ID, label: g.intern(it.Label), source: it.Source, meta: it.Meta, added: added}
	if it.Doc != it.Source+"\t"+it.Label || it.Source == "" {
		e.doc = it.Doc
	}
	if len(it.SHA256) == 64 {
		if _, err := hex.Decode(e.sha[:], []byte(it.SHA256)); err == nil {
			e.hasSHA = true
		}
	}
	return e
}

// encodeVec stores a float vector as little-endian float32, a code as is.
func (g *Gallery) encodeVec(vec []float32, code []byte) []byte {
	if g.hdr.binary() {
		return seal(append([]byte(nil), code...))
	}
	b := make([]byte, 0, 4*len(vec)+4)
	for _, v := range vec {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(v))
	}
	return seal(b)
}

// vecBytes is the stored size of one vector record payload.
func (g *Gallery) vecBytes() int {
	if g.hdr.binary() {
		return g.hdr.Dims / 8
	}
	return 4 * g.hdr.Dims
}

func (g *Gallery) decodeVec(id int64, rec []byte, dst []float32) ([]float32, []byte, error) {
	p, err := unseal(rec, "vector")
	if err != nil {
		return nil, nil, fmt.Errorf("%w (id %d)", err, id)
	}
	if len(p) != g.vecBytes() {
		return nil, nil, fmt.Errorf("%w: vector of item %d has %d bytes, want %d", ErrFormat, id, len(p), g.vecBytes())
	}
	if g.hdr.binary() {
		return nil, bytes.Clone(p), nil
	}
	for i := 0; i < g.hdr.Dims; i++ {
		dst = append(dst, math.Float32frombits(binary.LittleEndian.Uint32(p[4*i:])))
	}
	return dst, nil, nil
}

// load reads the item metadata and the store version, then loads the index
// snapshot if it matches the version, else rebuilds the index from vecs.
// The snapshot (mostly one sequential read of the vectors) is read on its
// own goroutine while the items are decoded from the store, so opening a
// large gallery costs about the longer of the two, not their sum.
func (g *Gallery) load() error {
	var sh shards
	for i := range sh {
		sh[i] = map[int64]*entry{}
	}
	st := &state{items: &sh}
	if err := g.db.View(func(tx *bolt.Tx) error {
		m := tx.Bucket(bMeta)
		var err error
		if st.version, err = getU64(m, kVersion); err != nil {
			return err
		}
		next, err := getU64(m, kNextID)
		g.nextID = int64(next)
		return err
	}); err != nil {
		return err
	}
	type loaded struct {
		ix index
		at uint64
	}
	snap := make(chan loaded, 1)
	go func() {
		ix, at := g.loadSnapshot(st.version)
		snap <- loaded{ix, at}
	}()
	err := g.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bItems)
		// Size the shard maps once: growing them item by item was a third
		// of the time to open a million-item gallery.
		if per := b.Stats().KeyN / nShards; per > 8 {
			for i := range sh {
				sh[i] = make(map[int64]*entry, per+per/8)
			}
		}
		return b.ForEach(func(k, v []byte) error {
			if len(k) != 8 {
				return fmt.Errorf("%w: bad item key", ErrFormat)
			}
			it, added, err := decodeItem(keyID(k), v)
			if err != nil {
				return err
			}
			e := g.entryOf(&it, added)
			sh[uint64(e.id)%nShards][e.id] = e
			st.n++
			g.noteAdd(e)
			return nil
		})
	})
	sn := <-snap
	if err != nil {
		return err
	}
	switch {
	case sn.ix != nil && sn.at == st.version && sn.ix.size() == st.n:
		st.ix = sn.ix
	case sn.ix != nil && sn.at < st.version && g.catchUp(st, sn.ix, sn.at) == nil:
		st.ix = sn.ix
		g.dirty = true
	default:
		if err := g.rebuildIndex(st); err != nil {
			return err
		}
		g.dirty = st.n > 0
	}
	useFaissSearch(st.ix)
	g.view.Store(st)
	g.exact.Store(st)
	g.releaseMapping()
	return nil
}

// rebuilds counts index rebuilds from the store (tests tell a snapshot
// that was used or caught up from one that was not).
var rebuilds atomic.Int64

// rebuildIndex makes a fresh index holding every stored vector.
func (g *Gallery) rebuildIndex(st *state) error {
	rebuilds.Add(1)
	ix, err := g.newIndex(IndexSpec{Method: g.hdr.Method, Metric: g.hdr.Metric, Dims: g.hdr.Dims, Count: st.n})
	if err != nil {
		return err
	}
	st.ix = ix
	// One Add of everything: arrays are sized once (no growth garbage) and
	// IVF trains on all vectors.
	chunk := st.n
	ids := make([]int64, 0, st.n)
	var vecs []float32
	var codes []byte
	if g.hdr.binary() {
		codes = make([]byte, 0, st.n*g.hdr.Dims/8)
	} else {
		vecs = make([]float32, 0, st.n*g.hdr.Dims)
	}
	flush := func() error {
		if len(ids) == 0 {
			return nil
		}
		err := st.ix.fill(ids, vecs, codes)
		ids, vecs, codes = nil, nil, nil
		if err != nil {
			return fmt.Errorf("gallery: rebuild index: %w", err)
		}
		return nil
	}
	return g.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bVecs).Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			id := keyID(k)
			if st.get(id) == nil {
				continue // vector without item: cannot happen in one tx, skip
			}
			var code []byte
			var err error
			vecs, code, err = g.decodeVec(id, v, vecs)
			if err != nil {
				return err
			}
			codes = append(codes, code...)
			ids = append(ids, id)
			if len(ids) == chunk {
				if err := flush(); err != nil {
					return err
				}
			}
		}
		return flush()
	})
}

// noteAdd and noteRemove keep the writer-side label counts.
func (g *Gallery) noteAdd(e *entry) {
	g.labels[e.label]++
	if e.id >= g.nextID {
		g.nextID = e.id + 1
	}
}

func (g *Gallery) noteRemove(e *entry) {
	if g.labels[e.label]--; g.labels[e.label] <= 0 {
		delete(g.labels, e.label)
		delete(g.interned, e.label)
	}
}

func itemKey(source, label string) string { return source + "\x00" + label }

// intern returns the label string shared by every item with that label.
func (g *Gallery) intern(label string) string {
	if g.interned == nil {
		g.interned = map[string]string{}
	}
	if s, ok := g.interned[label]; ok {
		return s
	}
	g.interned[label] = label
	return label
}
