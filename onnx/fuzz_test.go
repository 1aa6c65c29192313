package onnx

import "testing"

// FuzzRead: Read and Analyze must return errors, never panic, on any bytes.
func FuzzRead(f *testing.F) {
	b := NewBuilder("seed", 13)
	x := b.Input("x", TensorProto_FLOAT, -1, 2, 4, 4)
	w := b.Initializer("w", []int64{2, 1, 3, 3}, make([]float32, 18))
	y := b.Conv(x, w, Value{}, ConvAttrs{Pad: 1, Group: 2})
	r := b.Reshape(b.Upsample2x(y), 0, -1)
	b.Output(b.Split(r, 1, 64, 64)...)
	m, err := b.Model()
	if err != nil {
		f.Fatal(err)
	}
	seed, err := Marshal(m)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	f.Add(seed[:len(seed)/2])
	f.Add([]byte{0x08, 0x07})
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := Read(data)
		if err != nil {
			return
		}
		_, _ = Analyze(m)
	})
}

// FuzzInferShapes builds one node of a known op type with fuzzed input
// shapes, attributes and constant inputs: InferShapes must not panic.
func FuzzInferShapes(f *testing.F) {
	ops := []string{"Conv", "ConvTranspose", "MaxPool", "AveragePool", "Concat", "Resize", "Upsample",
		"Split", "Reshape", "Flatten", "Transpose", "MatMul", "Gemm", "Squeeze", "Unsqueeze",
		"ReduceMean", "Add", "GlobalAveragePool", "Shape", "Slice", "Gather", "Cast"}
	f.Add([]byte{0, 2, 4, 1, 3, 8, 8, 4, 3, 3, 3, 1, 2})
	f.Add([]byte{7, 1, 3, 1, 2, 0, 5, 0, 0, 1, 1})
	f.Fuzz(func(t *testing.T, data []byte) {
		next := func() int64 {
			if len(data) == 0 {
				return 0
			}
			v := int64(int8(data[0]))
			data = data[1:]
			return v
		}
		op := ops[int(uint64(next())%uint64(len(ops)))]
		nIn := int(uint64(next())%4) + 1
		nOut := int(uint64(next())%3) + 1
		n := node(op, nIn, nOut)
		in := make([][]int64, nIn)
		for i := range in {
			r := int(uint64(next()) % 6)
			for range r {
				in[i] = append(in[i], next())
			}
		}
		for range int(uint64(next()) % 4) {
			names := []string{"axis", "group", "strides", "pads", "kernel_shape", "perm", "axes", "split", "transB", "dilations", "output_padding", "keepdims"}
			name := names[int(uint64(next())%uint64(len(names)))]
			if next()%2 == 0 {
				n.Attribute = append(n.Attribute, AttrInt(name, next()))
			} else {
				var v []int64
				for range int(uint64(next()) % 5) {
					v = append(v, next())
				}
				n.Attribute = append(n.Attribute, AttrInts(name, v...))
			}
		}
		var cv []int64
		for range int(uint64(next()) % 5) {
			cv = append(cv, next())
		}
		ct, _ := Int64Tensor("", []int64{int64(len(cv))}, cv)
		fv := make([]float32, len(cv))
		for i, v := range cv {
			fv[i] = float32(v) / 4
		}
		ft, _ := FloatTensor("", []int64{int64(len(fv))}, fv)
		consts := func(name string) *TensorProto {
			if name == "c" {
				return ft
			}
			return ct
		}
		_, _ = InferShapes(n, in, 9+next()%8, consts)
		_ = foldInt(n, in, 13, consts)
	})
}
