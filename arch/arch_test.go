package arch

import (
	"bytes"
	"errors"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/shitu-go/shitu/onnx"
)

// within reports whether got is within frac of want.
func within(got, want int64, frac float64) bool {
	return math.Abs(float64(got-want)) <= frac*float64(want)
}

// blockTotals sums params and MACs of the nodes whose name starts with prefix.
func blockTotals(info onnx.Info, prefix string) (params, macs int64) {
	for _, n := range info.PerNode {
		if strings.HasPrefix(n.Name, prefix) {
			params += n.Params
			macs += n.MACs
		}
	}
	return params, macs
}

// TestCounts checks parameter and MAC counts against models-and-formats §0,
// §A.4 and §B.6 (each within 2 %; the rec parameter count exactly).
//
// Hand check of one block, rec stages.2.1 (s3.b1: 512→512, 14×14, k5, SE):
//
//	params: fused dw 512·25 + bias 512 = 13,312; SE 512·128+128 + 128·512+512
//	= 131,712; pw1 512·256 + BN 4·256 = 132,096; pw2 256·512 + BN 4·512 = 133,120
//	→ 410,240.
//	MACs: dw 14·14·512·25 = 2,508,800; SE 512·128·2 = 131,072;
//	pw1 and pw2 14·14·512·256 = 25,690,112 each → 54,020,096.
//
// and det head level 0 tower + head_cls (128 ch at 80×80):
//
//	params: 4·(dw 128·25 + BN 512 + pw 128·128 + BN 512) + 128·33 + 33
//	= 4·20,608 + 4,257 = 86,689.
//	MACs: 4·(6400·128·25 + 6400·128·128) + 6400·128·33 = 528,384,000.
func TestCounts(t *testing.T) {
	tests := []struct {
		name             string
		det              bool
		params           int64 // spec
		exact            bool
		tensors          int
		macs             int64 // spec
		bns              int
		block            string
		blockP, blockMAC int64 // hand-computed
	}{
		{"rec", false,
			4_575_616, true, 171, 828_700_000, 26, "stages.2.1.", 410_240, 54_020_096},
		// det: 486 initializers (spec §B.6: 486 + the decode-only `project`
		// buffer) plus the two 4-value float Constants holding Resize scales.
		{"det", true,
			7_090_000, false, 488, 9_060_000_000, 94, "head.conv_feat.0.", 4 * 20_608, 4 * (6400*128*25 + 6400*128*128)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			info, err := onnx.Analyze(cachedModel(t, tc.det))
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%s: %d params in %d tensors, %d MACs", tc.name, info.Params, info.ParamTensors, info.MACs)
			if tc.exact && info.Params != tc.params {
				t.Errorf("params %d, want exactly %d", info.Params, tc.params)
			}
			if !within(info.Params, tc.params, 0.02) {
				t.Errorf("params %d not within 2%% of %d", info.Params, tc.params)
			}
			if info.ParamTensors != tc.tensors {
				t.Errorf("%d parameter tensors, want %d", info.ParamTensors, tc.tensors)
			}
			if !within(info.MACs, tc.macs, 0.02) {
				t.Errorf("MACs %d not within 2%% of %d", info.MACs, tc.macs)
			}
			if info.Nodes["BatchNormalization"] != tc.bns {
				t.Errorf("%d BatchNormalization nodes, want %d", info.Nodes["BatchNormalization"], tc.bns)
			}
			if len(info.Unresolved) > 0 {
				t.Errorf("unresolved shapes: %v", info.Unresolved)
			}
			p, macs := blockTotals(info, tc.block)
			if p != tc.blockP || macs != tc.blockMAC {
				t.Errorf("block %s: %d params, %d MACs; hand count %d, %d", tc.block, p, macs, tc.blockP, tc.blockMAC)
			}
		})
	}
}

func TestDeterministic(t *testing.T) {
	build := func(seed int64) []byte {
		n, err := RecNet(seed, RecOptions{InputSize: 32})
		if err != nil {
			t.Fatal(err)
		}
		b, err := n.Bytes(0)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	a, b, c := build(5), build(5), build(6)
	if !bytes.Equal(a, b) {
		t.Error("two builds with the same seed differ")
	}
	if bytes.Equal(a, c) {
		t.Error("different seeds give the same model")
	}
}

func TestWeightsSane(t *testing.T) {
	rec, det := CachedNets(t)
	for _, n := range []*Net{rec, det} {
		for _, p := range n.Params() {
			var lo, hi float32 = math.MaxFloat32, -math.MaxFloat32
			for _, v := range p.Data {
				if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
					t.Fatalf("%s: non-finite value", p.Name)
				}
				lo, hi = min(lo, v), max(hi, v)
			}
			if strings.HasSuffix(p.Name, ".variance") && lo <= 0 {
				t.Errorf("%s: variance %g ≤ 0", p.Name, lo)
			}
			if len(p.Data) > 1 && lo == hi && !strings.HasSuffix(p.Name, ".variance") {
				t.Errorf("%s: all %d values equal %g", p.Name, len(p.Data), lo)
			}
		}
	}
}

func TestPortsAndOptions(t *testing.T) {
	rec, err := RecNet(1, RecOptions{Batch: 4, OutputName: "batch_norm_25.tmp_2", InputSize: 64})
	if err != nil {
		t.Fatal(err)
	}
	if got := rec.Outputs; len(got) != 1 || got[0].Name != "batch_norm_25.tmp_2" || !slices.Equal(got[0].Shape, []int64{4, 512}) {
		t.Errorf("rec outputs %+v", got)
	}
	det, err := DetNet(1, DetOptions{DynamicBatch: true, InputSize: 128})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for i, o := range det.Outputs {
		names = append(names, o.Name)
		h := int64(128) / DetStrides[i%4]
		ch := int64(1)
		if i >= 4 {
			ch = 32
		}
		if !slices.Equal(o.Shape, []int64{-1, ch, h, h}) {
			t.Errorf("%s shape %v", o.Name, o.Shape)
		}
	}
	if !slices.Equal(names, DetOutputs) {
		t.Errorf("det outputs %v, want %v", names, DetOutputs)
	}
	m, err := det.ONNX(14)
	if err != nil {
		t.Fatal(err)
	}
	info, err := onnx.Analyze(m)
	if err != nil {
		t.Fatal(err)
	}
	if info.Nodes["HardSwish"] == 0 || info.Opset != 14 {
		t.Errorf("opset 14 should use HardSwish: %v", info.Nodes)
	}

	for _, tc := range []struct {
		name string
		err  error
	}{
		{"rec size", func() error { _, err := RecNet(1, RecOptions{InputSize: 100}); return err }()},
		{"rec batch", func() error { _, err := RecNet(1, RecOptions{Batch: -3}); return err }()},
		{"det size", func() error { _, err := DetNet(1, DetOptions{InputSize: 600}); return err }()},
	} {
		if !errors.Is(tc.err, ErrOptions) {
			t.Errorf("%s: err %v, want ErrOptions", tc.name, tc.err)
		}
	}
}
