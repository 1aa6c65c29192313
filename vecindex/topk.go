package vecindex

// topK keeps the k smallest (dist, id) pairs in a max-heap whose root is the
// worst kept pair. Distances are "smaller is better": inner products are
// negated before they enter. Ties are broken by the smaller id, as faiss'
// heaps do, so results are deterministic.
type topK struct {
	k    int
	dist []float32
	ids  []int64
}

func newTopK(k int) *topK {
	return &topK{k: k, dist: make([]float32, 0, k), ids: make([]int64, 0, k)}
}

func (h *topK) reset(k int) {
	h.k = k
	h.dist = h.dist[:0]
	h.ids = h.ids[:0]
}

// worse reports whether (da, ia) ranks after (db, ib).
func worse(da float32, ia int64, db float32, ib int64) bool {
	return da > db || (da == db && ia > ib)
}

// full reports whether k pairs are kept; then bound() is the admission bar.
func (h *topK) full() bool { return len(h.dist) >= h.k }

func (h *topK) bound() float32 { return h.dist[0] }

// push offers a pair.
func (h *topK) push(d float32, id int64) {
	if h.k <= 0 {
		return
	}
	if len(h.dist) < h.k {
		h.dist = append(h.dist, d)
		h.ids = append(h.ids, id)
		// sift up
		i := len(h.dist) - 1
		for i > 0 {
			p := (i - 1) / 2
			if !worse(h.dist[i], h.ids[i], h.dist[p], h.ids[p]) {
				break
			}
			h.dist[i], h.dist[p] = h.dist[p], h.dist[i]
			h.ids[i], h.ids[p] = h.ids[p], h.ids[i]
			i = p
		}
		return
	}
	if !worse(h.dist[0], h.ids[0], d, id) {
		return
	}
	h.dist[0], h.ids[0] = d, id
	h.siftDown(0, len(h.dist))
}

func (h *topK) siftDown(i, n int) {
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		c := l
		if r := l + 1; r < n && worse(h.dist[r], h.ids[r], h.dist[l], h.ids[l]) {
			c = r
		}
		if !worse(h.dist[c], h.ids[c], h.dist[i], h.ids[i]) {
			return
		}
		h.dist[i], h.dist[c] = h.dist[c], h.dist[i]
		h.ids[i], h.ids[c] = h.ids[c], h.ids[i]
		i = c
	}
}

// results sorts the kept pairs best first, converts distances back to the
// metric's scores and pads to k with PadID and the metric's worst score
// (ppshitu-pipeline.md §7.2: faiss pads with id -1 and ∓FLT_MAX / INT32_MAX).
func (h *topK) results(m Metric) []Result {
	n := len(h.dist)
	for end := n - 1; end > 0; end-- {
		h.dist[0], h.dist[end] = h.dist[end], h.dist[0]
		h.ids[0], h.ids[end] = h.ids[end], h.ids[0]
		h.siftDown(0, end)
	}
	out := make([]Result, h.k)
	for i := 0; i < n; i++ {
		s := h.dist[i]
		if m == IP {
			s = -s
		}
		out[i] = Result{ID: h.ids[i], Score: s}
	}
	for i := n; i < h.k; i++ {
		out[i] = Result{ID: PadID, Score: padScore(m)}
	}
	h.dist = h.dist[:0]
	h.ids = h.ids[:0]
	return out
}

func padScore(m Metric) float32 {
	switch m {
	case IP:
		return PadIP
	case Hamming:
		return PadHamming
	}
	return PadL2
}
