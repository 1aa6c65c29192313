package paddle

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// PIRProgram is what this package reads of a Paddle 3 PIR inference.json
// (models-and-formats §C.5): the op list (nested regions flattened in
// order) and the parameters with their types. It is enough to inventory a
// PIR model and load its weights; it is not converted to ONNX (ToONNX works
// on legacy programs only), because the JSON schema drifts between Paddle
// releases.
type PIRProgram struct {
	Version   int64
	Trainable bool
	// Ops are the full op names ("pd_op.conv2d", "builtin.parameter", ...).
	Ops []string
	// Params are the parameter ops' outputs, in program order.
	Params []PIRParam
}

// PIRParam is one parameter of a PIR program.
type PIRParam struct {
	Name  string
	DType DType
	Dims  []int64
}

// OpInventory counts ops by full name.
func (p *PIRProgram) OpInventory() map[string]int {
	m := map[string]int{}
	for _, o := range p.Ops {
		m[o]++
	}
	return m
}

// pirDialects maps the compressed dialect ids of op names (§C.5).
var pirDialects = map[string]string{"0": "builtin", "1": "pd_op", "2": "cf", "3": "custom_op", "4": "dist"}

// pirTypes maps PIR element type ids to Paddle dtypes.
var pirTypes = map[string]DType{
	"t_f32": FP32, "t_f64": FP64, "t_f16": FP16, "t_bf16": BF16, "t_i64": Int64, "t_i32": Int32,
	"t_i16": Int16, "t_i8": Int8, "t_ui8": Uint8, "t_bool": Bool, "t_c64": Complex64, "t_c128": Complex128,
}

type pirOp struct {
	Name    string            `json:"#"`
	A       json.RawMessage   `json:"A"`
	O       json.RawMessage   `json:"O"`
	Regions []json.RawMessage `json:"regions"`
}

type pirRegion struct {
	Blocks []struct {
		Ops []pirOp `json:"ops"`
	} `json:"blocks"`
}

// ParsePIR decodes a PIR inference.json.
func ParsePIR(data []byte) (*PIRProgram, error) {
	var top struct {
		BaseCode *struct {
			Magic     string `json:"magic"`
			Version   int64  `json:"version"`
			Trainable bool   `json:"trainable"`
		} `json:"base_code"`
		Program *struct {
			Regions []json.RawMessage `json:"regions"`
		} `json:"program"`
	}
	if err := json.Unmarshal(bytes.TrimLeft(data, " \t\r\n\xef\xbb\xbf"), &top); err != nil {
		return nil, fmt.Errorf("%w: PIR json: %v", ErrFormat, err)
	}
	if top.BaseCode == nil || top.BaseCode.Magic != "pir" || top.Program == nil {
		return nil, fmt.Errorf("%w: not a PIR program (no base_code.magic \"pir\" and program)", ErrFormat)
	}
	p := &PIRProgram{Version: top.BaseCode.Version, Trainable: top.BaseCode.Trainable}
	if err := p.regions(top.Program.Regions, 0); err != nil {
		return nil, err
	}
	return p, nil
}

func (p *PIRProgram) regions(rs []json.RawMessage, depth int) error {
	if depth > 32 {
		return fmt.Errorf("%w: PIR regions nested deeper than 32", ErrFormat)
	}
	for _, raw := range rs {
		var r pirRegion
		if err := json.Unmarshal(raw, &r); err != nil {
			return fmt.Errorf("%w: PIR region: %v", ErrFormat, err)
		}
		for _, b := range r.Blocks {
			for _, op := range b.Ops {
				if err := p.op(op, depth); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func (p *PIRProgram) op(op pirOp, depth int) error {
	name := op.Name
	if name == "p" {
		name = "builtin.parameter"
		par, err := pirParam(op)
		if err != nil {
			return err
		}
		p.Params = append(p.Params, par)
	} else if d, rest, ok := strings.Cut(name, "."); ok {
		if full, known := pirDialects[d]; known {
			name = full + "." + rest
		}
	}
	p.Ops = append(p.Ops, name)
	return p.regions(op.Regions, depth+1)
}

// pirParam reads a compressed parameter op: A ends with the name, O.TT is
// {"#": "0.t_dtensor", "D": [{"#": "0.t_f32"}, dims, layout, lod, offset]}.
func pirParam(op pirOp) (PIRParam, error) {
	var a []json.RawMessage
	if err := json.Unmarshal(op.A, &a); err != nil || len(a) == 0 {
		return PIRParam{}, fmt.Errorf("%w: PIR parameter op without attributes", ErrFormat)
	}
	var par PIRParam
	if err := json.Unmarshal(a[len(a)-1], &par.Name); err != nil {
		return PIRParam{}, fmt.Errorf("%w: PIR parameter name: %v", ErrFormat, err)
	}
	var o struct {
		TT struct {
			D []json.RawMessage `json:"D"`
		} `json:"TT"`
	}
	if err := json.Unmarshal(op.O, &o); err != nil || len(o.TT.D) < 2 {
		return PIRParam{}, fmt.Errorf("%w: PIR parameter %q has no tensor type", ErrFormat, par.Name)
	}
	var et struct {
		ID string `json:"#"`
	}
	if err := json.Unmarshal(o.TT.D[0], &et); err != nil {
		return PIRParam{}, fmt.Errorf("%w: PIR parameter %q element type: %v", ErrFormat, par.Name, err)
	}
	_, id, _ := strings.Cut(et.ID, ".")
	dt, ok := pirTypes[id]
	if !ok {
		return PIRParam{}, fmt.Errorf("%w: PIR parameter %q has element type %q", ErrFormat, par.Name, et.ID)
	}
	par.DType = dt
	if err := json.Unmarshal(o.TT.D[1], &par.Dims); err != nil {
		return PIRParam{}, fmt.Errorf("%w: PIR parameter %q dims: %v", ErrFormat, par.Name, err)
	}
	return par, nil
}

// ParsePIRParams reads a PIR model's inference.pdiparams: the same records
// as the legacy format, in bytewise order of the parameter names (§C.5),
// each checked against its parameter's type.
func ParsePIRParams(data []byte, p *PIRProgram) (map[string]*Tensor, error) {
	seen := map[string]bool{}
	var vars []*Var
	for _, par := range p.Params {
		if seen[par.Name] {
			continue
		}
		seen[par.Name] = true
		vars = append(vars, &Var{Name: par.Name, Kind: LoDTensor, DType: par.DType, Dims: par.Dims, Persistable: true})
	}
	sort.Slice(vars, func(i, j int) bool { return vars[i].Name < vars[j].Name })
	prog := &Program{Blocks: []*Block{{ParentIdx: -1, ForwardBlockIdx: -1, Vars: vars}}}
	return ParseParams(data, prog)
}

// LoadPIR reads a PIR model: path is its folder or its .json file; the
// parameters come from the .pdiparams beside it (nil when absent).
func LoadPIR(path string) (*PIRProgram, map[string]*Tensor, error) {
	file := path
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		file = filepath.Join(path, "inference.json")
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %v", ErrNotFound, err)
	}
	p, err := ParsePIR(data)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", file, err)
	}
	pf := strings.TrimSuffix(file, filepath.Ext(file)) + ".pdiparams"
	pd, err := os.ReadFile(pf)
	if err != nil {
		return p, nil, nil
	}
	ps, err := ParsePIRParams(pd, p)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", pf, err)
	}
	return p, ps, nil
}
