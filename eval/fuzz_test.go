package eval

import (
	"math"
	"sort"
	"testing"
)

// naiveExact ranks with a full stable sort and returns the exact recall@k
// and mAP: a slow, obviously-correct twin of Retrieval's rank counting.
func naiveExact(q, g Set, ks []int) ([]float64, float64, int) {
	mask := q.UniqueIDs != nil && g.UniqueIDs != nil
	hits := make([]int, len(ks))
	var apSum float64
	withRel := 0
	for i := range q.Vecs {
		sims := make([]float32, len(g.Vecs))
		order := make([]int, len(g.Vecs))
		keep := make([]bool, len(g.Vecs))
		for j := range g.Vecs {
			sims[j] = dot(q.Vecs[i], g.Vecs[j])
			keep[j] = !(mask && q.Labels[i] == g.Labels[j] && q.UniqueIDs[i] == g.UniqueIDs[j])
			if !keep[j] {
				sims[j] = 0
			}
			order[j] = j
		}
		sort.SliceStable(order, func(a, b int) bool { return sims[order[a]] > sims[order[b]] })
		n, first := 0, -1
		var ap float64
		for r, j := range order {
			if keep[j] && g.Labels[j] == q.Labels[i] {
				n++
				if first < 0 {
					first = r
				}
				ap += float64(n) / float64(r+1)
			}
		}
		if n == 0 {
			continue
		}
		withRel++
		apSum += ap / float64(n)
		for x, k := range ks {
			if first < k {
				hits[x]++
			}
		}
	}
	out := make([]float64, len(ks))
	for x := range ks {
		out[x] = float64(hits[x]) / float64(withRel)
	}
	return out, apSum / float64(withRel), withRel
}

// FuzzRetrieval builds small query/gallery sets from bytes (few distinct
// values, so ties are common) and checks Retrieval against naiveExact and
// basic invariants.
func FuzzRetrieval(f *testing.F) {
	f.Add([]byte{3, 4, 2, 1, 0, 1, 2, 0, 1, 1, 0, 2, 2, 1, 0, 0, 1, 2, 1}, true)
	f.Add([]byte{1, 1, 1, 5, 5, 5, 5, 5, 5, 5, 5, 5}, false)
	f.Fuzz(func(t *testing.T, b []byte, same bool) {
		if len(b) < 4 {
			return
		}
		nq, ng, d, nl := int(b[0]%6)+1, int(b[1]%8)+1, int(b[2]%3)+1, int(b[3]%4)+1
		b = b[4:]
		at := func(i int) byte {
			if len(b) == 0 {
				return 0
			}
			return b[i%len(b)]
		}
		pos := 0
		mk := func(n int, ids bool) Set {
			s := Set{Vecs: make([][]float32, n), Labels: make([]string, n)}
			if ids {
				s.UniqueIDs = make([]string, n)
			}
			for i := range n {
				s.Vecs[i] = make([]float32, d)
				for j := range d {
					s.Vecs[i][j] = float32(int(at(pos)%5) - 2)
					pos++
				}
				s.Labels[i] = string(rune('a' + int(at(pos))%nl))
				pos++
				if ids {
					s.UniqueIDs[i] = string(rune('0' + int(at(pos))%3))
					pos++
				}
			}
			return s
		}
		q := mk(nq, same)
		g := q
		if !same {
			g = mk(ng, at(pos)%2 == 0)
			if g.UniqueIDs != nil {
				q.UniqueIDs = make([]string, nq)
				for i := range q.UniqueIDs {
					q.UniqueIDs[i] = string(rune('0' + i%3))
				}
			}
		}
		ks := []int{1, 2, 5}
		r, err := Retrieval(q, g, RetrievalOptions{TopK: ks, BlockSize: int(at(0)%4) + 1})
		if err != nil {
			t.Fatal(err)
		}
		want, wantMAP, withRel := naiveExact(q, g, ks)
		if r.WithRelevant != withRel {
			t.Fatalf("with relevant %d, naive %d", r.WithRelevant, withRel)
		}
		for i := range ks {
			if !near(float64(r.ExactRecall[i].Value), want[i]) {
				t.Fatalf("recall@%d %v, naive %v", ks[i], r.ExactRecall[i].Value, want[i])
			}
		}
		if !near(float64(r.ExactMAP), wantMAP) {
			t.Fatalf("mAP %v, naive %v", r.ExactMAP, wantMAP)
		}
		for i, p := range r.Precision {
			v := float64(p.Value)
			if v < 0 || v > 1 || (i > 0 && float64(r.Recall[i].Value) < float64(r.Recall[i-1].Value)-1e-12) {
				t.Fatalf("bad figures %+v", r)
			}
		}
		if m := float64(r.MAP); !math.IsNaN(m) && (m < 0 || m > 1+1e-12) {
			t.Fatalf("mAP %v", m)
		}
	})
}
