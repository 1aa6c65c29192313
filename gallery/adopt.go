package gallery

import "fmt"

// Frozen calls fn with the gallery's current index and every item (no
// vectors) while writers wait, so that what fn writes (e.g. a faiss
// vector.index and its id map) is one version. The index is a
// vecindex.Index for float galleries and a vecindex.BinaryIndex for binary
// ones; fn must only read it.
func (g *Gallery) Frozen(fn func(index any, items []Item) error) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.db == nil {
		return ErrClosed
	}
	st := g.view.Load()
	items := make([]Item, 0, st.n)
	st.each(func(e *entry) { items = append(items, e.item()) })
	return fn(st.ix.vecindex(), items)
}

// CreateFrom creates a gallery in dir holding items with their own ids
// (Vector or Code filled, as Add takes them), in one durable change. index,
// when non-nil, already holds exactly these vectors (a vecindex.Index, or
// a vecindex.BinaryIndex for a Hamming gallery) and serves the gallery as
// is, e.g. a faiss file just read; otherwise the items are indexed.
func CreateFrom(dir string, o Options, items []Item, index any) (*Gallery, error) {
	c := change{adds: items}
	if index != nil {
		ix, err := wrapIndex(index)
		if err != nil {
			return nil, err
		}
		c.ix = ix
	}
	g, err := Create(dir, o)
	if err != nil {
		return nil, err
	}
	g.mu.Lock()
	if g.Len() != 0 {
		err = fmt.Errorf("%w: %s is not empty", ErrExists, dir)
	} else {
		err = g.applyLocked(c)
	}
	g.mu.Unlock()
	if err != nil {
		g.Close()
		return nil, err
	}
	return g, nil
}
