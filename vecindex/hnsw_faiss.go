package vecindex

// faiss-compatible HNSW search. faiss' HNSW::search (1.7.x) differs from
// the textbook beam search used by search(): the frontier is a bounded
// "minimax heap" of max(efSearch, k) entries that keeps popped entries as
// tombstones, the walk stops when efSearch of the heap's distances are
// below the node being expanded, and the result heap holds only k entries
// (replaced on strictly smaller distance). Reproducing it makes a graph
// read from a faiss file return exactly faiss' results, ties included.

// faissCmp2 is faiss' CMax::cmp2: (a1 > b1) || (a1 == b1 && a2 > b2).
func faissCmp2(a1, b1 float32, a2, b2 int32) bool {
	return a1 > b1 || (a1 == b1 && a2 > b2)
}

// minimax mirrors faiss' MinimaxHeap (a max-heap on distance with a
// linear-scan pop of the minimum).
type minimax struct {
	n, k, nvalid int
	ids          []int32
	dis          []float32
}

func (h *minimax) reset(n int) {
	h.n, h.k, h.nvalid = n, 0, 0
	if cap(h.ids) < n {
		h.ids = make([]int32, n)
		h.dis = make([]float32, n)
	}
	h.ids, h.dis = h.ids[:n], h.dis[:n]
}

// heapPop is faiss' heap_pop on the first k entries (1-based logic).
func (h *minimax) heapPop(k int) {
	val, ids := h.dis, h.ids
	v, id := val[k-1], ids[k-1]
	i := 1
	for {
		i1 := i << 1
		i2 := i1 + 1
		if i1 > k {
			break
		}
		if i2 == k+1 || faissCmp2(val[i1-1], val[i2-1], ids[i1-1], ids[i2-1]) {
			if faissCmp2(v, val[i1-1], id, ids[i1-1]) {
				break
			}
			val[i-1], ids[i-1] = val[i1-1], ids[i1-1]
			i = i1
		} else {
			if faissCmp2(v, val[i2-1], id, ids[i2-1]) {
				break
			}
			val[i-1], ids[i-1] = val[i2-1], ids[i2-1]
			i = i2
		}
	}
	val[i-1], ids[i-1] = val[k-1], ids[k-1]
}

// heapPush is faiss' heap_push into the first k entries (1-based logic).
func (h *minimax) heapPush(k int, v float32, id int32) {
	val, ids := h.dis, h.ids
	i := k
	for i > 1 {
		f := i >> 1
		if !faissCmp2(v, val[f-1], id, ids[f-1]) {
			break
		}
		val[i-1], ids[i-1] = val[f-1], ids[f-1]
		i = f
	}
	val[i-1], ids[i-1] = v, id
}

func (h *minimax) push(i int32, v float32) {
	if h.k == h.n {
		if v >= h.dis[0] {
			return
		}
		// faiss 1.7.3 decrements nvalid even when the dropped top is an
		// already popped entry; the frontier then looks empty sooner.
		h.nvalid--
		h.heapPop(h.k)
		h.k--
	}
	h.k++
	h.heapPush(h.k, v, i)
	h.nvalid++
}

func (h *minimax) popMin() (int32, float32) {
	i := h.k - 1
	for i >= 0 && h.ids[i] == -1 {
		i--
	}
	if i < 0 {
		return -1, 0
	}
	imin, vmin := i, h.dis[i]
	for i--; i >= 0; i-- {
		if h.ids[i] != -1 && h.dis[i] < vmin {
			vmin, imin = h.dis[i], i
		}
	}
	ret := h.ids[imin]
	h.ids[imin] = -1
	h.nvalid--
	return ret, vmin
}

func (h *minimax) countBelow(t float32) int {
	n := 0
	for i := 0; i < h.k; i++ {
		if h.dis[i] < t {
			n++
		}
	}
	return n
}

// faissResults is faiss' k-entry result max-heap (maxheap_push /
// maxheap_replace_top with cmp2) over internal node numbers.
type faissResults struct {
	minimax
}

func (r *faissResults) offer(d float32, v int32) {
	if r.k < r.n {
		r.k++
		r.heapPush(r.k, d, v)
		return
	}
	if r.n == 0 || !(d < r.dis[0]) {
		return
	}
	// replace_top: sift (d, v) down from the root.
	val, ids := r.dis, r.ids
	k := r.k
	i := 1
	for {
		i1 := i << 1
		i2 := i1 + 1
		if i1 > k {
			break
		}
		if i2 == k+1 || faissCmp2(val[i1-1], val[i2-1], ids[i1-1], ids[i2-1]) {
			if faissCmp2(d, val[i1-1], v, ids[i1-1]) {
				break
			}
			val[i-1], ids[i-1] = val[i1-1], ids[i1-1]
			i = i1
		} else {
			if faissCmp2(d, val[i2-1], v, ids[i2-1]) {
				break
			}
			val[i-1], ids[i-1] = val[i2-1], ids[i2-1]
			i = i2
		}
	}
	val[i-1], ids[i-1] = d, v
}

// faissSearch runs faiss' HNSW::search and offers the k results to h.
// Nodes failing filter are walked but not returned (faiss' IDSelector).
func (c *hnswCore[T]) faissSearch(q []T, k int, filter Filter, h *topK) {
	if c.entry < 0 || k == 0 {
		return
	}
	s := c.getSearcher()
	defer c.pool.Put(s)
	s.vis.reset(len(c.ids))
	ep := cand{c.dist(q, c.vec(c.entry)), c.entry}
	ep = c.greedy(q, ep, c.maxLevel, 0)
	ef := max(c.efSearch, k)
	var cands minimax
	cands.reset(ef)
	cands.push(ep.id, ep.d)
	var res faissResults
	res.reset(k)
	accept := func(v int32) bool { return filter == nil || filter(c.ids[v]) }
	for i := 0; i < cands.k; i++ {
		v := cands.ids[i]
		if accept(v) {
			res.offer(cands.dis[i], v)
		}
		s.vis.mark[v] = s.vis.gen
	}
	for cands.nvalid > 0 {
		v0, d0 := cands.popMin()
		if cands.countBelow(d0) >= c.efSearch {
			break
		}
		for _, v1 := range c.neighbors(v0, 0) {
			if s.vis.mark[v1] == s.vis.gen {
				continue
			}
			s.vis.mark[v1] = s.vis.gen
			d := c.dist(q, c.vec(v1))
			if accept(v1) {
				res.offer(d, v1)
			}
			cands.push(v1, d)
		}
	}
	for i := 0; i < res.k; i++ {
		h.push(res.dis[i], c.ids[res.ids[i]])
	}
}
