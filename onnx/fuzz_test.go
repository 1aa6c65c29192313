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
