package gallery

import (
	"fmt"
	"io"

	"github.com/shitu-go/shitu/vecindex"
)

// index is a gallery's in-memory index behind one set of operations: a
// float vecindex.Index or a binary vecindex.BinaryIndex. The choice is made
// here, once, so the store, the edits, the searches and the snapshots have
// no float/binary branches of their own.
type index interface {
	// add indexes rows as the store holds them: vecs (Dims values each) for
	// a float gallery, codes (Dims/8 bytes each) for a binary one.
	add(ids []int64, vecs []float32, codes []byte) error
	// fill is add on a fresh index no view shares yet (it may replace
	// the wrapped index, e.g. to adopt the arrays).
	fill(ids []int64, vecs []float32, codes []byte) error
	remove(ids ...int64)
	// search takes a float query (binarised by a binary index) or, for a
	// binary index, a packed code.
	search(vec []float32, code []byte, k int, f vecindex.Filter) ([]vecindex.Result, error)
	// searchBatch runs len(qs)/dims float queries (float indexes only).
	searchBatch(qs []float32, k int, f vecindex.Filter) ([][]vecindex.Result, error)
	save(w io.Writer) error
	size() int
	dims() int
	// vecindex is the wrapped vecindex.Index or vecindex.BinaryIndex.
	vecindex() any
}

// newIndex makes the empty index of a gallery through its factories.
func (g *Gallery) newIndex(spec IndexSpec) (index, error) {
	if g.hdr.binary() {
		bi, err := g.opts.NewBinaryIndex(spec)
		if err != nil {
			return nil, err
		}
		return binaryIndex{bi}, nil
	}
	ix, err := g.opts.NewIndex(spec)
	if err != nil {
		return nil, err
	}
	return &floatIndex{ix: ix}, nil
}

// wrapIndex wraps a vecindex.Index or vecindex.BinaryIndex.
func wrapIndex(x any) (index, error) {
	switch ix := x.(type) {
	case vecindex.Index:
		return &floatIndex{ix: ix}, nil
	case vecindex.BinaryIndex:
		return binaryIndex{ix}, nil
	}
	return nil, fmt.Errorf("%w: index of type %T", ErrConfig, x)
}

// loadable reports whether a snapshot of the gallery's kind can be read back.
func (g *Gallery) loadable() bool {
	if g.hdr.binary() {
		return loadBinarySnapshot != nil
	}
	return loadIndexSnapshot != nil
}

// loadIndex reads a snapshot payload written by index.save; ok is false
// when no loader is available for the gallery's kind.
func (g *Gallery) loadIndex(r io.Reader) (ix index, ok bool, err error) {
	if g.hdr.binary() {
		if loadBinarySnapshot == nil {
			return nil, false, nil
		}
		bi, err := loadBinarySnapshot(r)
		if err != nil {
			return nil, true, err
		}
		return binaryIndex{bi}, true, nil
	}
	if loadIndexSnapshot == nil {
		return nil, false, nil
	}
	fi, err := loadIndexSnapshot(r)
	if err != nil {
		return nil, true, err
	}
	if fi.Metric() != g.hdr.Metric {
		return nil, true, fmt.Errorf("%w: snapshot metric %v", ErrFormat, fi.Metric())
	}
	return &floatIndex{ix: fi}, true, nil
}

// floatIndex is a float gallery's index.
type floatIndex struct {
	ix vecindex.Index
	// mapped is set when ix is a Flat whose vectors are a mapping of its
	// snapshot (snapflat.go).
	mapped *mapping
}

func (f *floatIndex) add(ids []int64, vecs []float32, _ []byte) error {
	err := addTrained(f.ix, ids, vecs)
	if f.mapped != nil {
		f.mapped.releaseIfMoved(f.ix)
	}
	return err
}

func (f *floatIndex) fill(ids []int64, vecs []float32, _ []byte) error {
	if fl, ok := f.ix.(*vecindex.Flat); ok && fl.Len() == 0 {
		// Hand the arrays to a fresh Flat index instead of copying them.
		nf, err := vecindex.NewFlatFrom(fl.Dims(), fl.Metric(), ids, vecs)
		if err != nil {
			return err
		}
		f.ix = nf
		return nil
	}
	return addTrained(f.ix, ids, vecs)
}

func (f *floatIndex) remove(ids ...int64) { f.ix.Remove(ids...) }

func (f *floatIndex) search(vec []float32, _ []byte, k int, flt vecindex.Filter) ([]vecindex.Result, error) {
	if vec == nil {
		return nil, fmt.Errorf("%w: a code search on a float gallery", ErrKind)
	}
	return f.ix.Search(vec, k, flt)
}

func (f *floatIndex) searchBatch(qs []float32, k int, flt vecindex.Filter) ([][]vecindex.Result, error) {
	return f.ix.SearchBatch(qs, k, flt)
}

func (f *floatIndex) save(w io.Writer) error { return f.ix.Save(w) }
func (f *floatIndex) size() int              { return f.ix.Len() }
func (f *floatIndex) dims() int              { return f.ix.Dims() }
func (f *floatIndex) vecindex() any          { return f.ix }

// binaryIndex is a binary (Hamming) gallery's index.
type binaryIndex struct{ ix vecindex.BinaryIndex }

func (b binaryIndex) add(ids []int64, _ []float32, codes []byte) error  { return b.ix.Add(ids, codes) }
func (b binaryIndex) fill(ids []int64, _ []float32, codes []byte) error { return b.ix.Add(ids, codes) }
func (b binaryIndex) remove(ids ...int64)                               { b.ix.Remove(ids...) }

func (b binaryIndex) search(vec []float32, code []byte, k int, flt vecindex.Filter) ([]vecindex.Result, error) {
	if code == nil {
		code = packSign(vec)
	}
	return b.ix.Search(code, k, flt)
}

func (b binaryIndex) searchBatch([]float32, int, vecindex.Filter) ([][]vecindex.Result, error) {
	return nil, fmt.Errorf("%w: batched search on a binary gallery", ErrKind)
}

func (b binaryIndex) save(w io.Writer) error { return b.ix.Save(w) }
func (b binaryIndex) size() int              { return b.ix.Len() }
func (b binaryIndex) dims() int              { return b.ix.Dims() }
func (b binaryIndex) vecindex() any          { return b.ix }
