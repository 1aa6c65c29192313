package vecindex

import "fmt"

// HNSW is an approximate float32 index: a hierarchical navigable small
// world graph with faiss' HNSW32 defaults and real deletion (Remove
// unlinks the node and repairs its neighbours' links; the slot is reused).
// Unfiltered searches use shitu's beam search, or, after
// SetFaissSearch(true), faiss' own HNSW::search procedure with the same
// results as faiss on the same graph. Filtered searches always use the
// beam search (shitu's own procedure): it walks through filtered-out nodes
// and falls back to an exact scan when the filter passes too few of them.
// Concurrency: a sync.RWMutex (parallel searches; writes are exclusive).
type HNSW struct {
	hnswCore[float32]
	dims   int
	metric Metric
}

func negDot(a, b []float32) float32 { return -Dot(a, b) }

// NewHNSW returns an empty HNSW index with metric IP or L2.
func NewHNSW(dims int, metric Metric, cfg HNSWConfig) (*HNSW, error) {
	if dims <= 0 {
		return nil, fmt.Errorf("%w: dims %d", ErrArgs, dims)
	}
	if cfg.M == 1 || cfg.M > 4096 {
		return nil, fmt.Errorf("%w: HNSW M %d", ErrArgs, cfg.M)
	}
	h := &HNSW{dims: dims, metric: metric}
	switch metric {
	case IP:
		h.init(cfg, dims, negDot)
	case L2:
		h.init(cfg, dims, L2Sq)
	default:
		return nil, fmt.Errorf("%w: metric %v for a float index", ErrArgs, metric)
	}
	return h, nil
}

// NewHNSWFromGraph builds an HNSW index from a raw graph (node i holds
// ids[i] and vecs[i·dims:]), taking ownership of ids and vecs.
func NewHNSWFromGraph(dims int, metric Metric, g HNSWGraph, ids []int64, vecs []float32) (*HNSW, error) {
	h, err := NewHNSW(dims, metric, HNSWConfig{M: g.M, EfConstruction: g.EfConstruction, EfSearch: g.EfSearch})
	if err != nil {
		return nil, err
	}
	if err := h.fromGraph(g, ids, vecs); err != nil {
		return nil, err
	}
	return h, nil
}

// Dims is the vector dimension.
func (h *HNSW) Dims() int { return h.dims }

// Metric is IP or L2.
func (h *HNSW) Metric() Metric { return h.metric }

// Len is the number of vectors.
func (h *HNSW) Len() int {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return h.live
}

// EfSearch is the beam width of searches (at least k is used).
func (h *HNSW) EfSearch() int {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return h.efSearch
}

// SetEfSearch changes the search beam width (values < 1 mean 16).
func (h *HNSW) SetEfSearch(ef int) {
	if ef < 1 {
		ef = 16
	}
	h.mu.Lock()
	h.efSearch = ef
	h.mu.Unlock()
}

// Add inserts vectors; existing or repeated ids are refused with
// ErrDuplicate and nothing is added. A large batch is linked in chunks, each
// under the write lock, so searches keep running during a long build (they
// may see part of the batch).
func (h *HNSW) Add(ids []int64, vecs []float32) error {
	if len(vecs) != len(ids)*h.dims {
		return fmt.Errorf("%w: %d values for %d ids of %d dims", ErrDims, len(vecs), len(ids), h.dims)
	}
	return h.addChunked(ids, vecs)
}

// Remove deletes ids and reports how many were present.
func (h *HNSW) Remove(ids ...int64) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.remove(ids)
}

// Search returns about the k best hits (approximate), best first, padded.
func (h *HNSW) Search(q []float32, k int, filter Filter) ([]Result, error) {
	if len(q) != h.dims {
		return nil, fmt.Errorf("%w: query of %d values, index has %d dims", ErrDims, len(q), h.dims)
	}
	if k < 0 {
		return nil, fmt.Errorf("%w: k %d", ErrArgs, k)
	}
	t := newTopK(k)
	h.mu.RLock()
	h.search(q, k, filter, t)
	h.mu.RUnlock()
	return t.results(h.metric), nil
}

// SearchBatch runs len(qs)/Dims() queries.
func (h *HNSW) SearchBatch(qs []float32, k int, filter Filter) ([][]Result, error) {
	if len(qs)%h.dims != 0 {
		return nil, fmt.Errorf("%w: %d values is not a multiple of %d dims", ErrDims, len(qs), h.dims)
	}
	out := make([][]Result, len(qs)/h.dims)
	for i := range out {
		r, err := h.Search(qs[i*h.dims:(i+1)*h.dims], k, filter)
		if err != nil {
			return nil, err
		}
		out[i] = r
	}
	return out, nil
}

// SetFaissSearch makes unfiltered searches follow faiss' HNSW::search
// procedure exactly (vecindex/faiss turns it on for graphs read from faiss
// files, so they return faiss' own results, and package gallery for every
// gallery index); off, the default, uses shitu's beam search, which
// reaches a given recall with fewer distance computations. Filtered
// searches use the beam search either way.
func (h *HNSW) SetFaissSearch(on bool) {
	h.mu.Lock()
	h.faissMode = on
	h.mu.Unlock()
}

// Graph exports the graph with its ids and vectors in compact node order.
func (h *HNSW) Graph() (HNSWGraph, []int64, []float32) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return h.graph()
}

// BinaryHNSW is HNSW over packed bit codes with Hamming distance.
type BinaryHNSW struct {
	hnswCore[byte]
	dims int
}

func hammingF(a, b []byte) float32 { return float32(hamming(a, b)) }

// NewBinaryHNSW returns an empty binary HNSW index of dims-bit codes.
func NewBinaryHNSW(dims int, cfg HNSWConfig) (*BinaryHNSW, error) {
	if dims <= 0 || dims%8 != 0 {
		return nil, fmt.Errorf("%w: binary dims %d (need a positive multiple of 8)", ErrArgs, dims)
	}
	if cfg.M == 1 || cfg.M > 4096 {
		return nil, fmt.Errorf("%w: HNSW M %d", ErrArgs, cfg.M)
	}
	b := &BinaryHNSW{dims: dims}
	b.init(cfg, dims/8, hammingF)
	return b, nil
}

// NewBinaryHNSWFromGraph builds a binary HNSW index from a raw graph.
func NewBinaryHNSWFromGraph(dims int, g HNSWGraph, ids []int64, codes []byte) (*BinaryHNSW, error) {
	b, err := NewBinaryHNSW(dims, HNSWConfig{M: g.M, EfConstruction: g.EfConstruction, EfSearch: g.EfSearch})
	if err != nil {
		return nil, err
	}
	if err := b.fromGraph(g, ids, codes); err != nil {
		return nil, err
	}
	return b, nil
}

// Dims is the code length in bits.
func (b *BinaryHNSW) Dims() int { return b.dims }

// Len is the number of codes.
func (b *BinaryHNSW) Len() int {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return b.live
}

// SetEfSearch changes the search beam width (values < 1 mean 16).
func (b *BinaryHNSW) SetEfSearch(ef int) {
	if ef < 1 {
		ef = 16
	}
	b.mu.Lock()
	b.efSearch = ef
	b.mu.Unlock()
}

// Add inserts codes.
func (b *BinaryHNSW) Add(ids []int64, codes []byte) error {
	if len(codes) != len(ids)*b.width {
		return fmt.Errorf("%w: %d bytes for %d codes of %d bits", ErrDims, len(codes), len(ids), b.dims)
	}
	return b.addChunked(ids, codes)
}

// Remove deletes ids and reports how many were present.
func (b *BinaryHNSW) Remove(ids ...int64) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.remove(ids)
}

// Search returns about the k nearest codes by Hamming distance.
func (b *BinaryHNSW) Search(q []byte, k int, filter Filter) ([]Result, error) {
	if len(q) != b.width {
		return nil, fmt.Errorf("%w: query of %d bytes, index codes have %d", ErrDims, len(q), b.width)
	}
	if k < 0 {
		return nil, fmt.Errorf("%w: k %d", ErrArgs, k)
	}
	t := newTopK(k)
	b.mu.RLock()
	b.search(q, k, filter, t)
	b.mu.RUnlock()
	return t.results(Hamming), nil
}

// SearchBatch runs len(qs)/(Dims()/8) queries.
func (b *BinaryHNSW) SearchBatch(qs []byte, k int, filter Filter) ([][]Result, error) {
	if len(qs)%b.width != 0 {
		return nil, fmt.Errorf("%w: %d bytes is not a multiple of %d", ErrDims, len(qs), b.width)
	}
	out := make([][]Result, len(qs)/b.width)
	for i := range out {
		r, err := b.Search(qs[i*b.width:(i+1)*b.width], k, filter)
		if err != nil {
			return nil, err
		}
		out[i] = r
	}
	return out, nil
}

// SetFaissSearch: see HNSW.SetFaissSearch.
func (b *BinaryHNSW) SetFaissSearch(on bool) {
	b.mu.Lock()
	b.faissMode = on
	b.mu.Unlock()
}

// Graph exports the graph with its ids and codes in compact node order.
func (b *BinaryHNSW) Graph() (HNSWGraph, []int64, []byte) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return b.graph()
}
