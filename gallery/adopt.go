package gallery

import (
	"fmt"

	"github.com/shitu-go/shitu/vecindex"
)

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
	var ix any = st.index
	if st.bindex != nil {
		ix = st.bindex
	}
	return fn(ix, items)
}

// CreateFrom creates a gallery in dir holding items with their own ids
// (Vector or Code filled, as Add takes them), in one durable change. index,
// when non-nil, already holds exactly these vectors (a vecindex.Index, or
// a vecindex.BinaryIndex for a Hamming gallery) and serves the gallery as
// is, e.g. a faiss file just read; otherwise the items are indexed.
func CreateFrom(dir string, o Options, items []Item, index any) (*Gallery, error) {
	c := change{adds: items}
	switch ix := index.(type) {
	case nil:
	case vecindex.Index:
		c.index = ix
	case vecindex.BinaryIndex:
		c.bindex = ix
	default:
		return nil, fmt.Errorf("%w: index of type %T", ErrConfig, index)
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
