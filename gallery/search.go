package gallery

import (
	"fmt"

	"github.com/shitu-go/shitu/vecindex"
)

// Query restricts a search. The zero value searches every item.
type Query struct {
	// Labels, when non-empty, keeps only items with one of these labels.
	Labels []string
	// Meta keeps only items whose metadata has every key=value given.
	Meta map[string]string
}

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
// slots are dropped, not returned as id -1). Label and metadata conditions
// are applied inside the index search, so they do not cost recall.
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
	res, err := st.ix.search(q, nil, k, st.filter(f))
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
	res, err := st.ix.searchBatch(qs, k, st.filter(f))
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
	res, err := st.ix.search(nil, code, k, st.filter(f))
	if err != nil {
		return nil, fmt.Errorf("gallery: search: %w", err)
	}
	return st.hits(res), nil
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
