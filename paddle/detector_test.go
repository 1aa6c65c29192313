package paddle

import (
	"math"
	"math/rand"
	"strings"
	"testing"

	"github.com/shitu-go/shitu/tensor"
)

// synthParams gives every persistable of a weightless program seeded
// values scaled by fan-in, with positive batch-norm variances.
func synthParams(m *Model, seed int64) {
	r := rand.New(rand.NewSource(seed))
	variance := map[string]bool{}
	for _, op := range m.Program.Blocks[0].Ops {
		if op.Type == "batch_norm" {
			for _, v := range op.Input("Variance") {
				variance[v] = true
			}
		}
	}
	m.Params = map[string]*Tensor{}
	for _, v := range m.Program.Persistables() {
		n := int64(1)
		for _, d := range v.Dims {
			n *= d
		}
		fan := 1.0
		if len(v.Dims) == 4 {
			fan = float64(v.Dims[1] * v.Dims[2] * v.Dims[3])
		}
		vals := make([]float32, n)
		for i := range vals {
			x := float32(r.NormFloat64() / math.Sqrt(fan))
			if variance[v.Name] {
				x = 0.5 + r.Float32()
			}
			vals[i] = x
		}
		m.Params[v.Name] = NewFloat32(v.Dims, vals)
	}
}

// The PP-Structure layout PicoDet (same family as the PP-ShiTuV2 detector)
// converts whole, and cutting it at the head splits gives the same raw-head
// tensors as its own exported outputs.
func TestLayoutDetectorHeadCut(t *testing.T) {
	m, err := LoadProgram(realDir(t, "picodet_lcnet_x1_0_fgd_layout/paddle"))
	if err != nil {
		t.Fatal(err)
	}
	synthParams(m, 1)
	full, err := ToONNX(m, ConvertOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cut, err := ToONNX(m, ConvertOptions{DetectorHead: true})
	if err != nil {
		t.Fatal(err)
	}
	sf, sc := ortOpen(t, full), ortOpen(t, cut)
	if got := len(sc.Outputs()); got != 8 {
		t.Fatalf("%d head outputs, want 8", got)
	}
	for i, o := range sc.Outputs() {
		want := "cls_score_"
		if i >= 4 {
			want = "reg_dist_"
		}
		if !strings.HasPrefix(o.Name, want) {
			t.Errorf("output %d is %s", i, o.Name)
		}
	}
	in := map[string]*tensor.Tensor{"image": randInput(5, 1, 3, 800, 608)}
	a, b := run(t, sf, in), run(t, sc, in)
	if d := maxAbsDiff(t, a, b); d > 1e-6 {
		t.Errorf("head cut differs from the exported outputs by %.3g", d)
	}
	if s := a[0].Shape(); !tensor.EqualShape(s, []int{1, 7600, 5}) {
		t.Errorf("cls_score_0 shape %v", s)
	}
}
