package train

import (
	"math"
	"math/rand/v2"
	"runtime"
	"sync"
)

// Head is what shitu train fits: the layers of the recognition network
// after global pooling — class_expand (the 1×1 conv In→Out with bias, as a
// matrix), dropout, the BNNeck (BatchNorm1D, bias frozen) — plus the
// classification FC (Out→Classes, no bias) the CE loss needs, which is
// not exported. Values are float64 while training; the export rounds
// them to float32.
//
// The backbone is frozen: the head's input is the cached pooled backbone
// feature. Unfreezing more of the network would cache an earlier value
// (e.g. the input of the last stage) and put those layers in front of the
// head, each giving its parameters to Params like the head does.
type Head struct {
	In, Out, Classes int
	W                []float64 // [Out, In]
	B                []float64 // [Out]
	// Keep is the dropout factor at inference (downgrade_in_infer: 1−p);
	// training drops with probability 1−Keep without rescaling.
	Keep float64
	// BNNeck: scale, bias (frozen), running mean and variance.
	Gamma, Beta, Mean, Var []float64
	Eps                    float64
	// Momentum of the running statistics (Paddle's BatchNorm1D, 0.9).
	Momentum float64
	FC       []float64 // [Classes, Out]
}

// Param is one trainable tensor with its gradient.
type Param struct {
	Name  string
	Value []float64
	Grad  []float64
	// Frozen parameters are never updated (BNNeck bias).
	Frozen bool
}

// Params lists the head's tensors in a fixed order.
func (h *Head) Params(grads *Grads) []Param {
	return []Param{
		{Name: "class_expand.weight", Value: h.W, Grad: grads.W},
		{Name: "class_expand.bias", Value: h.B, Grad: grads.B},
		{Name: "neck.scale", Value: h.Gamma, Grad: grads.Gamma},
		{Name: "neck.bias", Value: h.Beta, Grad: grads.Beta, Frozen: true},
		{Name: "fc.weight", Value: h.FC, Grad: grads.FC},
	}
}

// Grads holds the gradients of the head's parameters.
type Grads struct {
	W, B, Gamma, Beta, FC []float64
}

func newGrads(h *Head) *Grads {
	return &Grads{W: make([]float64, len(h.W)), B: make([]float64, len(h.B)),
		Gamma: make([]float64, len(h.Gamma)), Beta: make([]float64, len(h.Beta)), FC: make([]float64, len(h.FC))}
}

// initFC draws the classifier as PaddleClas' FC head does: Normal(0, std), no bias.
func (h *Head) initFC(r *rand.Rand, std float64) {
	h.FC = make([]float64, h.Classes*h.Out)
	for i := range h.FC {
		h.FC[i] = r.NormFloat64() * std
	}
}

// clone copies the head (parameters and statistics).
func (h *Head) clone() *Head {
	c := *h
	cp := func(s []float64) []float64 { return append([]float64(nil), s...) }
	c.W, c.B, c.Gamma, c.Beta, c.Mean, c.Var, c.FC = cp(h.W), cp(h.B), cp(h.Gamma), cp(h.Beta), cp(h.Mean), cp(h.Var), cp(h.FC)
	return &c
}

// parallelFor runs fn(i) for i in [0, n) on all CPUs.
func parallelFor(n int, fn func(i int)) {
	w := min(runtime.GOMAXPROCS(0), n)
	if w <= 1 {
		for i := range n {
			fn(i)
		}
		return
	}
	var wg sync.WaitGroup
	chunk := (n + w - 1) / w
	for s := 0; s < n; s += chunk {
		e := min(n, s+chunk)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := s; i < e; i++ {
				fn(i)
			}
		}()
	}
	wg.Wait()
}

// expand computes z = W·x + b for a batch x [n, In].
func (h *Head) expand(x []float64, n int) []float64 {
	z := make([]float64, n*h.Out)
	parallelFor(n, func(i int) {
		xi := x[i*h.In : (i+1)*h.In]
		for o := range h.Out {
			w := h.W[o*h.In : (o+1)*h.In]
			s := h.B[o]
			for k, v := range xi {
				s += w[k] * v
			}
			z[i*h.Out+o] = s
		}
	})
	return z
}

// Embed computes the exported network's output for pooled features x
// [n, In]: BN(Keep·(W·x + b)) with the running statistics (no L2
// normalisation; callers normalise like the feature extractor does).
func (h *Head) Embed(x []float64, n int) []float64 {
	z := h.expand(x, n)
	for i := range n {
		for o := range h.Out {
			v := h.Keep * z[i*h.Out+o]
			z[i*h.Out+o] = h.Gamma[o]*(v-h.Mean[o])/math.Sqrt(h.Var[o]+h.Eps) + h.Beta[o]
		}
	}
	return z
}

// step is one training forward/backward pass.
type step struct {
	Loss, CE, Triplet float64
}

// forwardBackward runs the head in training mode on a batch x [n, In] with
// labels and a dropout mask [n, Out] (nil: keep everything), accumulates
// gradients into g and, when update is set, moves the running statistics.
func (h *Head) forwardBackward(x []float64, labels []int, mask []float64, ce *CELoss, tri *TripletAngularMarginLoss, g *Grads, update bool) step {
	n := len(labels)
	z := h.expand(x, n)
	d := z
	if mask != nil {
		d = make([]float64, len(z))
		for i := range z {
			d[i] = z[i] * mask[i]
		}
	}
	// BNNeck in training mode: batch mean and biased variance.
	mu := make([]float64, h.Out)
	va := make([]float64, h.Out)
	for i := range n {
		for o := range h.Out {
			mu[o] += d[i*h.Out+o]
		}
	}
	for o := range mu {
		mu[o] /= float64(n)
	}
	for i := range n {
		for o := range h.Out {
			t := d[i*h.Out+o] - mu[o]
			va[o] += t * t
		}
	}
	inv := make([]float64, h.Out)
	for o := range va {
		va[o] /= float64(n)
		inv[o] = 1 / math.Sqrt(va[o]+h.Eps)
	}
	xhat := make([]float64, len(d))
	f := make([]float64, len(d))
	for i := range n {
		for o := range h.Out {
			k := i*h.Out + o
			xhat[k] = (d[k] - mu[o]) * inv[o]
			f[k] = h.Gamma[o]*xhat[k] + h.Beta[o]
		}
	}
	var st step
	df := make([]float64, len(f))
	if tri != nil && tri.Weight != 0 {
		l, gr := tri.Forward(f, labels, h.Out)
		st.Triplet = l
		st.Loss += tri.Weight * l
		for k := range df {
			df[k] += tri.Weight * gr[k]
		}
	}
	if ce != nil && ce.Weight != 0 {
		logits := make([]float64, n*h.Classes)
		parallelFor(n, func(i int) {
			fi := f[i*h.Out : (i+1)*h.Out]
			for c := range h.Classes {
				w := h.FC[c*h.Out : (c+1)*h.Out]
				var s float64
				for k, v := range fi {
					s += w[k] * v
				}
				logits[i*h.Classes+c] = s
			}
		})
		l, gl := ce.Forward(logits, labels, h.Classes)
		st.CE = l
		st.Loss += ce.Weight * l
		for k := range gl {
			gl[k] *= ce.Weight
		}
		parallelFor(h.Classes, func(c int) {
			w := g.FC[c*h.Out : (c+1)*h.Out]
			for i := range n {
				gv := gl[i*h.Classes+c]
				if gv == 0 {
					continue
				}
				fi := f[i*h.Out : (i+1)*h.Out]
				for k, v := range fi {
					w[k] += gv * v
				}
			}
		})
		parallelFor(n, func(i int) {
			dfi := df[i*h.Out : (i+1)*h.Out]
			for c := range h.Classes {
				gv := gl[i*h.Classes+c]
				w := h.FC[c*h.Out : (c+1)*h.Out]
				for k := range dfi {
					dfi[k] += gv * w[k]
				}
			}
		})
	}
	// BatchNorm backward.
	dd := make([]float64, len(d))
	for o := range h.Out {
		var sdx, sdxx float64
		for i := range n {
			k := i*h.Out + o
			g.Gamma[o] += df[k] * xhat[k]
			g.Beta[o] += df[k]
			dx := df[k] * h.Gamma[o]
			sdx += dx
			sdxx += dx * xhat[k]
		}
		for i := range n {
			k := i*h.Out + o
			dx := df[k] * h.Gamma[o]
			dd[k] = inv[o] / float64(n) * (float64(n)*dx - sdx - xhat[k]*sdxx)
		}
	}
	if mask != nil {
		for k := range dd {
			dd[k] *= mask[k]
		}
	}
	parallelFor(h.Out, func(o int) {
		w := g.W[o*h.In : (o+1)*h.In]
		var sb float64
		for i := range n {
			gv := dd[i*h.Out+o]
			sb += gv
			if gv == 0 {
				continue
			}
			xi := x[i*h.In : (i+1)*h.In]
			for k, v := range xi {
				w[k] += gv * v
			}
		}
		g.B[o] += sb
	})
	if update {
		// Paddle: running = momentum·running + (1−momentum)·batch.
		for o := range h.Out {
			h.Mean[o] = h.Momentum*h.Mean[o] + (1-h.Momentum)*mu[o]
			h.Var[o] = h.Momentum*h.Var[o] + (1-h.Momentum)*va[o]
		}
	}
	return st
}
