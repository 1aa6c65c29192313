package models

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/shitu-go/shitu/arch"
	"github.com/shitu-go/shitu/onnx"
)

// SynthFile is the ONNX file name Synth writes in each model folder.
const SynthFile = "inference.onnx"

// SynthNote is the manifest note of synthesized models.
const SynthNote = "synthetic: seeded weights (architecture-faithful, not the official weights)"

// Synth writes the two PP-ShiTuV2 networks with seeded weights (package
// arch) as ONNX, each in its catalogue folder under dir, with a manifest
// (name, inputs and outputs with shapes, preprocessing, "synthetic: seeded
// weights", the seed, sha256 of every file):
//
//	dir/picodet_PPLCNet_x2_5_mainbody_lite_v1.0_infer/inference.onnx  (raw-head detector)
//	dir/general_PPLCNetV2_base_pretrained_v1.0_infer/inference.onnx   (512-d extractor)
//
// so PaddleClas configs pointing at ./models/<name> resolve them. The same
// seed gives the same bytes. Existing folders are replaced.
func Synth(dir string, seed int64) ([]Installed, error) {
	det, err := arch.BuildDet(seed, arch.DetOptions{})
	if err != nil {
		return nil, fmt.Errorf("%w: detector: %w", ErrConvert, err)
	}
	rec, err := arch.BuildRec(seed, arch.RecOptions{})
	if err != nil {
		return nil, fmt.Errorf("%w: extractor: %w", ErrConvert, err)
	}
	var out []Installed
	for _, n := range []struct {
		name, form string
		model      *onnx.ModelProto
	}{
		{detName, "raw-head", det},
		{recName, "plain", rec},
	} {
		b, err := onnx.Marshal(n.model)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %w", ErrConvert, n.name, err)
		}
		inst, err := writeSynth(dir, n.name, n.form, seed, b)
		if err != nil {
			return nil, err
		}
		out = append(out, *inst)
	}
	return out, nil
}

// writeSynth installs one synthesized ONNX model as dir/name.
func writeSynth(dir, name, form string, seed int64, model []byte) (*Installed, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrManifest, err)
	}
	tmp, err := os.MkdirTemp(dir, ".synth-"+name+"-")
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrManifest, err)
	}
	defer os.RemoveAll(tmp)
	if err := writeAtomic(filepath.Join(tmp, SynthFile), model); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrManifest, err)
	}
	m := newManifest(name)
	m.Synthetic, m.Note, m.Seed = true, SynthNote, &seed
	m.Source = "shitu arch (seeded weights)"
	m.Kind, m.Model, m.Form = KindONNX, SynthFile, form
	fillFromCatalogue(m)
	if m.Inputs, m.Outputs, err = onnxIO(model); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrConvert, name, err)
	}
	if m.Files, err = digestTree(tmp); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrManifest, err)
	}
	if err := WriteManifest(tmp, m); err != nil {
		return nil, err
	}
	dest := filepath.Join(dir, name)
	if err := install(tmp, dest); err != nil {
		return nil, err
	}
	return &Installed{Dir: dest, Manifest: m, Fresh: true}, nil
}
