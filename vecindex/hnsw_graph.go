package vecindex

import "fmt"

// HNSWGraph is the raw graph of an HNSW index in compact node order (node
// i is the i-th live vector), for file converters such as vecindex/faiss.
type HNSWGraph struct {
	M              int // links per node on levels ≥ 1; level 0 has 2·M
	EfConstruction int
	EfSearch       int
	EntryPoint     int32 // -1 when empty
	MaxLevel       int   // -1 when empty
	Levels         []int32
	Links          [][][]int32 // Links[node][level]
}

// graph exports the live nodes, renumbered compactly.
func (c *hnswCore[T]) graph() (HNSWGraph, []int64, []T) {
	ren := make([]int32, len(c.levels))
	n := 0
	for i, l := range c.levels {
		ren[i] = -1
		if l >= 0 {
			ren[i] = int32(n)
			n++
		}
	}
	g := HNSWGraph{M: c.m, EfConstruction: c.efConstruction, EfSearch: c.efSearch,
		EntryPoint: -1, MaxLevel: c.maxLevel, Levels: make([]int32, 0, n), Links: make([][][]int32, 0, n)}
	if c.entry >= 0 {
		g.EntryPoint = ren[c.entry]
	}
	ids := make([]int64, 0, n)
	data := make([]T, 0, n*c.width)
	for i, l := range c.levels {
		if l < 0 {
			continue
		}
		g.Levels = append(g.Levels, int32(l))
		lk := make([][]int32, int(l)+1)
		for lv := range lk {
			for _, o := range c.neighbors(int32(i), lv) {
				lk[lv] = append(lk[lv], ren[o])
			}
		}
		g.Links = append(g.Links, lk)
		ids = append(ids, c.ids[i])
		data = append(data, c.vec(int32(i))...)
	}
	return g, ids, data
}

// fromGraph replaces the core's content with g (validated).
func (c *hnswCore[T]) fromGraph(g HNSWGraph, ids []int64, data []T) error {
	n := len(ids)
	if len(g.Levels) != n || len(g.Links) != n || len(data) != n*c.width {
		return fmt.Errorf("%w: hnsw graph of %d levels, %d link lists, %d values for %d ids", ErrFormat, len(g.Levels), len(g.Links), len(data), n)
	}
	if n > maxVectors {
		return fmt.Errorf("%w: %d vectors", ErrFormat, n)
	}
	c.data, c.ids = data, ids
	c.levels = make([]int8, n)
	c.upper = make([][]int32, n)
	c.links0 = make([]int32, n*(c.m0+1))
	c.pos = make(map[int64]int32, n)
	c.free, c.live = nil, n
	c.maxLevel, c.entry = -1, -1
	for i := range n {
		l := g.Levels[i]
		if l < 0 || l > 127 || len(g.Links[i]) != int(l)+1 {
			return fmt.Errorf("%w: hnsw node %d level %d with %d link lists", ErrFormat, i, l, len(g.Links[i]))
		}
		if _, dup := c.pos[ids[i]]; dup {
			return fmt.Errorf("%w: %d", ErrDuplicate, ids[i])
		}
		c.pos[ids[i]] = int32(i)
		c.levels[i] = int8(l)
		if l > 0 {
			c.upper[i] = make([]int32, int(l)*(c.m+1))
		}
		for lv, nb := range g.Links[i] {
			if len(nb) > c.maxLinks(lv) {
				return fmt.Errorf("%w: hnsw node %d has %d links on level %d (max %d)", ErrFormat, i, len(nb), lv, c.maxLinks(lv))
			}
			for _, o := range nb {
				if o < 0 || int(o) >= n {
					return fmt.Errorf("%w: hnsw link %d out of range", ErrFormat, o)
				}
			}
			c.setNeighbors(int32(i), lv, nb)
		}
		if int(l) > c.maxLevel {
			c.maxLevel = int(l)
		}
	}
	// Every node's links must exist on the linked node's levels too.
	for i := range n {
		for lv := range g.Links[i] {
			for _, o := range g.Links[i][lv] {
				if int(c.levels[o]) < lv {
					return fmt.Errorf("%w: hnsw link to node %d on level %d above its top level", ErrFormat, o, lv)
				}
			}
		}
	}
	if n > 0 {
		if g.EntryPoint < 0 || int(g.EntryPoint) >= n {
			return fmt.Errorf("%w: hnsw entry point %d", ErrFormat, g.EntryPoint)
		}
		c.entry = g.EntryPoint
		c.maxLevel = int(c.levels[c.entry])
	}
	return nil
}
