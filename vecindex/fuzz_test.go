package vecindex

import (
	"bytes"
	"testing"
)

// FuzzLoad: any bytes give an index or an error, never a panic.
func FuzzLoad(f *testing.F) {
	data := unitData(5, 40, 8, 0)
	ids := seqIDs(0, 40)
	fl, _ := NewFlat(8, IP)
	_ = fl.Add(ids, data)
	h, _ := NewHNSW(8, L2, HNSWConfig{M: 4})
	_ = h.Add(ids, data)
	v, _ := NewIVF(8, IP, IVFConfig{NList: 3})
	_ = v.Train(data)
	_ = v.Add(ids, data)
	bh, _ := NewBinaryHNSW(16, HNSWConfig{M: 4})
	codes := make([]byte, 80)
	for i := range codes {
		codes[i] = byte(i * 37)
	}
	_ = bh.Add(ids, codes)
	var bufs []*bytes.Buffer
	for _, save := range []func(*bytes.Buffer) error{
		func(b *bytes.Buffer) error { return fl.Save(b) },
		func(b *bytes.Buffer) error { return h.Save(b) },
		func(b *bytes.Buffer) error { return v.Save(b) },
		func(b *bytes.Buffer) error { return bh.Save(b) },
	} {
		var b bytes.Buffer
		if err := save(&b); err != nil {
			f.Fatal(err)
		}
		bufs = append(bufs, &b)
	}
	for _, b := range bufs {
		f.Add(b.Bytes())
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if idx, err := Load(bytes.NewReader(b)); err == nil {
			if _, err := idx.Search(make([]float32, idx.Dims()), 3, nil); err != nil {
				t.Fatal(err)
			}
		}
		if idx, err := LoadBinary(bytes.NewReader(b)); err == nil {
			if _, err := idx.Search(make([]byte, idx.Dims()/8), 3, nil); err != nil {
				t.Fatal(err)
			}
		}
	})
}
