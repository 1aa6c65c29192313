package vecindex

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"unsafe"
)

// HNSWConfig sets up an HNSW index. Zero values mean the faiss HNSW32
// defaults (ppshitu-pipeline.md §11.4): M 32 (2·M = 64 links on level 0),
// EfConstruction 40, EfSearch 16; Seed 0 means 1.
type HNSWConfig struct {
	M              int
	EfConstruction int
	EfSearch       int
	Seed           uint64
}

func (c HNSWConfig) withDefaults() HNSWConfig {
	if c.M <= 0 {
		c.M = 32
	}
	if c.EfConstruction <= 0 {
		c.EfConstruction = 40
	}
	if c.EfSearch <= 0 {
		c.EfSearch = 16
	}
	if c.Seed == 0 {
		c.Seed = 1
	}
	return c
}

// visited marks nodes seen by one search with a generation stamp, so it is
// reset in O(1).
type visited struct {
	mark []uint16
	gen  uint16
}

func (v *visited) reset(n int) {
	if len(v.mark) < n {
		v.mark = make([]uint16, n+n/4+16)
		v.gen = 0
	}
	v.gen++
	if v.gen == 0 {
		clear(v.mark)
		v.gen = 1
	}
}

// searcher holds the scratch memory of one search.
type searcher struct {
	next  []int32
	vis   visited
	cands minHeap
	res   maxHeap
}

// hnswCore is the graph and storage shared by HNSW (float32) and
// BinaryHNSW (byte codes). Node slots are positions in data; a removed
// node's slot is unlinked and reused by a later Add.
//
// Concurrency: mu is a sync.RWMutex; searches hold the read lock and run
// in parallel, Add and Remove hold the write lock.
type hnswCore[T any] struct {
	mu             sync.RWMutex
	m, m0          int
	efConstruction int
	efSearch       int
	probas         []float64 // level assignment probabilities, as faiss' assign_probas
	rng            *rand.Rand

	width int // values per vector
	dist  func(a, b []T) float32

	data   []T
	ids    []int64
	levels []int8    // top level per slot; -1 = free slot
	links0 []int32   // slot·(m0+1): count, then neighbours
	upper  [][]int32 // per slot: level l ≥ 1 at (l-1)·(m+1): count, then neighbours
	pos    map[int64]int32
	free   []int32
	live   int

	entry    int32
	maxLevel int

	// faissSearch selects faiss' own search procedure (hnsw_faiss.go).
	faissMode bool

	pool sync.Pool // *searcher
}

func (c *hnswCore[T]) init(cfg HNSWConfig, width int, dist func(a, b []T) float32) {
	cfg = cfg.withDefaults()
	c.m, c.m0 = cfg.M, 2*cfg.M
	c.efConstruction, c.efSearch = cfg.EfConstruction, cfg.EfSearch
	c.rng = rand.New(rand.NewPCG(cfg.Seed, 0x5eed))
	c.probas = levelProbas(cfg.M)
	c.width, c.dist = width, dist
	c.pos = map[int64]int32{}
	c.entry, c.maxLevel = -1, -1
}

// levelProbas are faiss' HNSW::set_default_probas: level l has probability
// exp(-l/mult)·(1-exp(-1/mult)) with mult = 1/ln(M), cut below 1e-9.
func levelProbas(m int) []float64 {
	mult := 1 / math.Log(float64(m))
	var p []float64
	for l := 0; ; l++ {
		v := math.Exp(-float64(l)/mult) * (1 - math.Exp(-1/mult))
		if v < 1e-9 {
			break
		}
		p = append(p, v)
	}
	return p
}

func (c *hnswCore[T]) randomLevel() int {
	f := c.rng.Float64()
	for l, p := range c.probas {
		if f < p {
			return l
		}
		f -= p
	}
	return len(c.probas) - 1
}

func (c *hnswCore[T]) vec(i int32) []T {
	return c.data[int(i)*c.width : int(i+1)*c.width]
}

func (c *hnswCore[T]) neighbors(i int32, l int) []int32 {
	if l == 0 {
		b := int(i) * (c.m0 + 1)
		return c.links0[b+1 : b+1+int(c.links0[b])]
	}
	u := c.upper[i]
	b := (l - 1) * (c.m + 1)
	return u[b+1 : b+1+int(u[b])]
}

func (c *hnswCore[T]) setNeighbors(i int32, l int, nb []int32) {
	var s []int32
	if l == 0 {
		b := int(i) * (c.m0 + 1)
		s = c.links0[b : b+c.m0+1]
	} else {
		b := (l - 1) * (c.m + 1)
		s = c.upper[i][b : b+c.m+1]
	}
	s[0] = int32(len(nb))
	copy(s[1:], nb)
}

func (c *hnswCore[T]) maxLinks(l int) int {
	if l == 0 {
		return c.m0
	}
	return c.m
}

// alloc returns a slot for a node of the given level.
func (c *hnswCore[T]) alloc(level int) int32 {
	var s int32
	if n := len(c.free); n > 0 {
		s = c.free[n-1]
		c.free = c.free[:n-1]
	} else {
		s = int32(len(c.ids))
		c.ids = append(c.ids, 0)
		c.levels = append(c.levels, -1)
		c.upper = append(c.upper, nil)
		var zero T
		for range c.width {
			c.data = append(c.data, zero)
		}
		c.links0 = append(c.links0, make([]int32, c.m0+1)...)
	}
	c.levels[s] = int8(level)
	c.links0[int(s)*(c.m0+1)] = 0
	if level > 0 {
		c.upper[s] = make([]int32, level*(c.m+1))
	} else {
		c.upper[s] = nil
	}
	return s
}

func (c *hnswCore[T]) getSearcher() *searcher {
	if s, ok := c.pool.Get().(*searcher); ok {
		return s
	}
	return &searcher{}
}

// greedy descends from ep through levels above stop, one hop at a time.
func (c *hnswCore[T]) greedy(q []T, ep cand, top, stop int) cand {
	for l := top; l > stop; l-- {
		for changed := true; changed; {
			changed = false
			for _, nb := range c.neighbors(ep.id, l) {
				if d := c.dist(q, c.vec(nb)); d < ep.d {
					ep, changed = cand{d, nb}, true
				}
			}
		}
	}
	return ep
}

// searchLayer is the HNSW beam search on one level (Malkov & Yashunin,
// algorithm 2). s.res holds the ef nearest nodes that pass accept (nil:
// all); nodes that fail still guide the search, so a filter costs no
// recall. It returns the number of nodes visited; it stops early once
// budget (> 0) nodes were visited.
func (c *hnswCore[T]) searchLayer(q []T, s *searcher, ep cand, ef, l int, accept func(int32) bool, budget int) int {
	s.cands = s.cands[:0]
	s.res = s.res[:0]
	s.vis.mark[ep.id] = s.vis.gen
	s.cands.push(ep)
	bound := float32(math.Inf(1))
	if accept == nil || accept(ep.id) {
		s.res.push(ep)
		if ef == 1 {
			bound = ep.d
		}
	}
	seen := 1
	for len(s.cands) > 0 {
		cur := s.cands.pop()
		if cur.d > bound {
			break
		}
		// Gather the unvisited neighbours first and prefetch each one's
		// vector two steps ahead of its distance computation (the walk is
		// bound by memory latency, not arithmetic).
		s.next = s.next[:0]
		for _, nb := range c.neighbors(cur.id, l) {
			if s.vis.mark[nb] != s.vis.gen {
				s.vis.mark[nb] = s.vis.gen
				s.next = append(s.next, nb)
			}
		}
		{
			for _, nb := range s.next[:min(len(s.next), 2)] {
				prefetch4(unsafe.Pointer(&c.data[int(nb)*c.width]))
			}
		}
		for j, nb := range s.next {
			if j+2 < len(s.next) {
				prefetch4(unsafe.Pointer(&c.data[int(s.next[j+2])*c.width]))
			}
			seen++
			d := c.dist(q, c.vec(nb))
			if len(s.res) < ef || d < bound {
				s.cands.push(cand{d, nb})
				if accept == nil || accept(nb) {
					s.res.push(cand{d, nb})
					if len(s.res) > ef {
						s.res.pop()
					}
					if len(s.res) >= ef {
						bound = s.res[0].d
					}
				}
			}
		}
		if budget > 0 && seen >= budget {
			break
		}
	}
	return seen
}

// selectHeuristic keeps up to max of cs (sorted nearest first to the base
// node) such that each kept one is nearer the base than to every node kept
// before it (the HNSW diversity heuristic, as faiss' shrink_neighbor_list).
func (c *hnswCore[T]) selectHeuristic(cs []cand, max int, out []int32) []int32 {
	out = out[:0]
	for _, e := range cs {
		if len(out) >= max {
			break
		}
		ve := c.vec(e.id)
		good := true
		for _, s := range out {
			if c.dist(ve, c.vec(s)) < e.d {
				good = false
				break
			}
		}
		if good {
			out = append(out, e.id)
		}
	}
	return out
}

func sortCands(cs []cand) {
	slices.SortFunc(cs, func(a, b cand) int {
		switch {
		case a.d < b.d:
			return -1
		case a.d > b.d:
			return 1
		}
		return int(a.id) - int(b.id)
	})
}

// addLink adds a link from n to x at level l, shrinking n's list with the
// heuristic when it is full.
func (c *hnswCore[T]) addLink(n, x int32, l int, scratch []cand, out []int32) {
	nb := c.neighbors(n, l)
	max := c.maxLinks(l)
	if len(nb) < max {
		nb = append(nb[:len(nb):len(nb)+1], x)
		c.setNeighbors(n, l, nb)
		return
	}
	vn := c.vec(n)
	scratch = scratch[:0]
	for _, o := range nb {
		scratch = append(scratch, cand{c.dist(vn, c.vec(o)), o})
	}
	scratch = append(scratch, cand{c.dist(vn, c.vec(x)), x})
	sortCands(scratch)
	c.setNeighbors(n, l, c.selectHeuristic(scratch, max, out))
}

// insert links a node whose slot, id and vector are already stored.
func (c *hnswCore[T]) insert(slot int32, s *searcher) {
	level := int(c.levels[slot])
	if c.entry < 0 {
		c.entry, c.maxLevel = slot, level
		return
	}
	q := c.vec(slot)
	s.vis.reset(len(c.ids))
	ep := cand{c.dist(q, c.vec(c.entry)), c.entry}
	ep = c.greedy(q, ep, c.maxLevel, level)
	scratch := make([]cand, 0, c.m0+1)
	out := make([]int32, 0, c.m0)
	var found []cand
	for l := min(level, c.maxLevel); l >= 0; l-- {
		s.vis.reset(len(c.ids))
		c.searchLayer(q, s, ep, c.efConstruction, l, nil, 0)
		found = append(found[:0], s.res...)
		sortCands(found)
		sel := c.selectHeuristic(found, c.m, out)
		c.setNeighbors(slot, l, sel)
		sel = append([]int32(nil), sel...)
		for _, n := range sel {
			c.addLink(n, slot, l, scratch, out)
		}
		ep = found[0]
	}
	if level > c.maxLevel {
		c.entry, c.maxLevel = slot, level
	}
}

// add stores and links vectors; ids must be new (checked by the caller).
func (c *hnswCore[T]) add(ids []int64, data []T) {
	s := c.getSearcher()
	defer c.pool.Put(s)
	for i, id := range ids {
		slot := c.alloc(c.randomLevel())
		c.ids[slot] = id
		copy(c.vec(slot), data[i*c.width:(i+1)*c.width])
		c.pos[id] = slot
		c.live++
		c.insert(slot, s)
	}
}

// addChunk is how many vectors Add links per write-lock hold.
const addChunk = 256

// addChunked checks ids, then links the vectors addChunk at a time, taking
// the write lock for each chunk so that searches interleave with a long
// build. Ids added concurrently by another writer between chunks are
// refused with ErrDuplicate (the chunks before stay added).
func (c *hnswCore[T]) addChunked(ids []int64, data []T) error {
	if len(ids) == 0 {
		return nil
	}
	c.mu.Lock()
	err := checkNew(c.pos, ids)
	if err == nil && c.live+len(ids) > maxVectors {
		err = fmt.Errorf("%w: more than %d vectors", ErrArgs, maxVectors)
	}
	for lo := 0; err == nil && lo < len(ids); lo += addChunk {
		hi := min(lo+addChunk, len(ids))
		if lo > 0 {
			c.mu.Lock()
			if err = checkNew(c.pos, ids[lo:hi]); err != nil {
				break
			}
		}
		c.add(ids[lo:hi], data[lo*c.width:hi*c.width])
		c.mu.Unlock()
	}
	if err != nil {
		c.mu.Unlock()
	}
	return err
}

// remove unlinks nodes and repairs the graph: every node that linked to a
// removed one gets a new list chosen by the heuristic among its remaining
// links and the removed nodes' live links (hnswlib-style repair), so no
// search reaches a removed node and recall holds.
func (c *hnswCore[T]) remove(ids []int64) int {
	gone := make([]bool, len(c.levels))
	var removed []int32
	for _, id := range ids {
		if p, ok := c.pos[id]; ok && !gone[p] {
			gone[p] = true
			removed = append(removed, p)
			delete(c.pos, id)
		}
	}
	if len(removed) == 0 {
		return 0
	}
	scratch := make([]cand, 0, 4*c.m0)
	out := make([]int32, 0, c.m0)
	var keep []int32
	for y := range c.levels {
		yl := int(c.levels[y])
		if yl < 0 || gone[int32(y)] {
			continue
		}
		for l := 0; l <= yl; l++ {
			nb := c.neighbors(int32(y), l)
			hit := false
			for _, n := range nb {
				if gone[n] {
					hit = true
					break
				}
			}
			if !hit {
				continue
			}
			keep = keep[:0]
			seen := map[int32]bool{int32(y): true}
			var expand func(n int32, depth int)
			expand = func(n int32, depth int) {
				for _, o := range c.neighbors(n, l) {
					if seen[o] {
						continue
					}
					seen[o] = true
					if gone[o] {
						if depth < 2 {
							expand(o, depth+1)
						}
						continue
					}
					keep = append(keep, o)
				}
			}
			expand(int32(y), 0)
			vy := c.vec(int32(y))
			scratch = scratch[:0]
			for _, o := range keep {
				scratch = append(scratch, cand{c.dist(vy, c.vec(o)), o})
			}
			sortCands(scratch)
			c.setNeighbors(int32(y), l, c.selectHeuristic(scratch, c.maxLinks(l), out))
		}
	}
	for _, p := range removed {
		c.levels[p] = -1
		c.upper[p] = nil
		c.links0[int(p)*(c.m0+1)] = 0
		c.free = append(c.free, p)
		c.live--
	}
	if gone[c.entry] {
		c.entry, c.maxLevel = -1, -1
		for i, l := range c.levels {
			if int(l) > c.maxLevel {
				c.entry, c.maxLevel = int32(i), int(l)
			}
		}
	}
	return len(removed)
}

// exactDistance is below this many live nodes a filtered search scans
// instead; searches whose filter rejects nearly everything also fall back
// to an exact scan (see search).
const hnswExactBelow = 64

// search returns the k nearest live nodes that pass filter into h.
func (c *hnswCore[T]) search(q []T, k int, filter Filter, h *topK) {
	if c.entry < 0 || k == 0 {
		return
	}
	if c.faissMode && filter == nil {
		// Filtered searches always use the beam search below, whose exact
		// fallback keeps recall under selective filters.
		c.faissSearch(q, k, nil, h)
		return
	}
	var accept func(int32) bool
	if filter != nil {
		accept = func(i int32) bool { return filter(c.ids[i]) }
		if c.live < hnswExactBelow {
			c.exact(q, filter, h)
			return
		}
	}
	s := c.getSearcher()
	defer c.pool.Put(s)
	s.vis.reset(len(c.ids))
	ep := cand{c.dist(q, c.vec(c.entry)), c.entry}
	ep = c.greedy(q, ep, c.maxLevel, 0)
	ef := max(c.efSearch, k)
	budget := 0
	if accept != nil {
		// A selective filter makes the beam wander; past a tenth of the
		// graph an exact scan of the passing nodes is cheaper and exact.
		budget = max(c.live/10, 4*ef*c.m0)
	}
	seen := c.searchLayer(q, s, ep, ef, 0, accept, budget)
	if accept != nil && (len(s.res) < k || (budget > 0 && seen >= budget)) {
		c.exact(q, filter, h)
		return
	}
	for _, r := range s.res {
		h.push(r.d, c.ids[r.id])
	}
}

// exact scans every live node that passes filter.
func (c *hnswCore[T]) exact(q []T, filter Filter, h *topK) {
	for i, l := range c.levels {
		if l < 0 {
			continue
		}
		id := c.ids[i]
		if filter != nil && !filter(id) {
			continue
		}
		d := c.dist(q, c.vec(int32(i)))
		if !h.full() || d <= h.bound() {
			h.push(d, id)
		}
	}
}
