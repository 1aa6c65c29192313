package binio

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

func TestRoundTrip(t *testing.T) {
	var buf bytes.Buffer
	w := NewWriter(&buf, true)
	w.U8(7)
	w.U32(1 << 30)
	w.I64(-5)
	w.F32(1.5)
	w.F32s([]float32{1, 2, 3})
	w.I32s([]int32{-1, 4})
	w.I64s([]int64{9})
	w.U64s([]uint64{1 << 60})
	w.F64s([]float64{0.25})
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	sum := w.Sum()
	r := NewReader(bytes.NewReader(buf.Bytes()), true)
	if r.U8() != 7 || r.U32() != 1<<30 || r.I64() != -5 || r.F32() != 1.5 {
		t.Fatal("scalars")
	}
	if v := r.F32s(3); len(v) != 3 || v[2] != 3 {
		t.Fatalf("F32s %v", v)
	}
	if v := r.I32s(2); v[0] != -1 || v[1] != 4 {
		t.Fatalf("I32s %v", v)
	}
	if v := r.I64s(1); v[0] != 9 {
		t.Fatalf("I64s %v", v)
	}
	if v := r.U64s(1); v[0] != 1<<60 {
		t.Fatalf("U64s %v", v)
	}
	if v := r.F64s(1); v[0] != 0.25 {
		t.Fatalf("F64s %v", v)
	}
	if r.Err() != nil || r.Sum() != sum {
		t.Fatalf("err %v sum %x vs %x", r.Err(), r.Sum(), sum)
	}
	r.U8()
	if !errors.Is(r.Err(), ErrShort) {
		t.Fatalf("past the end: %v", r.Err())
	}
}

// A claimed count beyond the input fails before allocating, whether or not
// the input size is known.
func TestBoundedCounts(t *testing.T) {
	data := make([]byte, 100)
	r := NewReader(bytes.NewReader(data), false)
	if v := r.F32s(1 << 40); v != nil || !errors.Is(r.Err(), ErrShort) {
		t.Fatalf("known size: %v", r.Err())
	}
	r = NewReader(io.MultiReader(bytes.NewReader(data)), false) // size unknown
	if v := r.F32s(1 << 28); !errors.Is(r.Err(), ErrShort) || len(v) > 1<<20 {
		t.Fatalf("unknown size: %v, %d values", r.Err(), len(v))
	}
}
