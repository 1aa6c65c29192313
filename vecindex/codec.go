package vecindex

import (
	"fmt"
	"io"

	"github.com/shitu-go/shitu/vecindex/internal/binio"
)

// shitu's own index file format (docs/format/vecindex.md): the magic
// "SHVI", a uint32 version, a kind byte, the body, and a CRC-32C of every
// byte before it. All numbers are little-endian.
const (
	magic   = "SHVI"
	version = 1

	kindFlat       = 1
	kindHNSW       = 2
	kindIVF        = 3
	kindBinaryFlat = 4
	kindBinaryHNSW = 5
)

func header(w *binio.Writer, kind uint8) {
	w.Raw([]byte(magic))
	w.U32(version)
	w.U8(kind)
}

func trailer(w *binio.Writer) error {
	w.U32(w.Sum())
	return w.Flush()
}

// Save writes the index in shitu's format.
func (f *Flat) Save(w io.Writer) error {
	f.mu.RLock()
	defer f.mu.RUnlock()
	bw := binio.NewWriter(w, true)
	header(bw, kindFlat)
	bw.U8(uint8(f.metric))
	bw.U32(uint32(f.dims))
	bw.U64(uint64(len(f.ids)))
	bw.I64s(f.ids)
	bw.F32s(f.vecs)
	return trailer(bw)
}

// Save writes the index in shitu's format.
func (b *BinaryFlat) Save(w io.Writer) error {
	b.mu.RLock()
	defer b.mu.RUnlock()
	bw := binio.NewWriter(w, true)
	header(bw, kindBinaryFlat)
	bw.U32(uint32(b.dims))
	bw.U64(uint64(len(b.ids)))
	bw.I64s(b.ids)
	bw.Raw(b.codes)
	return trailer(bw)
}

// Save writes the index in shitu's format.
func (v *IVF) Save(w io.Writer) error {
	v.mu.RLock()
	defer v.mu.RUnlock()
	bw := binio.NewWriter(w, true)
	header(bw, kindIVF)
	bw.U8(uint8(v.metric))
	bw.U32(uint32(v.dims))
	bw.U32(uint32(v.nprobe))
	bw.U32(uint32(len(v.lists)))
	bw.F32s(v.centroids)
	for _, l := range v.lists {
		bw.U64(uint64(len(l.ids)))
		bw.I64s(l.ids)
		bw.F32s(l.vecs)
	}
	return trailer(bw)
}

func saveGraph(bw *binio.Writer, g HNSWGraph, ids []int64) {
	bw.U32(uint32(g.M))
	bw.U32(uint32(g.EfConstruction))
	bw.U32(uint32(g.EfSearch))
	bw.U64(uint64(len(ids)))
	bw.I32(g.EntryPoint)
	bw.I64s(ids)
	for i, lk := range g.Links {
		bw.U8(uint8(g.Levels[i]))
		for _, nb := range lk {
			bw.U32(uint32(len(nb)))
			bw.I32s(nb)
		}
	}
}

// Save writes the index in shitu's format (the graph in compact order).
func (h *HNSW) Save(w io.Writer) error {
	g, ids, vecs := h.Graph()
	bw := binio.NewWriter(w, true)
	header(bw, kindHNSW)
	bw.U8(uint8(h.metric))
	bw.U32(uint32(h.dims))
	saveGraph(bw, g, ids)
	bw.F32s(vecs)
	return trailer(bw)
}

// Save writes the index in shitu's format (the graph in compact order).
func (b *BinaryHNSW) Save(w io.Writer) error {
	g, ids, codes := b.Graph()
	bw := binio.NewWriter(w, true)
	header(bw, kindBinaryHNSW)
	bw.U32(uint32(b.dims))
	saveGraph(bw, g, ids)
	bw.Raw(codes)
	return trailer(bw)
}

func formatErr(r *binio.Reader) error {
	return fmt.Errorf("%w: %w", ErrFormat, r.Err())
}

// readHeader checks magic and version and returns the kind.
func readHeader(r *binio.Reader) (uint8, error) {
	var m [4]byte
	r.Raw(m[:])
	ver := r.U32()
	kind := r.U8()
	if r.Err() != nil {
		return 0, formatErr(r)
	}
	if string(m[:]) != magic {
		return 0, fmt.Errorf("%w: magic %q, want %q (a faiss file? use vecindex/faiss)", ErrFormat, m[:], magic)
	}
	if ver != version {
		return 0, fmt.Errorf("%w: version %d, this build reads %d", ErrFormat, ver, version)
	}
	return kind, nil
}

func readTrailer(r *binio.Reader) error {
	sum := r.Sum()
	got := r.U32()
	if r.Err() != nil {
		return formatErr(r)
	}
	if got != sum {
		return fmt.Errorf("%w: checksum %08x, computed %08x", ErrFormat, got, sum)
	}
	return nil
}

func readDims(r *binio.Reader, binary bool) (int, error) {
	d := r.U32()
	if r.Err() != nil {
		return 0, formatErr(r)
	}
	if d == 0 || d > 1<<20 || (binary && d%8 != 0) {
		return 0, fmt.Errorf("%w: dims %d", ErrFormat, d)
	}
	return int(d), nil
}

func readMetric(r *binio.Reader) (Metric, error) {
	m := Metric(r.U8())
	if r.Err() != nil {
		return 0, formatErr(r)
	}
	if m != IP && m != L2 {
		return 0, fmt.Errorf("%w: metric %d", ErrFormat, m)
	}
	return m, nil
}

func readGraph(r *binio.Reader) (HNSWGraph, []int64, error) {
	var g HNSWGraph
	g.M = int(r.U32())
	g.EfConstruction = int(r.U32())
	g.EfSearch = int(r.U32())
	n := r.U64()
	g.EntryPoint = r.I32()
	if r.Err() != nil {
		return g, nil, formatErr(r)
	}
	if g.M < 2 || g.M > 4096 || g.EfConstruction > 1<<20 || g.EfSearch > 1<<20 || n > maxVectors {
		return g, nil, fmt.Errorf("%w: hnsw M %d, ef %d/%d, n %d", ErrFormat, g.M, g.EfConstruction, g.EfSearch, n)
	}
	ids := r.I64s(n)
	if !r.Check(n, 5) { // at least a level byte and one count per node
		return g, nil, formatErr(r)
	}
	g.Levels = make([]int32, n)
	g.Links = make([][][]int32, n)
	for i := range g.Links {
		l := r.U8()
		if l > 63 {
			return g, nil, fmt.Errorf("%w: hnsw level %d", ErrFormat, l)
		}
		g.Levels[i] = int32(l)
		g.Links[i] = make([][]int32, int(l)+1)
		for lv := range g.Links[i] {
			c := r.U32()
			if c > uint32(2*g.M) {
				return g, nil, fmt.Errorf("%w: hnsw node %d has %d links", ErrFormat, i, c)
			}
			g.Links[i][lv] = r.I32s(uint64(c))
		}
		if r.Err() != nil {
			return g, nil, formatErr(r)
		}
	}
	return g, ids, nil
}

// Load reads a float index (Flat, HNSW or IVF) saved by Save.
func Load(rd io.Reader) (Index, error) {
	r := binio.NewReader(rd, true)
	kind, err := readHeader(r)
	if err != nil {
		return nil, err
	}
	var idx Index
	switch kind {
	case kindFlat:
		m, err := readMetric(r)
		if err != nil {
			return nil, err
		}
		d, err := readDims(r, false)
		if err != nil {
			return nil, err
		}
		n := r.U64()
		ids := r.I64s(n)
		if !r.Check(n, 4*d) {
			return nil, formatErr(r)
		}
		vecs := r.F32s(n * uint64(d))
		if r.Err() != nil {
			return nil, formatErr(r)
		}
		if idx, err = NewFlatFrom(d, m, ids, vecs); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrFormat, err)
		}
	case kindHNSW:
		m, err := readMetric(r)
		if err != nil {
			return nil, err
		}
		d, err := readDims(r, false)
		if err != nil {
			return nil, err
		}
		g, ids, err := readGraph(r)
		if err != nil {
			return nil, err
		}
		n := uint64(len(ids))
		if !r.Check(n, 4*d) {
			return nil, formatErr(r)
		}
		vecs := r.F32s(n * uint64(d))
		if r.Err() != nil {
			return nil, formatErr(r)
		}
		if idx, err = NewHNSWFromGraph(d, m, g, ids, vecs); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrFormat, err)
		}
	case kindIVF:
		m, err := readMetric(r)
		if err != nil {
			return nil, err
		}
		d, err := readDims(r, false)
		if err != nil {
			return nil, err
		}
		nprobe := r.U32()
		nlist := r.U32()
		if r.Err() != nil {
			return nil, formatErr(r)
		}
		if nlist == 0 || nlist > 1<<24 || !r.Check(uint64(nlist), 4*d) {
			return nil, fmt.Errorf("%w: nlist %d", ErrFormat, nlist)
		}
		cents := r.F32s(uint64(nlist) * uint64(d))
		lists := make([]IVFList, nlist)
		for i := range lists {
			n := r.U64()
			lists[i].IDs = r.I64s(n)
			if !r.Check(n, 4*d) {
				return nil, formatErr(r)
			}
			lists[i].Vecs = r.F32s(n * uint64(d))
			if r.Err() != nil {
				return nil, formatErr(r)
			}
		}
		if idx, err = NewIVFFrom(d, m, int(min(nprobe, 1<<20)), cents, lists); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrFormat, err)
		}
	case kindBinaryFlat, kindBinaryHNSW:
		return nil, fmt.Errorf("%w: a binary index (use LoadBinary)", ErrFormat)
	default:
		return nil, fmt.Errorf("%w: index kind %d", ErrFormat, kind)
	}
	if err := readTrailer(r); err != nil {
		return nil, err
	}
	return idx, nil
}

// LoadBinary reads a binary index (BinaryFlat or BinaryHNSW) saved by Save.
func LoadBinary(rd io.Reader) (BinaryIndex, error) {
	r := binio.NewReader(rd, true)
	kind, err := readHeader(r)
	if err != nil {
		return nil, err
	}
	var idx BinaryIndex
	switch kind {
	case kindBinaryFlat:
		d, err := readDims(r, true)
		if err != nil {
			return nil, err
		}
		n := r.U64()
		ids := r.I64s(n)
		if !r.Check(n, d/8) {
			return nil, formatErr(r)
		}
		codes := r.Bytes(n * uint64(d/8))
		if r.Err() != nil {
			return nil, formatErr(r)
		}
		if idx, err = NewBinaryFlatFrom(d, ids, codes); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrFormat, err)
		}
	case kindBinaryHNSW:
		d, err := readDims(r, true)
		if err != nil {
			return nil, err
		}
		g, ids, err := readGraph(r)
		if err != nil {
			return nil, err
		}
		n := uint64(len(ids))
		if !r.Check(n, d/8) {
			return nil, formatErr(r)
		}
		codes := r.Bytes(n * uint64(d/8))
		if r.Err() != nil {
			return nil, formatErr(r)
		}
		if idx, err = NewBinaryHNSWFromGraph(d, g, ids, codes); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrFormat, err)
		}
	case kindFlat, kindHNSW, kindIVF:
		return nil, fmt.Errorf("%w: a float index (use Load)", ErrFormat)
	default:
		return nil, fmt.Errorf("%w: index kind %d", ErrFormat, kind)
	}
	if err := readTrailer(r); err != nil {
		return nil, err
	}
	return idx, nil
}

// Interface checks.
var (
	_ Index       = (*Flat)(nil)
	_ Index       = (*HNSW)(nil)
	_ Index       = (*IVF)(nil)
	_ BinaryIndex = (*BinaryFlat)(nil)
	_ BinaryIndex = (*BinaryHNSW)(nil)
)
