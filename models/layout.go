package models

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Kind is the kind of model files a folder holds.
type Kind string

// Model folder kinds (models-and-formats.md §C.1).
const (
	// KindPaddle is a legacy combined Paddle model: a ProgramDesc file
	// (inference.pdmodel, model.pdmodel or __model__) plus one params file
	// (inference.pdiparams, model.pdiparams or __params__).
	KindPaddle Kind = "paddle"
	// KindPaddleUncombined is a ProgramDesc plus one file per variable.
	KindPaddleUncombined Kind = "paddle-uncombined"
	// KindPIR is a Paddle 3 PIR program (inference.json + .pdiparams).
	KindPIR Kind = "paddle-pir"
	// KindONNX is a folder holding an ONNX file.
	KindONNX Kind = "onnx"
)

// Layout locates the model files of a folder. Paths are absolute or
// relative as the folder was given.
type Layout struct {
	Dir  string
	Kind Kind
	// Model is the program file (.pdmodel, __model__, inference.json) or
	// the ONNX file.
	Model string
	// Params is the combined params file; empty for KindONNX and
	// KindPaddleUncombined.
	Params string
	// VarFiles are the per-variable files of KindPaddleUncombined, sorted.
	VarFiles []string
}

// Sources are the files whose bytes determine the model: the cache key of
// a conversion is their combined sha256.
func (l Layout) Sources() []string {
	out := []string{l.Model}
	if l.Params != "" {
		out = append(out, l.Params)
	}
	return append(out, l.VarFiles...)
}

// Files that never count as model sources.
var notModelFiles = map[string]bool{
	ManifestFile: true, ConvertedFile: true, "infer_cfg.yml": true, "inference.yml": true,
	"SOURCE.md": true, "README.md": true, "label_list.txt": true,
}

// prefixes tried in order: PaddleClas prefers the int8 params when they
// exist (ppshitu-pipeline.md §1), then the usual export names.
var prefixes = []string{"inference_int8", "inference", "model"}

// DetectLayout tells what model files dir holds. A folder with Paddle files
// is Paddle even if it also holds ONNX files (converted copies); a folder
// with only ONNX files must hold exactly one *.onnx besides our own
// shitu.onnx, or a model.onnx/inference.onnx.
func DetectLayout(dir string) (Layout, error) {
	st, err := os.Stat(dir)
	if err != nil {
		return Layout{}, fmt.Errorf("%w: %v", ErrNoModel, err)
	}
	if !st.IsDir() {
		if strings.EqualFold(filepath.Ext(dir), ".onnx") {
			return Layout{Dir: filepath.Dir(dir), Kind: KindONNX, Model: dir}, nil
		}
		return Layout{}, fmt.Errorf("%w: %s is a file, not a model folder or .onnx file", ErrNoModel, dir)
	}
	has := func(name string) bool {
		st, err := os.Stat(filepath.Join(dir, name))
		return err == nil && st.Mode().IsRegular()
	}
	j := func(name string) string { return filepath.Join(dir, name) }
	for _, p := range prefixes {
		if !has(p + ".pdiparams") {
			continue
		}
		if has(p + ".pdmodel") {
			return Layout{Dir: dir, Kind: KindPaddle, Model: j(p + ".pdmodel"), Params: j(p + ".pdiparams")}, nil
		}
		if has("inference.json") {
			return Layout{Dir: dir, Kind: KindPIR, Model: j("inference.json"), Params: j(p + ".pdiparams")}, nil
		}
	}
	for _, p := range prefixes {
		if has(p+".pdmodel") && !has(p+".pdiparams") {
			return uncombined(dir, p+".pdmodel")
		}
	}
	if has("__model__") {
		if has("__params__") {
			return Layout{Dir: dir, Kind: KindPaddle, Model: j("__model__"), Params: j("__params__")}, nil
		}
		return uncombined(dir, "__model__")
	}
	if has("inference.json") && isPIR(j("inference.json")) {
		return Layout{}, fmt.Errorf("%w: %s has inference.json but no inference.pdiparams", ErrNoModel, dir)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return Layout{}, fmt.Errorf("%w: %v", ErrNoModel, err)
	}
	var onnxFiles []string
	for _, e := range entries {
		if e.Type().IsRegular() && strings.EqualFold(filepath.Ext(e.Name()), ".onnx") && e.Name() != ConvertedFile {
			onnxFiles = append(onnxFiles, e.Name())
		}
	}
	for _, pref := range []string{"inference.onnx", "model.onnx"} {
		for _, f := range onnxFiles {
			if f == pref {
				return Layout{Dir: dir, Kind: KindONNX, Model: j(f)}, nil
			}
		}
	}
	switch len(onnxFiles) {
	case 1:
		return Layout{Dir: dir, Kind: KindONNX, Model: j(onnxFiles[0])}, nil
	case 0:
		return Layout{}, fmt.Errorf("%w: %s holds no inference.pdmodel/.pdiparams, __model__, inference.json or .onnx", ErrNoModel, dir)
	default:
		return Layout{}, fmt.Errorf("%w: %s holds %d .onnx files (%s); name one", ErrNoModel, dir, len(onnxFiles), strings.Join(onnxFiles, ", "))
	}
}

// uncombined lists the per-variable files beside a program file: every
// regular file that is not the program, not a known side file and not
// hidden.
func uncombined(dir, model string) (Layout, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return Layout{}, fmt.Errorf("%w: %v", ErrNoModel, err)
	}
	var vars []string
	for _, e := range entries {
		n := e.Name()
		if !e.Type().IsRegular() || n == model || notModelFiles[n] || strings.HasPrefix(n, ".") ||
			strings.HasSuffix(n, ".info") || strings.HasSuffix(n, ".onnx") || strings.HasSuffix(n, ".part") {
			continue
		}
		vars = append(vars, filepath.Join(dir, n))
	}
	sort.Strings(vars)
	if len(vars) == 0 {
		return Layout{}, fmt.Errorf("%w: %s holds the program %s but no parameters (no .pdiparams, __params__ or per-variable files)", ErrNoModel, dir, model)
	}
	return Layout{Dir: dir, Kind: KindPaddleUncombined, Model: filepath.Join(dir, model), VarFiles: vars}, nil
}

// isPIR reports whether a JSON file looks like a PIR program
// (models-and-formats.md §C.5: "base_code" with magic "pir").
func isPIR(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	head := make([]byte, 4096)
	n, _ := f.Read(head)
	head = head[:n]
	return bytes.Contains(head, []byte(`"base_code"`)) || bytes.Contains(head, []byte(`"pir"`))
}
