package models

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
)

// QuantizedFile is the ONNX file name WriteQuantized writes.
const QuantizedFile = "inference.onnx"

// QuantizedSuffix ends the default name of an int8 twin.
const QuantizedSuffix = "_int8"

// WriteQuantized installs an int8 twin of the model described by src as
// the ONNX folder dest (replacing it atomically): dest/inference.onnx plus
// a manifest of its own (new files, sha256s, inputs and outputs), carrying
// over the role, form, preprocessing and labels of src and saying in Note
// how it was made. Its bytes differ from the float model's, so every
// feature fingerprint differs and galleries built with the float model are
// re-extracted. A config selects it like any model folder
// (rec_inference_model_dir / det_inference_model_dir: dest).
func WriteQuantized(src *Manifest, srcDir, dest string, model []byte, note string) (*Installed, error) {
	if src == nil {
		return nil, fmt.Errorf("%w: no source manifest", ErrManifest)
	}
	ins, outs, err := onnxIO(model)
	if err != nil {
		return nil, fmt.Errorf("%w: quantized model: %v", ErrConvert, err)
	}
	parent := filepath.Dir(dest)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrManifest, err)
	}
	tmp, err := os.MkdirTemp(parent, ".quant-"+filepath.Base(dest)+"-")
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrManifest, err)
	}
	defer os.RemoveAll(tmp)
	if err := writeAtomic(filepath.Join(tmp, QuantizedFile), model); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrManifest, err)
	}
	m := newManifest(filepath.Base(dest))
	m.Role, m.Labels, m.Preprocess = src.Role, slices.Clone(src.Labels), src.Preprocess
	m.Description = src.Description
	if m.Description != "" {
		m.Description += " — int8"
	}
	m.Source = srcDir
	m.Synthetic, m.Seed = src.Synthetic, src.Seed
	m.Note = note
	if src.Synthetic && src.Note != "" {
		m.Note = src.Note + "; " + note
	}
	m.Kind, m.Model = KindONNX, QuantizedFile
	m.Form = src.Form
	if m.Form == "" && src.ONNX != nil {
		m.Form = src.ONNX.Form
	}
	m.Inputs, m.Outputs = ins, outs
	if m.Files, err = digestTree(tmp); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrManifest, err)
	}
	if err := WriteManifest(tmp, m); err != nil {
		return nil, err
	}
	if err := install(tmp, dest); err != nil {
		return nil, err
	}
	return &Installed{Dir: dest, Manifest: m, Fresh: true}, nil
}
