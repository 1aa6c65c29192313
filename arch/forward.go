package arch

import (
	"fmt"
	"math"
	"sync"
)

// fmap is a float32 NCHW feature map (flattened values have h = w = 1).
type fmap struct {
	n, c, h, w int
	d          []float32
}

func newFmap(n, c, h, w int) *fmap {
	return &fmap{n, c, h, w, make([]float32, n*c*h*w)}
}

func (f *fmap) plane(b, c int) []float32 {
	hw := f.h * f.w
	off := (b*f.c + c) * hw
	return f.d[off : off+hw]
}

// channelStats is the per-channel mean and variance over batch and space.
func (f *fmap) channelStats() moments {
	m, v := make([]float64, f.c), make([]float64, f.c)
	cnt := float64(f.n * f.h * f.w)
	for c := range f.c {
		var s, q float64
		for b := range f.n {
			for _, x := range f.plane(b, c) {
				s += float64(x)
				q += float64(x) * float64(x)
			}
		}
		m[c] = s / cnt
		v[c] = max(q/cnt-m[c]*m[c], 0)
	}
	return moments{m, v}
}

// parallel runs fn(b) for every batch index on up to 2 goroutines.
func parallel(n int, fn func(b int)) {
	var wg sync.WaitGroup
	next := make(chan int, n)
	for b := range n {
		next <- b
	}
	close(next)
	for range min(n, 2) {
		wg.Go(func() {
			for b := range next {
				fn(b)
			}
		})
	}
	wg.Wait()
}

// convForward is a direct NCHW convolution with symmetric padding.
func convForward(x *fmap, w []float32, bias []float32, cout, k, stride, pad, groups int) *fmap {
	ho := (x.h+2*pad-k)/stride + 1
	wo := (x.w+2*pad-k)/stride + 1
	y := newFmap(x.n, cout, ho, wo)
	cinG, coutG := x.c/groups, cout/groups
	parallel(x.n, func(b int) {
		for o := range cout {
			out := y.plane(b, o)
			if bias != nil {
				for i := range out {
					out[i] = bias[o]
				}
			}
			g := o / coutG
			for i := range cinG {
				in := x.plane(b, g*cinG+i)
				ker := w[(o*cinG+i)*k*k : (o*cinG+i+1)*k*k]
				if k == 1 && stride == 1 && pad == 0 {
					wv := ker[0]
					for j, v := range in {
						out[j] += wv * v
					}
					continue
				}
				for ky := range k {
					for kx := range k {
						wv := ker[ky*k+kx]
						// valid ox: 0 <= ox*stride+kx-pad < x.w
						lo := 0
						if kx < pad {
							lo = (pad - kx + stride - 1) / stride
						}
						hi := min(wo, (x.w-1-kx+pad)/stride+1)
						if lo >= hi {
							continue
						}
						for oy := range ho {
							iy := oy*stride + ky - pad
							if iy < 0 || iy >= x.h {
								continue
							}
							row := in[iy*x.w : (iy+1)*x.w]
							orow := out[oy*wo+lo : oy*wo+hi]
							ix := lo*stride + kx - pad
							if stride == 1 {
								src := row[ix : ix+len(orow)]
								for j := range orow {
									orow[j] += wv * src[j]
								}
								continue
							}
							for j := range orow {
								orow[j] += wv * row[ix]
								ix += stride
							}
						}
					}
				}
			}
		}
	})
	return y
}

// mapChannels applies f(c, v) elementwise.
func mapChannels(x *fmap, f func(c int, v float32) float32) *fmap {
	y := newFmap(x.n, x.c, x.h, x.w)
	for b := range x.n {
		for c := range x.c {
			in, out := x.plane(b, c), y.plane(b, c)
			for i, v := range in {
				out[i] = f(c, v)
			}
		}
	}
	return y
}

func actFunc(kind Kind, alpha, beta float32) (func(float32) float32, error) {
	switch kind {
	case Relu:
		return func(v float32) float32 { return max(v, 0) }, nil
	case Sigmoid:
		return func(v float32) float32 { return float32(1 / (1 + math.Exp(-float64(v)))) }, nil
	case HardSigmoid:
		return func(v float32) float32 { return min(max(alpha*v+beta, 0), 1) }, nil
	case HardSwish:
		return func(v float32) float32 { return v * min(max(v/6+0.5, 0), 1) }, nil
	}
	return nil, fmt.Errorf("arch: %q is not an activation", kind)
}

func gapForward(x *fmap) *fmap {
	y := newFmap(x.n, x.c, 1, 1)
	for b := range x.n {
		for c := range x.c {
			var s float64
			for _, v := range x.plane(b, c) {
				s += float64(v)
			}
			y.plane(b, c)[0] = float32(s / float64(x.h*x.w))
		}
	}
	return y
}

// binaryForward is Add or Mul with y broadcast over H, W when it is 1×1.
func binaryForward(x, y *fmap, mul bool) (*fmap, error) {
	if x.n != y.n || x.c != y.c || (y.h*y.w != 1 && (y.h != x.h || y.w != x.w)) {
		return nil, fmt.Errorf("arch: cannot broadcast %v with %v", []int{x.n, x.c, x.h, x.w}, []int{y.n, y.c, y.h, y.w})
	}
	z := newFmap(x.n, x.c, x.h, x.w)
	for b := range x.n {
		for c := range x.c {
			a, o, bp := x.plane(b, c), z.plane(b, c), y.plane(b, c)
			for i := range a {
				bv := bp[0]
				if len(bp) > 1 {
					bv = bp[i]
				}
				if mul {
					o[i] = a[i] * bv
				} else {
					o[i] = a[i] + bv
				}
			}
		}
	}
	return z, nil
}

func concatForward(xs []*fmap) *fmap {
	c := 0
	for _, x := range xs {
		c += x.c
	}
	y := newFmap(xs[0].n, c, xs[0].h, xs[0].w)
	for b := range y.n {
		off := 0
		for _, x := range xs {
			for k := range x.c {
				copy(y.plane(b, off+k), x.plane(b, k))
			}
			off += x.c
		}
	}
	return y
}

func upsampleForward(x *fmap) *fmap {
	y := newFmap(x.n, x.c, 2*x.h, 2*x.w)
	for b := range x.n {
		for c := range x.c {
			in, out := x.plane(b, c), y.plane(b, c)
			for oy := range y.h {
				for ox := range y.w {
					out[oy*y.w+ox] = in[(oy/2)*x.w+ox/2]
				}
			}
		}
	}
	return y
}

func splitForward(x *fmap, sizes []int64) []*fmap {
	var out []*fmap
	off := 0
	for _, s := range sizes {
		y := newFmap(x.n, int(s), x.h, x.w)
		for b := range x.n {
			for k := range int(s) {
				copy(y.plane(b, k), x.plane(b, off+k))
			}
		}
		off += int(s)
		out = append(out, y)
	}
	return out
}

// layerForward runs one layer on its inputs.
func layerForward(l *Layer, in []*fmap) ([]*fmap, error) {
	one := func(f *fmap) ([]*fmap, error) { return []*fmap{f}, nil }
	switch l.Kind {
	case Conv:
		var bias []float32
		if len(l.Params) > 1 {
			bias = l.Params[1].Data
		}
		cout := int(l.Params[0].Shape[0])
		return one(convForward(in[0], l.Params[0].Data, bias, cout, int(l.Kernel), int(max(l.Stride, 1)), int(l.Pad), int(max(l.Groups, 1))))
	case BatchNorm:
		s, b, m, v := l.Params[0].Data, l.Params[1].Data, l.Params[2].Data, l.Params[3].Data
		return one(mapChannels(in[0], func(c int, x float32) float32 {
			return s[c]*(x-m[c])/float32(math.Sqrt(float64(v[c])+float64(l.Eps))) + b[c]
		}))
	case Relu, Sigmoid, HardSigmoid, HardSwish:
		f, err := actFunc(l.Kind, l.Alpha, l.Beta)
		if err != nil {
			return nil, err
		}
		return one(mapChannels(in[0], func(_ int, x float32) float32 { return f(x) }))
	case GlobalAvgPool:
		return one(gapForward(in[0]))
	case Mul, Add:
		z, err := binaryForward(in[0], in[1], l.Kind == Mul)
		if err != nil {
			return nil, err
		}
		return one(z)
	case Dropout:
		k := 1 - l.Prob
		return one(mapChannels(in[0], func(_ int, x float32) float32 { return x * k }))
	case Flatten:
		x := in[0]
		return one(&fmap{x.n, x.c * x.h * x.w, 1, 1, x.d})
	case Concat:
		return one(concatForward(in))
	case Upsample2x:
		return one(upsampleForward(in[0]))
	case Split:
		return splitForward(in[0], l.Sizes), nil
	}
	return nil, fmt.Errorf("arch: layer %q has unknown kind %q", l.Name, l.Kind)
}

// forward runs the whole network in plain Go (a slow reference used to
// calibrate weights and to check the ONNX emission). inputs are NCHW.
func (n *Net) forward(inputs map[string]*fmap) (map[string]*fmap, error) {
	vals := map[string]*fmap{}
	for k, v := range inputs {
		vals[k] = v
	}
	for i := range n.Layers {
		l := &n.Layers[i]
		in := make([]*fmap, len(l.Inputs))
		for j, name := range l.Inputs {
			if in[j] = vals[name]; in[j] == nil {
				return nil, fmt.Errorf("arch: layer %q reads unknown value %q", l.Name, name)
			}
		}
		out, err := layerForward(l, in)
		if err != nil {
			return nil, err
		}
		for j, name := range l.Outputs {
			vals[name] = out[j]
		}
	}
	return vals, nil
}
