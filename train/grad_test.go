package train

import (
	"math"
	"math/rand/v2"
	"testing"
)

func smallHead(r *rand.Rand, in, out, classes int) *Head {
	h := &Head{In: in, Out: out, Classes: classes, Keep: 0.8, Eps: 1e-5, Momentum: 0.9}
	fill := func(n int, s, off float64) []float64 {
		v := make([]float64, n)
		for i := range v {
			v[i] = off + s*r.NormFloat64()
		}
		return v
	}
	h.W, h.B = fill(out*in, 0.5, 0), fill(out, 0.1, 0)
	h.Gamma, h.Beta = fill(out, 0.2, 1), fill(out, 0.1, 0)
	h.Mean, h.Var = fill(out, 0.1, 0), fill(out, 0, 1)
	h.FC = fill(classes*out, 0.5, 0)
	return h
}

// A central finite-difference check of every trained parameter of the
// head (class_expand weight and bias, BNNeck scale, FC) on the full loss
// CE(ε 0.1) + TripletAngularMarginLoss, with a fixed dropout mask.
func TestHeadGradientFiniteDifference(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 9))
	const in, out, classes = 7, 6, 3
	h := smallHead(r, in, out, classes)
	labels := []int{0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2}
	n := len(labels)
	x := make([]float64, n*in)
	for i := range x {
		x[i] = r.NormFloat64() + float64(labels[i/in])*0.3
	}
	mask := make([]float64, n*out)
	for i := range mask {
		if r.Float64() < h.Keep {
			mask[i] = 1
		}
	}
	ce := &CELoss{Weight: 1, Epsilon: 0.1}
	tri := &paddleTriplet
	g := newGrads(h)
	h.forwardBackward(x, labels, mask, ce, tri, g, false)
	loss := func() float64 {
		return h.forwardBackward(x, labels, mask, ce, tri, newGrads(h), false).Loss
	}
	const eps = 1e-6
	checked := 0
	for _, p := range h.Params(g) {
		if p.Frozen {
			continue
		}
		for i := range p.Value {
			old := p.Value[i]
			p.Value[i] = old + eps
			lp := loss()
			p.Value[i] = old - eps
			lm := loss()
			p.Value[i] = old
			fd := (lp - lm) / (2 * eps)
			if d := math.Abs(fd - p.Grad[i]); d > 1e-6+1e-5*math.Abs(fd) {
				t.Errorf("%s[%d]: analytic %.9g, finite difference %.9g", p.Name, i, p.Grad[i], fd)
			}
			checked++
		}
	}
	t.Logf("%d parameters checked, loss %.6f", checked, loss())
}

// Running statistics move as Paddle's BatchNorm1D does (momentum 0.9,
// biased batch variance), and the frozen BNNeck bias never changes.
func TestBNNeckStatisticsAndFrozenBias(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 5))
	h := smallHead(r, 4, 3, 2)
	beta := append([]float64(nil), h.Beta...)
	mean0 := append([]float64(nil), h.Mean...)
	var0 := append([]float64(nil), h.Var...)
	labels := []int{0, 0, 1, 1}
	x := make([]float64, 4*4)
	for i := range x {
		x[i] = r.NormFloat64()
	}
	g := newGrads(h)
	h.forwardBackward(x, labels, nil, &CELoss{Weight: 1, Epsilon: 0.1}, &paddleTriplet, g, true)
	z := h.expand(x, 4)
	for o := range 3 {
		var mu, va float64
		for i := range 4 {
			mu += z[i*3+o] / 4
		}
		for i := range 4 {
			va += (z[i*3+o] - mu) * (z[i*3+o] - mu) / 4
		}
		if math.Abs(h.Mean[o]-(0.9*mean0[o]+0.1*mu)) > 1e-12 || math.Abs(h.Var[o]-(0.9*var0[o]+0.1*va)) > 1e-12 {
			t.Errorf("channel %d: running mean/var %v/%v", o, h.Mean[o], h.Var[o])
		}
	}
	tr := &trainer{rc: &Recipe{Momentum: 0.9, L2: 1e-5}, vel: map[string][]float64{}}
	tr.update(h.Params(g), 0.1)
	for o := range beta {
		if h.Beta[o] != beta[o] {
			t.Fatalf("BNNeck bias moved: %v → %v", beta, h.Beta)
		}
	}
}
