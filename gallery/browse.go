package gallery

import (
	"fmt"
	"sort"

	bolt "go.etcd.io/bbolt"
)

// ByLabel returns, for each of labels, up to max of its items (max < 0:
// all), lowest ids first, without vectors. It reads the in-memory view
// (one pass over the items, no disk access), so a page of a browser over a
// large gallery stays fast.
func (g *Gallery) ByLabel(labels []string, max int) map[string][]Item {
	want := make(map[string]bool, len(labels))
	for _, l := range labels {
		want[l] = true
	}
	found := map[string][]*entry{}
	g.view.Load().each(func(e *entry) {
		if want[e.label] {
			found[e.label] = append(found[e.label], e)
		}
	})
	out := make(map[string][]Item, len(found))
	for l, es := range found {
		sort.Slice(es, func(i, j int) bool { return es[i].id < es[j].id })
		if max >= 0 && len(es) > max {
			es = es[:max]
		}
		its := make([]Item, len(es))
		for i, e := range es {
			its[i] = e.item()
		}
		out[l] = its
	}
	return out
}

// LabelPage returns the items of one label in id order from offset on, at
// most limit of them, and how many the label has. It scans the gallery's
// in-memory entries but builds only the items of the page.
func (g *Gallery) LabelPage(label string, offset, limit int) ([]Item, int) {
	var es []*entry
	g.view.Load().each(func(e *entry) {
		if e.label == label {
			es = append(es, e)
		}
	})
	sort.Slice(es, func(i, j int) bool { return es[i].id < es[j].id })
	offset = min(max(offset, 0), len(es))
	end := offset + min(max(limit, 0), len(es)-offset)
	out := make([]Item, 0, end-offset)
	for _, e := range es[offset:end] {
		out = append(out, e.item())
	}
	return out, len(es)
}

// Relabel gives the items ids the label, as one durable change: each item
// is stored again under a new id with its vector, source and metadata, and
// the old id is removed. It returns the new ids in the order of ids; an id
// that does not exist fails the whole change with ErrNotFound.
func (g *Gallery) Relabel(label string, ids ...int64) ([]int64, error) {
	if err := CheckLabel(label); err != nil {
		return nil, err
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.db == nil {
		return nil, ErrClosed
	}
	st := g.view.Load()
	var c change
	seen := map[int64]bool{}
	err := g.db.View(func(tx *bolt.Tx) error {
		items, vecs := tx.Bucket(bItems), tx.Bucket(bVecs)
		for _, id := range ids {
			if seen[id] {
				continue
			}
			seen[id] = true
			if st.get(id) == nil {
				return fmt.Errorf("%w: id %d", ErrNotFound, id)
			}
			it, _, err := decodeItem(id, items.Get(idKey(id)))
			if err != nil {
				return err
			}
			if it.Vector, it.Code, err = g.decodeVec(id, vecs.Get(idKey(id)), nil); err != nil {
				return err
			}
			it.Doc = "" // the doc line names the old label; exports write "source<TAB>label"
			it.Label = label
			it.ID = g.nextID + int64(len(c.adds))
			c.adds = append(c.adds, it)
			c.removes = append(c.removes, id)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if err := g.applyLocked(c); err != nil {
		return nil, err
	}
	out := make([]int64, len(c.adds))
	for i, it := range c.adds {
		out[i] = it.ID
	}
	return out, nil
}
