package tensor

import (
	"errors"
	"testing"
)

func TestNewAndAccessors(t *testing.T) {
	x, err := New([]int{2, 3}, []float32{1, 2, 3, 4, 5, 6})
	if err != nil || x.DType() != Float32 || x.Len() != 6 || x.String() != "float32[2 3]" || x.Int32s() != nil {
		t.Fatalf("%v %v", x, err)
	}
	if _, err := New([]int{2, 2}, []int64{1, 2, 3}); !errors.Is(err, ErrShape) {
		t.Fatalf("count mismatch: %v", err)
	}
	if _, err := New([]int{-1, 2}, []uint8{1, 2}); !errors.Is(err, ErrShape) {
		t.Fatalf("negative dim: %v", err)
	}
	z, err := Zeros(Int32, 4, 0)
	if err != nil || z.Len() != 0 || z.DType() != Int32 {
		t.Fatalf("zeros: %v %v", z, err)
	}
	if _, err := Zeros(Invalid, 1); err == nil {
		t.Fatal("zeros of an invalid dtype")
	}
}

func TestReshapeRowStack(t *testing.T) {
	x := Must([]int{2, 3}, []int32{1, 2, 3, 4, 5, 6})
	r, err := x.Reshape(3, -1)
	if err != nil || !EqualShape(r.Shape(), []int{3, 2}) || &r.Int32s()[0] != &x.Int32s()[0] {
		t.Fatalf("reshape: %v %v", r, err)
	}
	for _, bad := range [][]int{{4, -1}, {-1, -1}, {5}, {2, -2}} {
		if _, err := x.Reshape(bad...); !errors.Is(err, ErrShape) {
			t.Errorf("reshape %v: %v", bad, err)
		}
	}
	row, err := x.Row(1)
	if err != nil || !EqualShape(row.Shape(), []int{3}) || row.Int32s()[0] != 4 || len(row.Int32s()) != 3 {
		t.Fatalf("row: %v %v", row, err)
	}
	if _, err := x.Row(2); !errors.Is(err, ErrShape) {
		t.Fatalf("row out of range: %v", err)
	}
	s, err := Stack(row, row)
	if err != nil || !EqualShape(s.Shape(), []int{2, 3}) || s.Int32s()[5] != 6 {
		t.Fatalf("stack: %v %v", s, err)
	}
	if _, err := Stack(row, Must([]int{3}, []float32{1, 2, 3})); !errors.Is(err, ErrShape) {
		t.Fatalf("stack of mixed dtypes: %v", err)
	}
	if _, err := Stack(); !errors.Is(err, ErrShape) {
		t.Fatalf("empty stack: %v", err)
	}
}
