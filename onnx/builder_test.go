package onnx

import (
	"errors"
	"slices"
	"testing"
)

// smallNet builds conv→bn→relu→SE-style gate→pool→flatten→gemm.
func smallNet(t *testing.T, opset int64) (*ModelProto, map[string][]int64) {
	t.Helper()
	b := NewBuilder("small", opset)
	x := b.Input("x", TensorProto_FLOAT, -1, 3, 32, 32)
	w := b.Initializer("conv.w", []int64{8, 3, 3, 3}, make([]float32, 8*3*9))
	y := b.Conv(x, w, Value{}, ConvAttrs{Stride: 2, Pad: 1})
	ones := make([]float32, 8)
	for i := range ones {
		ones[i] = 1
	}
	bn := b.BatchNorm(y, b.Initializer("bn.s", []int64{8}, ones), b.Initializer("bn.b", []int64{8}, make([]float32, 8)),
		b.Initializer("bn.m", []int64{8}, make([]float32, 8)), b.Initializer("bn.v", []int64{8}, ones), 0)
	r := b.HardSwish(bn)
	dw := b.Conv(r, b.Initializer("dw.w", []int64{8, 1, 5, 5}, make([]float32, 8*25)), b.Initializer("dw.b", []int64{8}, make([]float32, 8)), ConvAttrs{Pad: 2, Group: 8})
	gate := b.Sigmoid(b.GlobalAveragePool(dw))
	m := b.Mul(dw, gate)
	up := b.Upsample2x(m)
	parts := b.Split(up, 1, 3, 5)
	cat := b.Concat(1, parts[1], parts[0])
	flat := b.Flatten(b.GlobalAveragePool(cat), 1)
	fc := b.Gemm(flat, b.Initializer("fc.w", []int64{4, 8}, make([]float32, 32)), b.Initializer("fc.b", []int64{4}, make([]float32, 4)), false, true)
	out := b.Rename(fc, "logits")
	rs := b.Reshape(out, 0, 2, -1)
	tr := b.Transpose(rs, 0, 2, 1)
	b.Output(out, tr)
	mod, err := b.Model()
	if err != nil {
		t.Fatal(err)
	}
	return mod, map[string][]int64{
		y.Name: {-1, 8, 16, 16}, dw.Name: {-1, 8, 16, 16}, gate.Name: {-1, 8, 1, 1},
		up.Name: {-1, 8, 32, 32}, parts[0].Name: {-1, 3, 32, 32}, parts[1].Name: {-1, 5, 32, 32},
		cat.Name: {-1, 8, 32, 32}, flat.Name: {-1, 8}, "logits": {-1, 4}, rs.Name: {-1, 2, 2}, tr.Name: {-1, 2, 2},
	}
}

func TestBuilderShapes(t *testing.T) {
	for _, opset := range []int64{11, 13, 14} {
		mod, want := smallNet(t, opset)
		b := NewBuilder("x", opset)
		_ = b
		// Re-derive shapes through Analyze's propagation and compare with the builder's.
		got := map[string][]int64{}
		shapes := map[string][]int64{"x": {-1, 3, 32, 32}}
		consts := map[string]*TensorProto{}
		for _, in := range mod.GetGraph().GetInitializer() {
			shapes[in.GetName()] = in.GetDims()
			consts[in.GetName()] = in
		}
		for _, n := range mod.GetGraph().GetNode() {
			if n.GetOpType() == "Constant" {
				consts[n.GetOutput()[0]] = n.GetAttribute()[0].GetT()
			}
			var in [][]int64
			for _, name := range n.GetInput() {
				in = append(in, shapes[name])
			}
			outs, err := InferShapes(n, in, opset, func(s string) *TensorProto { return consts[s] })
			if err != nil {
				t.Fatal(err)
			}
			for i, o := range n.GetOutput() {
				shapes[o] = outs[i]
				got[o] = outs[i]
			}
		}
		for name, w := range want {
			if !slices.Equal(got[name], w) {
				t.Errorf("opset %d: %s shape %v, want %v", opset, name, got[name], w)
			}
		}
		if outs := mod.GetGraph().GetOutput(); len(outs) != 2 || outs[0].GetName() != "logits" {
			t.Errorf("opset %d: outputs %v", opset, outs)
		}
	}
}

func TestBuilderErrors(t *testing.T) {
	tests := []struct {
		name  string
		build func(b *Builder)
		want  error
	}{
		{"duplicate input", func(b *Builder) {
			b.Input("x", TensorProto_FLOAT, 1)
			b.Input("x", TensorProto_FLOAT, 1)
		}, ErrBuild},
		{"channel mismatch", func(b *Builder) {
			x := b.Input("x", TensorProto_FLOAT, 1, 3, 8, 8)
			b.Conv(x, b.Initializer("w", []int64{4, 2, 3, 3}, make([]float32, 72)), Value{}, ConvAttrs{})
		}, ErrShape},
		{"bad data length", func(b *Builder) { b.Initializer("w", []int64{2, 2}, make([]float32, 3)) }, ErrShape},
		{"unknown value", func(b *Builder) { b.Relu(Value{Name: "nope"}) }, ErrBuild},
		{"rename read value", func(b *Builder) {
			x := b.Input("x", TensorProto_FLOAT, 1, 4)
			r := b.Relu(x)
			b.Relu(r)
			b.Rename(r, "out")
		}, ErrBuild},
		{"bad concat", func(b *Builder) {
			x := b.Input("x", TensorProto_FLOAT, 1, 4, 2)
			y := b.Input("y", TensorProto_FLOAT, 1, 4, 3)
			b.Concat(1, x, y)
		}, ErrShape},
		{"bad reshape", func(b *Builder) {
			x := b.Input("x", TensorProto_FLOAT, 2, 3)
			b.Reshape(x, 4, 2)
		}, ErrShape},
		{"no outputs", func(b *Builder) { b.Input("x", TensorProto_FLOAT, 1) }, ErrBuild},
		{"constant without value", func(b *Builder) { b.Output(b.Node("Constant", nil)) }, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := NewBuilder("g", 0)
			tc.build(b)
			_, err := b.Model()
			if tc.want == nil {
				return // must only not panic
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestReadWriteRoundTrip(t *testing.T) {
	mod, _ := smallNet(t, 13)
	data, err := Marshal(mod)
	if err != nil {
		t.Fatal(err)
	}
	back, err := Read(data)
	if err != nil {
		t.Fatal(err)
	}
	again, err := Marshal(back)
	if err != nil {
		t.Fatal(err)
	}
	if string(again) != string(data) {
		t.Fatal("re-marshalled bytes differ")
	}
	w, err := Float32s(back.GetGraph().GetInitializer()[0])
	if err != nil || len(w) != 8*27 {
		t.Fatalf("initializer: %d values, %v", len(w), err)
	}
}

func TestReadRejects(t *testing.T) {
	mod, _ := smallNet(t, 13)
	data, err := Marshal(mod)
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string][]byte{
		"empty":     nil,
		"garbage":   []byte("this is not a protobuf model at all"),
		"truncated": data[:len(data)*2/3],
		"half":      data[:len(data)/2],
		"one byte":  data[:1],
	}
	for name, c := range cases {
		if _, err := Read(c); !errors.Is(err, ErrFormat) {
			t.Errorf("%s: err = %v, want ErrFormat", name, err)
		}
	}
	// Every proper prefix is rejected.
	for n := 0; n < len(data); n++ {
		if _, err := Read(data[:n]); err == nil {
			t.Fatalf("prefix of %d of %d bytes accepted", n, len(data))
		}
	}
}

func TestAnalyzeSmall(t *testing.T) {
	mod, _ := smallNet(t, 13)
	info, err := Analyze(mod)
	if err != nil {
		t.Fatal(err)
	}
	// conv 8·16·16·3·9 + dw 8·16·16·25 + gemm 4·8 (batch taken as 1).
	wantMACs := int64(8*16*16*3*9 + 8*16*16*25 + 4*8)
	if info.MACs != wantMACs {
		t.Errorf("MACs %d, want %d", info.MACs, wantMACs)
	}
	// 9 initializers, plus the float Constant holding Resize's 4 scales.
	wantParams := int64(8*27+4*8+8*25+8+32+4) + 4
	if info.Params != wantParams || info.ParamTensors != 10 {
		t.Errorf("params %d in %d tensors, want %d in 10", info.Params, info.ParamTensors, wantParams)
	}
	if info.ParamsByOp["BatchNormalization"] != 32 || info.ParamsByOp["Conv"] != 8*27+8*25+8 {
		t.Errorf("by op %v", info.ParamsByOp)
	}
	if len(info.Inputs) != 1 || !slices.Equal(info.Inputs[0].Shape, []int64{-1, 3, 32, 32}) {
		t.Errorf("inputs %+v", info.Inputs)
	}
	if s := info.String(); len(s) == 0 {
		t.Error("empty report")
	}
}
