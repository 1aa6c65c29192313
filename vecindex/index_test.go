package vecindex

import (
	"math/rand/v2"
	"sort"
)

// unitData returns n unit vectors of d dims: uniform on the sphere, or
// clustered around nc centres when nc > 0.
func unitData(seed uint64, n, d, nc int) []float32 {
	r := rand.New(rand.NewPCG(seed, 7))
	var centres []float32
	if nc > 0 {
		centres = randVec(r, nc*d)
	}
	v := make([]float32, n*d)
	for i := range n {
		row := v[i*d : (i+1)*d]
		for j := range row {
			row[j] = float32(r.NormFloat64())
			if nc > 0 {
				c := i % nc
				row[j] = centres[c*d+j] + 0.35*row[j]
			}
		}
		normalize(row)
	}
	return v
}

func seqIDs(lo, n int) []int64 {
	ids := make([]int64, n)
	for i := range ids {
		ids[i] = int64(lo + i)
	}
	return ids
}

// bruteForce is the reference: float64 scores, ties by id.
func bruteForce(vecs []float32, ids []int64, d int, m Metric, q []float32, k int, filter Filter) []Result {
	type sc struct {
		s  float64
		id int64
	}
	var all []sc
	for i, id := range ids {
		if filter != nil && !filter(id) {
			continue
		}
		var s float64
		for j := 0; j < d; j++ {
			a, b := float64(q[j]), float64(vecs[i*d+j])
			if m == IP {
				s -= a * b
			} else {
				s += (a - b) * (a - b)
			}
		}
		all = append(all, sc{s, id})
	}
	sort.Slice(all, func(i, j int) bool {
		return all[i].s < all[j].s || all[i].s == all[j].s && all[i].id < all[j].id
	})
	out := make([]Result, 0, k)
	for i := 0; i < k && i < len(all); i++ {
		s := all[i].s
		if m == IP {
			s = -s
		}
		out = append(out, Result{all[i].id, float32(s)})
	}
	for len(out) < k {
		out = append(out, Result{PadID, padScore(m)})
	}
	return out
}

func recallAt(got, want []Result) float64 {
	w := map[int64]bool{}
	n := 0
	for _, r := range want {
		if r.ID != PadID {
			w[r.ID] = true
			n++
		}
	}
	if n == 0 {
		return 1
	}
	hit := 0
	for _, r := range got {
		if w[r.ID] {
			hit++
		}
	}
	return float64(hit) / float64(n)
}
