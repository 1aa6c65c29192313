package eval

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// clustered returns n unit vectors of dim d around nl label centroids.
func clustered(rng *rand.Rand, n, d, nl int, noise float64) Set {
	cent := make([][]float64, nl)
	for i := range cent {
		cent[i] = make([]float64, d)
		for j := range cent[i] {
			cent[i][j] = rng.NormFloat64()
		}
	}
	s := Set{Vecs: make([][]float32, n), Labels: make([]string, n), UniqueIDs: make([]string, n)}
	for i := range n {
		l := rng.IntN(nl)
		v := make([]float32, d)
		var norm float64
		for j := range v {
			x := cent[l][j] + noise*rng.NormFloat64()
			v[j] = float32(x)
			norm += x * x
		}
		for j := range v {
			v[j] /= float32(math.Sqrt(norm))
		}
		s.Vecs[i], s.Labels[i], s.UniqueIDs[i] = v, fmt.Sprint(l), fmt.Sprint(i)
	}
	return s
}

func BenchmarkRetrievalSameList(b *testing.B) {
	for _, n := range []int{500, 2000} {
		s := clustered(rand.New(rand.NewPCG(1, uint64(n))), n, 512, n/10, 4)
		b.Run(fmt.Sprintf("n=%d/d=512", n), func(b *testing.B) {
			b.ReportAllocs()
			var r *RetrievalResult
			for b.Loop() {
				var err error
				if r, err = Retrieval(s, s, RetrievalOptions{}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(RecallAt(r.Recall, 1), "recall@1")
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "queries/s")
		})
	}
}

func BenchmarkLeaveOneOutExhaustive(b *testing.B) {
	s := clustered(rand.New(rand.NewPCG(2, 2)), 2000, 512, 200, 4)
	items := make([]Item, len(s.Vecs))
	for i := range items {
		items[i] = Item{ID: int64(i), Label: s.Labels[i], Vec: s.Vecs[i]}
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := LeaveOneOut(items, LeaveOneOutOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCalibrate(b *testing.B) {
	rng := rand.New(rand.NewPCG(3, 3))
	ss := make([]Sample, 20000)
	for i := range ss {
		l := fmt.Sprint(rng.IntN(500))
		ss[i] = Sample{Label: l, Predicted: l, Score: float32(0.7 + 0.1*rng.NormFloat64())}
		if rng.IntN(5) == 0 {
			ss[i].Predicted = fmt.Sprint(rng.IntN(500))
			ss[i].Score -= 0.2
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Calibrate(ss, CalibrateOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRenderThresholdPlot(b *testing.B) {
	c, err := Calibrate(openSet(), CalibrateOptions{CurvePoints: 201})
	if err != nil {
		b.Fatal(err)
	}
	p := ThresholdPlot(c, "")
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := p.Render(); err != nil {
			b.Fatal(err)
		}
	}
}
