package arch

import (
	"fmt"

	"github.com/shitu-go/shitu/onnx"
)

// RecOptions configures the recognition network. Zero values give the
// PP-ShiTuV2 export: input "x" [N,3,224,224] with a dynamic batch, output
// "features" [N,512], opset 13.
type RecOptions struct {
	// Batch fixes the batch dim; 0 = dynamic (-1, symbolic "N").
	Batch int64
	// InputSize is the square input side; 0 = 224. Must be a multiple of 16.
	InputSize int64
	// OutputName names the output; "" = "features".
	OutputName string
	// Opset is the ai.onnx opset; 0 = 13.
	Opset int64
}

// Recognition network facts (models-and-formats §A.2).
const (
	RecInput  = "x"
	RecOutput = "features"
	RecDim    = 512
)

// recStage is one PP-LCNetV2 stage of NET_CONFIG (§A.2):
// (in_ch, kernel, split_pw, use_rep, use_se, use_shortcut), depth.
type recStage struct {
	inCh, k                          int64
	splitPW, useRep, useSE, shortcut bool
	depth                            int
}

// Calibration batch used to measure activation statistics (see init.go).
const recCalibN, recCalibSize = 8, 112

var recStages = []recStage{
	{64, 3, false, false, false, false, 2},
	{128, 3, false, false, false, false, 2},
	{256, 5, true, true, true, false, 6},
	{512, 5, false, true, false, true, 2},
}

// RecNet describes PPLCNetV2_base (ShiTu variant) + BNNeck in its exported,
// re-parameterised form (models-and-formats §A.2–A.3): ReLU everywhere,
// fused depthwise 5×5 convs with bias in stages 3–4 (no BN), plain-sigmoid SE
// in stage 3, stage 4 stride 1, GAP → last_conv 1024→512 with bias, no
// activation, dropout ×0.8, flatten, BatchNorm1D neck. 26 BatchNorms,
// 4,575,616 parameter values.
func RecNet(seed int64, opts RecOptions) (*Net, error) {
	size := opts.InputSize
	if size == 0 {
		size = 224
	}
	if size < 16 || size%16 != 0 {
		return nil, fmt.Errorf("%w: rec input size %d is not a positive multiple of 16", ErrOptions, size)
	}
	batch := opts.Batch
	if batch == 0 {
		batch = -1
	}
	if batch < -1 {
		return nil, fmt.Errorf("%w: rec batch %d", ErrOptions, batch)
	}
	outName := opts.OutputName
	if outName == "" {
		outName = RecOutput
	}
	nb := newNetBuilder("PPLCNetV2_base_ShiTu", seed, recVarFloor)
	nb.net.Doc = fmt.Sprintf("PP-ShiTuV2 recognition network PPLCNetV2_base ShiTu + BNNeck (exported form); synthetic: seeded weights (seed %d)", seed)
	nb.net.Preprocess = Preprocess{Size: size, Interp: "linear", Mean: imagenetMean, Std: imagenetStd, Layout: "NCHW"}
	x := nb.input(RecInput, []int64{batch, 3, size, size}, recCalibN, int(min(size, recCalibSize)))

	convBNReLU := func(p, x string, cout, k, s, g int64) string {
		y := nb.conv(p+".conv", x, cout, k, s, g, convInit{})
		y = nb.bn(p+".bn", y)
		return nb.act(p+".relu", Relu, y)
	}
	// stem.0: conv 3×3 s2 3→32; stem.1: RepDWS without rep/SE: dw 3×3, pw 32→64.
	y := convBNReLU("stem.0", x, 32, 3, 2, 1)
	y = convBNReLU("stem.1.dw", y, 32, 3, 1, 32)
	y = convBNReLU("stem.1.pw", y, 64, 1, 1, 1)

	for si, st := range recStages {
		for bi := range st.depth {
			p := fmt.Sprintf("stages.%d.%d", si, bi)
			cin, cout, stride := 2*st.inCh, 2*st.inCh, int64(1)
			if bi == 0 {
				cin, stride = st.inCh, 2
				if si == 3 {
					stride = 1 // ShiTu variant: last stage stride 1 (§A.2)
				}
			}
			in := y
			if st.useRep {
				// Re-parameterised depthwise: one k×k conv with bias, then ReLU (§A.3).
				y = nb.conv(p+".dw", y, cin, st.k, stride, cin, convInit{bias: true, bStd: 0.1})
				y = nb.act(p+".dw.relu", Relu, y)
			} else {
				y = convBNReLU(p+".dw", y, cin, st.k, stride, cin)
			}
			if st.useSE {
				// SE: GAP → 1×1 C→C/4 (bias) → ReLU → 1×1 → C (bias) → Sigmoid → × (§A.1).
				g := nb.gap(p+".se.pool", y)
				g = nb.conv(p+".se.conv1", g, cin/4, 1, 1, 1, convInit{bias: true, gain: 1, bStd: 0.1, centre: true})
				g = nb.act(p+".se.relu", Relu, g)
				g = nb.conv(p+".se.conv2", g, cin, 1, 1, 1, convInit{bias: true, gain: 1, bStd: 0.5, centre: true})
				g = nb.act(p+".se.sigmoid", Sigmoid, g)
				y = nb.mul(p+".se.mul", y, g)
			}
			if st.splitPW {
				y = convBNReLU(p+".pw1", y, cout/2, 1, 1, 1)
				y = convBNReLU(p+".pw2", y, cout, 1, 1, 1)
			} else {
				y = convBNReLU(p+".pw", y, cout, 1, 1, 1)
			}
			if st.shortcut && stride == 1 && cin == cout {
				y = nb.add(p+".add", y, in)
			}
		}
	}
	y = nb.gap("avg_pool", y)
	y = nb.conv("last_conv", y, RecDim, 1, 1, 1, convInit{bias: true, gain: 1, bStd: 0.1, centre: true, orthMean: true})
	// dropout p=0.2 downgrade_in_infer ⇒ ×0.8 at inference (§A.2).
	y = nb.dropout("dropout", y, 0.2)
	y = nb.flatten("flatten", y)
	y = nb.bn("neck.bn", y)
	nb.output(y, outName, []int64{batch, RecDim})
	if nb.err != nil {
		return nil, nb.err
	}
	return nb.net, nil
}

// BuildRec builds the recognition network with seeded weights as ONNX.
func BuildRec(seed int64, opts RecOptions) (*onnx.ModelProto, error) {
	n, err := RecNet(seed, opts)
	if err != nil {
		return nil, err
	}
	return n.ONNX(opts.Opset)
}
