// Package faiss reads and writes faiss index files (write_index /
// write_index_binary of faiss ≥ 1.7): IndexFlat (IxFI, IxF2), IndexIDMap and
// IndexIDMap2 (IxMp, IxM2), IndexHNSWFlat (IHNf), IndexIVFFlat (IwFl), and
// the binary IndexBinaryFlat (IBxF), IndexBinaryHNSW (IBHf) and binary id
// maps (IBMp, IBM2). Layouts: go-stack.md §5.4 and ppshitu-pipeline.md §12.
// Files become vecindex indexes, so a PaddleClas vector.index loads as a
// vecindex.HNSW, Flat or IVF with the same ids.
package faiss

import (
	"errors"
	"fmt"
	"io"

	"github.com/shitu-go/shitu/vecindex"
	"github.com/shitu-go/shitu/vecindex/internal/binio"
)

// Errors.
var (
	ErrFormat      = errors.New("faiss: malformed index file")
	ErrUnsupported = errors.New("faiss: unsupported index type")
)

// faiss MetricType values.
const (
	metricIP = 0
	metricL2 = 1
)

// maxDims bounds d so a corrupt header cannot overflow size arithmetic.
const maxDims = 1 << 20

// parsed is a float index as read, before it becomes a vecindex type.
type parsed struct {
	kind   string // "flat", "hnsw", "ivf"
	d      int
	metric vecindex.Metric
	n      int
	ids    []int64 // nil: positions 0..n-1 (flat, hnsw)
	vecs   []float32
	graph  vecindex.HNSWGraph
	// IVF
	nprobe    int
	centroids []float32
	lists     []vecindex.IVFList
}

type reader struct {
	*binio.Reader
}

func (r reader) fail(format string, args ...any) error {
	if err := r.Err(); err != nil {
		return fmt.Errorf("%w: %w", ErrFormat, err)
	}
	return fmt.Errorf("%w: "+format, append([]any{ErrFormat}, args...)...)
}

func (r reader) fourcc() string {
	var b [4]byte
	r.Raw(b[:])
	return string(b[:])
}

// header reads faiss' index header (d, ntotal, two dummies, is_trained,
// metric_type, metric_arg when metric_type > 1).
func (r reader) header() (d, n int, metric vecindex.Metric, trained bool, err error) {
	d32 := r.I32()
	nt := r.I64()
	r.I64()
	r.I64()
	tr := r.U8()
	mt := r.I32()
	if r.Err() != nil {
		return 0, 0, 0, false, r.fail("")
	}
	if mt > 1 {
		r.F32()
		return 0, 0, 0, false, fmt.Errorf("%w: metric type %d", ErrUnsupported, mt)
	}
	if d32 <= 0 || d32 > maxDims || nt < 0 || nt > 1<<31-2 || mt < 0 {
		return 0, 0, 0, false, r.fail("header d %d, ntotal %d, metric %d", d32, nt, mt)
	}
	metric = vecindex.L2
	if mt == metricIP {
		metric = vecindex.IP
	}
	return int(d32), int(nt), metric, tr != 0, nil
}

// vecLen reads a vector<T> element count and checks it can be present.
func (r reader) vecLen(size int) (uint64, bool) {
	n := r.U64()
	return n, r.Check(n, size)
}

func (r reader) floats() []float32 {
	n, ok := r.vecLen(4)
	if !ok {
		return nil
	}
	return r.F32s(n)
}

func (r reader) int64s() []int64 {
	n, ok := r.vecLen(8)
	if !ok {
		return nil
	}
	return r.I64s(n)
}

// Read reads a float index written by faiss.write_index.
func Read(rd io.Reader) (vecindex.Index, error) {
	r := reader{binio.NewReader(rd, false)}
	p, err := r.index(0)
	if err != nil {
		return nil, err
	}
	return p.build()
}

func (p *parsed) build() (vecindex.Index, error) {
	ids := p.ids
	if ids == nil && p.kind != "ivf" {
		ids = make([]int64, p.n)
		for i := range ids {
			ids[i] = int64(i)
		}
	}
	var idx vecindex.Index
	var err error
	switch p.kind {
	case "flat":
		idx, err = vecindex.NewFlatFrom(p.d, p.metric, ids, p.vecs)
	case "hnsw":
		var h *vecindex.HNSW
		if h, err = vecindex.NewHNSWFromGraph(p.d, p.metric, p.graph, ids, p.vecs); err == nil {
			h.SetFaissSearch(true)
			idx = h
		}
	case "ivf":
		idx, err = vecindex.NewIVFFrom(p.d, p.metric, p.nprobe, p.centroids, p.lists)
	default:
		return nil, fmt.Errorf("%w: %s", ErrUnsupported, p.kind)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrFormat, err)
	}
	return idx, nil
}

func (r reader) index(depth int) (*parsed, error) {
	if depth > 2 {
		return nil, r.fail("indexes nested too deep")
	}
	h := r.fourcc()
	if r.Err() != nil {
		return nil, r.fail("")
	}
	switch h {
	case "IxFI", "IxF2", "IxFl":
		d, n, m, _, err := r.header()
		if err != nil {
			return nil, err
		}
		if (h == "IxFI") != (m == vecindex.IP) {
			return nil, r.fail("%s with metric %v", h, m)
		}
		return r.flatBody(d, n, m)
	case "IxMp", "IxM2":
		d, n, m, _, err := r.header()
		if err != nil {
			return nil, err
		}
		p, err := r.index(depth + 1)
		if err != nil {
			return nil, err
		}
		if p.d != d || p.n != n || p.metric != m {
			return nil, r.fail("%s over %d×%d %v holds %d×%d %v", h, n, d, m, p.n, p.d, p.metric)
		}
		idmap := r.int64s()
		if r.Err() != nil {
			return nil, r.fail("")
		}
		if len(idmap) != n {
			return nil, r.fail("id map of %d ids for %d vectors", len(idmap), n)
		}
		if err := p.remap(idmap); err != nil {
			return nil, err
		}
		return p, nil
	case "IHNf":
		d, n, m, _, err := r.header()
		if err != nil {
			return nil, err
		}
		g, err := r.hnsw(n)
		if err != nil {
			return nil, err
		}
		st, err := r.index(depth + 1)
		if err != nil {
			return nil, err
		}
		if st.kind != "flat" || st.n != n || st.d != d || st.metric != m {
			return nil, r.fail("HNSW storage is not a matching flat index")
		}
		st.kind, st.graph = "hnsw", g
		return st, nil
	case "IwFl":
		return r.ivf(depth)
	case "IBxF", "IBHf", "IBMp", "IBM2":
		return nil, fmt.Errorf("%w: %s is a binary index (use ReadBinary)", ErrUnsupported, h)
	}
	return nil, fmt.Errorf("%w: fourcc %q", ErrUnsupported, h)
}

func (r reader) flatBody(d, n int, m vecindex.Metric) (*parsed, error) {
	cnt, ok := r.vecLen(4)
	if !ok {
		return nil, r.fail("")
	}
	if cnt != uint64(n)*uint64(d) {
		return nil, r.fail("flat data of %d floats for %d×%d", cnt, n, d)
	}
	vecs := r.F32s(cnt)
	if r.Err() != nil {
		return nil, r.fail("")
	}
	return &parsed{kind: "flat", d: d, n: n, metric: m, vecs: vecs}, nil
}

// remap turns internal ids (positions, or IVF list ids) into external ones.
func (p *parsed) remap(idmap []int64) error {
	seen := make(map[int64]struct{}, len(idmap))
	for _, id := range idmap {
		if _, dup := seen[id]; dup {
			return fmt.Errorf("%w: id %d twice in the id map", ErrFormat, id)
		}
		seen[id] = struct{}{}
	}
	if p.kind != "ivf" {
		p.ids = idmap
		return nil
	}
	for li := range p.lists {
		for i, in := range p.lists[li].IDs {
			if in < 0 || in >= int64(len(idmap)) {
				return fmt.Errorf("%w: IVF id %d outside the id map of %d", ErrFormat, in, len(idmap))
			}
			p.lists[li].IDs[i] = idmap[in]
		}
	}
	return nil
}

// hnsw reads faiss' HNSW struct (write_HNSW) for n nodes.
func (r reader) hnsw(n int) (vecindex.HNSWGraph, error) {
	var g vecindex.HNSWGraph
	if c, ok := r.vecLen(8); ok {
		r.F64s(c) // assign_probas: recomputed from M when needed
	}
	cn, ok := r.vecLen(4)
	if !ok || cn > 64 {
		return g, r.fail("cum_nneighbor_per_level of %d", cn)
	}
	cum := r.I32s(cn)
	levels := r.I32s(r.expect(n, 4))
	offsets := r.U64s(r.expect(n+1, 8))
	nbn, ok := r.vecLen(4)
	if !ok {
		return g, r.fail("")
	}
	nbrs := r.I32s(nbn)
	g.EntryPoint = r.I32()
	g.MaxLevel = int(r.I32())
	g.EfConstruction = int(r.I32())
	g.EfSearch = int(r.I32())
	r.I32() // upper_beam
	if r.Err() != nil {
		return g, r.fail("")
	}
	if len(cum) < 2 || cum[0] != 0 {
		return g, r.fail("cum_nneighbor_per_level %v", cum)
	}
	m := int(cum[1]) / 2
	if len(cum) > 2 {
		m = int(cum[2] - cum[1])
	}
	for l := 1; l < len(cum); l++ {
		want := m
		if l == 1 {
			want = 2 * m
		}
		if int(cum[l]-cum[l-1]) != want {
			return g, fmt.Errorf("%w: HNSW links per level %v (need 2·M on level 0 and M above)", ErrUnsupported, cum)
		}
	}
	if m < 2 || m > 4096 {
		return g, r.fail("HNSW M %d", m)
	}
	g.M = m
	if len(offsets) != n+1 || offsets[0] != 0 || offsets[n] != nbn {
		return g, r.fail("HNSW offsets")
	}
	g.Levels = make([]int32, n)
	g.Links = make([][][]int32, n)
	for i := range n {
		lv := levels[i]
		if lv < 1 || int(lv) >= len(cum) {
			return g, r.fail("HNSW node %d level %d", i, lv)
		}
		o0, o1 := offsets[i], offsets[i+1]
		if o1 < o0 || o1-o0 != uint64(cum[lv]) {
			return g, r.fail("HNSW node %d offsets %d..%d", i, o0, o1)
		}
		g.Levels[i] = lv - 1
		g.Links[i] = make([][]int32, lv)
		for l := range int(lv) {
			s := nbrs[o0+uint64(cum[l]) : o0+uint64(cum[l+1])]
			k := 0
			for k < len(s) && s[k] >= 0 {
				k++
			}
			g.Links[i][l] = s[:k:k]
		}
	}
	if n == 0 {
		g.EntryPoint, g.MaxLevel = -1, -1
	}
	return g, nil
}

// expect reads a vector count that must equal n and returns it.
func (r reader) expect(n, size int) uint64 {
	c := r.U64()
	if r.Err() == nil && c != uint64(n) {
		r.Fail(fmt.Errorf("vector of %d elements, want %d", c, n))
		return 0
	}
	r.Check(c, size)
	return c
}

// ivf reads IndexIVFFlat: header, nlist, nprobe, quantizer, direct map,
// inverted lists.
func (r reader) ivf(depth int) (*parsed, error) {
	d, n, m, _, err := r.header()
	if err != nil {
		return nil, err
	}
	nlist := r.U64()
	nprobe := r.U64()
	if r.Err() != nil || nlist == 0 || nlist > 1<<24 {
		return nil, r.fail("IVF nlist %d", nlist)
	}
	q, err := r.index(depth + 1)
	if err != nil {
		return nil, err
	}
	if q.kind != "flat" || q.d != d || q.n != int(nlist) {
		return nil, r.fail("IVF quantizer is not a flat index of %d centroids", nlist)
	}
	// direct map: type byte, vector<int64>, and for a hash table a vector of pairs
	dmType := r.U8()
	r.int64s()
	if dmType == 2 {
		if c, ok := r.vecLen(16); ok {
			r.I64s(2 * c)
		}
	}
	if r.Err() != nil || dmType > 2 {
		return nil, r.fail("IVF direct map type %d", dmType)
	}
	il := r.fourcc()
	if il != "ilar" {
		return nil, fmt.Errorf("%w: inverted lists %q (only in-memory ilar)", ErrUnsupported, il)
	}
	nl := r.U64()
	codeSize := r.U64()
	if r.Err() != nil || nl != nlist || codeSize != uint64(d)*4 {
		return nil, r.fail("IVF lists %d of code size %d", nl, codeSize)
	}
	sizes := make([]uint64, nlist)
	switch kind := r.fourcc(); kind {
	case "full":
		c := r.expect(int(nlist), 8)
		copy(sizes, r.U64s(c))
	case "sprs":
		c, ok := r.vecLen(8)
		if !ok || c%2 != 0 {
			return nil, r.fail("sparse list sizes of %d", c)
		}
		pairs := r.U64s(c)
		for i := 0; i+1 < len(pairs); i += 2 {
			if pairs[i] >= nlist {
				return nil, r.fail("list %d of %d", pairs[i], nlist)
			}
			sizes[pairs[i]] = pairs[i+1]
		}
	default:
		return nil, r.fail("list size kind %q", kind)
	}
	lists := make([]vecindex.IVFList, nlist)
	total := uint64(0)
	for i, sz := range sizes {
		if sz == 0 {
			continue
		}
		total += sz
		if !r.Check(sz, int(codeSize)+8) || total > uint64(n) {
			return nil, r.fail("IVF list %d of %d vectors", i, sz)
		}
		lists[i].Vecs = r.F32s(sz * uint64(d))
		lists[i].IDs = r.I64s(sz)
	}
	if r.Err() != nil {
		return nil, r.fail("")
	}
	if total != uint64(n) {
		return nil, r.fail("IVF lists hold %d vectors, header says %d", total, n)
	}
	return &parsed{kind: "ivf", d: d, n: n, metric: m, nprobe: int(min(nprobe, nlist)), centroids: q.vecs, lists: lists}, nil
}
