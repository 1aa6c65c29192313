package onnx

import (
	"errors"
	"testing"
)

// Cut keeps what the new output depends on and drops the rest.
func TestCut(t *testing.T) {
	b := NewBuilder("cut", 13)
	x := b.Input("x", TensorProto_FLOAT, -1, 2, 4, 4)
	w1 := b.Initializer("w1", []int64{3, 2, 1, 1}, make([]float32, 6))
	y := b.Relu(b.Conv(x, w1, Value{}, ConvAttrs{}))
	pool := b.Rename(b.GlobalAveragePool(y), "pool")
	w2 := b.Initializer("w2", []int64{5, 3, 1, 1}, make([]float32, 15))
	b.Output(b.Conv(pool, w2, Value{}, ConvAttrs{}))
	m, err := b.Model()
	if err != nil {
		t.Fatal(err)
	}
	c, err := Cut(m, "pool")
	if err != nil {
		t.Fatal(err)
	}
	g := c.GetGraph()
	if len(g.GetNode()) != 3 {
		t.Errorf("%d nodes kept, want 3 (Conv, Relu, GlobalAveragePool)", len(g.GetNode()))
	}
	if len(g.GetInitializer()) != 1 || g.GetInitializer()[0].GetName() != "w1" {
		t.Errorf("initializers %v, want [w1]", g.GetInitializer())
	}
	if len(g.GetOutput()) != 1 || g.GetOutput()[0].GetName() != "pool" {
		t.Errorf("outputs %v", g.GetOutput())
	}
	if err := Validate(c); err != nil {
		t.Error(err)
	}
	if len(m.GetGraph().GetNode()) != 4 {
		t.Error("Cut changed its input model")
	}
	if _, err := Cut(m, "nope"); !errors.Is(err, ErrBuild) {
		t.Errorf("unknown value: %v", err)
	}
}
