package train

import (
	"fmt"
	"math"

	"github.com/shitu-go/shitu/onnx"
)

// tail locates the embedding layers of a recognition graph: the layers
// after global pooling (models-and-formats §A.2). Both forms shitu meets
// are recognised — package arch's ONNX (Conv with bias, Mul by the dropout
// factor, Flatten) and the conversion of the official Paddle export
// (Conv, Add of the unsqueezed bias, Mul, Reshape):
//
//	pool → Conv 1×1 (class_expand) [→ Add bias] [→ Mul keep] → Flatten|Reshape → BatchNormalization → output
type tail struct {
	Pool      string // the pooled backbone feature [N, In, 1, 1]
	Output    string // the graph output (the BNNeck)
	In, Out   int    // pooled channels, embedding size
	Weight    string // conv weight initializer [Out, In, 1, 1]
	Bias      string // conv bias initializer [Out]
	Keep      float64
	BNScale   string
	BNBias    string
	BNMean    string
	BNVar     string
	BNEpsilon float64
}

func (t *tail) params() []string {
	return []string{t.Weight, t.Bias, t.BNScale, t.BNBias, t.BNMean, t.BNVar}
}

// findTail walks back from the single graph output.
func findTail(m *onnx.ModelProto) (*tail, error) {
	g := m.GetGraph()
	if len(g.GetOutput()) != 1 {
		return nil, fmt.Errorf("%w: the recognition graph has %d outputs, want 1", ErrModel, len(g.GetOutput()))
	}
	prod := map[string]*onnx.NodeProto{}
	for _, n := range g.GetNode() {
		for _, o := range n.GetOutput() {
			prod[o] = n
		}
	}
	inits := map[string]*onnx.TensorProto{}
	for _, t := range g.GetInitializer() {
		inits[t.GetName()] = t
	}
	constVal := func(v string) ([]float32, bool) {
		if t, ok := inits[v]; ok {
			f, err := onnx.Float32s(t)
			return f, err == nil
		}
		if n, ok := prod[v]; ok && n.GetOpType() == "Constant" {
			for _, a := range n.GetAttribute() {
				if a.GetName() == "value" && a.GetT() != nil {
					f, err := onnx.Float32s(a.GetT())
					return f, err == nil
				}
			}
		}
		return nil, false
	}
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: the graph does not end in pool → conv → BNNeck as PP-ShiTuV2's does: "+format, append([]any{ErrModel}, a...)...)
	}
	t := &tail{Output: g.GetOutput()[0].GetName(), Keep: 1, BNEpsilon: 1e-5}
	bn := prod[t.Output]
	if bn == nil || bn.GetOpType() != "BatchNormalization" || len(bn.GetInput()) != 5 {
		return nil, bad("the output is not made by BatchNormalization")
	}
	for _, a := range bn.GetAttribute() {
		if a.GetName() == "epsilon" {
			t.BNEpsilon = float64(a.GetF())
		}
	}
	t.BNScale, t.BNBias, t.BNMean, t.BNVar = bn.GetInput()[1], bn.GetInput()[2], bn.GetInput()[3], bn.GetInput()[4]
	for _, p := range []string{t.BNScale, t.BNBias, t.BNMean, t.BNVar} {
		if inits[p] == nil {
			return nil, bad("batch norm parameter %q is not an initializer", p)
		}
	}
	v := bn.GetInput()[0]
	n := prod[v]
	if n == nil || (n.GetOpType() != "Flatten" && n.GetOpType() != "Reshape") {
		return nil, bad("no Flatten/Reshape before the batch norm")
	}
	v = n.GetInput()[0]
	n = prod[v]
	if n != nil && n.GetOpType() == "Mul" {
		k, ok := constVal(n.GetInput()[1])
		if !ok || len(k) != 1 {
			return nil, bad("the dropout scale is not a constant scalar")
		}
		t.Keep = float64(k[0])
		v = n.GetInput()[0]
		n = prod[v]
	}
	if n != nil && n.GetOpType() == "Add" {
		b := n.GetInput()[1]
		if u := prod[b]; u != nil && u.GetOpType() == "Unsqueeze" {
			b = u.GetInput()[0]
		}
		if inits[b] == nil {
			return nil, bad("the conv bias is not an initializer")
		}
		t.Bias = b
		v = n.GetInput()[0]
		n = prod[v]
	}
	if n == nil || n.GetOpType() != "Conv" {
		return nil, bad("no 1×1 Conv before the neck")
	}
	t.Weight = n.GetInput()[1]
	if len(n.GetInput()) > 2 && n.GetInput()[2] != "" {
		if t.Bias != "" {
			return nil, bad("two conv biases")
		}
		t.Bias = n.GetInput()[2]
	}
	if t.Bias == "" || inits[t.Bias] == nil || inits[t.Weight] == nil {
		return nil, bad("the conv weight or bias is not an initializer")
	}
	for _, a := range n.GetAttribute() {
		if a.GetName() == "group" && a.GetI() != 1 {
			return nil, bad("grouped conv")
		}
	}
	dims := inits[t.Weight].GetDims()
	if len(dims) != 4 || dims[2] != 1 || dims[3] != 1 {
		return nil, bad("conv weight shape %v is not [out, in, 1, 1]", dims)
	}
	t.Out, t.In = int(dims[0]), int(dims[1])
	for _, p := range []string{t.Bias, t.BNScale, t.BNBias, t.BNMean, t.BNVar} {
		if d := inits[p].GetDims(); len(d) != 1 || int(d[0]) != t.Out {
			return nil, bad("%s has shape %v, want [%d]", p, d, t.Out)
		}
	}
	t.Pool = n.GetInput()[0]
	if p := prod[t.Pool]; p == nil || (p.GetOpType() != "GlobalAveragePool" && p.GetOpType() != "ReduceMean" && p.GetOpType() != "AveragePool") {
		return nil, bad("the conv input is not a global pooling")
	}
	if math.IsNaN(t.Keep) || t.Keep <= 0 {
		return nil, bad("dropout scale %v", t.Keep)
	}
	return t, nil
}

// initializerData reads the named float initializers.
func initializerData(m *onnx.ModelProto, names ...string) (map[string][]float32, error) {
	want := map[string]bool{}
	for _, n := range names {
		want[n] = true
	}
	out := map[string][]float32{}
	for _, t := range m.GetGraph().GetInitializer() {
		if want[t.GetName()] {
			f, err := onnx.Float32s(t)
			if err != nil {
				return nil, fmt.Errorf("%w: %s: %v", ErrModel, t.GetName(), err)
			}
			out[t.GetName()] = f
		}
	}
	for _, n := range names {
		if _, ok := out[n]; !ok {
			return nil, fmt.Errorf("%w: no initializer %q", ErrModel, n)
		}
	}
	return out, nil
}

// setInitializers replaces the data of the named initializers in m (dims kept).
func setInitializers(m *onnx.ModelProto, vals map[string][]float32) error {
	ts := m.GetGraph().GetInitializer()
	for i, t := range ts {
		v, ok := vals[t.GetName()]
		if !ok {
			continue
		}
		nt, err := onnx.FloatTensor(t.GetName(), t.GetDims(), v)
		if err != nil {
			return fmt.Errorf("%w: %s: %v", ErrModel, t.GetName(), err)
		}
		ts[i] = nt
	}
	return nil
}
