package gallery

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"unsafe"

	"github.com/shitu-go/shitu/vecindex"
	bolt "go.etcd.io/bbolt"
)

// Flat snapshots (format 2, docs/format/gallery.md): the ids and the
// vectors of a Flat index start at page-aligned offsets, so that opening
// maps the vectors instead of reading them into fresh memory (issue 18.3:
// a 1M×512 gallery serves within seconds of a restart). Other indexes, and
// hosts that are not little-endian, keep format 1.
const (
	snapV2    = 2
	snapAlign = 4096
)

// hostLE reports whether the host stores numbers as the files do.
var hostLE = func() bool {
	x := uint16(1)
	return *(*byte)(unsafe.Pointer(&x)) == 1
}()

// flatOf returns the gallery's Flat index when a format-2 snapshot can
// hold it.
func flatOf(ix index) *vecindex.Flat {
	if !hostLE {
		return nil
	}
	fi, ok := ix.(*floatIndex)
	if !ok {
		return nil
	}
	fl, _ := fi.ix.(*vecindex.Flat)
	return fl
}

// snapHeader is the common start of both snapshot formats.
func (g *Gallery) snapHeader(format uint32, version uint64) []byte {
	var h []byte
	h = append(h, snapMagic...)
	h = binary.LittleEndian.AppendUint32(h, format)
	h = binary.LittleEndian.AppendUint64(h, version)
	kind := uint32(0)
	if g.hdr.binary() {
		kind = 1
	}
	h = binary.LittleEndian.AppendUint32(h, kind)
	h = appendStr(h, g.hdr.Model)
	return appendStr(h, g.hdr.StoreID)
}

// saveFlatSnapshot writes a format-2 snapshot of fl.
func (g *Gallery) saveFlatSnapshot(fl *vecindex.Flat, version uint64) error {
	return fl.Read(func(ids []int64, vecs []float32) error {
		h := g.snapHeader(snapV2, version)
		h = append(h, byte(fl.Metric()))
		h = binary.LittleEndian.AppendUint32(h, uint32(fl.Dims()))
		h = binary.LittleEndian.AppendUint64(h, uint64(len(ids)))
		return writeAtomic(filepath.Join(g.dir, SnapshotFile), func(w io.Writer) error {
			crc := crc32.New(castagnoli)
			mw := io.MultiWriter(w, crc)
			off := int64(0)
			put := func(b []byte) error {
				_, err := mw.Write(b)
				off += int64(len(b))
				return err
			}
			pad := func() error { return put(make([]byte, padTo(off))) }
			err := put(h)
			if err == nil {
				err = pad()
			}
			if err == nil && len(ids) > 0 {
				err = put(unsafe.Slice((*byte)(unsafe.Pointer(&ids[0])), 8*len(ids)))
			}
			if err == nil {
				err = pad()
			}
			if err == nil && len(vecs) > 0 {
				err = put(unsafe.Slice((*byte)(unsafe.Pointer(&vecs[0])), 4*len(vecs)))
			}
			if err != nil {
				return err
			}
			_, err = w.Write(binary.LittleEndian.AppendUint32(nil, crc.Sum32()))
			return err
		})
	})
}

// padTo is how many zero bytes bring off to the next multiple of snapAlign.
func padTo(off int64) int64 { return (snapAlign - off%snapAlign) % snapAlign }

// loadFlatSnapshot reads the rest of a format-2 snapshot. r yields the
// file's bytes from offset off on (just after the store id) and feeds crc;
// the vectors are mapped, not read, and summed into crc from the mapping,
// so the checksum still covers every byte and open touches each page once.
func (g *Gallery) loadFlatSnapshot(f *os.File, r io.Reader, crc hash.Hash32, off int64) (index, error) {
	if !hostLE || g.hdr.binary() {
		return nil, errors.New("format 2 is read on little-endian hosts, for float galleries")
	}
	var fixed [13]byte
	if _, err := io.ReadFull(r, fixed[:]); err != nil {
		return nil, err
	}
	metric := vecindex.Metric(fixed[0])
	dims := int(binary.LittleEndian.Uint32(fixed[1:]))
	n := binary.LittleEndian.Uint64(fixed[5:])
	if metric != g.hdr.Metric || dims != g.hdr.Dims || dims <= 0 || dims > 1<<16 {
		return nil, errors.New("metric or dims differ")
	}
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	off += 13
	idsOff := off + padTo(off)
	if n > uint64(st.Size())/8 {
		return nil, errors.New("count beyond the file")
	}
	vecOff := idsOff + int64(8*n)
	vecOff += padTo(vecOff)
	nv := int(n) * dims
	if st.Size() != vecOff+4*int64(nv)+4 {
		return nil, errors.New("file size does not match the count")
	}
	if _, err := io.CopyN(io.Discard, r, idsOff-off); err != nil {
		return nil, err
	}
	ids := make([]int64, n)
	if n > 0 {
		if _, err := io.ReadFull(r, unsafe.Slice((*byte)(unsafe.Pointer(&ids[0])), 8*n)); err != nil {
			return nil, err
		}
	}
	if _, err := io.CopyN(io.Discard, r, vecOff-idsOff-int64(8*n)); err != nil {
		return nil, err
	}
	// Room to add a quarter more vectors (at least 4096) before an append
	// moves them to the heap.
	capN := (int(n) + max(int(n)/4, 4096)) * dims
	vecs, release, err := mapFloats(f, vecOff, nv, capN)
	if err != nil {
		return nil, err
	}
	ok := false
	defer func() {
		if !ok {
			release()
		}
	}()
	if nv > 0 {
		raw := unsafe.Slice((*byte)(unsafe.Pointer(&vecs[0])), 4*nv)
		for len(raw) > 0 {
			c := min(len(raw), 1<<20)
			crc.Write(raw[:c])
			raw = raw[c:]
		}
	}
	var trailer [4]byte
	if _, err := f.ReadAt(trailer[:], vecOff+4*int64(nv)); err != nil {
		return nil, err
	}
	if binary.LittleEndian.Uint32(trailer[:]) != crc.Sum32() {
		return nil, errors.New("checksum mismatch")
	}
	fl, err := vecindex.NewFlatFrom(dims, metric, ids, vecs)
	if err != nil {
		return nil, err
	}
	ok = true
	m := &mapping{base: unsafe.SliceData(vecs)}
	m.release = sync.OnceFunc(release)
	// The mapping lives as long as the index that holds it: every view
	// that a search can still use reaches the index, so no search runs on
	// unmapped memory. When appends outgrow the reserved room the Flat
	// moves its vectors to the heap, and the mapping goes at once
	// (releaseIfMoved).
	runtime.AddCleanup(fl, func(release func()) { release() }, m.release)
	return &floatIndex{ix: fl, mapped: m}, nil
}

// mapping is the snapshot region a Flat's vectors were mapped from.
type mapping struct {
	base    *float32
	release func() // idempotent
}

// releaseIfMoved unmaps the region once the Flat's vectors live elsewhere.
// It runs after a write to the index: a search holds the index's read
// lock for as long as it reads the vectors, and a write waits for every
// such search, so once the vectors have moved no search can still read
// the old region.
func (m *mapping) releaseIfMoved(ix vecindex.Index) {
	fl, ok := ix.(*vecindex.Flat)
	if !ok {
		return
	}
	moved := false
	fl.Read(func(_ []int64, vecs []float32) error {
		moved = unsafe.SliceData(vecs) != m.base
		return nil
	})
	if moved {
		m.release()
	}
}

// catchUp brings the index of a Flat snapshot written at store version
// at up to the store's items in st (a process that died after changes it
// had not snapshotted yet): ids the store no longer holds, or holds from a
// later add, leave the index; items added after at join it with their
// stored vectors. An item's record keeps the version that added it and ids
// are only ever added whole, so an item added at or before at is in the
// snapshot with the same vector. Any failure leaves the caller to rebuild.
func (g *Gallery) catchUp(st *state, ix index, at uint64) error {
	fl := flatOf(ix)
	if fl == nil {
		return errors.New("only Flat snapshots are caught up")
	}
	var gone []int64
	fl.Read(func(ids []int64, _ []float32) error {
		for _, id := range ids {
			if e := st.get(id); e == nil || e.added > at {
				gone = append(gone, id)
			}
		}
		return nil
	})
	fl.Remove(gone...)
	var fresh []int64
	for _, sh := range st.items {
		for id, e := range sh {
			if e.added > at {
				fresh = append(fresh, id)
			}
		}
	}
	slices.Sort(fresh)
	const chunk = 4096
	err := g.db.View(func(tx *bolt.Tx) error {
		vb := tx.Bucket(bVecs)
		var vecs []float32
		for len(fresh) > 0 {
			ids := fresh[:min(chunk, len(fresh))]
			fresh = fresh[len(ids):]
			vecs = vecs[:0]
			for _, id := range ids {
				var err error
				if vecs, _, err = g.decodeVec(id, vb.Get(idKey(id)), vecs); err != nil {
					return err
				}
			}
			if err := fl.Add(ids, vecs); err != nil {
				return err
			}
		}
		return nil
	})
	if fi, ok := ix.(*floatIndex); ok && fi.mapped != nil {
		fi.mapped.releaseIfMoved(fl)
	}
	if err != nil {
		return err
	}
	if fl.Len() != st.n {
		return fmt.Errorf("caught-up index holds %d vectors, the store %d", fl.Len(), st.n)
	}
	return nil
}
