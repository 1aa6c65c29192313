package paddle

import (
	"encoding/binary"
	"math"
	"testing"

	"github.com/shitu-go/shitu/tensor"
)

// Issue 13 point 3: the ops of PP-LCNetV3, PP-HGNet/V2, ResNet_vd,
// MobileNetV3, ViT/Swin blocks and PP-OCRv4 recognition, each written with
// the Paddle writer, converted, run in ONNX Runtime and checked against a
// Go computation of Paddle's documented semantics.

// netCase builds a small program on one feed x and names its output.
type netCase struct {
	name   string
	in     []int64 // feed dims (also the run shape)
	out    []int   // expected output shape
	opset  int64
	build  func(b *ProgramBuilder, x string) string
	want   func(x []float32) []float32
	absTol float64 // default 1e-5 (relative above 1)
}

// tmpOp appends op typ reading ins and writing one output var of dims.
func tmpOp(b *ProgramBuilder, typ string, ins []Slot, outSlot string, dt DType, dims []int64, attrs ...Attr) string {
	o := b.Tmp(b.Unique(typ)+".tmp_0", dt, dims)
	b.Op(typ, ins, []Slot{SlotOf(outSlot, o)}, attrs...)
	return o
}

func int64Param(b *ProgramBuilder, dims []int64, v ...int64) string {
	d := make([]byte, 8*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint64(d[8*i:], uint64(x))
	}
	return b.Param(b.Unique("idx")+".w_0", &Tensor{DType: Int64, Dims: dims, Data: d})
}

func int32Param(b *ProgramBuilder, dims []int64, v ...int32) string {
	d := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(d[4*i:], uint32(x))
	}
	return b.Param(b.Unique("idx")+".w_0", &Tensor{DType: Int32, Dims: dims, Data: d})
}

func f32Param(b *ProgramBuilder, dims []int64, seed int64) (string, []float32) {
	n := 1
	for _, d := range dims {
		n *= int(d)
	}
	v := randInput(seed, n).Float32s()
	return b.Param(b.Unique("w")+".w_0", NewFloat32(dims, v)), v
}

func fill(b *ProgramBuilder, dt DType, v float32) string {
	return tmpOp(b, "fill_constant", nil, "Out", dt, []int64{1}, AInt("dtype", int32(dt)), AFloat("value", v), AInts("shape", 1))
}

// strides of a row-major shape.
func stridesOf(d []int) []int {
	s := make([]int, len(d))
	k := 1
	for i := len(d) - 1; i >= 0; i-- {
		s[i] = k
		k *= d[i]
	}
	return s
}

// unravel turns a flat index into coordinates of shape d.
func unravel(i int, d []int) []int {
	c := make([]int, len(d))
	for k := len(d) - 1; k >= 0; k-- {
		c[k] = i % d[k]
		i /= d[k]
	}
	return c
}

// padRef pads x of shape d by begin/end per axis with Paddle's modes.
func padRef(x []float32, d []int, begin, end []int, mode string, value float32) []float32 {
	od := make([]int, len(d))
	n := 1
	for i := range d {
		od[i] = d[i] + begin[i] + end[i]
		n *= od[i]
	}
	st := stridesOf(d)
	out := make([]float32, n)
	for i := range out {
		c := unravel(i, od)
		src, inside := 0, true
		for k := range c {
			j := c[k] - begin[k]
			if j < 0 || j >= d[k] {
				switch mode {
				case "constant":
					inside = false
				case "reflect":
					if j < 0 {
						j = -j
					} else {
						j = 2*(d[k]-1) - j
					}
				case "replicate":
					j = min(max(j, 0), d[k]-1)
				case "circular":
					j = ((j % d[k]) + d[k]) % d[k]
				}
			}
			src += j * st[k]
		}
		if inside {
			out[i] = x[src]
		} else {
			out[i] = value
		}
	}
	return out
}

// normRef normalises consecutive groups of size g (population variance).
func normRef(x []float32, g int, eps float64) []float64 {
	out := make([]float64, len(x))
	for s := 0; s < len(x); s += g {
		m, v := 0.0, 0.0
		for _, a := range x[s : s+g] {
			m += float64(a)
		}
		m /= float64(g)
		for _, a := range x[s : s+g] {
			v += (float64(a) - m) * (float64(a) - m)
		}
		v /= float64(g)
		for i := s; i < s+g; i++ {
			out[i] = (float64(x[i]) - m) / math.Sqrt(v+eps)
		}
	}
	return out
}

func each(f func(float64) float64) func([]float32) []float32 {
	return func(x []float32) []float32 {
		o := make([]float32, len(x))
		for i, v := range x {
			o[i] = float32(f(float64(v)))
		}
		return o
	}
}

func unaryCase(name, op string, f func(float64) float64, attrs ...Attr) netCase {
	d := []int64{2, 3, 5}
	return netCase{name: name, in: d, out: ints(d),
		build: func(b *ProgramBuilder, x string) string {
			return tmpOp(b, op, []Slot{SlotOf("X", x)}, "Out", FP32, d, attrs...)
		},
		want: each(f)}
}

func softplusRef(beta, th float64) func(float64) float64 {
	return func(v float64) float64 {
		if beta*v > th {
			return v
		}
		return math.Log1p(math.Exp(beta*v)) / beta
	}
}

func TestConvertActivationNormOps(t *testing.T) {
	var cases []netCase
	cases = append(cases,
		unaryCase("gelu exact", "gelu", func(v float64) float64 { return 0.5 * v * (1 + math.Erf(v/math.Sqrt2)) }),
		unaryCase("gelu approximate", "gelu", func(v float64) float64 {
			return 0.5 * v * (1 + math.Tanh(math.Sqrt(2/math.Pi)*(v+0.044715*v*v*v)))
		}, ABool("approximate", true)),
		unaryCase("silu", "silu", func(v float64) float64 { return v / (1 + math.Exp(-v)) }),
		unaryCase("mish", "mish", func(v float64) float64 { return v * math.Tanh(math.Log1p(math.Exp(v))) }),
		unaryCase("elu", "elu", func(v float64) float64 {
			if v > 0 {
				return v
			}
			return 0.7 * (math.Exp(v) - 1)
		}, AFloat("alpha", 0.7)),
		unaryCase("softplus beta threshold", "softplus", softplusRef(2, 0.5), AFloat("beta", 2), AFloat("threshold", 0.5)),
		unaryCase("erf", "erf", math.Erf),
		unaryCase("reciprocal", "reciprocal", func(v float64) float64 { return 1 / v }),
		unaryCase("ceil", "ceil", math.Ceil),
		unaryCase("sin", "sin", math.Sin),
		unaryCase("cos", "cos", math.Cos),
		unaryCase("sign", "sign", func(v float64) float64 {
			if v == 0 {
				return 0
			}
			return math.Copysign(1, v)
		}),
		unaryCase("square", "square", func(v float64) float64 { return v * v }),
		unaryCase("round", "round", math.RoundToEven),
		unaryCase("brelu", "brelu", func(v float64) float64 { return math.Min(math.Max(v, -0.5), 0.25) }, AFloat("t_min", -0.5), AFloat("t_max", 0.25)),
		unaryCase("selu", "selu", func(v float64) float64 {
			if v > 0 {
				return 1.0507009873554805 * v
			}
			return 1.0507009873554805 * 1.6732632423543772 * (math.Exp(v) - 1)
		}),
		unaryCase("softsign", "softsign", func(v float64) float64 { return v / (1 + math.Abs(v)) }),
		unaryCase("logsigmoid", "logsigmoid", func(v float64) float64 { return -math.Log1p(math.Exp(-v)) }),
	)
	var sbn []float32
	cases = append(cases, netCase{name: "sync_batch_norm (inference = batch_norm)", in: []int64{1, 2, 2, 3}, out: []int{1, 2, 2, 3},
		build: func(b *ProgramBuilder, x string) string {
			s, _ := f32Param(b, []int64{2}, 51)
			bi := b.Param("bn_b.w_0", NewFloat32([]int64{2}, []float32{0.5, -1}))
			mean := b.Param("bn_m.w_0", NewFloat32([]int64{2}, []float32{0.1, -0.2}))
			vr := b.Param("bn_v.w_0", NewFloat32([]int64{2}, []float32{2, 0.5}))
			sbn = randInput(51, 2).Float32s()
			return tmpOp(b, "sync_batch_norm", []Slot{SlotOf("X", x), SlotOf("Scale", s), SlotOf("Bias", bi), SlotOf("Mean", mean), SlotOf("Variance", vr)},
				"Y", FP32, []int64{1, 2, 2, 3}, AFloat("epsilon", 1e-5))
		},
		want: func(x []float32) []float32 {
			o := make([]float32, len(x))
			for i, v := range x {
				c := i / 6
				m, vr, bb := []float64{0.1, -0.2}[c], []float64{2, 0.5}[c], []float64{0.5, -1}[c]
				o[i] = float32((float64(v)-m)/math.Sqrt(vr+1e-5)*float64(sbn[c]) + bb)
			}
			return o
		}})
	// rsqrt on |x|.
	cases = append(cases, netCase{name: "rsqrt", in: []int64{2, 5}, out: []int{2, 5},
		build: func(b *ProgramBuilder, x string) string {
			a := tmpOp(b, "abs", []Slot{SlotOf("X", x)}, "Out", FP32, []int64{2, 5})
			return tmpOp(b, "rsqrt", []Slot{SlotOf("X", a)}, "Out", FP32, []int64{2, 5})
		},
		want: each(func(v float64) float64 { return 1 / math.Sqrt(math.Abs(v)) })})
	cases = append(cases, netCase{name: "log_softmax axis 1", in: []int64{2, 3, 4}, out: []int{2, 3, 4},
		build: func(b *ProgramBuilder, x string) string {
			return tmpOp(b, "log_softmax", []Slot{SlotOf("X", x)}, "Out", FP32, []int64{2, 3, 4}, AInt("axis", 1))
		},
		want: func(x []float32) []float32 { return softmaxRef(x, []int{2, 3, 4}, 1, true) }})
	cases = append(cases, netCase{name: "softmax axis 1 of 3", in: []int64{2, 3, 4}, out: []int{2, 3, 4},
		build: func(b *ProgramBuilder, x string) string {
			return tmpOp(b, "softmax", []Slot{SlotOf("X", x)}, "Out", FP32, []int64{2, 3, 4}, AInt("axis", 1))
		},
		want: func(x []float32) []float32 { return softmaxRef(x, []int{2, 3, 4}, 1, false) }})

	// layer_norm as PP-OCRv4's SVTR neck uses it: [N, HW, C], axis 2.
	var lnS, lnB []float32
	cases = append(cases, netCase{name: "layer_norm begin_norm_axis 2", in: []int64{2, 6, 8}, out: []int{2, 6, 8},
		build: func(b *ProgramBuilder, x string) string {
			var s, bi string
			s, lnS = f32Param(b, []int64{8}, 21)
			bi, lnB = f32Param(b, []int64{8}, 22)
			return tmpOp(b, "layer_norm", []Slot{SlotOf("X", x), SlotOf("Scale", s), SlotOf("Bias", bi)}, "Y", FP32, []int64{2, 6, 8},
				AFloat("epsilon", 1e-5), AInt("begin_norm_axis", 2))
		},
		want: func(x []float32) []float32 {
			n := normRef(x, 8, 1e-5)
			o := make([]float32, len(x))
			for i := range o {
				o[i] = float32(n[i]*float64(lnS[i%8]) + float64(lnB[i%8]))
			}
			return o
		}})
	var ln1S []float32
	cases = append(cases, netCase{name: "layer_norm begin_norm_axis 1 of NCHW, no bias", in: []int64{2, 3, 2, 4}, out: []int{2, 3, 2, 4},
		build: func(b *ProgramBuilder, x string) string {
			var s string
			s, ln1S = f32Param(b, []int64{24}, 23)
			return tmpOp(b, "layer_norm", []Slot{SlotOf("X", x), SlotOf("Scale", s)}, "Y", FP32, []int64{2, 3, 2, 4},
				AFloat("epsilon", 1e-6), AInt("begin_norm_axis", 1))
		},
		want: func(x []float32) []float32 {
			n := normRef(x, 24, 1e-6)
			o := make([]float32, len(x))
			for i := range o {
				o[i] = float32(n[i] * float64(ln1S[i%24]))
			}
			return o
		}})
	var gnS, gnB []float32
	cases = append(cases, netCase{name: "group_norm 2 groups", in: []int64{1, 4, 2, 3}, out: []int{1, 4, 2, 3},
		build: func(b *ProgramBuilder, x string) string {
			var s, bi string
			s, gnS = f32Param(b, []int64{4}, 24)
			bi, gnB = f32Param(b, []int64{4}, 25)
			return tmpOp(b, "group_norm", []Slot{SlotOf("X", x), SlotOf("Scale", s), SlotOf("Bias", bi)}, "Y", FP32, []int64{1, 4, 2, 3},
				AFloat("epsilon", 1e-5), AInt("groups", 2))
		},
		want: func(x []float32) []float32 {
			n := normRef(x, 12, 1e-5)
			o := make([]float32, len(x))
			for i := range o {
				c := i / 6
				o[i] = float32(n[i]*float64(gnS[c]) + float64(gnB[c]))
			}
			return o
		}})
	var inS, inB []float32
	cases = append(cases, netCase{name: "instance_norm", in: []int64{1, 2, 3, 4}, out: []int{1, 2, 3, 4},
		build: func(b *ProgramBuilder, x string) string {
			var s, bi string
			s, inS = f32Param(b, []int64{2}, 26)
			bi, inB = f32Param(b, []int64{2}, 27)
			return tmpOp(b, "instance_norm", []Slot{SlotOf("X", x), SlotOf("Scale", s), SlotOf("Bias", bi)}, "Y", FP32, []int64{1, 2, 3, 4},
				AFloat("epsilon", 1e-5))
		},
		want: func(x []float32) []float32 {
			n := normRef(x, 12, 1e-5)
			o := make([]float32, len(x))
			for i := range o {
				o[i] = float32(n[i]*float64(inS[i/12]) + float64(inB[i/12]))
			}
			return o
		}})
	var alpha []float32
	cases = append(cases, netCase{name: "prelu channel", in: []int64{1, 2, 3, 4}, out: []int{1, 2, 3, 4},
		build: func(b *ProgramBuilder, x string) string {
			var a string
			a, alpha = f32Param(b, []int64{2}, 28)
			return tmpOp(b, "prelu", []Slot{SlotOf("X", x), SlotOf("Alpha", a)}, "Out", FP32, []int64{1, 2, 3, 4}, AString("mode", "channel"))
		},
		want: func(x []float32) []float32 {
			o := make([]float32, len(x))
			for i, v := range x {
				o[i] = v
				if v < 0 {
					o[i] = v * alpha[i/12]
				}
			}
			return o
		}})
	cases = append(cases, netCase{name: "prelu all", in: []int64{2, 5}, out: []int{2, 5},
		build: func(b *ProgramBuilder, x string) string {
			a := b.Param("prelu_a.w_0", NewFloat32([]int64{1}, []float32{0.25}))
			return tmpOp(b, "prelu", []Slot{SlotOf("X", x), SlotOf("Alpha", a)}, "Out", FP32, []int64{2, 5}, AString("mode", "all"))
		},
		want: each(func(v float64) float64 { return math.Max(v, 0) + 0.25*math.Min(v, 0) })})

	// Reductions and norms.
	cases = append(cases, netCase{name: "sum of three", in: []int64{2, 3}, out: []int{2, 3},
		build: func(b *ProgramBuilder, x string) string {
			one := b.Param("one.w_0", NewFloat32([]int64{1}, []float32{1}))
			return tmpOp(b, "sum", []Slot{SlotOf("X", x, x, one)}, "Out", FP32, []int64{2, 3})
		},
		want: each(func(v float64) float64 { return 2*v + 1 })})
	cases = append(cases, netCase{name: "mean", in: []int64{2, 3}, out: []int{1},
		build: func(b *ProgramBuilder, x string) string {
			return tmpOp(b, "mean", []Slot{SlotOf("X", x)}, "Out", FP32, []int64{1})
		},
		want: func(x []float32) []float32 {
			s := 0.0
			for _, v := range x {
				s += float64(v)
			}
			return []float32{float32(s / 6)}
		}})
	for _, p := range []float64{2, 3, math.Inf(1), 1} {
		p := p
		cases = append(cases, netCase{name: "p_norm " + ftoa(p), in: []int64{2, 3, 4}, out: []int{2, 1, 4},
			build: func(b *ProgramBuilder, x string) string {
				return tmpOp(b, "p_norm", []Slot{SlotOf("X", x)}, "Out", FP32, []int64{2, 1, 4},
					AFloat("porder", float32(p)), AInt("axis", 1), ABool("keepdim", true), AFloat("epsilon", 1e-12))
			},
			want: func(x []float32) []float32 {
				o := make([]float32, 8)
				for n := 0; n < 2; n++ {
					for w := 0; w < 4; w++ {
						s := 0.0
						for c := 0; c < 3; c++ {
							a := math.Abs(float64(x[n*12+c*4+w]))
							if math.IsInf(p, 1) {
								s = math.Max(s, a)
							} else {
								s += math.Pow(a, p)
							}
						}
						if !math.IsInf(p, 1) {
							s = math.Pow(s, 1/p)
						}
						o[n*4+w] = float32(s)
					}
				}
				return o
			}})
	}
	cases = append(cases, netCase{name: "p_norm 0 as a vector, [1] out", in: []int64{2, 3}, out: []int{1},
		build: func(b *ProgramBuilder, x string) string {
			r := tmpOp(b, "relu", []Slot{SlotOf("X", x)}, "Out", FP32, []int64{2, 3})
			return tmpOp(b, "p_norm", []Slot{SlotOf("X", r)}, "Out", FP32, []int64{1}, AFloat("porder", 0), ABool("asvector", true))
		},
		want: func(x []float32) []float32 {
			n := 0
			for _, v := range x {
				if v > 0 {
					n++
				}
			}
			return []float32{float32(n)}
		}})
	cases = append(cases, netCase{name: "norm (l2_normalize) axis 1", in: []int64{2, 3}, out: []int{2, 3},
		build: func(b *ProgramBuilder, x string) string {
			o := b.Tmp("norm_0.tmp_0", FP32, []int64{2, 3})
			n := b.Tmp("norm_0.tmp_1", FP32, []int64{2, 1})
			b.Op("norm", []Slot{SlotOf("X", x)}, []Slot{SlotOf("Out", o), SlotOf("Norm", n)}, AInt("axis", 1), AFloat("epsilon", 1e-10))
			return o
		},
		want: func(x []float32) []float32 {
			o := make([]float32, 6)
			for r := 0; r < 2; r++ {
				s := 1e-10
				for _, v := range x[r*3 : r*3+3] {
					s += float64(v) * float64(v)
				}
				for c := 0; c < 3; c++ {
					o[r*3+c] = float32(float64(x[r*3+c]) / math.Sqrt(s))
				}
			}
			return o
		}})
	cases = append(cases, netCase{name: "arg_min axis 1 (as float)", in: []int64{2, 5}, out: []int{2},
		build: func(b *ProgramBuilder, x string) string {
			a := tmpOp(b, "arg_min", []Slot{SlotOf("X", x)}, "Out", Int64, []int64{2}, AInt("axis", 1), AInt("dtype", int32(Int64)))
			return tmpOp(b, "cast", []Slot{SlotOf("X", a)}, "Out", FP32, []int64{2}, AInt("out_dtype", int32(FP32)))
		},
		want: func(x []float32) []float32 {
			o := make([]float32, 2)
			for r := 0; r < 2; r++ {
				k := 0
				for c := 1; c < 5; c++ {
					if x[r*5+c] < x[r*5+k] {
						k = c
					}
				}
				o[r] = float32(k)
			}
			return o
		}})
	cases = append(cases, netCase{name: "not_equal (as float)", in: []int64{2, 3}, out: []int{2, 3},
		build: func(b *ProgramBuilder, x string) string {
			z := b.Param("z.w_0", NewFloat32([]int64{3}, []float32{0, 0, 0}))
			r := tmpOp(b, "relu", []Slot{SlotOf("X", x)}, "Out", FP32, []int64{2, 3})
			ne := tmpOp(b, "not_equal", []Slot{SlotOf("X", r), SlotOf("Y", z)}, "Out", Bool, []int64{2, 3})
			return tmpOp(b, "cast", []Slot{SlotOf("X", ne)}, "Out", FP32, []int64{2, 3}, AInt("out_dtype", int32(FP32)))
		},
		want: each(func(v float64) float64 {
			if v > 0 {
				return 1
			}
			return 0
		})})

	runNetCases(t, cases)
}

// runNetCases converts each case with the Paddle writer and checks it in
// ONNX Runtime against its Go reference.
func runNetCases(t *testing.T, cases []netCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := NewProgramBuilder()
			x := b.Feed("x", FP32, tc.in)
			b.Fetch(tc.build(b, x))
			m, err := b.Model()
			if err != nil {
				t.Fatal(err)
			}
			model, err := ToONNX(m, ConvertOptions{Opset: tc.opset})
			if err != nil {
				t.Fatal(err)
			}
			in := randInput(5, ints(tc.in)...)
			out := run(t, ortOpen(t, model), map[string]*tensor.Tensor{"x": in})
			if got := out[0].Shape(); !tensor.EqualShape(got, tc.out) {
				t.Fatalf("shape %v, want %v", got, tc.out)
			}
			want := tc.want(in.Float32s())
			got := out[0].Float32s()
			if len(got) != len(want) {
				t.Fatalf("%d values, reference %d", len(got), len(want))
			}
			tol := tc.absTol
			if tol == 0 {
				tol = 1e-5
			}
			for i := range want {
				if d := math.Abs(float64(got[i] - want[i])); d > tol*math.Max(1, math.Abs(float64(want[i]))) || math.IsNaN(d) {
					t.Fatalf("value %d: got %v, want %v", i, got[i], want[i])
				}
			}
		})
	}
}

func ftoa(p float64) string {
	if math.IsInf(p, 1) {
		return "inf"
	}
	return string(rune('0' + int(p)))
}

// matRef is x [m,k] · w [k,n] (+ bias, relu).
func matRef(x, w []float32, m, k, n int, bias []float32, relu bool) []float32 {
	o := make([]float32, m*n)
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			s := 0.0
			for l := 0; l < k; l++ {
				s += float64(x[i*k+l]) * float64(w[l*n+j])
			}
			if bias != nil {
				s += float64(bias[j])
			}
			if relu {
				s = math.Max(s, 0)
			}
			o[i*n+j] = float32(s)
		}
	}
	return o
}

// softmaxRef is (log_)softmax along axis ax.
func softmaxRef(x []float32, d []int, ax int, log bool) []float32 {
	st := stridesOf(d)
	o := make([]float32, len(x))
	for i := range x {
		c := unravel(i, d)
		if c[ax] != 0 {
			continue
		}
		m := math.Inf(-1)
		for k := 0; k < d[ax]; k++ {
			m = math.Max(m, float64(x[i+k*st[ax]]))
		}
		s := 0.0
		for k := 0; k < d[ax]; k++ {
			s += math.Exp(float64(x[i+k*st[ax]]) - m)
		}
		for k := 0; k < d[ax]; k++ {
			v := float64(x[i+k*st[ax]]) - m
			if log {
				o[i+k*st[ax]] = float32(v - math.Log(s))
			} else {
				o[i+k*st[ax]] = float32(math.Exp(v) / s)
			}
		}
	}
	return o
}

// rollRef is numpy.roll over the given axis → shift pairs.
func rollRef(x []float32, d []int, shifts map[int]int) []float32 {
	st := stridesOf(d)
	o := make([]float32, len(x))
	for i := range x {
		c := unravel(i, d)
		dst := 0
		for k := range c {
			j := c[k]
			if s, ok := shifts[k]; ok {
				j = ((j+s)%d[k] + d[k]) % d[k]
			}
			dst += j * st[k]
		}
		o[dst] = x[i]
	}
	return o
}
