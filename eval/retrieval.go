package eval

import (
	"fmt"
	"math"
	"runtime"
	"slices"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/shitu-go/shitu/vecindex"
)

// Set is a labelled set of feature vectors: queries or a gallery.
type Set struct {
	// Vecs holds one feature per item, all of the same length. shitu's
	// feature extractor already L2-normalises, so Q·Gᵀ is the cosine.
	Vecs [][]float32
	// Labels holds one label per item, compared as strings.
	Labels []string
	// UniqueIDs is optional (nil, or one per item): PaddleClas' 3rd list
	// column. When both query and gallery sets have them, pairs with the
	// same label AND the same unique id are masked (the self-match).
	UniqueIDs []string
}

// SetFromEntries builds a Set from list entries and their features.
// UniqueIDs is set only when every entry has a 3rd column.
func SetFromEntries(es []ListEntry, vecs [][]float32) (Set, error) {
	if len(es) != len(vecs) {
		return Set{}, fmt.Errorf("%w: %d entries, %d features", ErrMismatch, len(es), len(vecs))
	}
	s := Set{Vecs: vecs, Labels: make([]string, len(es))}
	all := len(es) > 0
	for i, e := range es {
		s.Labels[i] = e.Label
		all = all && e.UniqueID != ""
	}
	if all {
		s.UniqueIDs = make([]string, len(es))
		for i, e := range es {
			s.UniqueIDs[i] = e.UniqueID
		}
	}
	return s, nil
}

func (s Set) check(name string) (int, error) {
	if len(s.Vecs) == 0 {
		return 0, fmt.Errorf("%w: %s set is empty", ErrEmpty, name)
	}
	if len(s.Labels) != len(s.Vecs) {
		return 0, fmt.Errorf("%w: %s has %d vectors and %d labels", ErrMismatch, name, len(s.Vecs), len(s.Labels))
	}
	if s.UniqueIDs != nil && len(s.UniqueIDs) != len(s.Vecs) {
		return 0, fmt.Errorf("%w: %s has %d vectors and %d unique ids", ErrMismatch, name, len(s.Vecs), len(s.UniqueIDs))
	}
	d := len(s.Vecs[0])
	for i, v := range s.Vecs {
		if len(v) != d {
			return 0, fmt.Errorf("%w: %s item %d has %d values, item 0 has %d", ErrDims, name, i, len(v), d)
		}
	}
	return d, nil
}

// RetrievalOptions configures Retrieval. The zero value is PaddleClas'
// default evaluation: recall@1 and @5, block size 64.
type RetrievalOptions struct {
	// TopK lists the k of recall@k (default [1, 5]).
	TopK []int
	// PrecisionK lists the k of precision@k (default: TopK).
	PrecisionK []int
	// BlockSize is PaddleClas' Global.sim_block_size (default 64).
	BlockSize int
	// Progress, if set, is called after every block with queries done so far.
	Progress func(done, total int)
	// Workers is the number of goroutines ranking queries (default
	// GOMAXPROCS). Results do not depend on it.
	Workers int
}

// AtK is a metric value at a cut-off k.
type AtK struct {
	K     int    `json:"k"`
	Value Metric `json:"value"`
}

// LabelRecall is the recall@1 of the queries of one label.
type LabelRecall struct {
	Label string `json:"label"`
	// Queries counts this label's queries with at least one relevant item.
	Queries int `json:"queries"`
	// Hits counts those whose first ranked item is relevant.
	Hits int `json:"hits"`
	// NoRelevant counts this label's queries with no relevant gallery item.
	NoRelevant int `json:"no_relevant,omitempty"`
}

// Recall is Hits/Queries (NaN when Queries is 0).
func (l LabelRecall) Recall() float64 {
	if l.Queries == 0 {
		return math.NaN()
	}
	return float64(l.Hits) / float64(l.Queries)
}

// RetrievalResult holds the retrieval metrics.
//
// Recall, MAP and Precision are PaddleClas' figures: computed per block of
// queries and combined as Σ metric_block·|block|/N (ppshitu-pipeline.md
// §16.1 step 7). They are exact only when every query has a relevant
// gallery item; a block whose queries have none makes them NaN, as in
// PaddleClas. ExactRecall and ExactMAP are the same metrics over all
// queries with at least one relevant item, without blocks.
type RetrievalResult struct {
	Recall    []AtK  `json:"recall"`
	MAP       Metric `json:"mAP"`
	Precision []AtK  `json:"precision"`

	ExactRecall []AtK  `json:"exact_recall"`
	ExactMAP    Metric `json:"exact_mAP"`

	Queries      int `json:"queries"`
	Gallery      int `json:"gallery"`
	WithRelevant int `json:"queries_with_relevant"`
	MaskedPairs  int `json:"masked_pairs"`
	BlockSize    int `json:"block_size"`

	PerLabel []LabelRecall `json:"per_label"`
}

// Retrieval computes recall@k (CMC), mAP and precision@k of queries
// against a gallery as PaddleClas' retrieval evaluation does
// (ppshitu-pipeline.md §16.1). Pass the same Set twice when one list is
// both query and gallery (give it unique ids to exclude self-matches).
//
// Each query row S = q·Gᵀ is ranked by descending similarity; ties keep
// gallery order (PaddleClas leaves tie order unspecified). Masked pairs
// (same label and same unique id) get similarity exactly 0 and keep a rank
// position but are never relevant. A k larger than the gallery uses the
// whole ranking (PaddleClas would fail); precision@k still divides by k.
func Retrieval(query, gallery Set, opts RetrievalOptions) (*RetrievalResult, error) {
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
	topK := opts.TopK
	if len(topK) == 0 {
		topK = []int{1, 5}
	}
	precK := opts.PrecisionK
	if len(precK) == 0 {
		precK = topK
	}
	for _, k := range append(slices.Clone(topK), precK...) {
		if k < 1 {
			return nil, fmt.Errorf("%w: got %d", ErrBadK, k)
		}
	}
	bs := opts.BlockSize
	if bs <= 0 {
		bs = 64
	}
	nq, ng := len(query.Vecs), len(gallery.Vecs)
	mask := query.UniqueIDs != nil && gallery.UniqueIDs != nil
	workers := opts.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}

	res := &RetrievalResult{Queries: nq, Gallery: ng, BlockSize: bs}
	recallW := make([]float64, len(topK)) // block-weighted sums
	precW := make([]float64, len(precK))
	var mapW float64
	exactHits := make([]int, len(topK))
	var exactAP float64
	perLabel := map[string]*LabelRecall{}
	var labelOrder []string

	stats := make([]queryStats, bs)
	scratch := make([]rankScratch, workers)
	for i := range scratch {
		scratch[i] = newRankScratch(ng)
	}
	for b0 := 0; b0 < nq; b0 += bs {
		b1 := min(b0+bs, nq)
		// Queries are independent: rank them on all workers, then combine
		// in query order so the sums are deterministic.
		var next atomic.Int64
		var wg sync.WaitGroup
		for w := range min(workers, b1-b0) {
			wg.Add(1)
			go func(sc *rankScratch) {
				defer wg.Done()
				for {
					q := b0 + int(next.Add(1)-1)
					if q >= b1 {
						return
					}
					stats[q-b0] = rankQuery(query, gallery, q, mask, precK, sc)
				}
			}(&scratch[w])
		}
		wg.Wait()
		var bRel int
		bHits := make([]int, len(topK))
		bPrec := make([]float64, len(precK))
		var bAP float64
		for q := b0; q < b1; q++ {
			st := stats[q-b0]
			ql := query.Labels[q]
			res.MaskedPairs += st.masked
			lr := perLabel[ql]
			if lr == nil {
				lr = &LabelRecall{Label: ql}
				perLabel[ql] = lr
				labelOrder = append(labelOrder, ql)
			}
			// Precision@k counts every query (§16.1 "Other metrics").
			for i, k := range precK {
				bPrec[i] += float64(st.precCount[i]) / float64(k)
			}
			if st.nrel == 0 {
				lr.NoRelevant++
				continue
			}
			bRel++
			lr.Queries++
			if st.first == 0 {
				lr.Hits++
			}
			for i, k := range topK {
				if st.first < k {
					bHits[i]++
				}
			}
			bAP += st.ap
		}
		w := float64(b1-b0) / float64(nq)
		for i := range topK {
			recallW[i] += div(float64(bHits[i]), float64(bRel)) * w
			exactHits[i] += bHits[i]
		}
		for i := range precK {
			precW[i] += bPrec[i] / float64(b1-b0) * w
		}
		mapW += div(bAP, float64(bRel)) * w
		exactAP += bAP
		res.WithRelevant += bRel
		if opts.Progress != nil {
			opts.Progress(b1, nq)
		}
	}
	for i, k := range topK {
		res.Recall = append(res.Recall, AtK{k, Metric(recallW[i])})
		res.ExactRecall = append(res.ExactRecall, AtK{k, Metric(div(float64(exactHits[i]), float64(res.WithRelevant)))})
	}
	for i, k := range precK {
		res.Precision = append(res.Precision, AtK{k, Metric(precW[i])})
	}
	res.MAP = Metric(mapW)
	res.ExactMAP = Metric(div(exactAP, float64(res.WithRelevant)))
	for _, l := range labelOrder {
		res.PerLabel = append(res.PerLabel, *perLabel[l])
	}
	sort.SliceStable(res.PerLabel, func(i, j int) bool { return res.PerLabel[i].Label < res.PerLabel[j].Label })
	return res, nil
}

// queryStats is what the metrics need from one ranked query.
type queryStats struct {
	nrel      int     // relevant items in the whole ranking
	first     int     // rank of the first relevant item (-1 if none)
	ap        float64 // average precision over the full ranking
	precCount []int   // relevant items in the first k, per precision k
	masked    int
}

type rankScratch struct {
	sims   []float32
	rel    []int // relevant gallery items, in rank order
	relIdx []int // the same items in gallery order
	before []int // before[p]: non-relevant items ranked just before rel[p]
}

func newRankScratch(ng int) rankScratch {
	return rankScratch{sims: make([]float32, ng)}
}

// rankQuery scores one query against the gallery and returns the ranks of
// its relevant items in the ranking by descending similarity where equal
// similarities keep gallery order (a stable sort). Rather than sorting the
// whole gallery it sorts only the relevant items and places every other
// item among them by binary search: O(G·log R) instead of O(G·log G).
func rankQuery(query, gallery Set, q int, mask bool, precK []int, sc *rankScratch) queryStats {
	qv, ql := query.Vecs[q], query.Labels[q]
	st := queryStats{first: -1, precCount: make([]int, len(precK))}
	sims := sc.sims
	sc.relIdx = sc.relIdx[:0]
	for g := range sims {
		sims[g] = dot(qv, gallery.Vecs[g])
		if mask && ql == gallery.Labels[g] && query.UniqueIDs[q] == gallery.UniqueIDs[g] {
			// §16.1 step 3: S ← S·keep_mask; the pair keeps its rank but
			// is never relevant.
			sims[g] = 0
			st.masked++
			continue
		}
		if gallery.Labels[g] == ql {
			sc.relIdx = append(sc.relIdx, g)
		}
	}
	if len(sc.relIdx) == 0 {
		return st
	}
	// a precedes b in the ranking
	precedes := func(a, b int) bool { return sims[a] > sims[b] || sims[a] == sims[b] && a < b }
	rel := append(sc.rel[:0], sc.relIdx...)
	sc.rel = rel
	sort.Slice(rel, func(i, j int) bool { return precedes(rel[i], rel[j]) })
	if cap(sc.before) < len(rel)+1 {
		sc.before = make([]int, len(rel)+1)
	}
	before := sc.before[:len(rel)+1]
	clear(before)
	ri := 0
	for g := range sims {
		if ri < len(sc.relIdx) && sc.relIdx[ri] == g {
			ri++
			continue
		}
		p := sort.Search(len(rel), func(j int) bool { return !precedes(rel[j], g) })
		before[p]++
	}
	st.nrel = len(rel)
	others := 0
	for j := range rel {
		others += before[j]
		r := j + others // rank of rel[j], 0-based
		if j == 0 {
			st.first = r
		}
		st.ap += float64(j+1) / float64(r+1)
		for i, k := range precK {
			if r < k {
				st.precCount[i]++
			}
		}
	}
	st.ap /= float64(st.nrel)
	return st
}

// div is a/b with 0/0 = NaN, as PaddleClas' float division gives.
func div(a, b float64) float64 {
	if b == 0 {
		return math.NaN()
	}
	return a / b
}

// dot is the float32 inner product (vecindex's SIMD kernel where the CPU
// has one, so evaluation ranks as the deployed search scores).
func dot(a, b []float32) float32 { return vecindex.Dot(a, b) }

// RecallAt returns the value at k from a list (NaN when absent).
func RecallAt(ms []AtK, k int) float64 {
	for _, m := range ms {
		if m.K == k {
			return float64(m.Value)
		}
	}
	return math.NaN()
}
