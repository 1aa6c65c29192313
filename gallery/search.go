package gallery

import (
	"fmt"

	"github.com/shitu-go/shitu/vecindex"
)

// Query restricts a search. The zero value searches every item and
// returns what faiss returns for the same index (see View.Search).
type Query struct {
	// Labels, when non-empty, keeps only items with one of these labels.
	Labels []string
	// Meta keeps only items whose metadata has every key=value given.
	Meta map[string]string
	// OwnSearch uses shitu's own filtered search procedure even when
	// nothing is filtered: HNSW runs its beam search (falling back to an
	// exact scan when a filter rejects most nodes), IVF probes lists past
	// nprobe until k items are found. Results may then differ from faiss'
	// (usually better recall); Labels or Meta imply it.
	OwnSearch bool
}

// filtered reports whether q needs shitu's own filtered search.
func (q Query) filtered() bool { return len(q.Labels) > 0 || len(q.Meta) > 0 || q.OwnSearch }

// Hit is one search result.
type Hit struct {
	ID     int64
	Label  string
	Source string
	// Score is the inner product (IP), squared distance (L2) or Hamming
	// distance, as faiss reports it (ppshitu-pipeline.md §7.2).
	Score float32
}

// View is a read snapshot of a gallery. Hits are filtered through the
// view's items, and applyLocked adds vectors to the shared index before it
// publishes a version and removes them only after, so a search through a
// view returns exactly the items of its version as long as no newer
// version was published before the search ended: check Current afterwards
// and search again with a fresh view when it is false (writes are rare
// next to searches, so this converges at once in practice). Views are
// cheap; take one per request.
type View struct {
	g  *Gallery
	st *state
}

// View returns the current snapshot.
func (g *Gallery) View() View { return View{g: g, st: g.view.Load()} }

// Version is the item-set version of the snapshot.
func (v View) Version() uint64 {
	if v.st == nil {
		return 0
	}
	return v.st.version
}

// Current reports whether the snapshot is still the gallery's latest
// version, i.e. whether searches done so far saw exactly its items.
func (v View) Current() bool { return v.st != nil && v.g.view.Load() == v.st }

// Len is the number of items in the snapshot.
func (v View) Len() int {
	if v.st == nil {
		return 0
	}
	return v.st.n
}

// Search returns up to k best items for a float query (unpadded: missing
// slots are dropped, not returned as id -1).
//
// An unfiltered query (zero Query) follows faiss' own search procedure
// with the parameters of the index (HNSW: HNSW::search with efSearch; IVF:
// exactly nprobe lists; Flat: exact), so a gallery imported from a
// PaddleClas/PaddleX index_dir returns the same top-k ids, in the same
// order, with the same scores (within float rounding) as faiss on that
// vector.index, and faiss on an exported gallery returns what the gallery
// returns. Label and metadata conditions (and Query.OwnSearch) use
// shitu's own search instead: conditions are applied inside the index
// search, so they do not cost recall, but results can differ from faiss'.
// While a change is being applied (between its commit and the end of the
// index update) unfiltered searches also filter through their view, and
// so use shitu's procedure for that moment.
func (g *Gallery) Search(q []float32, k int, f Query) ([]Hit, error) {
	return g.View().Search(q, k, f)
}

// Search is Gallery.Search on the snapshot. A binary gallery binarises q.
func (v View) Search(q []float32, k int, f Query) ([]Hit, error) {
	g, st := v.g, v.st
	if st == nil {
		return nil, ErrClosed
	}
	if len(q) != g.hdr.Dims {
		return nil, fmt.Errorf("%w: query has %d values, gallery has %d", ErrDims, len(q), g.hdr.Dims)
	}
	if k <= 0 || st.n == 0 {
		return nil, nil
	}
	k = min(k, st.n) // never allocate by a requested k beyond the gallery
	res, err := searchExact(g, st, f, func(flt vecindex.Filter) ([]vecindex.Result, error) { return st.ix.search(q, nil, k, flt) })
	if err != nil {
		return nil, fmt.Errorf("gallery: search: %w", err)
	}
	return st.hits(res), nil
}

// SearchBatch runs len(qs)/Dims queries of a float gallery.
func (g *Gallery) SearchBatch(qs []float32, k int, f Query) ([][]Hit, error) {
	st := g.view.Load()
	if st == nil {
		return nil, ErrClosed
	}
	if g.hdr.binary() || len(qs)%g.hdr.Dims != 0 {
		return nil, fmt.Errorf("%w: %d query values for %d dims (float galleries only)", ErrDims, len(qs), g.hdr.Dims)
	}
	n := len(qs) / g.hdr.Dims
	out := make([][]Hit, n)
	if k <= 0 || st.n == 0 || n == 0 {
		return out, nil
	}
	k = min(k, st.n) // never allocate by a requested k beyond the gallery
	res, err := searchExact(g, st, f, func(flt vecindex.Filter) ([][]vecindex.Result, error) { return st.ix.searchBatch(qs, k, flt) })
	if err != nil {
		return nil, fmt.Errorf("gallery: search: %w", err)
	}
	for i := range res {
		out[i] = st.hits(res[i])
	}
	return out, nil
}

// SearchCode searches a binary gallery with a packed code (Dims/8 bytes).
func (g *Gallery) SearchCode(code []byte, k int, f Query) ([]Hit, error) {
	return g.View().SearchCode(code, k, f)
}

// SearchCode is Gallery.SearchCode on the snapshot.
func (v View) SearchCode(code []byte, k int, f Query) ([]Hit, error) {
	g, st := v.g, v.st
	if st == nil {
		return nil, ErrClosed
	}
	if !g.hdr.binary() {
		return nil, fmt.Errorf("%w: SearchCode on a float gallery", ErrKind)
	}
	if len(code) != g.hdr.Dims/8 {
		return nil, fmt.Errorf("%w: code has %d bytes, gallery has %d bits", ErrDims, len(code), g.hdr.Dims)
	}
	if k <= 0 || st.n == 0 {
		return nil, nil
	}
	k = min(k, st.n) // never allocate by a requested k beyond the gallery
	res, err := searchExact(g, st, f, func(flt vecindex.Filter) ([]vecindex.Result, error) { return st.ix.search(nil, code, k, flt) })
	if err != nil {
		return nil, fmt.Errorf("gallery: search: %w", err)
	}
	return st.hits(res), nil
}

// searchExact runs search without a filter when the query has no
// conditions and the shared index holds exactly st's items, so the index
// takes its faiss-exact path (see Gallery.Search); otherwise, or when a
// change touched the index during the search, with st's filter.
//
// Why the recheck suffices: applyLocked clears g.exact before it changes
// the index and sets it to the new state only after, and index writes and
// searches exclude each other; so if g.exact is st both before and after
// the search, the search saw the index holding exactly st's items.
func searchExact[R any](g *Gallery, st *state, f Query, search func(vecindex.Filter) (R, error)) (R, error) {
	if !f.filtered() && g.exact.Load() == st {
		res, err := search(nil)
		if err != nil || g.exact.Load() == st {
			return res, err
		}
	}
	return search(st.filter(f))
}

// useFaissSearch makes HNSW indexes answer unfiltered searches with faiss'
// HNSW::search procedure (vecindex.HNSW.SetFaissSearch), whatever built
// them: shitu's galleries then return what faiss returns on their export.
func useFaissSearch(ix index) {
	type faissSearcher interface{ SetFaissSearch(bool) }
	if ix == nil {
		return
	}
	if f, ok := ix.vecindex().(faissSearcher); ok {
		f.SetFaissSearch(true)
	}
}

// filter admits ids that are live in this view and match the query.
func (s *state) filter(q Query) vecindex.Filter {
	var labels map[string]bool
	if len(q.Labels) > 0 {
		labels = make(map[string]bool, len(q.Labels))
		for _, l := range q.Labels {
			labels[l] = true
		}
	}
	return func(id int64) bool {
		e := s.get(id)
		if e == nil {
			return false
		}
		if labels != nil && !labels[e.label] {
			return false
		}
		for k, v := range q.Meta {
			if got, ok := e.meta[k]; !ok || got != v {
				return false
			}
		}
		return true
	}
}

func (s *state) hits(res []vecindex.Result) []Hit {
	out := make([]Hit, 0, len(res))
	for _, r := range res {
		if r.ID == vecindex.PadID {
			continue
		}
		e := s.get(r.ID)
		if e == nil {
			continue
		}
		out = append(out, Hit{ID: r.ID, Label: e.label, Source: e.source, Score: r.Score})
	}
	return out
}
