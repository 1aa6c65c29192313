package eval

import (
	"fmt"
	"math"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/shitu-go/shitu/vecindex"
)

// Item is one gallery image: its id in the index, label and feature.
type Item struct {
	ID    int64
	Label string
	Vec   []float32
}

// LeaveOneOutOptions configures LeaveOneOut. The zero value searches
// exhaustively by inner product on all CPUs.
type LeaveOneOutOptions struct {
	// Index, if set, is searched instead of the exhaustive scan. It must
	// hold every item under Item.ID with an IP metric; the query's own id
	// is filtered out.
	Index vecindex.Index
	// Workers is the number of goroutines of the exhaustive scan
	// (default GOMAXPROCS).
	Workers int
	// Progress, if set, is called as items are done (from any goroutine,
	// never concurrently).
	Progress func(done, total int)
}

// LeaveOneOut turns a gallery into calibration samples: every item queries
// the other items and its nearest neighbour gives Predicted and Score
// (user-needs-and-anchors.md §8(b) item 1). An item that is the only one
// of its label is a natural open-set query: its sample is marked Unknown.
// Near-duplicate images in the gallery make the estimate optimistic.
func LeaveOneOut(items []Item, opts LeaveOneOutOptions) ([]Sample, error) {
	if len(items) < 2 {
		return nil, fmt.Errorf("%w: leave-one-out needs at least 2 items, got %d", ErrEmpty, len(items))
	}
	d := len(items[0].Vec)
	count := map[string]int{}
	byID := make(map[int64]int, len(items))
	for i, it := range items {
		if len(it.Vec) != d {
			return nil, fmt.Errorf("%w: item %d has %d values, item 0 has %d", ErrDims, i, len(it.Vec), d)
		}
		if _, dup := byID[it.ID]; dup {
			return nil, fmt.Errorf("%w: duplicate item id %d", ErrMismatch, it.ID)
		}
		byID[it.ID] = i
		count[it.Label]++
	}
	if opts.Index != nil && opts.Index.Dims() != d {
		return nil, fmt.Errorf("%w: index dim %d, items %d", ErrDims, opts.Index.Dims(), d)
	}
	out := make([]Sample, len(items))
	workers := opts.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	var (
		next, done atomic.Int64
		mu         sync.Mutex
		firstErr   error
		wg         sync.WaitGroup
	)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= len(items) {
					return
				}
				best, score, err := nearestOther(items, i, byID, opts.Index)
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					return
				}
				it := items[i]
				s := Sample{Label: it.Label, Score: score, Unknown: count[it.Label] < 2}
				if best >= 0 {
					s.Predicted = items[best].Label
				}
				out[i] = s
				if opts.Progress != nil {
					n := int(done.Add(1))
					mu.Lock()
					opts.Progress(n, len(items))
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	return out, nil
}

func nearestOther(items []Item, i int, byID map[int64]int, idx vecindex.Index) (int, float32, error) {
	self := items[i]
	if idx != nil {
		rs, err := idx.Search(self.Vec, 1, func(id int64) bool { return id != self.ID })
		if err != nil {
			return -1, 0, fmt.Errorf("eval: leave-one-out search: %w", err)
		}
		if len(rs) == 0 || rs[0].ID == vecindex.PadID {
			return -1, vecindex.PadIP, nil
		}
		j, ok := byID[rs[0].ID]
		if !ok {
			return -1, 0, fmt.Errorf("%w: index returned id %d that is not an item", ErrMismatch, rs[0].ID)
		}
		return j, rs[0].Score, nil
	}
	best, bs := -1, float32(math.Inf(-1))
	for j := range items {
		if j == i {
			continue
		}
		if s := dot(self.Vec, items[j].Vec); s > bs {
			best, bs = j, s
		}
	}
	return best, bs, nil
}

// QuerySamples turns a labelled query set into calibration samples: each
// query's nearest gallery item (exhaustive inner product) gives Predicted
// and Score, and a query whose label has no gallery item is Unknown.
// Masking follows Retrieval: a gallery item with the query's label and
// unique id is skipped (the query itself, when one list serves as both).
func QuerySamples(query, gallery Set, progress func(done, total int)) ([]Sample, error) {
	dq, err := query.check("query")
	if err != nil {
		return nil, err
	}
	dg, err := gallery.check("gallery")
	if err != nil {
		return nil, err
	}
	if dq != dg {
		return nil, fmt.Errorf("%w: query dim %d, gallery dim %d", ErrDims, dq, dg)
	}
	mask := query.UniqueIDs != nil && gallery.UniqueIDs != nil
	out := make([]Sample, len(query.Vecs))
	workers := runtime.GOMAXPROCS(0)
	var (
		next, done atomic.Int64
		mu         sync.Mutex
		wg         sync.WaitGroup
	)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				q := int(next.Add(1) - 1)
				if q >= len(query.Vecs) {
					return
				}
				ql := query.Labels[q]
				best, bs, has := -1, float32(math.Inf(-1)), false
				for g, gv := range gallery.Vecs {
					same := ql == gallery.Labels[g]
					if mask && same && query.UniqueIDs[q] == gallery.UniqueIDs[g] {
						continue
					}
					has = has || same
					if s := dot(query.Vecs[q], gv); s > bs {
						best, bs = g, s
					}
				}
				s := Sample{Label: ql, Score: bs, Unknown: !has}
				if best >= 0 {
					s.Predicted = gallery.Labels[best]
				} else {
					s.Score = vecindex.PadIP
				}
				out[q] = s
				if progress != nil {
					n := int(done.Add(1))
					mu.Lock()
					progress(n, len(query.Vecs))
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	return out, nil
}
