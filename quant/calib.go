package quant

import (
	"math"
)

// histBins is the number of histogram bins per tensor (divisible by 4).
const histBins = 2048

// hist collects the distribution of one tensor: exact min and max, and a
// histogram over the symmetric range [−r, r] that doubles (merging bin
// pairs) whenever a value falls outside, so one pass suffices.
type hist struct {
	min, max float64
	r        float64
	bins     []float64
	n        float64
	// chSum and chN: per-channel sums of [N,C,...] tensors.
	chSum []float64
	chN   float64
}

// addChannels accumulates per-channel sums of an [N,C,...] tensor.
func (h *hist) addChannels(x []float32, shape []int) {
	if len(shape) < 2 || shape[1] <= 0 || len(x) == 0 {
		return
	}
	c := shape[1]
	if h.chSum == nil {
		h.chSum = make([]float64, c)
	}
	if len(h.chSum) != c || len(x)%(shape[0]*c) != 0 {
		return
	}
	inner := len(x) / (shape[0] * c)
	for n := range shape[0] {
		for ch := range c {
			var s float64
			for _, v := range x[(n*c+ch)*inner : (n*c+ch+1)*inner] {
				s += float64(v)
			}
			h.chSum[ch] += s
		}
	}
	h.chN += float64(len(x) / c)
}

// means are the per-channel means (nil when not collected).
func (h *hist) means() []float64 {
	if h.chN == 0 {
		return nil
	}
	m := make([]float64, len(h.chSum))
	for i, s := range h.chSum {
		m[i] = s / h.chN
	}
	return m
}

func newHist() *hist {
	return &hist{min: math.Inf(1), max: math.Inf(-1), bins: make([]float64, histBins)}
}

func (h *hist) grow() {
	nb := make([]float64, histBins)
	for j, c := range h.bins {
		nb[histBins/4+j/2] += c
	}
	h.bins, h.r = nb, 2*h.r
}

func (h *hist) add(x []float32) {
	if len(x) == 0 {
		return
	}
	mn, mx := float64(x[0]), float64(x[0])
	for _, v := range x {
		f := float64(v)
		if f < mn {
			mn = f
		}
		if f > mx {
			mx = f
		}
	}
	if math.IsNaN(mn) || math.IsNaN(mx) || math.IsInf(mn, 0) || math.IsInf(mx, 0) {
		return // a non-finite activation says nothing usable about ranges
	}
	h.min, h.max = math.Min(h.min, mn), math.Max(h.max, mx)
	a := math.Max(math.Abs(mn), math.Abs(mx))
	if h.r == 0 {
		h.r = math.Max(a, 1e-6)
	}
	for a > h.r {
		h.grow()
	}
	w := 2 * h.r / histBins
	for _, v := range x {
		i := int((float64(v) + h.r) / w)
		h.bins[min(max(i, 0), histBins-1)]++
	}
	h.n += float64(len(x))
}

func (h *hist) edge(i int) float64 { return -h.r + float64(i)*2*h.r/histBins }

// rangeFor returns the [lo, hi] range a method picks.
func (h *hist) rangeFor(m Method, pct float64) (lo, hi float64) {
	if h.n == 0 {
		return 0, 0
	}
	lo, hi = math.Min(h.min, 0), math.Max(h.max, 0)
	switch m {
	case Percentile:
		tail := (1 - pct/100) * h.n
		var c float64
		for i := 0; i < histBins; i++ {
			c += h.bins[i]
			if c > tail {
				lo = math.Max(h.edge(i), h.min)
				break
			}
		}
		c = 0
		for i := histBins - 1; i >= 0; i-- {
			c += h.bins[i]
			if c > tail {
				hi = math.Min(h.edge(i+1), h.max)
				break
			}
		}
		lo, hi = math.Min(lo, 0), math.Max(hi, 0)
	case MSE:
		bestErr, bestA := math.Inf(1), 1.0
		for k := 0; k <= 45; k++ {
			a := 1 - 0.02*float64(k)
			if e := h.mse(a*lo, a*hi); e < bestErr {
				bestErr, bestA = e, a
			}
		}
		lo, hi = bestA*lo, bestA*hi
	}
	return lo, hi
}

// mse is the expected squared error of uint8 quantization over [lo, hi]:
// uniform rounding noise (scale²/12) inside, the clipping distance of the
// bin centre outside.
func (h *hist) mse(lo, hi float64) float64 {
	p := uint8Params(lo, hi)
	s := float64(p.scale)
	qlo, qhi := (0-float64(p.zero))*s, (255-float64(p.zero))*s
	w := 2 * h.r / histBins
	var e float64
	for i, c := range h.bins {
		if c == 0 {
			continue
		}
		x := -h.r + (float64(i)+0.5)*w
		switch {
		case x < qlo:
			e += c * (x - qlo) * (x - qlo)
		case x > qhi:
			e += c * (x - qhi) * (x - qhi)
		default:
			e += c * s * s / 12
		}
	}
	return e
}
