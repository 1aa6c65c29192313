//go:build cgo

package ort

import (
	"fmt"
	"os"
	"path/filepath"

	ortgo "github.com/yalue/onnxruntime_go"

	"github.com/shitu-go/shitu/infer"
)

// Optimize returns the model as ONNX Runtime rewrites it at the given
// graph optimisation level (SessionOptions optimized_model_filepath). At
// OptBasic the result holds standard ONNX ops only (constant folding,
// Conv+BatchNormalization, Conv+Add and Conv+Mul fusions), so it stays a
// portable model; package quant starts from it.
func (b *Backend) Optimize(model []byte, level infer.OptLevel) ([]byte, error) {
	if len(model) == 0 {
		return nil, fmt.Errorf("%w: ort: empty model", infer.ErrModel)
	}
	ins, outs, err := ortgo.GetInputOutputInfoWithONNXData(model)
	if err != nil {
		return nil, fmt.Errorf("%w: ort: %v", infer.ErrModel, err)
	}
	dir, err := os.MkdirTemp("", "shitu-ort-opt-")
	if err != nil {
		return nil, fmt.Errorf("ort: optimize: %w", err)
	}
	defer os.RemoveAll(dir)
	out := filepath.Join(dir, "optimized.onnx")
	so, err := ortgo.NewSessionOptions()
	if err != nil {
		return nil, fmt.Errorf("ort: session options: %w", err)
	}
	defer so.Destroy()
	if err := so.SetGraphOptimizationLevel(optLevel(level)); err != nil {
		return nil, fmt.Errorf("ort: optimisation level: %w", err)
	}
	if err := so.SetOptimizedModelFilePath(out); err != nil {
		return nil, fmt.Errorf("ort: optimized model path: %w", err)
	}
	var inNames, outNames []string
	for _, i := range ins {
		inNames = append(inNames, i.Name)
	}
	for _, o := range outs {
		outNames = append(outNames, o.Name)
	}
	s, err := ortgo.NewDynamicAdvancedSessionWithONNXData(model, inNames, outNames, so)
	if err != nil {
		return nil, fmt.Errorf("%w: ort: %v", infer.ErrModel, err)
	}
	s.Destroy()
	data, err := os.ReadFile(out)
	if err != nil {
		return nil, fmt.Errorf("ort: optimize: %w", err)
	}
	return data, nil
}
