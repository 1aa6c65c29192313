package quant

import (
	"context"
	"errors"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/shitu-go/shitu/infer"
	"github.com/shitu-go/shitu/internal/ortest"
	"github.com/shitu-go/shitu/onnx"
	"github.com/shitu-go/shitu/tensor"
)

func seeded(rng *rand.Rand, n int, scale float64) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(rng.NormFloat64() * scale)
	}
	return v
}

// tinyNet is x[N,3,16,16] → Conv3×3+BN → Relu → depthwise Conv3×3 →
// Relu → Conv1×1 → HardSwish → out: the op mix of the PP-LCNet blocks.
func tinyNet(t *testing.T) []byte {
	t.Helper()
	rng := rand.New(rand.NewPCG(7, 1))
	b := onnx.NewBuilder("tiny", 13)
	x := b.Input("x", onnx.TensorProto_FLOAT, -1, 3, 16, 16)
	w1 := b.Initializer("w1", []int64{8, 3, 3, 3}, seeded(rng, 8*27, 0.3))
	h := b.Conv(x, w1, onnx.Value{}, onnx.ConvAttrs{Pad: 1})
	ones := make([]float32, 8)
	for i := range ones {
		ones[i] = 1 + 0.1*float32(i)
	}
	h = b.BatchNorm(h, b.Initializer("g", []int64{8}, ones), b.Initializer("be", []int64{8}, seeded(rng, 8, 0.1)),
		b.Initializer("mu", []int64{8}, seeded(rng, 8, 0.1)), b.Initializer("var", []int64{8}, ones), 0)
	h = b.Relu(h)
	h = b.Relu(b.Conv(h, b.Initializer("w2", []int64{8, 1, 3, 3}, seeded(rng, 72, 0.4)), b.Initializer("b2", []int64{8}, seeded(rng, 8, 0.1)), onnx.ConvAttrs{Pad: 1, Group: 8}))
	h = b.Conv(h, b.Initializer("w3", []int64{4, 8, 1, 1}, seeded(rng, 32, 0.4)), b.Initializer("b3", []int64{4}, seeded(rng, 4, 0.1)), onnx.ConvAttrs{})
	b.Output(b.Rename(b.HardSwish(h), "out"))
	return modelBytes(t, b)
}

func feeds(n, batch int, seed uint64) []Feed {
	rng := rand.New(rand.NewPCG(seed, 2))
	var out []Feed
	for range n {
		out = append(out, Feed{"x": tensor.Must([]int{batch, 3, 16, 16}, seeded(rng, batch*3*256, 1))})
	}
	return out
}

func TestQuantizeRoundTrip(t *testing.T) {
	rt := ortest.Backend(t)
	model := tinyNet(t)
	res, err := Quantize(context.Background(), rt, model, feeds(6, 4, 1), Options{Target: 0.99999, MaxFloat: 0.34, SensitivityInputs: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Log("\n" + res.Summary())
	if len(res.Layers) != 3 || res.Layers[0].Op != "Conv+Relu" || len(res.Methods) != 6 {
		t.Fatalf("layers %+v methods %v", res.Layers, res.Methods)
	}
	// The target is out of reach: every layer's sensitivity is measured and
	// the most sensitive one (the only one MaxFloat allows) stays float32.
	fl := res.FloatLayers()
	if len(fl) != 1 {
		t.Fatalf("float layers %v", fl)
	}
	for _, l := range res.Layers {
		if l.Sensitivity < 0 || (l.Name != fl[0] && l.Sensitivity > res.Layers[slices.IndexFunc(res.Layers, func(x Layer) bool { return x.Float })].Sensitivity) {
			t.Errorf("layer %+v: sensitivity not measured or not the most sensitive kept", l)
		}
	}
	// The written model holds int8 weights behind DequantizeLinear and
	// Q/DQ pairs; BatchNormalization is folded away.
	qm, err := onnx.Read(res.Model)
	if err != nil {
		t.Fatal(err)
	}
	ops := map[string]int{}
	for _, n := range qm.GetGraph().GetNode() {
		ops[n.GetOpType()]++
	}
	int8s := 0
	for _, in := range qm.GetGraph().GetInitializer() {
		if onnx.TensorProto_DataType(in.GetDataType()) == onnx.TensorProto_INT8 {
			int8s++
		}
	}
	if ops["BatchNormalization"] != 0 || ops["QuantizeLinear"] == 0 || ops["DequantizeLinear"] == 0 || int8s == 0 {
		t.Fatalf("ops %v, %d int8 initializers", ops, int8s)
	}
	// ONNX Runtime turns the int8 layers into QLinearConv.
	if fused, want := qlinearConvs(t, rt, res.Model), len(res.Layers)-len(res.FloatLayers()); fused != want {
		t.Errorf("%d QLinearConv after ORT optimisation, want %d (ops %v)", fused, want, ops)
	}
	// A float32 layer between int8 ones stays float32 in ONNX Runtime
	// (int32 weights), and its neighbours stay int8.
	mid, err := Quantize(context.Background(), rt, model, feeds(2, 2, 1), Options{Exclude: []string{res.Layers[1].Name}, SensitivityInputs: -1})
	if err != nil {
		t.Fatal(err)
	}
	if fl := mid.FloatLayers(); len(fl) != 1 || fl[0] != res.Layers[1].Name {
		t.Fatalf("float layers %v", fl)
	}
	if fused := qlinearConvs(t, rt, mid.Model); fused != 2 {
		t.Errorf("%d QLinearConv with the middle layer float32, want 2", fused)
	}
	// Held-out inputs: int8 outputs close to float32.
	s := heldOut(t, model, res.Model)
	t.Logf("held out: %s", s)
	if s.Mean < 0.99 || s.Worst < 0.97 {
		t.Errorf("held-out agreement %s", s)
	}
}

func TestQuantizeErrors(t *testing.T) {
	rt := ortest.Backend(t)
	model := tinyNet(t)
	if _, err := Quantize(context.Background(), rt, model, nil, Options{}); !errors.Is(err, ErrCalib) {
		t.Errorf("no feeds: %v", err)
	}
	if _, err := Quantize(context.Background(), rt, model, feeds(1, 1, 1), Options{Methods: []Method{"kl"}}); !errors.Is(err, ErrModel) {
		t.Errorf("bad method: %v", err)
	}
	if _, err := Quantize(context.Background(), rt, model, feeds(1, 1, 1), Options{Exclude: []string{"nope"}}); !errors.Is(err, ErrModel) {
		t.Errorf("bad exclude: %v", err)
	}
	bad := Feed{"y": tensor.Must([]int{1, 3, 16, 16}, make([]float32, 768))}
	if _, err := Quantize(context.Background(), rt, model, []Feed{bad}, Options{}); !errors.Is(err, ErrCalib) {
		t.Errorf("bad feed: %v", err)
	}
}

func TestHistogram(t *testing.T) {
	h := newHist()
	h.add([]float32{0, 0.5, 1})
	h.add([]float32{-3, 8}) // grows the range three times
	if h.min != -3 || h.max != 8 || h.n != 5 || h.r < 8 {
		t.Fatalf("hist %v %v %v r=%v", h.min, h.max, h.n, h.r)
	}
	var sum float64
	for _, c := range h.bins {
		sum += c
	}
	if sum != 5 {
		t.Fatalf("bins hold %v values", sum)
	}
	lo, hi := h.rangeFor(MinMax, 0)
	if lo != -3 || hi != 8 {
		t.Errorf("minmax %v %v", lo, hi)
	}
	big := newHist()
	v := make([]float32, 100000)
	for i := range v {
		v[i] = float32(i%1000) / 1000
	}
	v[0] = 50 // one outlier
	big.add(v)
	if _, hi := big.rangeFor(Percentile, 99.99); hi > 1.1 {
		t.Errorf("percentile hi %v ignores no outlier", hi)
	}
	if _, hi := big.rangeFor(MSE, 0); hi >= 50 {
		t.Errorf("mse hi %v", hi)
	}
	if p := uint8Params(0, 2.55); p.zero != 0 || p.scale < 0.0099 || p.scale > 0.0101 {
		t.Errorf("params %+v", p)
	}
	if p := uint8Params(-1, 1); p.zero != 128 && p.zero != 127 {
		t.Errorf("params %+v", p)
	}
}

func qlinearConvs(t *testing.T, rt Runtime, model []byte) int {
	t.Helper()
	return optimizedOps(t, rt, model)["QLinearConv"]
}

// optimizedOps counts the op types of model after ONNX Runtime's full
// graph optimisation (where Q/DQ pairs become QLinear* kernels).
func optimizedOps(t *testing.T, rt Runtime, model []byte) map[string]int {
	t.Helper()
	opt, err := rt.Optimize(model, infer.OptAll)
	if err != nil {
		t.Fatal(err)
	}
	om, err := onnx.Read(opt)
	if err != nil {
		t.Fatal(err)
	}
	ops := map[string]int{}
	for _, n := range om.GetGraph().GetNode() {
		ops[n.GetOpType()]++
	}
	return ops
}

// modelBytes serializes the model b built.
func modelBytes(t *testing.T, b *onnx.Builder) []byte {
	t.Helper()
	m, err := b.Model()
	if err != nil {
		t.Fatal(err)
	}
	data, err := onnx.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// heldOut scores a quantized model against its float model on inputs
// that calibration did not see.
func heldOut(t *testing.T, model, quantized []byte) Score {
	t.Helper()
	fs := ortest.Open(t, model, infer.Options{})
	qs := ortest.Open(t, quantized, infer.Options{})
	var a, b [][]*tensor.Tensor
	for _, f := range feeds(3, 4, 99) {
		a = append(a, ortest.Run(t, fs, f))
		b = append(b, ortest.Run(t, qs, f))
	}
	return Compare(a, b)
}

// hswishNet is x → Conv3×3 → HardSwish → squeeze-excitation (GAP → Conv1×1
// → Relu → Conv1×1 → HardSigmoid → Mul) → Conv1×1 → HardSwish → Conv1×1 →
// out: the PP-LCNet block, at an opset with the HardSwish op or without it
// (Mul by HardSigmoid).
func hswishNet(t *testing.T, opset int64) []byte {
	t.Helper()
	rng := rand.New(rand.NewPCG(11, 3))
	b := onnx.NewBuilder("hswish", opset)
	x := b.Input("x", onnx.TensorProto_FLOAT, -1, 3, 16, 16)
	h := b.HardSwish(b.Conv(x, b.Initializer("w1", []int64{8, 3, 3, 3}, seeded(rng, 8*27, 0.5)), b.Initializer("b1", []int64{8}, seeded(rng, 8, 0.5)), onnx.ConvAttrs{Pad: 1}))
	se := b.GlobalAveragePool(h)
	se = b.Relu(b.Conv(se, b.Initializer("w2", []int64{4, 8, 1, 1}, seeded(rng, 32, 0.5)), b.Initializer("b2", []int64{4}, seeded(rng, 4, 0.2)), onnx.ConvAttrs{}))
	se = b.HardSigmoid(b.Conv(se, b.Initializer("w3", []int64{8, 4, 1, 1}, seeded(rng, 32, 0.5)), b.Initializer("b3", []int64{8}, seeded(rng, 8, 0.2)), onnx.ConvAttrs{}), 1.0/6, 0.5)
	h = b.Mul(h, se)
	h = b.HardSwish(b.Conv(h, b.Initializer("w4", []int64{8, 8, 1, 1}, seeded(rng, 64, 0.5)), b.Initializer("b4", []int64{8}, seeded(rng, 8, 0.5)), onnx.ConvAttrs{}))
	b.Output(b.Rename(b.Conv(h, b.Initializer("w5", []int64{4, 8, 1, 1}, seeded(rng, 32, 0.5)), onnx.Value{}, onnx.ConvAttrs{}), "out"))
	return modelBytes(t, b)
}

// HardSwish and the squeeze-excitation HardSigmoid between int8 layers run
// on uint8 in ONNX Runtime (QLinearAdd, QLinearMul), not as float ops
// between a DequantizeLinear and a QuantizeLinear, and stay accurate.
func TestHardSwishRunsInt8(t *testing.T) {
	rt := ortest.Backend(t)
	for _, opset := range []int64{13, 14} {
		model := hswishNet(t, opset)
		res, err := Quantize(context.Background(), rt, model, feeds(8, 4, 1), Options{QuantizeOutputs: true, SensitivityInputs: -1})
		if err != nil {
			t.Fatal(err)
		}
		ops := optimizedOps(t, rt, res.Model)
		t.Logf("opset %d: %v", opset, ops)
		if ops["HardSigmoid"]+ops["HardSwish"]+ops["Mul"] != 0 || ops["QLinearAdd"] != 3 || ops["QLinearMul"] != 3 || ops["QLinearConv"] != 5 {
			t.Errorf("opset %d: ops after ONNX Runtime's optimisation %v, want 3 QLinearAdd, 3 QLinearMul, 5 QLinearConv and no float HardSigmoid/HardSwish/Mul", opset, ops)
		}
		// Only the graph input and output cross between float and uint8.
		if ops["QuantizeLinear"] != 1 || ops["DequantizeLinear"] != 1 {
			t.Errorf("opset %d: %d QuantizeLinear, %d DequantizeLinear left, want 1 each", opset, ops["QuantizeLinear"], ops["DequantizeLinear"])
		}
		s := heldOut(t, model, res.Model)
		t.Logf("opset %d held out: %s", opset, s)
		if s.Mean < 0.99 || s.Worst < 0.97 {
			t.Errorf("opset %d: held-out agreement %s", opset, s)
		}
	}
}

// A Conv whose output reaches the graph outputs only through data
// movement (a detector head's Conv, then Split into scores and box
// distributions) stays float32 by default, like one writing an output
// directly.
func TestHeadThroughSplitStaysFloat(t *testing.T) {
	rt := ortest.Backend(t)
	rng := rand.New(rand.NewPCG(5, 5))
	b := onnx.NewBuilder("head", 13)
	x := b.Input("x", onnx.TensorProto_FLOAT, -1, 3, 16, 16)
	h := b.HardSwish(b.Conv(x, b.Initializer("w1", []int64{8, 3, 3, 3}, seeded(rng, 8*27, 0.5)), onnx.Value{}, onnx.ConvAttrs{Pad: 1}))
	h = b.Conv(h, b.Initializer("w2", []int64{6, 8, 1, 1}, seeded(rng, 48, 0.5)), onnx.Value{}, onnx.ConvAttrs{})
	parts := b.Split(h, 1, 2, 4)
	b.Output(b.Rename(parts[0], "cls"), b.Rename(parts[1], "reg"))
	model := modelBytes(t, b)
	for _, quantOuts := range []bool{false, true} {
		res, err := Quantize(context.Background(), rt, model, feeds(4, 2, 3), Options{SensitivityInputs: -1, QuantizeOutputs: quantOuts})
		if err != nil {
			t.Fatal(err)
		}
		if fl := res.FloatLayers(); len(res.Layers) != 2 || (len(fl) == 1) == quantOuts {
			t.Errorf("QuantizeOutputs %v: float layers %v of %+v", quantOuts, fl, res.Layers)
		}
	}
}
