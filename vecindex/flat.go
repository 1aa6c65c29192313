package vecindex

import (
	"fmt"
	"sync"
)

// Flat is an exact index: every search scans every vector with the SIMD
// kernels. Concurrency: a sync.RWMutex, so any number of searches run
// together and a write waits for them (and they for it); a search sees the
// index either before or after a write, never in between.
type Flat struct {
	mu     sync.RWMutex
	dims   int
	metric Metric
	vecs   []float32
	ids    []int64
	pos    map[int64]int32
}

// NewFlat returns an empty exact index over dims-dimensional vectors with
// metric IP or L2.
func NewFlat(dims int, metric Metric) (*Flat, error) {
	if dims <= 0 {
		return nil, fmt.Errorf("%w: dims %d", ErrArgs, dims)
	}
	if metric != IP && metric != L2 {
		return nil, fmt.Errorf("%w: metric %v for a float index", ErrArgs, metric)
	}
	return &Flat{dims: dims, metric: metric, pos: map[int64]int32{}}, nil
}

// NewFlatFrom builds a Flat that takes ownership of vecs (len(ids)×dims
// values). It is how file readers (vecindex/faiss) build one without a copy.
func NewFlatFrom(dims int, metric Metric, ids []int64, vecs []float32) (*Flat, error) {
	f, err := NewFlat(dims, metric)
	if err != nil {
		return nil, err
	}
	if len(vecs) != len(ids)*dims {
		return nil, fmt.Errorf("%w: %d values for %d ids of %d dims", ErrDims, len(vecs), len(ids), dims)
	}
	f.pos = make(map[int64]int32, len(ids))
	for i, id := range ids {
		if _, dup := f.pos[id]; dup {
			return nil, fmt.Errorf("%w: %d", ErrDuplicate, id)
		}
		f.pos[id] = int32(i)
	}
	f.ids, f.vecs = ids, vecs
	return f, nil
}

// Dims is the vector dimension.
func (f *Flat) Dims() int { return f.dims }

// Metric is IP or L2.
func (f *Flat) Metric() Metric { return f.metric }

// Len is the number of vectors.
func (f *Flat) Len() int {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return len(f.ids)
}

// Add inserts vectors; an id already present (or repeated in ids) is
// refused with ErrDuplicate and nothing is added.
func (f *Flat) Add(ids []int64, vecs []float32) error {
	if len(vecs) != len(ids)*f.dims {
		return fmt.Errorf("%w: %d values for %d ids of %d dims", ErrDims, len(vecs), len(ids), f.dims)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := checkNew(f.pos, ids); err != nil {
		return err
	}
	if len(f.ids)+len(ids) > maxVectors {
		return fmt.Errorf("%w: more than %d vectors", ErrArgs, maxVectors)
	}
	for i, id := range ids {
		f.pos[id] = int32(len(f.ids) + i)
	}
	f.ids = append(f.ids, ids...)
	f.vecs = append(f.vecs, vecs...)
	return nil
}

// checkNew refuses ids already in pos or repeated within ids.
func checkNew(pos map[int64]int32, ids []int64) error {
	var seen map[int64]struct{}
	if len(ids) > 1 {
		seen = make(map[int64]struct{}, len(ids))
	}
	for _, id := range ids {
		if _, ok := pos[id]; ok {
			return fmt.Errorf("%w: %d", ErrDuplicate, id)
		}
		if seen != nil {
			if _, ok := seen[id]; ok {
				return fmt.Errorf("%w: %d repeated", ErrDuplicate, id)
			}
			seen[id] = struct{}{}
		}
	}
	return nil
}

// Remove deletes ids (the last vector moves into the hole) and reports how
// many were present.
func (f *Flat) Remove(ids ...int64) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	d := f.dims
	for _, id := range ids {
		p, ok := f.pos[id]
		if !ok {
			continue
		}
		last := int32(len(f.ids) - 1)
		if p != last {
			copy(f.vecs[int(p)*d:int(p+1)*d], f.vecs[int(last)*d:int(last+1)*d])
			f.ids[p] = f.ids[last]
			f.pos[f.ids[p]] = p
		}
		f.ids = f.ids[:last]
		f.vecs = f.vecs[:int(last)*d]
		delete(f.pos, id)
		n++
	}
	return n
}

// Contains reports whether id is present.
func (f *Flat) Contains(id int64) bool {
	f.mu.RLock()
	defer f.mu.RUnlock()
	_, ok := f.pos[id]
	return ok
}

// Vector returns a copy of the vector stored under id.
func (f *Flat) Vector(id int64) ([]float32, bool) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	p, ok := f.pos[id]
	if !ok {
		return nil, false
	}
	return append([]float32(nil), f.vecs[int(p)*f.dims:int(p+1)*f.dims]...), true
}

// Data returns copies of the ids and vectors in storage order.
func (f *Flat) Data() ([]int64, []float32) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return append([]int64(nil), f.ids...), append([]float32(nil), f.vecs...)
}

// Search returns the k best hits for q, exactly.
func (f *Flat) Search(q []float32, k int, filter Filter) ([]Result, error) {
	if len(q) != f.dims {
		return nil, fmt.Errorf("%w: query of %d values, index has %d dims", ErrDims, len(q), f.dims)
	}
	if k < 0 {
		return nil, fmt.Errorf("%w: k %d", ErrArgs, k)
	}
	f.mu.RLock()
	defer f.mu.RUnlock()
	h := newTopK(k)
	f.scan(q, h, filter, 0, len(f.ids))
	return h.results(f.metric), nil
}

// scanRowsChunk is how many inner products scan computes per kernel call.
const scanRowsChunk = 64

// scan offers rows [lo, hi) to h.
func (f *Flat) scan(q []float32, h *topK, filter Filter, lo, hi int) {
	d := f.dims
	vecs := f.vecs
	ip := f.metric == IP
	if ip && filter == nil {
		// Unfiltered IP: one kernel call per chunk of rows, then the heap.
		var buf [scanRowsChunk]float32
		for c := lo; c < hi; c += scanRowsChunk {
			e := min(c+scanRowsChunk, hi)
			out := buf[:e-c]
			dotRows(q, vecs[c*d:e*d], d, out)
			for j, v := range out {
				if s := -v; !h.full() || s <= h.bound() {
					h.push(s, f.ids[c+j])
				}
			}
		}
		return
	}
	for i := lo; i < hi; i++ {
		id := f.ids[i]
		if filter != nil && !filter(id) {
			continue
		}
		row := vecs[i*d : i*d+d]
		var s float32
		if ip {
			s = -Dot(q, row)
		} else {
			s = L2Sq(q, row)
		}
		if !h.full() || s <= h.bound() {
			h.push(s, id)
		}
	}
}

// scanMask offers rows [lo, hi) whose keep[i-lo] is set (all when keep is
// nil) to h.
func (f *Flat) scanMask(q []float32, h *topK, keep []bool, lo, hi int) {
	d := f.dims
	ip := f.metric == IP
	for i := lo; i < hi; i++ {
		if keep != nil && !keep[i-lo] {
			continue
		}
		row := f.vecs[i*d : i*d+d]
		var s float32
		if ip {
			s = -Dot(q, row)
		} else {
			s = L2Sq(q, row)
		}
		if !h.full() || s <= h.bound() {
			h.push(s, f.ids[i])
		}
	}
}

// flatBlockBytes is the number of rows a batched search keeps in cache while
// every query of the batch passes over them (256 rows × 512 dims = 512 KiB).
const flatBlockBytes = 512 << 10

// SearchBatch runs len(qs)/Dims() queries. The data is read once per block
// of rows for all queries, and inner products are computed four queries
// at a time, so a batch is cheaper per query than single searches.
func (f *Flat) SearchBatch(qs []float32, k int, filter Filter) ([][]Result, error) {
	d := f.dims
	if len(qs)%d != 0 {
		return nil, fmt.Errorf("%w: %d values is not a multiple of %d dims", ErrDims, len(qs), d)
	}
	if k < 0 {
		return nil, fmt.Errorf("%w: k %d", ErrArgs, k)
	}
	nq := len(qs) / d
	f.mu.RLock()
	defer f.mu.RUnlock()
	heaps := make([]*topK, nq)
	for i := range heaps {
		heaps[i] = newTopK(k)
	}
	n := len(f.ids)
	block := flatBlockBytes / (4 * d)
	if block < 1 {
		block = 1
	}
	var keep []bool
	if filter != nil {
		keep = make([]bool, block)
	}
	var out4 [4]float32
	for lo := 0; lo < n; lo += block {
		hi := min(lo+block, n)
		if filter != nil {
			for i := lo; i < hi; i++ {
				keep[i-lo] = filter(f.ids[i])
			}
		}
		qi := 0
		if f.metric == IP {
			for ; qi+4 <= nq; qi += 4 {
				q4 := qs[qi*d : (qi+4)*d]
				for i := lo; i < hi; i++ {
					if keep != nil && !keep[i-lo] {
						continue
					}
					dot4(q4, f.vecs[i*d:i*d+d], d, &out4)
					id := f.ids[i]
					for j := 0; j < 4; j++ {
						h := heaps[qi+j]
						if s := -out4[j]; !h.full() || s <= h.bound() {
							h.push(s, id)
						}
					}
				}
			}
		}
		for ; qi < nq; qi++ {
			q := qs[qi*d : (qi+1)*d]
			f.scanMask(q, heaps[qi], keep, lo, hi)
		}
	}
	res := make([][]Result, nq)
	for i, h := range heaps {
		res[i] = h.results(f.metric)
	}
	return res, nil
}

// Read calls fn with the index's own ids and vectors (in storage order)
// under the read lock: a writer of a snapshot streams them without a
// copy. fn must neither keep nor change them.
func (f *Flat) Read(fn func(ids []int64, vecs []float32) error) error {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return fn(f.ids, f.vecs)
}
