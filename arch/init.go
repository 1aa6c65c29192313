package arch

import (
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
)

// Seeded weights. Every layer draws from its own PCG stream seeded by
// (seed, FNV-64 of the layer name), so weights do not depend on build order.
//
// To keep activations sane through ~40–90 layers without running the
// network, the builder propagates per-channel moments (mean, variance of a
// Gaussian approximation, channels and positions treated as independent)
// from the input (normalised image: mean 0, variance 1) through every layer:
//   - BatchNorm running mean/variance are set to the propagated moments of
//     its input, so BN really normalises; scale ~ U(0.8,1.2), bias ~ N(0,0.1);
//   - convs with a bias and no BN after them (the fused re-parameterised
//     depthwise convs, SE convs, last_conv, head_cls) are drawn, then
//     rescaled per output channel to gain/σ with bias β − μ·gain/σ, i.e. a
//     folded BN (which is exactly what re-parameterisation produces);
//   - activations use closed forms (ReLU) or 121-point quadrature.
// Global average pooling keeps the mean and scales the variance by gapRho,
// a guess of the across-image share of the variance of a pooled channel.

const gapRho = 0.1

type moments struct{ m, v []float64 }

type netBuilder struct {
	net   *Net
	seed  int64
	shape map[string][3]int64 // value -> C,H,W
	st    map[string]moments
	err   error
}

func newNetBuilder(name string, seed int64) *netBuilder {
	return &netBuilder{
		net:   &Net{Name: name},
		seed:  seed,
		shape: map[string][3]int64{},
		st:    map[string]moments{},
	}
}

func (nb *netBuilder) rng(name string) *rand.Rand {
	h := fnv.New64a()
	h.Write([]byte(name))
	return rand.New(rand.NewPCG(uint64(nb.seed), h.Sum64()))
}

func (nb *netBuilder) input(name string, shape []int64) string {
	nb.net.Inputs = append(nb.net.Inputs, Port{Name: name, Shape: shape})
	c := shape[1]
	nb.shape[name] = [3]int64{c, shape[2], shape[3]}
	nb.st[name] = moments{m: make([]float64, c), v: filled(int(c), 1)}
	return name
}

func (nb *netBuilder) push(l Layer, shape [3]int64, st moments) string {
	if len(l.Outputs) == 0 {
		l.Outputs = []string{l.Name}
	}
	for _, o := range l.Outputs {
		if _, dup := nb.shape[o]; dup && nb.err == nil {
			nb.err = fmt.Errorf("arch: duplicate value name %q", o)
		}
	}
	nb.net.Layers = append(nb.net.Layers, l)
	nb.shape[l.Outputs[0]] = shape
	nb.st[l.Outputs[0]] = st
	return l.Outputs[0]
}

// convInit says how a conv's weights are drawn.
type convInit struct {
	bias bool    // conv has a bias and no BN after it: folded-BN rescaling
	gain float64 // output std per channel when bias (0 = U(0.8,1.2))
	beta float64 // output mean per channel when bias
	bStd float64 // std of the output mean around beta
}

// conv adds a Conv layer with padding (k-1)/2.
func (nb *netBuilder) conv(name, x string, cout, k, stride, groups int64, ci convInit) string {
	in := nb.shape[x]
	cin := in[0]
	if groups < 1 || cin%groups != 0 || cout%groups != 0 {
		nb.err = fmt.Errorf("arch: conv %q: %d→%d channels in %d groups", name, cin, cout, groups)
		return name
	}
	r := nb.rng(name)
	cinG, coutG := cin/groups, cout/groups
	fan := cinG * k * k
	std := math.Sqrt(2 / float64(fan))
	w := make([]float32, cout*fan)
	for i := range w {
		w[i] = float32(r.NormFloat64() * std)
	}
	// Propagate moments: per output channel, sum over its group's inputs.
	sx := nb.st[x]
	m := make([]float64, cout)
	v := make([]float64, cout)
	for o := range cout {
		g := o / coutG
		for i := range cinG {
			ic := g*cinG + i
			var s, q float64
			for _, wv := range w[(o*cinG+i)*k*k : (o*cinG+i+1)*k*k] {
				s += float64(wv)
				q += float64(wv) * float64(wv)
			}
			m[o] += s * sx.m[ic]
			v[o] += q * sx.v[ic]
		}
	}
	params := []Param{{Name: name + ".weight", Shape: []int64{cout, cinG, k, k}, Data: w}}
	if ci.bias {
		b := make([]float32, cout)
		for o := range cout {
			gain := ci.gain
			if gain == 0 {
				gain = 0.8 + 0.4*r.Float64()
			}
			beta := ci.beta + ci.bStd*r.NormFloat64()
			sc := gain / math.Sqrt(v[o]+1e-12)
			for j := o * fan; j < (o+1)*fan; j++ {
				w[j] = float32(float64(w[j]) * sc)
			}
			b[o] = float32(beta - m[o]*sc)
			m[o], v[o] = beta, gain*gain
		}
		params = append(params, Param{Name: name + ".bias", Shape: []int64{cout}, Data: b})
	}
	h := (in[1]+2*((k-1)/2)-k)/stride + 1
	wd := (in[2]+2*((k-1)/2)-k)/stride + 1
	return nb.push(Layer{Name: name, Kind: Conv, Inputs: []string{x}, Kernel: k, Stride: stride,
		Pad: (k - 1) / 2, Groups: groups, Params: params}, [3]int64{cout, h, wd}, moments{m, v})
}

// bn adds a BatchNorm whose running statistics are the input's moments.
func (nb *netBuilder) bn(name, x string) string {
	r := nb.rng(name)
	sx := nb.st[x]
	c := len(sx.m)
	scale, bias, mean, variance := make([]float32, c), make([]float32, c), make([]float32, c), make([]float32, c)
	m, v := make([]float64, c), make([]float64, c)
	for i := range c {
		scale[i] = float32(0.8 + 0.4*r.Float64())
		bias[i] = float32(0.1 * r.NormFloat64())
		mean[i] = float32(sx.m[i])
		variance[i] = float32(max(sx.v[i], 1e-4))
		m[i] = float64(bias[i])
		v[i] = float64(scale[i]) * float64(scale[i]) * sx.v[i] / (float64(variance[i]) + 1e-5)
	}
	cs := []int64{int64(c)}
	return nb.push(Layer{Name: name, Kind: BatchNorm, Inputs: []string{x}, Eps: 1e-5, Params: []Param{
		{Name: name + ".scale", Shape: cs, Data: scale},
		{Name: name + ".bias", Shape: cs, Data: bias},
		{Name: name + ".mean", Shape: cs, Data: mean},
		{Name: name + ".variance", Shape: cs, Data: variance},
	}}, nb.shape[x], moments{m, v})
}

// act adds an activation layer.
func (nb *netBuilder) act(name string, kind Kind, x string) string {
	sx := nb.st[x]
	m, v := make([]float64, len(sx.m)), make([]float64, len(sx.m))
	l := Layer{Name: name, Kind: kind, Inputs: []string{x}}
	var f func(float64) float64
	switch kind {
	case Relu:
		for i := range m {
			m[i], v[i] = reluMoments(sx.m[i], sx.v[i])
		}
	case Sigmoid:
		f = func(z float64) float64 { return 1 / (1 + math.Exp(-z)) }
	case HardSigmoid:
		// LCNet SE gate: Paddle nn.Hardsigmoid, slope 1/6, offset 0.5 (§B.1).
		l.Alpha, l.Beta = 1.0/6, 0.5
		f = func(z float64) float64 { return min(max(z/6+0.5, 0), 1) }
	case HardSwish:
		f = func(z float64) float64 { return z * min(max(z/6+0.5, 0), 1) }
	}
	if f != nil {
		for i := range m {
			m[i], v[i] = quadMoments(f, sx.m[i], sx.v[i])
		}
	}
	return nb.push(l, nb.shape[x], moments{m, v})
}

func (nb *netBuilder) gap(name, x string) string {
	sx := nb.st[x]
	v := make([]float64, len(sx.v))
	for i := range v {
		v[i] = sx.v[i] * gapRho
	}
	s := nb.shape[x]
	return nb.push(Layer{Name: name, Kind: GlobalAvgPool, Inputs: []string{x}}, [3]int64{s[0], 1, 1}, moments{append([]float64(nil), sx.m...), v})
}

// mul multiplies x by a per-channel gate g (both moments treated as independent).
func (nb *netBuilder) mul(name, x, g string) string {
	sx, sg := nb.st[x], nb.st[g]
	m, v := make([]float64, len(sx.m)), make([]float64, len(sx.m))
	for i := range m {
		m[i] = sx.m[i] * sg.m[i]
		e2 := (sx.v[i] + sx.m[i]*sx.m[i]) * (sg.v[i] + sg.m[i]*sg.m[i])
		v[i] = max(e2-m[i]*m[i], 1e-12)
	}
	return nb.push(Layer{Name: name, Kind: Mul, Inputs: []string{x, g}}, nb.shape[x], moments{m, v})
}

func (nb *netBuilder) add(name, a, b string) string {
	sa, sb := nb.st[a], nb.st[b]
	if nb.shape[a] != nb.shape[b] && nb.err == nil {
		nb.err = fmt.Errorf("arch: add %q: shapes %v and %v", name, nb.shape[a], nb.shape[b])
	}
	m, v := make([]float64, len(sa.m)), make([]float64, len(sa.m))
	for i := range m {
		m[i], v[i] = sa.m[i]+sb.m[i], sa.v[i]+sb.v[i]
	}
	return nb.push(Layer{Name: name, Kind: Add, Inputs: []string{a, b}}, nb.shape[a], moments{m, v})
}

func (nb *netBuilder) dropout(name, x string, p float32) string {
	sx := nb.st[x]
	k := float64(1 - p)
	m, v := make([]float64, len(sx.m)), make([]float64, len(sx.m))
	for i := range m {
		m[i], v[i] = sx.m[i]*k, sx.v[i]*k*k
	}
	return nb.push(Layer{Name: name, Kind: Dropout, Inputs: []string{x}, Prob: p}, nb.shape[x], moments{m, v})
}

func (nb *netBuilder) flatten(name, x string) string {
	s := nb.shape[x]
	if (s[1] != 1 || s[2] != 1) && nb.err == nil {
		nb.err = fmt.Errorf("arch: flatten %q of %v: only 1×1 maps keep per-channel moments", name, s)
	}
	return nb.push(Layer{Name: name, Kind: Flatten, Inputs: []string{x}}, s, nb.st[x])
}

func (nb *netBuilder) concat(name string, xs ...string) string {
	var st moments
	s := nb.shape[xs[0]]
	s[0] = 0
	for _, x := range xs {
		st.m = append(st.m, nb.st[x].m...)
		st.v = append(st.v, nb.st[x].v...)
		sx := nb.shape[x]
		if (sx[1] != s[1] || sx[2] != s[2]) && nb.err == nil {
			nb.err = fmt.Errorf("arch: concat %q: %v vs %v", name, sx, s)
		}
		s[0] += sx[0]
	}
	return nb.push(Layer{Name: name, Kind: Concat, Inputs: xs}, s, st)
}

func (nb *netBuilder) upsample(name, x string) string {
	s := nb.shape[x]
	return nb.push(Layer{Name: name, Kind: Upsample2x, Inputs: []string{x}}, [3]int64{s[0], 2 * s[1], 2 * s[2]}, nb.st[x])
}

// split cuts x's channels into pieces named outs.
func (nb *netBuilder) split(name, x string, sizes []int64, outs []string) []string {
	s := nb.shape[x]
	nb.push(Layer{Name: name, Kind: Split, Inputs: []string{x}, Sizes: sizes, Outputs: outs}, s, nb.st[x])
	var off int64
	for i, o := range outs {
		nb.shape[o] = [3]int64{sizes[i], s[1], s[2]}
		nb.st[o] = moments{nb.st[x].m[off : off+sizes[i]], nb.st[x].v[off : off+sizes[i]]}
		off += sizes[i]
	}
	return outs
}

// output renames the value x (the last output of its layer) to the public
// name and declares it a network output of the given shape.
func (nb *netBuilder) output(x, name string, shape []int64) {
	if x != name {
		for i := range nb.net.Layers {
			l := &nb.net.Layers[i]
			for j, o := range l.Outputs {
				if o == x {
					l.Outputs[j] = name
				}
			}
			for _, in := range l.Inputs {
				if in == x && nb.err == nil {
					nb.err = fmt.Errorf("arch: output %q is read by layer %q", x, l.Name)
				}
			}
		}
		nb.shape[name], nb.st[name] = nb.shape[x], nb.st[x]
	}
	nb.net.Outputs = append(nb.net.Outputs, Port{Name: name, Shape: shape})
}

func filled(n int, v float64) []float64 {
	s := make([]float64, n)
	for i := range s {
		s[i] = v
	}
	return s
}

// reluMoments is the mean and variance of max(X,0) for X ~ N(m, v).
func reluMoments(m, v float64) (float64, float64) {
	s := math.Sqrt(max(v, 1e-12))
	a := m / s
	phi := math.Exp(-a*a/2) / math.Sqrt(2*math.Pi)
	cdf := 0.5 * math.Erfc(-a/math.Sqrt2)
	e1 := m*cdf + s*phi
	e2 := (m*m+v)*cdf + m*s*phi
	return e1, max(e2-e1*e1, 1e-12)
}

var quadZ, quadW = func() ([]float64, []float64) {
	const n = 121
	z, w := make([]float64, n), make([]float64, n)
	var sum float64
	for i := range n {
		z[i] = -6 + 12*float64(i)/(n-1)
		w[i] = math.Exp(-z[i] * z[i] / 2)
		sum += w[i]
	}
	for i := range w {
		w[i] /= sum
	}
	return z, w
}()

// quadMoments is the mean and variance of f(X) for X ~ N(m, v).
func quadMoments(f func(float64) float64, m, v float64) (float64, float64) {
	s := math.Sqrt(max(v, 0))
	var e1, e2 float64
	for i, z := range quadZ {
		y := f(m + s*z)
		e1 += quadW[i] * y
		e2 += quadW[i] * y * y
	}
	return e1, max(e2-e1*e1, 1e-12)
}
