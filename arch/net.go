// Package arch describes the two PP-ShiTuV2 networks layer by layer — the
// PPLCNetV2_base ShiTu recognition model with its BNNeck and the PicoDet
// LCNet×2.5 mainbody detector (raw-head form) — with deterministic seeded
// weights, and emits them as ONNX.
//
// A network is a Net: an ordered list of Layers with named parameter
// tensors. The same description drives ONNX emission (Net.ONNX) and can be
// walked by other writers (e.g. a Paddle program writer) to emit the same
// network with identical weights (Net.Params).
package arch

import (
	"errors"
	"fmt"
	"slices"

	"github.com/shitu-go/shitu/onnx"
)

// ErrOptions reports invalid build options.
var ErrOptions = errors.New("arch: invalid options")

// Kind is a layer type.
type Kind string

// Layer kinds. Activations, GAP, Flatten and Upsample take one input; Add,
// Mul two; Concat any number.
const (
	// Conv is a 2-D convolution, NCHW; params weight [Cout,Cin/Groups,K,K]
	// and, when the layer has a bias, bias [Cout]. Padding is Pad on every side.
	Conv Kind = "conv"
	// BatchNorm is inference batch normalisation; params scale, bias,
	// mean, variance (each [C]), epsilon Eps.
	BatchNorm Kind = "batch_norm"
	// Relu is max(x,0).
	Relu Kind = "relu"
	// Sigmoid is the logistic function.
	Sigmoid Kind = "sigmoid"
	// HardSigmoid is clip(Alpha·x+Beta, 0, 1).
	HardSigmoid Kind = "hard_sigmoid"
	// HardSwish is x·clip(x/6+1/2, 0, 1) (Paddle threshold 6, scale 6, offset 3).
	HardSwish Kind = "hard_swish"
	// GlobalAvgPool averages H and W to 1×1 (Paddle adaptive pool2d 1×1).
	GlobalAvgPool Kind = "global_avg_pool"
	// Mul and Add are elementwise with numpy broadcasting.
	Mul Kind = "mul"
	Add Kind = "add"
	// Dropout at inference, Paddle mode downgrade_in_infer: y = (1−Prob)·x.
	Dropout Kind = "dropout"
	// Flatten flattens dims from 1 on: [N, C·H·W].
	Flatten Kind = "flatten"
	// Concat joins inputs along channels (axis 1).
	Concat Kind = "concat"
	// Upsample2x is nearest ×2 on H and W (floor rounding).
	Upsample2x Kind = "upsample2x"
	// Split cuts the channels into Sizes; Outputs has one name per piece.
	Split Kind = "split"
)

// Param is a named parameter tensor (float32, row-major).
type Param struct {
	Name  string
	Shape []int64
	Data  []float32
}

// Layer is one operation of a Net. Its inputs and outputs are value names;
// a layer's single output is named after the layer.
type Layer struct {
	Name    string
	Kind    Kind
	Inputs  []string
	Outputs []string
	// Conv attributes.
	Kernel, Stride, Pad, Groups int64
	// HardSigmoid slope and offset.
	Alpha, Beta float32
	// Eps is the BatchNorm epsilon.
	Eps float32
	// Prob is the Dropout probability.
	Prob float32
	// Sizes are the Split sizes.
	Sizes []int64
	// Params: Conv weight[, bias]; BatchNorm scale, bias, mean, variance.
	Params []Param
}

// Port is a network input or output: the value name and its shape
// (-1 for a dynamic batch).
type Port struct {
	Name  string
	Shape []int64
}

// Net is a whole network: inputs, layers in execution order, outputs.
type Net struct {
	Name    string
	Inputs  []Port
	Outputs []Port
	Layers  []Layer
	// Doc describes the network and its weights (stored in the ONNX doc_string).
	Doc string
	// Preprocess describes the input the network expects (for manifests).
	Preprocess Preprocess
}

// Preprocess is how PaddleClas prepares an image for a network
// (ppshitu-pipeline / models-and-formats §A.5, §B.4).
type Preprocess struct {
	Size   int64      // square side the image is resized to, aspect not kept
	Interp string     // OpenCV interpolation: "linear" (rec) or "cubic" (det)
	Mean   [3]float32 // on RGB/255
	Std    [3]float32
	Layout string // "NCHW", RGB channel order
}

var imagenetMean, imagenetStd = [3]float32{0.485, 0.456, 0.406}, [3]float32{0.229, 0.224, 0.225}

// Params lists every parameter tensor in layer order.
func (n *Net) Params() []Param {
	var ps []Param
	for _, l := range n.Layers {
		ps = append(ps, l.Params...)
	}
	return ps
}

// NumParams is the total number of stored parameter values.
func (n *Net) NumParams() int64 {
	var c int64
	for _, l := range n.Layers {
		for _, p := range l.Params {
			c += int64(len(p.Data))
		}
	}
	return c
}

// ONNX emits the network as an ONNX model at the given ai.onnx opset
// (0 = onnx.DefaultOpset, 13). Parameters become float32 initializers named
// as the Params; the dropout factor and other constants become Constant nodes.
func (n *Net) ONNX(opset int64) (*onnx.ModelProto, error) {
	b := onnx.NewBuilder(n.Name, opset)
	b.DocString = n.Doc
	vals := map[string]onnx.Value{}
	for _, in := range n.Inputs {
		vals[in.Name] = b.Input(in.Name, onnx.TensorProto_FLOAT, in.Shape...)
	}
	for i := range n.Layers {
		l := &n.Layers[i]
		in := make([]onnx.Value, len(l.Inputs))
		for j, name := range l.Inputs {
			v, ok := vals[name]
			if !ok {
				return nil, fmt.Errorf("arch: layer %q reads unknown value %q", l.Name, name)
			}
			in[j] = v
		}
		if len(in) == 0 {
			return nil, fmt.Errorf("arch: layer %q has no inputs", l.Name)
		}
		b.Prefix = l.Name
		p := make([]onnx.Value, len(l.Params))
		for j, prm := range l.Params {
			p[j] = b.Initializer(prm.Name, prm.Shape, prm.Data)
		}
		var out []onnx.Value
		one := func(v onnx.Value) { out = []onnx.Value{v} }
		switch l.Kind {
		case Conv:
			bias := onnx.Value{}
			if len(p) > 1 {
				bias = p[1]
			}
			if len(p) == 0 {
				return nil, fmt.Errorf("arch: conv %q without weight", l.Name)
			}
			one(b.Conv(in[0], p[0], bias, onnx.ConvAttrs{Stride: l.Stride, Pad: l.Pad, Group: l.Groups}))
		case BatchNorm:
			if len(p) != 4 {
				return nil, fmt.Errorf("arch: batch norm %q has %d params, want 4", l.Name, len(p))
			}
			one(b.BatchNorm(in[0], p[0], p[1], p[2], p[3], l.Eps))
		case Relu:
			one(b.Relu(in[0]))
		case Sigmoid:
			one(b.Sigmoid(in[0]))
		case HardSigmoid:
			one(b.HardSigmoid(in[0], l.Alpha, l.Beta))
		case HardSwish:
			one(b.HardSwish(in[0]))
		case GlobalAvgPool:
			one(b.GlobalAveragePool(in[0]))
		case Mul, Add:
			if len(in) != 2 {
				return nil, fmt.Errorf("arch: %s %q needs 2 inputs", l.Kind, l.Name)
			}
			if l.Kind == Mul {
				one(b.Mul(in[0], in[1]))
			} else {
				one(b.Add(in[0], in[1]))
			}
		case Dropout:
			// ppshitu: downgrade_in_infer dropout is y = (1-p)·x at inference
			// (models-and-formats §A.2, §D.1); it must not be dropped.
			one(b.Mul(in[0], b.ConstFloat(nil, 1-l.Prob)))
		case Flatten:
			one(b.Flatten(in[0], 1))
		case Concat:
			one(b.Concat(1, in...))
		case Upsample2x:
			one(b.Upsample2x(in[0]))
		case Split:
			out = b.Split(in[0], 1, l.Sizes...)
		default:
			return nil, fmt.Errorf("arch: layer %q has unknown kind %q", l.Name, l.Kind)
		}
		if err := b.Err(); err != nil {
			return nil, fmt.Errorf("arch: layer %q: %w", l.Name, err)
		}
		if len(out) != len(l.Outputs) {
			return nil, fmt.Errorf("arch: layer %q makes %d outputs, lists %d", l.Name, len(out), len(l.Outputs))
		}
		for j, name := range l.Outputs {
			vals[name] = out[j]
		}
	}
	b.Prefix = ""
	for _, o := range n.Outputs {
		v, ok := vals[o.Name]
		if !ok {
			return nil, fmt.Errorf("arch: output %q is not produced", o.Name)
		}
		if !slices.Equal(v.Shape, o.Shape) {
			return nil, fmt.Errorf("arch: output %q has shape %v, declared %v", o.Name, v.Shape, o.Shape)
		}
		b.Output(b.Rename(v, o.Name))
	}
	return b.Model()
}

// Bytes emits the network as serialized ONNX (see ONNX).
func (n *Net) Bytes(opset int64) ([]byte, error) {
	m, err := n.ONNX(opset)
	if err != nil {
		return nil, err
	}
	return onnx.Marshal(m)
}
