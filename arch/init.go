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
// To keep activations sane through ~40–90 layers, the builder runs the
// network in plain Go on a small calibration batch (synthetic images:
// gradients, shapes and stripes, normalised like ImageNet photos) while it
// builds it, layer by layer, and uses the measured per-channel statistics:
//   - BatchNorm running mean is the measured mean of its input and the
//     running variance the measured variance plus a floor (recVarFloor,
//     detVarFloor), so
//     BN centres and normalises; scale ~ U(0.8,1.2), bias ~ N(0.75,0.1);
//   - k×k filters are He-normal mixed with a low-pass kernel (blurMix);
//   - convs with a bias and no BN after them (the fused re-parameterised
//     depthwise convs, SE convs, last_conv, head_cls) are drawn, then
//     rescaled per output channel to gain/σ with bias β − μ·gain/σ, i.e. a
//     folded BN (which is exactly what re-parameterisation produces).
// The result depends only on the seed.

// Initialisation constants, chosen by measuring how well rec features of
// real photos separate different objects while staying close under a small
// shift and brightness change (see TestRecFeaturesDiscriminate).
const (
	// blurMix mixes a binomial low-pass kernel into every k×k filter:
	// white-noise kernels alias at stride 2 and make features shift-fragile.
	blurMix = 0.3
	// bnBeta, bnBetaStd: BatchNorm bias ~ N(bnBeta, bnBetaStd); a positive
	// mean keeps most units in the ReLU's linear part (less chaotic nets).
	bnBeta, bnBetaStd = 0.75, 0.1
	// recVarFloor, detVarFloor: BN running variance = measured + floor × the
	// layer's mean channel variance, so nearly silent channels are not
	// amplified. The deeper detector (94 BNs, no residuals) needs more: with
	// 3, its logits on 640² photos reach |100|+; with 10 their RMS is ~1–3.
	// The rec features separate photos better with 3.
	recVarFloor, detVarFloor = 3.0, 10.0
)

type moments struct{ m, v []float64 }

type netBuilder struct {
	net   *Net
	seed  int64
	shape map[string][3]int64 // value -> C,H,W at calibration size
	st    map[string]moments  // value -> measured per-channel statistics
	data  map[string]*fmap    // value -> calibration activations
	// varFloor is the BN variance floor (recVarFloor or detVarFloor).
	varFloor float64
	err      error
}

func newNetBuilder(name string, seed int64, varFloor float64) *netBuilder {
	return &netBuilder{
		net:      &Net{Name: name},
		seed:     seed,
		varFloor: varFloor,
		shape:    map[string][3]int64{},
		st:       map[string]moments{},
		data:     map[string]*fmap{},
	}
}

func (nb *netBuilder) rng(name string) *rand.Rand {
	h := fnv.New64a()
	h.Write([]byte(name))
	return rand.New(rand.NewPCG(uint64(nb.seed), h.Sum64()))
}

// input declares a network input of the given shape and feeds it n
// synthetic calibration images of side calib.
func (nb *netBuilder) input(name string, shape []int64, n, calib int) string {
	nb.net.Inputs = append(nb.net.Inputs, Port{Name: name, Shape: shape})
	x := synthImages(nb.rng(name+"#calibration"), n, calib)
	nb.data[name] = x
	nb.shape[name] = [3]int64{int64(x.c), int64(x.h), int64(x.w)}
	nb.st[name] = x.channelStats()
	return name
}

// push appends l, runs it on the calibration batch and records its outputs.
func (nb *netBuilder) push(l Layer) string {
	if len(l.Outputs) == 0 {
		l.Outputs = []string{l.Name}
	}
	if nb.err != nil {
		return l.Outputs[0]
	}
	in := make([]*fmap, len(l.Inputs))
	for i, name := range l.Inputs {
		if in[i] = nb.data[name]; in[i] == nil {
			nb.err = fmt.Errorf("arch: layer %q reads unknown value %q", l.Name, name)
			return l.Outputs[0]
		}
	}
	out, err := layerForward(&l, in)
	if err != nil {
		nb.err = err
		return l.Outputs[0]
	}
	nb.net.Layers = append(nb.net.Layers, l)
	for i, o := range l.Outputs {
		if _, dup := nb.data[o]; dup {
			nb.err = fmt.Errorf("arch: duplicate value name %q", o)
		}
		nb.record(o, out[i])
	}
	return l.Outputs[0]
}

func (nb *netBuilder) record(name string, f *fmap) {
	nb.data[name] = f
	nb.shape[name] = [3]int64{int64(f.c), int64(f.h), int64(f.w)}
	nb.st[name] = f.channelStats()
}

// convInit says how a conv's weights are drawn.
type convInit struct {
	bias bool    // conv has a bias and no BN after it: folded-BN rescaling
	gain float64 // output std per channel when bias (0 = U(0.8,1.2))
	beta float64 // output mean per channel when bias
	bStd float64 // std of the output mean around beta
	// centre only subtracts the measured mean (no variance rescaling):
	// for convs after global pooling, whose across-image variance on the
	// small calibration batch is tiny and would be over-amplified.
	centre bool
	// orthMean, for a 1×1 conv, removes from every weight row its component
	// along the input's mean calibration vector.
	orthMean bool
}

// conv adds a Conv layer with padding (k-1)/2, He-initialised.
func (nb *netBuilder) conv(name, x string, cout, k, stride, groups int64, ci convInit) string {
	cin := nb.shape[x][0]
	if groups < 1 || cin%groups != 0 || cout%groups != 0 {
		if nb.err == nil {
			nb.err = fmt.Errorf("arch: conv %q: %d→%d channels in %d groups", name, cin, cout, groups)
		}
		return name
	}
	r := nb.rng(name)
	fan := cin / groups * k * k
	std := math.Sqrt(2 / float64(fan))
	w := make([]float32, cout*fan)
	for i := range w {
		w[i] = float32(r.NormFloat64() * std)
	}
	if k > 1 {
		// Mix a binomial low-pass kernel into every k×k filter (random
		// amplitude per filter): white-noise kernels alias badly at stride 2.
		blur := binomial(int(k))
		var bn float64
		for _, v := range blur {
			bn += v * v
		}
		norm := std * float64(k) / math.Sqrt(bn)
		for f := range int(cout * fan / (k * k)) {
			a := blurMix * norm * r.NormFloat64()
			if groups == cin {
				a = blurMix * norm * (0.5 + r.Float64()) // depthwise: a positive blur
			}
			ker := w[f*int(k*k) : (f+1)*int(k*k)]
			for i := range ker {
				ker[i] = float32((1-blurMix)*float64(ker[i]) + a*blur[i])
			}
		}
	}
	l := Layer{Name: name, Kind: Conv, Inputs: []string{x}, Kernel: k, Stride: stride,
		Pad: (k - 1) / 2, Groups: groups,
		Params: []Param{{Name: name + ".weight", Shape: []int64{cout, cin / groups, k, k}, Data: w}}}
	if !ci.bias {
		return nb.push(l)
	}
	// Folded BN: measure the bias-free output, then rescale each channel.
	out := nb.push(l)
	if nb.err != nil {
		return out
	}
	st := nb.st[out]
	b := make([]float32, cout)
	sc := make([]float32, cout)
	for o := range cout {
		gain := ci.gain
		if gain == 0 {
			gain = 0.8 + 0.4*r.Float64()
		}
		beta := ci.beta + ci.bStd*r.NormFloat64()
		sc[o] = float32(gain / math.Sqrt(st.v[o]+1e-6))
		if ci.centre {
			sc[o] = float32(gain)
		}
		for j := o * fan; j < (o+1)*fan; j++ {
			w[j] *= sc[o]
		}
		b[o] = float32(beta - st.m[o]*float64(sc[o]))
	}
	last := &nb.net.Layers[len(nb.net.Layers)-1]
	last.Params = append(last.Params, Param{Name: name + ".bias", Shape: []int64{cout}, Data: b})
	nb.record(out, mapChannels(nb.data[out], func(c int, v float32) float32 { return v*sc[c] + b[c] }))
	return out
}

// bn adds a BatchNorm whose running statistics are the measured statistics
// of its input.
func (nb *netBuilder) bn(name, x string) string {
	r := nb.rng(name)
	sx := nb.st[x]
	c := len(sx.m)
	scale, bias, mean, variance := make([]float32, c), make([]float32, c), make([]float32, c), make([]float32, c)
	var vbar float64
	for _, v := range sx.v {
		vbar += v / float64(c)
	}
	for i := range c {
		scale[i] = float32(0.8 + 0.4*r.Float64())
		bias[i] = float32(bnBeta + bnBetaStd*r.NormFloat64())
		mean[i] = float32(sx.m[i])
		variance[i] = float32(max(sx.v[i]+nb.varFloor*vbar, 1e-4))
	}
	cs := []int64{int64(c)}
	return nb.push(Layer{Name: name, Kind: BatchNorm, Inputs: []string{x}, Eps: 1e-5, Params: []Param{
		{Name: name + ".scale", Shape: cs, Data: scale},
		{Name: name + ".bias", Shape: cs, Data: bias},
		{Name: name + ".mean", Shape: cs, Data: mean},
		{Name: name + ".variance", Shape: cs, Data: variance},
	}})
}

// act adds an activation layer.
func (nb *netBuilder) act(name string, kind Kind, x string) string {
	l := Layer{Name: name, Kind: kind, Inputs: []string{x}}
	if kind == HardSigmoid {
		// LCNet SE gate: Paddle nn.Hardsigmoid, slope 1/6, offset 0.5 (§B.1, §D.2).
		l.Alpha, l.Beta = 1.0/6, 0.5
	}
	return nb.push(l)
}

func (nb *netBuilder) gap(name, x string) string {
	return nb.push(Layer{Name: name, Kind: GlobalAvgPool, Inputs: []string{x}})
}

func (nb *netBuilder) mul(name, x, g string) string {
	return nb.push(Layer{Name: name, Kind: Mul, Inputs: []string{x, g}})
}

func (nb *netBuilder) add(name, a, b string) string {
	return nb.push(Layer{Name: name, Kind: Add, Inputs: []string{a, b}})
}

func (nb *netBuilder) dropout(name, x string, p float32) string {
	return nb.push(Layer{Name: name, Kind: Dropout, Inputs: []string{x}, Prob: p})
}

func (nb *netBuilder) flatten(name, x string) string {
	return nb.push(Layer{Name: name, Kind: Flatten, Inputs: []string{x}})
}

func (nb *netBuilder) concat(name string, xs ...string) string {
	return nb.push(Layer{Name: name, Kind: Concat, Inputs: xs})
}

func (nb *netBuilder) upsample(name, x string) string {
	return nb.push(Layer{Name: name, Kind: Upsample2x, Inputs: []string{x}})
}

// split cuts x's channels into pieces named outs.
func (nb *netBuilder) split(name, x string, sizes []int64, outs []string) []string {
	nb.push(Layer{Name: name, Kind: Split, Inputs: []string{x}, Sizes: sizes, Outputs: outs})
	return outs
}

// output renames the value x (an output of a layer no layer reads) to the
// public name and declares it a network output of the given shape.
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
		nb.record(name, nb.data[x])
	}
	nb.net.Outputs = append(nb.net.Outputs, Port{Name: name, Shape: shape})
}

// binomial is the k×k outer product of binomial coefficients (a smooth
// low-pass kernel), normalised to sum 1.
func binomial(k int) []float64 {
	row := []float64{1}
	for range k - 1 {
		next := make([]float64, len(row)+1)
		for i, v := range row {
			next[i] += v
			next[i+1] += v
		}
		row = next
	}
	var s float64
	out := make([]float64, k*k)
	for y := range k {
		for x := range k {
			out[y*k+x] = row[y] * row[x]
			s += out[y*k+x]
		}
	}
	for i := range out {
		out[i] /= s
	}
	return out
}
