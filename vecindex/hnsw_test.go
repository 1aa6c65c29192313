package vecindex

import "testing"

func TestHNSWRecall(t *testing.T) {
	const n, d, nq, k = 3000, 64, 100, 5
	for _, tc := range []struct {
		name   string
		metric Metric
		nc     int
	}{{"ip-uniform", IP, 0}, {"ip-clustered", IP, 30}, {"l2-clustered", L2, 30}} {
		t.Run(tc.name, func(t *testing.T) {
			all := unitData(1, n+nq, d, tc.nc)
			data, qs := all[:n*d], all[n*d:]
			ids := seqIDs(100, n)
			h, err := NewHNSW(d, tc.metric, HNSWConfig{})
			if err != nil {
				t.Fatal(err)
			}
			if err := h.Add(ids, data); err != nil {
				t.Fatal(err)
			}
			h.SetEfSearch(64)
			var rec float64
			for i := range nq {
				q := qs[i*d : (i+1)*d]
				got, err := h.Search(q, k, nil)
				if err != nil {
					t.Fatal(err)
				}
				rec += recallAt(got, bruteForce(data, ids, d, tc.metric, q, k, nil))
			}
			rec /= nq
			if rec < 0.98 {
				t.Errorf("recall@%d = %.3f, want ≥ 0.98", k, rec)
			}
		})
	}
}
