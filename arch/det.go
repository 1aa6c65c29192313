package arch

import (
	"fmt"

	"github.com/shitu-go/shitu/onnx"
)

// DetOptions configures the detector. Zero values give input "image"
// [1,3,640,640], opset 13, mean class logit −4.595 (prior 0.01, as PicoHead
// initialises its bias).
type DetOptions struct {
	// DynamicBatch makes the batch dim dynamic (-1, symbolic "N"); default 1.
	DynamicBatch bool
	// InputSize is the square input side; 0 = 640. Must be a multiple of 64.
	InputSize int64
	// ClsBias sets head_cls's class-logit bias so that the class logit
	// averages ClsBias on the calibration images; nil = −4.595 (sigmoid
	// 0.01, PicoHead's prior). On photos the logits spread much wider
	// (seeded weights are not trained), so some anchors still score high.
	ClsBias *float64
	// Opset is the ai.onnx opset; 0 = 13 (HardSwish is then written as
	// x·HardSigmoid(x); opset ≥ 14 uses the HardSwish op).
	Opset int64
}

// Detector facts (models-and-formats §B).
const (
	DetInput = "image"
	// DetRegMax is reg_max: each box side has DetRegMax+1 = 8 distribution bins.
	DetRegMax = 7
)

// Calibration batch used to measure activation statistics (see init.go).
const detCalibN, detCalibSize = 3, 224

// DetStrides are the head levels' strides.
var DetStrides = []int64{8, 16, 32, 64}

// DetOutputs lists the raw-head outputs in model order (§B.5 order: all
// class logits, then all distribution logits): cls_s8, cls_s16, cls_s32,
// cls_s64 [N,1,H,W] (logits, apply sigmoid) and reg_s8 … reg_s64 [N,32,H,W]
// (bins left 0–7, top 8–15, right 16–23, bottom 24–31; softmax per side).
var DetOutputs = []string{"cls_s8", "cls_s16", "cls_s32", "cls_s64", "reg_s8", "reg_s16", "reg_s32", "reg_s64"}

// lcnetBlock is one depthwise-separable block of LCNet (§B.1):
// kernel, Cin, Cout, stride, SE.
type lcnetBlock struct {
	k, cin, cout, s int64
	se              bool
}

// lcnetStages are blocks2..blocks6 at scale 2.5 (make_divisible(v·2.5, 8)).
var lcnetStages = [][]lcnetBlock{
	{{3, 80, 160, 2, false}, {3, 160, 160, 1, false}},  // blocks3
	{{3, 160, 320, 2, false}, {3, 320, 320, 1, false}}, // blocks4 → C3
	{{3, 320, 640, 2, false}, {5, 640, 640, 1, false}, {5, 640, 640, 1, false}, // blocks5 → C4
		{5, 640, 640, 1, false}, {5, 640, 640, 1, false}, {5, 640, 640, 1, false}},
	{{5, 640, 1280, 2, true}, {5, 1280, 1280, 1, true}}, // blocks6 → C5
}

// DetNet describes PicoDet-LCNet×2.5 (mainbody, 1 class) in raw-head form:
// LCNet backbone (hardswish, hardsigmoid SE in blocks6), CSP-PAN neck (128
// channels, 5×5 depthwise, 4 levels), PicoHead with 4 per-level towers and
// a 1×1 conv to 33 channels split into [1, 32] (§B.1–B.3, §B.5).
func DetNet(seed int64, opts DetOptions) (*Net, error) {
	size := opts.InputSize
	if size == 0 {
		size = 640
	}
	if size < 64 || size%64 != 0 {
		return nil, fmt.Errorf("%w: det input size %d is not a positive multiple of 64", ErrOptions, size)
	}
	batch := int64(1)
	if opts.DynamicBatch {
		batch = -1
	}
	clsBias := -4.595
	if opts.ClsBias != nil {
		clsBias = *opts.ClsBias
	}
	nb := newNetBuilder("PicoDet_LCNet_x2_5_mainbody", seed, detVarFloor)
	nb.net.Doc = fmt.Sprintf("PP-ShiTuV2 mainbody detector PicoDet-LCNet×2.5 + CSP-PAN + PicoHead, raw head outputs; synthetic: seeded weights (seed %d)", seed)
	nb.net.Preprocess = Preprocess{Size: size, Interp: "cubic", Mean: imagenetMean, Std: imagenetStd, Layout: "NCHW"}
	x := nb.input(DetInput, []int64{batch, 3, size, size}, detCalibN, int(min(size, detCalibSize)))

	convBNHS := func(p, x string, cout, k, s, g int64) string {
		y := nb.conv(p+".conv", x, cout, k, s, g, convInit{})
		y = nb.bn(p+".bn", y)
		return nb.act(p+".hardswish", HardSwish, y)
	}
	// Backbone.
	y := convBNHS("backbone.conv1", x, 40, 3, 2, 1)
	ds := func(p, x string, b lcnetBlock) string {
		y := convBNHS(p+".dw", x, b.cin, b.k, b.s, b.cin)
		if b.se {
			// SE: GAP → 1×1 C→C/4 (bias) → ReLU → 1×1 → C (bias) → hardsigmoid(1/6, 0.5) → ×.
			g := nb.gap(p+".se.pool", y)
			g = nb.conv(p+".se.conv1", g, b.cin/4, 1, 1, 1, convInit{bias: true, gain: 1, bStd: 0.1, centre: true})
			g = nb.act(p+".se.relu", Relu, g)
			g = nb.conv(p+".se.conv2", g, b.cin, 1, 1, 1, convInit{bias: true, gain: 1, bStd: 1, centre: true})
			g = nb.act(p+".se.hardsigmoid", HardSigmoid, g)
			y = nb.mul(p+".se.mul", y, g)
		}
		return convBNHS(p+".pw", y, b.cout, 1, 1, 1)
	}
	y = ds("backbone.blocks2.0", y, lcnetBlock{3, 40, 80, 1, false})
	var feats []string
	for si, st := range lcnetStages {
		for bi, b := range st {
			y = ds(fmt.Sprintf("backbone.blocks%d.%d", si+3, bi), y, b)
		}
		if si > 0 {
			feats = append(feats, y) // C3, C4, C5
		}
	}
	// Neck CSP-PAN (§B.2).
	dp := func(p, x string, s int64) string {
		c := nb.shape[x][0]
		y := convBNHS(p+".dw", x, c, 5, s, c)
		return convBNHS(p+".pw", y, c, 1, 1, 1)
	}
	csp := func(p string, in ...string) string {
		x := nb.concat(p+".concat", in...)
		const mid = 64
		short := convBNHS(p+".short_conv", x, mid, 1, 1, 1)
		main := convBNHS(p+".main_conv", x, mid, 1, 1, 1)
		main = convBNHS(p+".blocks.0.conv1", main, mid, 1, 1, 1)
		main = dp(p+".blocks.0.conv2", main, 1)
		cat := nb.concat(p+".final_concat", main, short)
		return convBNHS(p+".final_conv", cat, 128, 1, 1, 1)
	}
	p3 := convBNHS("neck.conv_t.0", feats[0], 128, 1, 1, 1)
	p4 := convBNHS("neck.conv_t.1", feats[1], 128, 1, 1, 1)
	p5 := convBNHS("neck.conv_t.2", feats[2], 128, 1, 1, 1)
	n4 := csp("neck.top_down.0", nb.upsample("neck.upsample.0", p5), p4)
	n3 := csp("neck.top_down.1", nb.upsample("neck.upsample.1", n4), p3)
	o4 := csp("neck.bottom_up.0", dp("neck.downsample.0", n3, 2), n4)
	o5 := csp("neck.bottom_up.1", dp("neck.downsample.1", o4, 2), p5)
	o6 := nb.add("neck.extra", dp("neck.first_top_conv", p5, 2), dp("neck.second_top_conv", o5, 2))
	levels := []string{n3, o4, o5, o6}

	// Head PicoHead (§B.3): per level 4 × [dw 5×5 +BN+HS, pw 1×1 +BN+HS], head_cls 1×1 → 33.
	var cls, reg []string
	for i, lv := range levels {
		y := lv
		for j := range 4 {
			y = convBNHS(fmt.Sprintf("head.conv_feat.%d.dw.%d", i, j), y, 128, 5, 1, 128)
			y = convBNHS(fmt.Sprintf("head.conv_feat.%d.pw.%d", i, j), y, 128, 1, 1, 1)
		}
		y = nb.conv(fmt.Sprintf("head.head_cls%d", i), y, 33, 1, 1, 1, convInit{bias: true, gain: 1, bStd: 0.1})
		fixClsBias(nb, y, clsBias)
		s := DetStrides[i]
		outs := nb.split(fmt.Sprintf("head.split%d", i), y, []int64{1, 4 * (DetRegMax + 1)},
			[]string{fmt.Sprintf("cls_s%d", s), fmt.Sprintf("reg_s%d", s)})
		cls = append(cls, outs[0])
		reg = append(reg, outs[1])
	}
	for i, c := range cls {
		h := size / DetStrides[i]
		nb.output(c, c, []int64{batch, 1, h, h})
	}
	for i, r := range reg {
		h := size / DetStrides[i]
		nb.output(r, r, []int64{batch, 4 * (DetRegMax + 1), h, h})
	}
	if nb.err != nil {
		return nil, nb.err
	}
	return nb.net, nil
}

// fixClsBias shifts channel 0 (the class logit) of head conv y to mean clsBias.
func fixClsBias(nb *netBuilder, y string, clsBias float64) {
	if nb.err != nil {
		return
	}
	l := &nb.net.Layers[len(nb.net.Layers)-1]
	d := float32(clsBias - nb.st[y].m[0])
	l.Params[1].Data[0] += d
	nb.record(y, mapChannels(nb.data[y], func(c int, v float32) float32 {
		if c == 0 {
			return v + d
		}
		return v
	}))
}

// BuildDet builds the detector with seeded weights as ONNX.
func BuildDet(seed int64, opts DetOptions) (*onnx.ModelProto, error) {
	n, err := DetNet(seed, opts)
	if err != nil {
		return nil, err
	}
	return n.ONNX(opts.Opset)
}
