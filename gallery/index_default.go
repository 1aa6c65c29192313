package gallery

import (
	"fmt"
	"io"
	"math/bits"
	"sort"
	"sync"

	"github.com/shitu-go/shitu/vecindex"
)

// DefaultIndexFactory makes the in-memory float index of a gallery.
// Until vecindex's own Flat/HNSW/IVF are wired in it returns an exact
// scan, which gives Flat results for every method.
func DefaultIndexFactory(s IndexSpec) (vecindex.Index, error) {
	if s.Dims <= 0 || s.Metric == vecindex.Hamming {
		return nil, fmt.Errorf("%w: float index with dims %d metric %v", ErrConfig, s.Dims, s.Metric)
	}
	return &exact{dims: s.Dims, metric: s.Metric, pos: map[int64]int{}}, nil
}

// DefaultBinaryIndexFactory makes the in-memory binary index of a gallery.
func DefaultBinaryIndexFactory(s IndexSpec) (vecindex.BinaryIndex, error) {
	if s.Dims <= 0 || s.Dims%8 != 0 {
		return nil, fmt.Errorf("%w: binary index with %d bits", ErrConfig, s.Dims)
	}
	return &exactBin{exact{dims: s.Dims / 8, metric: vecindex.Hamming, pos: map[int64]int{}}}, nil
}

// exact is a small exact-scan index: the fallback while vecindex grows.
type exact struct {
	mu     sync.RWMutex
	dims   int // floats per vector, or bytes per code
	metric vecindex.Metric
	ids    []int64
	vecs   []float32
	codes  []byte
	pos    map[int64]int
}

func (x *exact) Dims() int               { return x.dims }
func (x *exact) Metric() vecindex.Metric { return x.metric }
func (x *exact) Len() int                { x.mu.RLock(); defer x.mu.RUnlock(); return len(x.ids) }
func (x *exact) Save(io.Writer) error {
	return fmt.Errorf("%w: saving the fallback index", ErrUnsupported)
}

func (x *exact) Add(ids []int64, vecs []float32) error {
	if len(vecs) != len(ids)*x.dims {
		return vecindex.ErrDims
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	for _, id := range ids {
		if _, ok := x.pos[id]; ok {
			return fmt.Errorf("%w: %d", vecindex.ErrDuplicate, id)
		}
	}
	for i, id := range ids {
		x.pos[id] = len(x.ids)
		x.ids = append(x.ids, id)
		x.vecs = append(x.vecs, vecs[i*x.dims:(i+1)*x.dims]...)
	}
	return nil
}

func (x *exact) Remove(ids ...int64) int {
	x.mu.Lock()
	defer x.mu.Unlock()
	n := 0
	for _, id := range ids {
		p, ok := x.pos[id]
		if !ok {
			continue
		}
		n++
		last := len(x.ids) - 1
		x.ids[p] = x.ids[last]
		x.pos[x.ids[p]] = p
		x.ids = x.ids[:last]
		if x.vecs != nil {
			copy(x.vecs[p*x.dims:(p+1)*x.dims], x.vecs[last*x.dims:])
			x.vecs = x.vecs[:last*x.dims]
		}
		if x.codes != nil {
			copy(x.codes[p*x.dims:(p+1)*x.dims], x.codes[last*x.dims:])
			x.codes = x.codes[:last*x.dims]
		}
		delete(x.pos, id)
	}
	return n
}

func (x *exact) Search(q []float32, k int, f vecindex.Filter) ([]vecindex.Result, error) {
	if len(q) != x.dims {
		return nil, vecindex.ErrDims
	}
	x.mu.RLock()
	defer x.mu.RUnlock()
	res := make([]vecindex.Result, 0, len(x.ids))
	for i, id := range x.ids {
		if f != nil && !f(id) {
			continue
		}
		v := x.vecs[i*x.dims : (i+1)*x.dims]
		var s float32
		if x.metric == vecindex.IP {
			for j := range v {
				s += v[j] * q[j]
			}
		} else {
			for j := range v {
				d := v[j] - q[j]
				s += d * d
			}
		}
		res = append(res, vecindex.Result{ID: id, Score: s})
	}
	return topK(res, k, x.metric == vecindex.IP), nil
}

func (x *exact) SearchBatch(qs []float32, k int, f vecindex.Filter) ([][]vecindex.Result, error) {
	if len(qs)%x.dims != 0 {
		return nil, vecindex.ErrDims
	}
	out := make([][]vecindex.Result, len(qs)/x.dims)
	for i := range out {
		r, err := x.Search(qs[i*x.dims:(i+1)*x.dims], k, f)
		if err != nil {
			return nil, err
		}
		out[i] = r
	}
	return out, nil
}

func topK(res []vecindex.Result, k int, desc bool) []vecindex.Result {
	sort.Slice(res, func(i, j int) bool {
		if res[i].Score != res[j].Score {
			return (res[i].Score > res[j].Score) == desc
		}
		return res[i].ID < res[j].ID
	})
	if len(res) > k {
		res = res[:k]
	}
	return res
}

type exactBin struct{ exact }

func (x *exactBin) Add(ids []int64, codes []byte) error {
	if len(codes) != len(ids)*x.dims {
		return vecindex.ErrDims
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	for _, id := range ids {
		if _, ok := x.pos[id]; ok {
			return fmt.Errorf("%w: %d", vecindex.ErrDuplicate, id)
		}
	}
	for i, id := range ids {
		x.pos[id] = len(x.ids)
		x.ids = append(x.ids, id)
		x.codes = append(x.codes, codes[i*x.dims:(i+1)*x.dims]...)
	}
	return nil
}

func (x *exactBin) Dims() int { return x.dims * 8 }

func (x *exactBin) Search(q []byte, k int, f vecindex.Filter) ([]vecindex.Result, error) {
	if len(q) != x.dims {
		return nil, vecindex.ErrDims
	}
	x.mu.RLock()
	defer x.mu.RUnlock()
	res := make([]vecindex.Result, 0, len(x.ids))
	for i, id := range x.ids {
		if f != nil && !f(id) {
			continue
		}
		c := x.codes[i*x.dims : (i+1)*x.dims]
		d := 0
		for j := range c {
			d += bits.OnesCount8(c[j] ^ q[j])
		}
		res = append(res, vecindex.Result{ID: id, Score: float32(d)})
	}
	return topK(res, k, false), nil
}

func (x *exactBin) SearchBatch(qs []byte, k int, f vecindex.Filter) ([][]vecindex.Result, error) {
	if len(qs)%x.dims != 0 {
		return nil, vecindex.ErrDims
	}
	out := make([][]vecindex.Result, len(qs)/x.dims)
	for i := range out {
		r, err := x.Search(qs[i*x.dims:(i+1)*x.dims], k, f)
		if err != nil {
			return nil, err
		}
		out[i] = r
	}
	return out, nil
}
