package vecindex

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
)

// IVFConfig sets up an IVF-Flat index. NList 0 means "chosen by Train" as
// PaddleClas would: min(max(n/8, 1), 65536) for n training vectors
// (ppshitu-pipeline.md §11.4); NProbe 0 means 1 (faiss' default); Iters 0
// means 25 k-means rounds (faiss' default); Seed 0 means 1.
type IVFConfig struct {
	NList  int
	NProbe int
	Iters  int
	Seed   uint64
}

// ivfList is one inverted list: ids and their vectors.
type ivfList struct {
	ids  []int64
	vecs []float32
}

type ivfLoc struct{ list, off int32 }

// IVF is an inverted-file index with exact vectors in the lists (faiss'
// IndexIVFFlat): k-means centroids partition the space and a search scans
// the NProbe lists whose centroids are nearest. An unfiltered search
// scans exactly those lists, as faiss' IndexIVFFlat::search does, and so
// returns faiss' results; a filtered search (shitu's own procedure) keeps
// probing further lists until k hits pass the filter. Concurrency: a
// sync.RWMutex, as Flat.
type IVF struct {
	mu        sync.RWMutex
	dims      int
	metric    Metric
	cfg       IVFConfig
	nprobe    int
	centroids []float32
	lists     []ivfList
	where     map[int64]ivfLoc
}

// NewIVF returns an untrained IVF-Flat index with metric IP or L2.
func NewIVF(dims int, metric Metric, cfg IVFConfig) (*IVF, error) {
	if dims <= 0 {
		return nil, fmt.Errorf("%w: dims %d", ErrArgs, dims)
	}
	if metric != IP && metric != L2 {
		return nil, fmt.Errorf("%w: metric %v for a float index", ErrArgs, metric)
	}
	if cfg.NList < 0 || cfg.NProbe < 0 || cfg.Iters < 0 {
		return nil, fmt.Errorf("%w: IVF config %+v", ErrArgs, cfg)
	}
	if cfg.NProbe == 0 {
		cfg.NProbe = 1
	}
	if cfg.Iters == 0 {
		cfg.Iters = 25
	}
	if cfg.Seed == 0 {
		cfg.Seed = 1
	}
	return &IVF{dims: dims, metric: metric, cfg: cfg, nprobe: cfg.NProbe, where: map[int64]ivfLoc{}}, nil
}

// IVFList is one inverted list as exported for file converters.
type IVFList struct {
	IDs  []int64
	Vecs []float32
}

// NewIVFFrom builds a trained IVF index from centroids (nlist×dims) and
// lists, taking ownership of them.
func NewIVFFrom(dims int, metric Metric, nprobe int, centroids []float32, lists []IVFList) (*IVF, error) {
	v, err := NewIVF(dims, metric, IVFConfig{NProbe: max(nprobe, 1)})
	if err != nil {
		return nil, err
	}
	if len(centroids) != len(lists)*dims || len(lists) == 0 {
		return nil, fmt.Errorf("%w: %d centroid values for %d lists of %d dims", ErrFormat, len(centroids), len(lists), dims)
	}
	v.centroids = centroids
	v.lists = make([]ivfList, len(lists))
	for li, l := range lists {
		if len(l.Vecs) != len(l.IDs)*dims {
			return nil, fmt.Errorf("%w: list %d has %d values for %d ids", ErrFormat, li, len(l.Vecs), len(l.IDs))
		}
		for off, id := range l.IDs {
			if _, dup := v.where[id]; dup {
				return nil, fmt.Errorf("%w: %d", ErrDuplicate, id)
			}
			v.where[id] = ivfLoc{int32(li), int32(off)}
		}
		v.lists[li] = ivfList{l.IDs, l.Vecs}
	}
	v.cfg.NList = len(lists)
	return v, nil
}

// Dims is the vector dimension.
func (v *IVF) Dims() int { return v.dims }

// Metric is IP or L2.
func (v *IVF) Metric() Metric { return v.metric }

// Len is the number of vectors.
func (v *IVF) Len() int {
	v.mu.RLock()
	defer v.mu.RUnlock()
	return len(v.where)
}

// NList is the number of lists (0 before training).
func (v *IVF) NList() int {
	v.mu.RLock()
	defer v.mu.RUnlock()
	return len(v.lists)
}

// Trained reports whether the centroids exist.
func (v *IVF) Trained() bool { return v.NList() > 0 }

// SetNProbe sets how many lists a search scans (values < 1 mean 1).
func (v *IVF) SetNProbe(n int) {
	v.mu.Lock()
	v.nprobe = max(n, 1)
	v.mu.Unlock()
}

// Lists exports centroids and copies of the lists.
func (v *IVF) Lists() ([]float32, []IVFList, int) {
	v.mu.RLock()
	defer v.mu.RUnlock()
	out := make([]IVFList, len(v.lists))
	for i, l := range v.lists {
		out[i] = IVFList{append([]int64(nil), l.ids...), append([]float32(nil), l.vecs...)}
	}
	return append([]float32(nil), v.centroids...), out, v.nprobe
}

// Train runs k-means on vecs (n×Dims values) to place the centroids; an
// index that holds vectors cannot be retrained.
func (v *IVF) Train(vecs []float32) error {
	d := v.dims
	if len(vecs)%d != 0 || len(vecs) == 0 {
		return fmt.Errorf("%w: %d training values for %d dims", ErrDims, len(vecs), d)
	}
	n := len(vecs) / d
	nlist := v.cfg.NList
	if nlist == 0 {
		nlist = min(max(n/8, 1), 65536)
	}
	if n < nlist {
		return fmt.Errorf("%w: %d training vectors for %d lists", ErrArgs, n, nlist)
	}
	cents := kmeans(vecs, d, nlist, v.cfg.Iters, v.metric == IP, v.cfg.Seed)
	v.mu.Lock()
	defer v.mu.Unlock()
	if len(v.where) > 0 {
		return fmt.Errorf("%w: cannot retrain an IVF index holding vectors", ErrArgs)
	}
	v.centroids = cents
	v.lists = make([]ivfList, nlist)
	return nil
}

// nearestList is the centroid best for x.
func (v *IVF) nearestList(x []float32) int {
	best, bi := float32(0), 0
	d := v.dims
	for c := range len(v.lists) {
		var s float32
		if v.metric == IP {
			s = -Dot(x, v.centroids[c*d:(c+1)*d])
		} else {
			s = L2Sq(x, v.centroids[c*d:(c+1)*d])
		}
		if c == 0 || s < best {
			best, bi = s, c
		}
	}
	return bi
}

// Add inserts vectors into the lists of their nearest centroids; the index
// must be trained (ErrUntrained).
func (v *IVF) Add(ids []int64, vecs []float32) error {
	d := v.dims
	if len(vecs) != len(ids)*d {
		return fmt.Errorf("%w: %d values for %d ids of %d dims", ErrDims, len(vecs), len(ids), d)
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if len(v.lists) == 0 {
		return ErrUntrained
	}
	if err := checkNew(nil, ids); err != nil {
		return err
	}
	for _, id := range ids {
		if _, ok := v.where[id]; ok {
			return fmt.Errorf("%w: %d", ErrDuplicate, id)
		}
	}
	for i, id := range ids {
		x := vecs[i*d : (i+1)*d]
		li := v.nearestList(x)
		l := &v.lists[li]
		v.where[id] = ivfLoc{int32(li), int32(len(l.ids))}
		l.ids = append(l.ids, id)
		l.vecs = append(l.vecs, x...)
	}
	return nil
}

// Remove deletes ids and reports how many were present.
func (v *IVF) Remove(ids ...int64) int {
	v.mu.Lock()
	defer v.mu.Unlock()
	d := v.dims
	n := 0
	for _, id := range ids {
		loc, ok := v.where[id]
		if !ok {
			continue
		}
		l := &v.lists[loc.list]
		last := int32(len(l.ids) - 1)
		if loc.off != last {
			copy(l.vecs[int(loc.off)*d:int(loc.off+1)*d], l.vecs[int(last)*d:int(last+1)*d])
			l.ids[loc.off] = l.ids[last]
			v.where[l.ids[loc.off]] = loc
		}
		l.ids = l.ids[:last]
		l.vecs = l.vecs[:int(last)*d]
		delete(v.where, id)
		n++
	}
	return n
}

// Search scans the NProbe nearest lists and returns the k best hits. With
// a non-nil filter it keeps scanning further lists until k hits pass the
// filter, so the result can differ from faiss' (which stops at nprobe).
func (v *IVF) Search(q []float32, k int, filter Filter) ([]Result, error) {
	d := v.dims
	if len(q) != d {
		return nil, fmt.Errorf("%w: query of %d values, index has %d dims", ErrDims, len(q), d)
	}
	if k < 0 {
		return nil, fmt.Errorf("%w: k %d", ErrArgs, k)
	}
	v.mu.RLock()
	defer v.mu.RUnlock()
	h := newTopK(k)
	if len(v.lists) == 0 {
		return h.results(v.metric), nil
	}
	order := make([]cand, len(v.lists))
	for c := range v.lists {
		var s float32
		if v.metric == IP {
			s = -Dot(q, v.centroids[c*d:(c+1)*d])
		} else {
			s = L2Sq(q, v.centroids[c*d:(c+1)*d])
		}
		order[c] = cand{s, int32(c)}
	}
	sortCands(order)
	hits := 0
	for pi, c := range order {
		if pi >= v.nprobe && (filter == nil || hits >= k) {
			break
		}
		l := &v.lists[c.id]
		for i, id := range l.ids {
			if filter != nil && !filter(id) {
				continue
			}
			hits++
			row := l.vecs[i*d : (i+1)*d]
			var s float32
			if v.metric == IP {
				s = -Dot(q, row)
			} else {
				s = L2Sq(q, row)
			}
			if !h.full() || s <= h.bound() {
				h.push(s, id)
			}
		}
	}
	return h.results(v.metric), nil
}

// SearchBatch runs len(qs)/Dims() queries.
func (v *IVF) SearchBatch(qs []float32, k int, filter Filter) ([][]Result, error) {
	if len(qs)%v.dims != 0 {
		return nil, fmt.Errorf("%w: %d values is not a multiple of %d dims", ErrDims, len(qs), v.dims)
	}
	out := make([][]Result, len(qs)/v.dims)
	for i := range out {
		r, err := v.Search(qs[i*v.dims:(i+1)*v.dims], k, filter)
		if err != nil {
			return nil, err
		}
		out[i] = r
	}
	return out, nil
}

// kmeans places k centroids over n = len(x)/d points: seeded random
// initial points, Lloyd rounds, an empty cluster takes half of the largest
// one (as faiss does); with spherical set, centroids are renormalised (for
// the IP metric). At most 256·k points are used, as faiss samples.
func kmeans(x []float32, d, k, iters int, spherical bool, seed uint64) []float32 {
	r := rand.New(rand.NewPCG(seed, 0x6b6d))
	n := len(x) / d
	if n > 256*k {
		perm := r.Perm(n)[:256*k]
		slices.Sort(perm)
		s := make([]float32, 0, 256*k*d)
		for _, i := range perm {
			s = append(s, x[i*d:(i+1)*d]...)
		}
		x, n = s, 256*k
	}
	cents := make([]float32, k*d)
	for c, i := range r.Perm(n)[:k] {
		copy(cents[c*d:(c+1)*d], x[i*d:(i+1)*d])
	}
	assign := make([]int, n)
	counts := make([]int, k)
	sums := make([]float64, k*d)
	for range iters {
		for i := range n {
			xi := x[i*d : (i+1)*d]
			best, bi := float32(0), 0
			for c := range k {
				var s float32
				if spherical {
					s = -Dot(xi, cents[c*d:(c+1)*d])
				} else {
					s = L2Sq(xi, cents[c*d:(c+1)*d])
				}
				if c == 0 || s < best {
					best, bi = s, c
				}
			}
			assign[i] = bi
		}
		clear(counts)
		clear(sums)
		for i, c := range assign {
			counts[c]++
			for j, v := range x[i*d : (i+1)*d] {
				sums[c*d+j] += float64(v)
			}
		}
		for c := range k {
			if counts[c] == 0 {
				continue
			}
			for j := range d {
				cents[c*d+j] = float32(sums[c*d+j] / float64(counts[c]))
			}
		}
		// Empty clusters: split the largest with a small symmetric nudge.
		for c := range k {
			if counts[c] > 0 {
				continue
			}
			big := 0
			for o := range k {
				if counts[o] > counts[big] {
					big = o
				}
			}
			for j := range d {
				e := float32(1.0 / 1024)
				if j%2 == 1 {
					e = -e
				}
				v := cents[big*d+j]
				cents[c*d+j] = v * (1 + e)
				cents[big*d+j] = v * (1 - e)
			}
			counts[c] = counts[big] / 2
			counts[big] -= counts[c]
		}
		if spherical {
			for c := range k {
				normalize(cents[c*d : (c+1)*d])
			}
		}
	}
	return cents
}
