package archtest

import (
	"fmt"
	"testing"

	"github.com/shitu-go/shitu/arch"
	"github.com/shitu-go/shitu/onnx"
	"github.com/shitu-go/shitu/paddle"
	"github.com/shitu-go/shitu/tensor"
)

// The rec fixture: arch's seeded PPLCNetV2 network written as an official
// Paddle model converts back to ONNX with the same outputs as arch's ONNX.
func TestRecRoundTrip(t *testing.T) {
	ref, err := arch.BuildRec(7, arch.RecOptions{})
	if err != nil {
		t.Fatal(err)
	}
	m, err := paddle.FromONNX(ref)
	if err != nil {
		t.Fatal(err)
	}
	back := officialRoundTrip(t, m, "general_PPLCNetV2_base_pretrained_v1.0_infer")
	p := back.Program
	// Structural facts of the released rec model (models-and-formats §A.2, §F.3).
	if n := len(p.Persistables()); n != 171 {
		t.Errorf("%d persistables, want 171", n)
	}
	inv := back.OpInventory()
	if inv["batch_norm"] != 26 || inv["dropout"] != 1 || inv["feed"] != 1 || inv["fetch"] != 1 {
		t.Errorf("inventory %s", paddle.FormatInventory(inv))
	}
	if got := p.Feeds(); len(got) != 1 || got[0] != "x" {
		t.Errorf("feeds %v, want [x]", got)
	}
	if got := p.Fetches(); len(got) != 1 || got[0] != "batch_norm_25.tmp_2" {
		t.Errorf("fetches %v, want [batch_norm_25.tmp_2]", got)
	}
	t.Logf("rec fixture ops: %s", paddle.FormatInventory(inv))
	ours, err := paddle.ToONNX(back, paddle.ConvertOptions{})
	if err != nil {
		t.Fatal(err)
	}
	refBytes, err := onnx.Marshal(ref)
	if err != nil {
		t.Fatal(err)
	}
	compareModels(t, ours, refBytes, "x", []int{2, 3, 224, 224})
	// The image size is dynamic (issue 13 point 4); the feature size stays
	// declared, as feature.New reads it.
	s := ortOpen(t, ours)
	if got := fmt.Sprint(s.Inputs()[0].Shape, s.Outputs()[0].Shape); got != "[-1 3 -1 -1] [-1 512]" {
		t.Errorf("input/output shapes %s, want [-1 3 -1 -1] [-1 512]", got)
	}
	out := run(t, s, map[string]*tensor.Tensor{"x": randInput(5, 1, 3, 256, 192)})
	if sh := out[0].Shape(); !tensor.EqualShape(sh, []int{1, 512}) {
		t.Errorf("output at 256×192: %v", sh)
	}
}
