package paddle

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Model is a loaded legacy inference model.
type Model struct {
	Program *Program
	// Params maps persistable variable names to their values; nil for a
	// program loaded without parameters (LoadProgram).
	Params map[string]*Tensor
	// ProgramFile and ParamsFile are the files read ("" when loaded from
	// bytes; ParamsFile is the directory for the uncombined layout).
	ProgramFile, ParamsFile string
}

// OpInventory counts the program's ops by type over all blocks.
func (m *Model) OpInventory() map[string]int { return m.Program.OpInventory() }

// Parse decodes a model from the bytes of its program and combined parameters.
func Parse(program, params []byte) (*Model, error) {
	p, err := ParseProgram(program)
	if err != nil {
		return nil, err
	}
	ps, err := ParseParams(params, p)
	if err != nil {
		return nil, err
	}
	return &Model{Program: p, Params: ps}, nil
}

// programNames are the program file names tried in a model directory, in order.
var programNames = []string{"inference.pdmodel", "model.pdmodel", "__model__"}

// FindProgram returns the program file of a model directory: inference.pdmodel,
// model.pdmodel, __model__, or the only *.pdmodel. A directory holding a PIR
// inference.json (and no legacy program) gives ErrPIR.
func FindProgram(dir string) (string, error) {
	for _, n := range programNames {
		p := filepath.Join(dir, n)
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
			return p, nil
		}
	}
	m, _ := filepath.Glob(filepath.Join(dir, "*.pdmodel"))
	if len(m) == 1 {
		return m[0], nil
	}
	if len(m) > 1 {
		return "", fmt.Errorf("%w: %s holds several .pdmodel files (%s); name one", ErrNotFound, dir, strings.Join(m, ", "))
	}
	js, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	sort.Strings(js)
	for _, j := range js {
		if b, err := os.ReadFile(j); err == nil && isPIRJSON(b) {
			return "", pirError(j, b)
		}
	}
	return "", fmt.Errorf("%w: %s holds no inference.pdmodel, model.pdmodel or __model__", ErrNotFound, dir)
}

// LoadProgram reads only the program of a model (a directory or a program
// file); Params stays nil. Use it for models shipped without weights.
func LoadProgram(path string) (*Model, error) {
	file, err := programPath(path)
	if err != nil {
		return nil, err
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNotFound, err)
	}
	if isPIRJSON(data) {
		return nil, pirError(file, data)
	}
	p, err := ParseProgram(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	return &Model{Program: p, ProgramFile: file}, nil
}

// Load reads a legacy inference model. path is a model directory or its
// program file. Parameters are taken from, in order: the program's sibling
// with the .pdiparams extension (inference.pdmodel → inference.pdiparams),
// __params__ (beside __model__), or — the uncombined layout — one file per
// persistable variable named after it in the same directory.
func Load(path string) (*Model, error) {
	m, err := LoadProgram(path)
	if err != nil {
		return nil, err
	}
	dir := filepath.Dir(m.ProgramFile)
	base := filepath.Base(m.ProgramFile)
	var combined []string
	if ext := filepath.Ext(base); ext == ".pdmodel" {
		combined = append(combined, filepath.Join(dir, strings.TrimSuffix(base, ext)+".pdiparams"))
	}
	combined = append(combined, filepath.Join(dir, "__params__"), filepath.Join(dir, "params"))
	for _, c := range combined {
		data, err := os.ReadFile(c)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("paddle: %w", err)
		}
		ps, err := ParseParams(data, m.Program)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", c, err)
		}
		m.Params, m.ParamsFile = ps, c
		return m, nil
	}
	return loadUncombined(m, dir)
}

// LoadFiles reads a program file and a combined parameters file given
// explicitly (any names).
func LoadFiles(programFile, paramsFile string) (*Model, error) {
	m, err := LoadProgram(programFile)
	if err != nil {
		return nil, err
	}
	data, err := os.ReadFile(paramsFile)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNotFound, err)
	}
	ps, err := ParseParams(data, m.Program)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", paramsFile, err)
	}
	m.Params, m.ParamsFile = ps, paramsFile
	return m, nil
}

func loadUncombined(m *Model, dir string) (*Model, error) {
	vars := m.Program.Persistables()
	ps := make(map[string]*Tensor, len(vars))
	var missing []string
	for _, v := range vars {
		// Variable names never hold path separators in the uncombined
		// layout; refuse names that would leave the directory.
		if v.Name == "" || strings.ContainsAny(v.Name, `/\`) || v.Name == "." || v.Name == ".." {
			missing = append(missing, v.Name)
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, v.Name))
		if err != nil {
			missing = append(missing, v.Name)
			continue
		}
		t, err := ParseRecord(data, v)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", filepath.Join(dir, v.Name), err)
		}
		ps[v.Name] = t
	}
	if len(vars) > 0 && len(missing) == len(vars) {
		return nil, fmt.Errorf("%w: no parameters beside %s (no .pdiparams, __params__ or per-variable files)", ErrNotFound, m.ProgramFile)
	}
	if len(missing) > 0 {
		ex := missing
		if len(ex) > 5 {
			ex = ex[:5]
		}
		return nil, fmt.Errorf("%w: %d of %d per-variable parameter files missing in %s (e.g. %s)", ErrParams, len(missing), len(vars), dir, strings.Join(ex, ", "))
	}
	m.Params, m.ParamsFile = ps, dir
	return m, nil
}

func programPath(path string) (string, error) {
	st, err := os.Stat(path)
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrNotFound, err)
	}
	if st.IsDir() {
		return FindProgram(path)
	}
	return path, nil
}

// pirHeader is the part of a PIR inference.json we look at (models-and-formats §C.5).
type pirHeader struct {
	BaseCode *struct {
		Magic   string `json:"magic"`
		Version int64  `json:"version"`
	} `json:"base_code"`
	Program json.RawMessage `json:"program"`
}

// isPIRJSON reports whether data looks like a Paddle 3 PIR program.
func isPIRJSON(data []byte) bool {
	t := bytes.TrimLeft(data, " \t\r\n\xef\xbb\xbf")
	if len(t) == 0 || t[0] != '{' {
		return false
	}
	var h pirHeader
	if err := json.Unmarshal(t, &h); err != nil {
		// A JSON-looking file that does not parse still is not a ProgramDesc
		// (protobuf never starts with '{' followed by JSON text); call it PIR
		// only when the magic is visible.
		return bytes.Contains(t[:min(len(t), 4096)], []byte(`"pir"`))
	}
	return h.BaseCode != nil && h.BaseCode.Magic == "pir"
}

func pirError(file string, data []byte) error {
	ver := ""
	if p, err := ParsePIR(data); err == nil {
		ver = fmt.Sprintf(" (PIR version %d, %d ops, %d parameters; LoadPIR reads its op inventory and weights)", p.Version, len(p.Ops), len(p.Params))
	}
	return fmt.Errorf("%w: %s is a Paddle 3 PIR program%s; to convert it, export the model in the legacy format "+
		"(Paddle ≥3: set FLAGS_enable_pir_api=0 when exporting, giving inference.pdmodel) or convert it to ONNX with paddle2onnx", ErrPIR, file, ver)
}
