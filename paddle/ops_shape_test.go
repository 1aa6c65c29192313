package paddle

import (
	"math"
	"testing"
)

// Padding, rolling, gathers, old fc forms and matmuls, constants, splits.
func TestConvertShapeOps(t *testing.T) {
	var cases []netCase
	// Padding: pad3d on 5-D and 4-D inputs, every mode; pad2d; pad.
	d5 := []int{1, 2, 2, 3, 4}
	for _, mode := range []string{"constant", "reflect", "replicate", "circular"} {
		mode := mode
		cases = append(cases, netCase{name: "pad3d 5-D " + mode, in: []int64{1, 2, 2, 3, 4}, out: []int{1, 2, 3, 4, 7},
			build: func(b *ProgramBuilder, x string) string {
				return tmpOp(b, "pad3d", []Slot{SlotOf("X", x)}, "Out", FP32, []int64{1, 2, 3, 4, 7},
					AInts("paddings", 1, 2, 0, 1, 1, 0), AString("mode", mode), AFloat("value", 1.5), AString("data_format", "NCDHW"))
			},
			want: func(x []float32) []float32 {
				return padRef(x, d5, []int{0, 0, 1, 0, 1}, []int{0, 0, 0, 1, 2}, mode, 1.5)
			}})
		cases = append(cases, netCase{name: "pad3d 4-D NCHW " + mode, in: []int64{1, 2, 3, 4}, out: []int{1, 2, 5, 5},
			build: func(b *ProgramBuilder, x string) string {
				return tmpOp(b, "pad3d", []Slot{SlotOf("X", x)}, "Out", FP32, []int64{1, 2, 5, 5},
					AInts("paddings", 0, 1, 1, 1, 0, 0), AString("mode", mode), AString("data_format", "NCDHW"))
			},
			want: func(x []float32) []float32 {
				return padRef(x, []int{1, 2, 3, 4}, []int{0, 0, 1, 0}, []int{0, 0, 1, 1}, mode, 0)
			}})
	}
	cases = append(cases, netCase{name: "pad3d NDHWC", in: []int64{1, 2, 3, 2, 2}, out: []int{1, 2, 4, 5, 2},
		build: func(b *ProgramBuilder, x string) string {
			return tmpOp(b, "pad3d", []Slot{SlotOf("X", x)}, "Out", FP32, []int64{1, 2, 4, 5, 2},
				AInts("paddings", 1, 2, 0, 1, 0, 0), AString("mode", "constant"), AString("data_format", "NDHWC"))
		},
		want: func(x []float32) []float32 {
			return padRef(x, []int{1, 2, 3, 2, 2}, []int{0, 0, 0, 1, 0}, []int{0, 0, 1, 2, 0}, "constant", 0)
		}})
	cases = append(cases, netCase{name: "pad3d circular opset 19", in: []int64{1, 1, 1, 3, 4}, out: []int{1, 1, 1, 5, 6}, opset: 19,
		build: func(b *ProgramBuilder, x string) string {
			return tmpOp(b, "pad3d", []Slot{SlotOf("X", x)}, "Out", FP32, []int64{1, 1, 1, 5, 6},
				AInts("paddings", 2, 0, 1, 1, 0, 0), AString("mode", "circular"))
		},
		want: func(x []float32) []float32 {
			return padRef(x, []int{1, 1, 1, 3, 4}, []int{0, 0, 0, 1, 2}, []int{0, 0, 0, 1, 0}, "circular", 0)
		}})
	cases = append(cases, netCase{name: "pad2d edge", in: []int64{1, 1, 3, 4}, out: []int{1, 1, 4, 7},
		build: func(b *ProgramBuilder, x string) string {
			return tmpOp(b, "pad2d", []Slot{SlotOf("X", x)}, "Out", FP32, []int64{1, 1, 4, 7},
				AInts("paddings", 1, 0, 2, 1), AString("mode", "edge"))
		},
		want: func(x []float32) []float32 {
			return padRef(x, []int{1, 1, 3, 4}, []int{0, 0, 1, 2}, []int{0, 0, 0, 1}, "replicate", 0)
		}})
	cases = append(cases, netCase{name: "pad every axis", in: []int64{2, 3}, out: []int{3, 5},
		build: func(b *ProgramBuilder, x string) string {
			return tmpOp(b, "pad", []Slot{SlotOf("X", x)}, "Out", FP32, []int64{3, 5}, AInts("paddings", 1, 0, 0, 2), AFloat("pad_value", -7))
		},
		want: func(x []float32) []float32 { return padRef(x, []int{2, 3}, []int{1, 0}, []int{0, 2}, "constant", -7) }})

	// Swin's window shifts: roll.
	cases = append(cases, netCase{name: "roll two axes", in: []int64{1, 2, 3, 4}, out: []int{1, 2, 3, 4},
		build: func(b *ProgramBuilder, x string) string {
			return tmpOp(b, "roll", []Slot{SlotOf("X", x)}, "Out", FP32, []int64{1, 2, 3, 4},
				Attr{Name: "shifts", Type: AttrLongs, Longs: []int64{1, -3}}, Attr{Name: "axis", Type: AttrLongs, Longs: []int64{2, 3}})
		},
		want: func(x []float32) []float32 { return rollRef(x, []int{1, 2, 3, 4}, map[int]int{2: 1, 3: -3}) }})
	cases = append(cases, netCase{name: "roll flattened", in: []int64{2, 3}, out: []int{2, 3},
		build: func(b *ProgramBuilder, x string) string {
			return tmpOp(b, "roll", []Slot{SlotOf("X", x)}, "Out", FP32, []int64{2, 3}, Attr{Name: "shifts", Type: AttrLongs, Longs: []int64{-8}})
		},
		want: func(x []float32) []float32 { return rollRef(x, []int{6}, map[int]int{0: -8}) }})

	// Swin's relative position bias: index_select; gathers.
	cases = append(cases, netCase{name: "index_select dim 1", in: []int64{2, 4}, out: []int{2, 3},
		build: func(b *ProgramBuilder, x string) string {
			idx := int64Param(b, []int64{3}, 3, 0, 3)
			return tmpOp(b, "index_select", []Slot{SlotOf("X", x), SlotOf("Index", idx)}, "Out", FP32, []int64{2, 3}, AInt("dim", 1))
		},
		want: func(x []float32) []float32 { return []float32{x[3], x[0], x[3], x[7], x[4], x[7]} }})
	cases = append(cases, netCase{name: "gather_nd", in: []int64{2, 3}, out: []int{2},
		build: func(b *ProgramBuilder, x string) string {
			idx := int32Param(b, []int64{2, 2}, 0, 1, 1, 2)
			return tmpOp(b, "gather_nd", []Slot{SlotOf("X", x), SlotOf("Index", idx)}, "Out", FP32, []int64{2})
		},
		want: func(x []float32) []float32 { return []float32{x[1], x[5]} }})
	cases = append(cases, netCase{name: "strided_slice negative stride", in: []int64{2, 4, 6}, out: []int{2, 2, 3},
		build: func(b *ProgramBuilder, x string) string {
			return tmpOp(b, "strided_slice", []Slot{SlotOf("Input", x)}, "Out", FP32, []int64{2, 2, 3},
				AInts("axes", 1, 2), AInts("starts", 0, 5), AInts("ends", 4, 0), AInts("strides", 2, -2), AInts("infer_flags", 1, 1))
		},
		want: func(x []float32) []float32 {
			var o []float32
			for a := 0; a < 2; a++ {
				for _, i := range []int{0, 2} {
					for _, j := range []int{5, 3, 1} {
						o = append(o, x[(a*4+i)*6+j])
					}
				}
			}
			return o
		}})
	cases = append(cases, netCase{name: "slice StartsTensorList from fill_constant, decrease_axis", in: []int64{3, 4}, out: []int{4},
		build: func(b *ProgramBuilder, x string) string {
			s, e := fill(b, Int64, 1), fill(b, Int64, 2)
			return tmpOp(b, "slice", []Slot{SlotOf("Input", x), SlotOf("StartsTensorList", s), SlotOf("EndsTensorList", e)}, "Out", FP32, []int64{4},
				AInts("axes", 0), AInts("starts", -1), AInts("ends", -1), AInts("decrease_axis", 0))
		},
		want: func(x []float32) []float32 { return x[4:8] }})

	// Old fc forms and matmuls.
	var mw, fw, fb, bw []float32
	cases = append(cases, netCase{name: "mul x_num_col_dims 2", in: []int64{2, 3, 4}, out: []int{2, 3, 5},
		build: func(b *ProgramBuilder, x string) string {
			var w string
			w, mw = f32Param(b, []int64{4, 5}, 31)
			return tmpOp(b, "mul", []Slot{SlotOf("X", x), SlotOf("Y", w)}, "Out", FP32, []int64{2, 3, 5}, AInt("x_num_col_dims", 2), AInt("y_num_col_dims", 1))
		},
		want: func(x []float32) []float32 { return matRef(x, mw, 6, 4, 5, nil, false) }})
	cases = append(cases, netCase{name: "fc with bias and relu", in: []int64{2, 3, 4}, out: []int{2, 5},
		build: func(b *ProgramBuilder, x string) string {
			var w, bi string
			w, fw = f32Param(b, []int64{12, 5}, 32)
			bi, fb = f32Param(b, []int64{5}, 33)
			return tmpOp(b, "fc", []Slot{SlotOf("Input", x), SlotOf("W", w), SlotOf("Bias", bi)}, "Out", FP32, []int64{2, 5},
				AInt("in_num_col_dims", 1), AString("activation_type", "relu"))
		},
		want: func(x []float32) []float32 { return matRef(x, fw, 2, 12, 5, fb, true) }})
	cases = append(cases, netCase{name: "matmul_v2 trans_x trans_y batched", in: []int64{2, 4, 3}, out: []int{2, 3, 5},
		build: func(b *ProgramBuilder, x string) string {
			var w string
			w, bw = f32Param(b, []int64{2, 5, 4}, 34)
			return tmpOp(b, "matmul_v2", []Slot{SlotOf("X", x), SlotOf("Y", w)}, "Out", FP32, []int64{2, 3, 5}, ABool("trans_x", true), ABool("trans_y", true))
		},
		want: func(x []float32) []float32 {
			o := make([]float32, 30)
			for n := 0; n < 2; n++ {
				for i := 0; i < 3; i++ {
					for j := 0; j < 5; j++ {
						s := 0.0
						for k := 0; k < 4; k++ {
							s += float64(x[n*12+k*3+i]) * float64(bw[n*20+j*4+k])
						}
						o[n*15+i*5+j] = float32(s)
					}
				}
			}
			return o
		}})
	var vw []float32
	cases = append(cases, netCase{name: "matmul_v2 with a vector, trans_y", in: []int64{2, 3}, out: []int{2},
		build: func(b *ProgramBuilder, x string) string {
			var w string
			w, vw = f32Param(b, []int64{3}, 35)
			return tmpOp(b, "matmul_v2", []Slot{SlotOf("X", x), SlotOf("Y", w)}, "Out", FP32, []int64{2}, ABool("trans_y", true))
		},
		want: func(x []float32) []float32 { return matRef(x, vw, 2, 3, 1, nil, false) }})
	var bmw []float32
	cases = append(cases, netCase{name: "bmm", in: []int64{2, 3, 4}, out: []int{2, 3, 2},
		build: func(b *ProgramBuilder, x string) string {
			var w string
			w, bmw = f32Param(b, []int64{2, 4, 2}, 36)
			return tmpOp(b, "bmm", []Slot{SlotOf("X", x), SlotOf("Y", w)}, "Out", FP32, []int64{2, 3, 2})
		},
		want: func(x []float32) []float32 {
			return append(matRef(x[:12], bmw[:8], 3, 4, 2, nil, false), matRef(x[12:], bmw[8:], 3, 4, 2, nil, false)...)
		}})

	// Constants and shapes.
	cases = append(cases, netCase{name: "assign_value fp32", in: []int64{2, 3}, out: []int{2, 3},
		build: func(b *ProgramBuilder, x string) string {
			c := tmpOp(b, "assign_value", nil, "Out", FP32, []int64{3}, AInts("shape", 3), AInt("dtype", int32(FP32)), AFloats("fp32_values", 1, 2, 3))
			return tmpOp(b, "elementwise_add", []Slot{SlotOf("X", x), SlotOf("Y", c)}, "Out", FP32, []int64{2, 3}, AInt("axis", -1))
		},
		want: func(x []float32) []float32 {
			o := make([]float32, 6)
			for i, v := range x {
				o[i] = v + float32(i%3+1)
			}
			return o
		}})
	cases = append(cases, netCase{name: "fill_any_like and fill_zeros_like", in: []int64{2, 3}, out: []int{2, 3},
		build: func(b *ProgramBuilder, x string) string {
			f := tmpOp(b, "fill_any_like", []Slot{SlotOf("X", x)}, "Out", FP32, []int64{2, 3}, AFloat("value", 2.5), AInt("dtype", -1))
			z := tmpOp(b, "fill_zeros_like", []Slot{SlotOf("X", x)}, "Out", FP32, []int64{2, 3})
			m := tmpOp(b, "elementwise_mul", []Slot{SlotOf("X", x), SlotOf("Y", f)}, "Out", FP32, []int64{2, 3}, AInt("axis", -1))
			return tmpOp(b, "elementwise_add", []Slot{SlotOf("X", m), SlotOf("Y", z)}, "Out", FP32, []int64{2, 3}, AInt("axis", -1))
		},
		want: each(func(v float64) float64 { return 2.5 * v })})
	cases = append(cases, netCase{name: "expand_v2 from expand_shapes_tensor (ViT cls token)", in: []int64{1, 3}, out: []int{2, 3},
		build: func(b *ProgramBuilder, x string) string {
			n, keep := fill(b, Int32, 2), fill(b, Int32, -1)
			return tmpOp(b, "expand_v2", []Slot{SlotOf("X", x), SlotOf("expand_shapes_tensor", n, keep)}, "Out", FP32, []int64{2, 3}, AInts("shape", -1, -1))
		},
		want: func(x []float32) []float32 { return append(append([]float32{}, x...), x...) }})
	cases = append(cases, netCase{name: "expand_as_v2", in: []int64{1, 3}, out: []int{2, 3},
		build: func(b *ProgramBuilder, x string) string {
			y := b.Param("y.w_0", NewFloat32([]int64{2, 3}, make([]float32, 6)))
			return tmpOp(b, "expand_as_v2", []Slot{SlotOf("X", x), SlotOf("Y", y)}, "Out", FP32, []int64{2, 3})
		},
		want: func(x []float32) []float32 { return append(append([]float32{}, x...), x...) }})
	cases = append(cases, netCase{name: "pixel_shuffle", in: []int64{1, 8, 2, 3}, out: []int{1, 2, 4, 6},
		build: func(b *ProgramBuilder, x string) string {
			return tmpOp(b, "pixel_shuffle", []Slot{SlotOf("X", x)}, "Out", FP32, []int64{1, 2, 4, 6}, AInt("upscale_factor", 2))
		},
		want: func(x []float32) []float32 {
			o := make([]float32, 48)
			for c := 0; c < 2; c++ {
				for h := 0; h < 4; h++ {
					for w := 0; w < 6; w++ {
						ic := c*4 + (h%2)*2 + w%2
						o[(c*4+h)*6+w] = x[(ic*2+h/2)*3+w/2]
					}
				}
			}
			return o
		}})
	var acS, acB []float32
	cases = append(cases, netCase{name: "affine_channel", in: []int64{1, 2, 3, 4}, out: []int{1, 2, 3, 4},
		build: func(b *ProgramBuilder, x string) string {
			var s, bi string
			s, acS = f32Param(b, []int64{2}, 37)
			bi, acB = f32Param(b, []int64{2}, 38)
			return tmpOp(b, "affine_channel", []Slot{SlotOf("X", x), SlotOf("Scale", s), SlotOf("Bias", bi)}, "Out", FP32, []int64{1, 2, 3, 4})
		},
		want: func(x []float32) []float32 {
			o := make([]float32, len(x))
			for i, v := range x {
				o[i] = v*acS[i/12] + acB[i/12]
			}
			return o
		}})
	cases = append(cases, netCase{name: "unsqueeze and squeeze (fluid names)", in: []int64{2, 3}, out: []int{2, 3},
		build: func(b *ProgramBuilder, x string) string {
			u := tmpOp(b, "unsqueeze", []Slot{SlotOf("X", x)}, "Out", FP32, []int64{2, 1, 3}, AInts("axes", 1))
			return tmpOp(b, "squeeze", []Slot{SlotOf("X", u)}, "Out", FP32, []int64{2, 3}, AInts("axes", 1))
		},
		want: each(func(v float64) float64 { return v })})
	cases = append(cases, netCase{name: "elementwise_floordiv on integers", in: []int64{2, 4}, out: []int{2, 4},
		build: func(b *ProgramBuilder, x string) string {
			s := tmpOp(b, "scale", []Slot{SlotOf("X", x)}, "Out", FP32, []int64{2, 4}, AFloat("scale", 10))
			i := tmpOp(b, "cast", []Slot{SlotOf("X", s)}, "Out", Int32, []int64{2, 4}, AInt("out_dtype", int32(Int32)))
			d := int32Param(b, []int64{4}, 3, -3, 4, -4)
			q := tmpOp(b, "elementwise_floordiv", []Slot{SlotOf("X", i), SlotOf("Y", d)}, "Out", Int32, []int64{2, 4}, AInt("axis", -1))
			return tmpOp(b, "cast", []Slot{SlotOf("X", q)}, "Out", FP32, []int64{2, 4}, AInt("out_dtype", int32(FP32)))
		},
		want: func(x []float32) []float32 {
			o := make([]float32, 8)
			for k, v := range x {
				a := float64(int32(v * 10))
				o[k] = float32(math.Floor(a / float64([]int{3, -3, 4, -4}[k%4])))
			}
			return o
		}})

	cases = append(cases, netCase{name: "elementwise_mod on floats takes the divisor's sign", in: []int64{2, 3}, out: []int{2, 3},
		build: func(b *ProgramBuilder, x string) string {
			y := b.Param("y.w_0", NewFloat32([]int64{3}, []float32{0.3, -0.3, 0.7}))
			return tmpOp(b, "elementwise_mod", []Slot{SlotOf("X", x), SlotOf("Y", y)}, "Out", FP32, []int64{2, 3}, AInt("axis", -1))
		},
		want: func(x []float32) []float32 {
			o := make([]float32, 6)
			for i, v := range x {
				y := float64([]float32{0.3, -0.3, 0.7}[i%3])
				o[i] = float32(float64(v) - math.Floor(float64(v)/y)*y)
			}
			return o
		}})
	cases = append(cases, netCase{name: "cumsum axis 1 reverse", in: []int64{2, 3}, out: []int{2, 3},
		build: func(b *ProgramBuilder, x string) string {
			return tmpOp(b, "cumsum", []Slot{SlotOf("X", x)}, "Out", FP32, []int64{2, 3}, AInt("axis", 1), ABool("reverse", true))
		},
		want: func(x []float32) []float32 {
			o := make([]float32, 6)
			for r := 0; r < 2; r++ {
				s := float32(0)
				for c := 2; c >= 0; c-- {
					s += x[r*3+c]
					o[r*3+c] = s
				}
			}
			return o
		}})
	for _, typ := range []string{"unstack", "unbind"} {
		typ := typ
		cases = append(cases, netCase{name: typ + " axis 1", in: []int64{2, 3}, out: []int{2},
			build: func(b *ProgramBuilder, x string) string {
				o := []string{b.Tmp(typ+".tmp_0", FP32, []int64{2}), b.Tmp(typ+".tmp_1", FP32, []int64{2}), b.Tmp(typ+".tmp_2", FP32, []int64{2})}
				slot := "Y"
				if typ == "unbind" {
					slot = "Out"
				}
				b.Op(typ, []Slot{SlotOf("X", x)}, []Slot{SlotOf(slot, o...)}, AInt("axis", 1), AInt("num", 3))
				return o[2]
			},
			want: func(x []float32) []float32 { return []float32{x[2], x[5]} }})
	}

	// Splits and stacks.
	cases = append(cases, netCase{name: "split num 3 axis 2, opset 18", in: []int64{1, 2, 6}, out: []int{1, 2, 2}, opset: 18,
		build: func(b *ProgramBuilder, x string) string {
			o := []string{b.Tmp("sp.tmp_0", FP32, []int64{1, 2, 2}), b.Tmp("sp.tmp_1", FP32, []int64{1, 2, 2}), b.Tmp("sp.tmp_2", FP32, []int64{1, 2, 2})}
			b.Op("split", []Slot{SlotOf("X", x)}, []Slot{SlotOf("Out", o...)}, AInt("num", 3), AInt("axis", 2))
			return o[1]
		},
		want: func(x []float32) []float32 { return []float32{x[2], x[3], x[8], x[9]} }})
	cases = append(cases, netCase{name: "split AxisTensor and SectionsTensorList constants", in: []int64{2, 5}, out: []int{2, 3},
		build: func(b *ProgramBuilder, x string) string {
			ax := fill(b, Int32, 1)
			s0 := tmpOp(b, "assign_value", nil, "Out", Int32, []int64{1}, AInts("shape", 1), AInt("dtype", int32(Int32)), AInts("int32_values", 2))
			s1 := fill(b, Int32, -1)
			o := []string{b.Tmp("sp.tmp_0", FP32, []int64{2, 2}), b.Tmp("sp.tmp_1", FP32, []int64{2, 3})}
			b.Op("split", []Slot{SlotOf("X", x), SlotOf("AxisTensor", ax), SlotOf("SectionsTensorList", s0, s1)}, []Slot{SlotOf("Out", o...)}, AInt("num", 0))
			return o[1]
		},
		want: func(x []float32) []float32 { return []float32{x[2], x[3], x[4], x[7], x[8], x[9]} }})
	cases = append(cases, netCase{name: "stack axis 1", in: []int64{2, 3}, out: []int{2, 2, 3},
		build: func(b *ProgramBuilder, x string) string {
			return tmpOp(b, "stack", []Slot{SlotOf("X", x, x)}, "Y", FP32, []int64{2, 2, 3}, AInt("axis", 1))
		},
		want: func(x []float32) []float32 {
			return append(append(append(append([]float32{}, x[:3]...), x[:3]...), x[3:]...), x[3:]...)
		}})

	runNetCases(t, cases)
}
