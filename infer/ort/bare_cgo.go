//go:build cgo

package ort

import (
	"fmt"

	ortgo "github.com/yalue/onnxruntime_go"

	"github.com/shitu-go/shitu/infer"
	"github.com/shitu-go/shitu/tensor"
)

// Bare is an onnxruntime_go AdvancedSession with tensors bound once: the
// least work a Go program can do per run. It exists so benchmarks can
// measure the overhead of shitu's Session against it; it is not safe for
// concurrent use.
type Bare struct {
	s    *ortgo.AdvancedSession
	vals []ortgo.Value
}

// NewBare binds the given inputs (by the model's input order) and float32
// outputs of the given shapes (in the model's output order).
func (b *Backend) NewBare(model []byte, opts infer.Options, inputs map[string]*tensor.Tensor, outShapes [][]int) (*Bare, error) {
	ins, outs, err := ortgo.GetInputOutputInfoWithONNXData(model)
	if err != nil {
		return nil, fmt.Errorf("%w: ort: %v", infer.ErrModel, err)
	}
	if len(outShapes) != len(outs) {
		return nil, fmt.Errorf("%w: %d output shapes for %d outputs", infer.ErrInput, len(outShapes), len(outs))
	}
	bare := &Bare{}
	var inVals, outVals []ortgo.Value
	var inNames, outNames []string
	for _, in := range ins {
		t, ok := inputs[in.Name]
		if !ok {
			bare.Close()
			return nil, fmt.Errorf("%w: missing input %q", infer.ErrInput, in.Name)
		}
		v, err := toORT(t)
		if err != nil {
			bare.Close()
			return nil, err
		}
		bare.vals = append(bare.vals, v)
		inVals = append(inVals, v)
		inNames = append(inNames, in.Name)
	}
	for i, out := range outs {
		shape := make(ortgo.Shape, len(outShapes[i]))
		for k, d := range outShapes[i] {
			shape[k] = int64(d)
		}
		v, err := ortgo.NewEmptyTensor[float32](shape)
		if err != nil {
			bare.Close()
			return nil, err
		}
		bare.vals = append(bare.vals, v)
		outVals = append(outVals, v)
		outNames = append(outNames, out.Name)
	}
	so, err := ortgo.NewSessionOptions()
	if err != nil {
		bare.Close()
		return nil, err
	}
	defer so.Destroy()
	so.SetIntraOpNumThreads(threads(opts.IntraOpThreads))
	so.SetInterOpNumThreads(threads(opts.InterOpThreads))
	so.SetGraphOptimizationLevel(optLevel(opts.OptLevel))
	spin := "0"
	if b.cfg.Spin {
		spin = "1"
	}
	so.AddSessionConfigEntry("session.intra_op.allow_spinning", spin)
	bare.s, err = ortgo.NewAdvancedSessionWithONNXData(model, inNames, outNames, inVals, outVals, so)
	if err != nil {
		bare.Close()
		return nil, fmt.Errorf("%w: ort: %v", infer.ErrModel, err)
	}
	return bare, nil
}

// Run runs the model on the bound tensors.
func (b *Bare) Run() error { return b.s.Run() }

// Close releases the session and its tensors.
func (b *Bare) Close() error {
	if b.s != nil {
		b.s.Destroy()
		b.s = nil
	}
	for _, v := range b.vals {
		v.Destroy()
	}
	b.vals = nil
	return nil
}
