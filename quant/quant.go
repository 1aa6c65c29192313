// Package quant writes int8 twins of ONNX models in Go: it calibrates
// activation ranges by running images through ONNX Runtime with the
// intermediate tensors exposed as graph outputs, quantizes Conv weights per
// output channel (symmetric int8) and inserts QuantizeLinear /
// DequantizeLinear pairs (uint8 activations) that ONNX Runtime's CPU
// provider fuses into QLinearConv kernels. Layers whose quantization costs
// too much accuracy, measured one layer at a time, stay in float32.
//
// The flow of Quantize:
//
//  1. ONNX Runtime's basic graph optimisations (constant folding,
//     Conv+BatchNormalization/Add/Mul fusion) on the float model, so that
//     weights are quantized after BatchNormalization is folded into them;
//  2. calibration: one pass over the calibration inputs, with every input
//     and output of a quantizable Conv (a Conv followed by its only Relu
//     counts as one unit) added as a graph output, collecting exact
//     min/max and a 2048-bin histogram per tensor; the outputs of
//     HardSwish, and of a Mul by a HardSigmoid, on quantized inputs are
//     observed too, because those ops are rewritten to run on uint8 (see
//     hsig: ONNX Runtime has no int8 HardSwish, and the float op with its
//     DequantizeLinear/QuantizeLinear cost more than the int8 Conv layers
//     on PP-LCNet networks);
//  3. activation ranges by each Method (min-max, percentile, MSE), each
//     with and without bias correction (every int8 layer's bias absorbs
//     the mean shift its weight rounding causes on the calibration data),
//     and the variant whose fully quantized model agrees best with
//     float32 (layers writing graph outputs stay float32 by default);
//  4. only when that misses Options.Target: per-layer sensitivity (the
//     model with only that layer quantized, scored against float32), then
//     the most sensitive layers go back to float32 until the whole model
//     reaches the target (at most Options.MaxFloat of them).
//
// Activations are uint8 (asymmetric, zero exactly representable) and
// weights int8 symmetric per output channel: the U8S8 form whose
// QLinearConv ONNX Runtime's CPU provider runs with VNNI where the CPU has
// it. On x86 CPUs without VNNI, ONNX Runtime's documentation warns that
// U8S8 may saturate (vpmaddubsw).
package quant

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/shitu-go/shitu/infer"
)

// Errors.
var (
	// ErrModel means the model cannot be quantized (old opset, nothing to
	// quantize, a runtime failure on it).
	ErrModel = errors.New("quant: unsupported model")
	// ErrCalib means the calibration inputs are missing or unusable.
	ErrCalib = errors.New("quant: bad calibration data")
)

// Method chooses activation ranges from calibration statistics.
type Method string

// Range methods.
const (
	// MinMax takes the observed minimum and maximum.
	MinMax Method = "minmax"
	// Percentile clips both tails at Options.Percentile of the values.
	Percentile Method = "percentile"
	// MSE takes the range, shrunk from min-max, that minimises the expected
	// squared error (rounding noise inside, clipping outside) over the
	// histogram.
	MSE Method = "mse"
)

// BiasCorrected suffixes a Method in Result.Methods when biases were
// corrected for the mean shift of weight rounding.
const BiasCorrected = "+bias"

// Runtime opens sessions and applies ONNX Runtime's graph optimisations
// (*ort.Backend implements it).
type Runtime interface {
	infer.Backend
	Optimize(model []byte, level infer.OptLevel) ([]byte, error)
}

// Options configure Quantize. Zero values mean the defaults given.
type Options struct {
	// Methods are the range methods tried (default MinMax, Percentile, MSE).
	Methods []Method
	// Percentile for the Percentile method, in percent (default 99.99).
	Percentile float64
	// Target is the mean cosine similarity to float32 over the calibration
	// inputs that the result must reach before layers stop being moved back
	// to float32 (default 0.995).
	Target float64
	// MaxFloat is the largest share of quantizable layers kept in float32
	// (default 0.25).
	MaxFloat float64
	// SensitivityInputs is the number of calibration inputs the per-layer
	// sensitivity runs use (default 4; -1 skips the sensitivity analysis
	// and keeps every layer quantized).
	SensitivityInputs int
	// Threads is the intra-op thread count of the calibration sessions
	// (default 2).
	Threads int
	// NoBiasCorrection turns off the bias correction. By default every
	// method is tried with and without it: each int8 layer's bias absorbing
	// the mean output shift its weight rounding causes on the calibration
	// data.
	NoBiasCorrection bool
	// QuantizeOutputs quantizes the Conv layers that write graph outputs
	// too (directly, or through data movement such as Split, Reshape,
	// Transpose and Concat, or a final Sigmoid/Softmax). By default they
	// stay float32: their outputs are not
	// requantized to 256 levels (a detector's box distributions and scores
	// are decoded from them), at a small cost in speed.
	QuantizeOutputs bool
	// Exclude names Conv nodes (of the optimised graph) never quantized.
	Exclude []string
	// Progress, when set, receives one line per step.
	Progress func(format string, args ...any)
}

func (o Options) withDefaults() Options {
	if len(o.Methods) == 0 {
		o.Methods = []Method{MinMax, Percentile, MSE}
	}
	if o.Percentile == 0 {
		o.Percentile = 99.99
	}
	if o.Target == 0 {
		o.Target = 0.995
	}
	if o.MaxFloat == 0 {
		o.MaxFloat = 0.25
	}
	if o.SensitivityInputs == 0 {
		o.SensitivityInputs = 4
	}
	if o.Threads <= 0 {
		o.Threads = 2
	}
	if o.Progress == nil {
		o.Progress = func(string, ...any) {}
	}
	return o
}

func (o Options) validate() error {
	for _, m := range o.Methods {
		switch m {
		case MinMax, Percentile, MSE:
		default:
			return fmt.Errorf("%w: unknown range method %q (minmax, percentile, mse)", ErrModel, m)
		}
	}
	if o.Percentile <= 50 || o.Percentile > 100 {
		return fmt.Errorf("%w: percentile %g outside (50, 100]", ErrModel, o.Percentile)
	}
	if o.Target <= 0 || o.Target > 1 || o.MaxFloat < 0 || o.MaxFloat > 1 {
		return fmt.Errorf("%w: target %g / max float share %g outside (0, 1]", ErrModel, o.Target, o.MaxFloat)
	}
	return nil
}

// Score is the agreement of a model's outputs with float32: cosine
// similarity per sample (per row of the batch dimension) and output.
type Score struct {
	Mean, Worst float64
}

func (s Score) String() string { return fmt.Sprintf("mean cos %.5f, worst %.5f", s.Mean, s.Worst) }

// Layer is one quantizable unit of the optimised graph.
type Layer struct {
	// Name is the Conv node's name; Op is "Conv" or "Conv+Relu".
	Name, Op string
	// Sensitivity is 1 − mean cosine of the model with only this layer
	// quantized (-1 when not measured).
	Sensitivity float64
	// Float is true when the layer is kept in float32.
	Float bool
}

// Result is a quantized model and how it was chosen.
type Result struct {
	// Model is the serialized QDQ model.
	Model []byte
	// Method is the range method used (with the BiasCorrected suffix when
	// biases were corrected); Methods has the score of every method tried
	// with all layers quantized.
	Method         Method
	Methods        map[Method]Score
	BiasCorrection bool
	// Layers are the quantizable layers in graph order.
	Layers []Layer
	// Score is the final model's agreement with float32 on the
	// calibration inputs.
	Score Score
}

// FloatLayers names the layers kept in float32.
func (r *Result) FloatLayers() []string {
	var out []string
	for _, l := range r.Layers {
		if l.Float {
			out = append(out, l.Name)
		}
	}
	return out
}

// Summary is a few lines for people: methods, kept layers, final score.
func (r *Result) Summary() string {
	var b strings.Builder
	ms := make([]string, 0, len(r.Methods))
	for m := range r.Methods {
		ms = append(ms, string(m))
	}
	sort.Strings(ms)
	for _, m := range ms {
		mark := ""
		if Method(m) == r.Method {
			mark = "  ← chosen"
		}
		fmt.Fprintf(&b, "range %-16s all layers int8: %s%s\n", m, r.Methods[Method(m)], mark)
	}
	fl := r.FloatLayers()
	q := len(r.Layers) - len(fl)
	fmt.Fprintf(&b, "layers: %d int8, %d kept float32", q, len(fl))
	if len(fl) > 0 {
		fmt.Fprintf(&b, " (%s)", strings.Join(fl, ", "))
	}
	fmt.Fprintf(&b, "\nfinal: %s\n", r.Score)
	return b.String()
}
