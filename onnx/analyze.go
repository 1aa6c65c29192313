package onnx

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// IOInfo describes a graph input or output.
type IOInfo struct {
	Name  string
	Type  TensorProto_DataType
	Shape []int64 // -1 for dynamic dims; nil when undeclared
}

// Info is what Analyze finds in a model.
type Info struct {
	IRVersion int64
	Opset     int64 // ai.onnx opset
	Producer  string
	Inputs    []IOInfo
	Outputs   []IOInfo
	// Params counts stored parameter values: the elements of every
	// initializer (BatchNorm statistics included) and of every float
	// Constant node of rank ≥ 1 (some exporters store weights that way;
	// scalars and integer shape vectors are not counted). ParamTensors is
	// the number of such tensors.
	Params       int64
	ParamTensors int
	// ParamsByOp attributes each initializer to the op type of the first
	// node reading it ("" when none reads it).
	ParamsByOp map[string]int64
	// MACs counts multiply-accumulates of Conv, ConvTranspose, Gemm and
	// MatMul from static shapes: Conv = N·Cout·Hout·Wout·(Cin/group)·kh·kw,
	// MatMul = batch·M·N·K. A dynamic first (batch) input dim is taken as 1;
	// other dynamic dims leave the nodes they reach unresolved unless
	// AnalyzeShapes is given concrete input shapes.
	MACs     int64
	MACsByOp map[string]int64
	// Nodes counts nodes per op type.
	Nodes map[string]int
	// PerNode lists, in graph order, every node with MACs or parameters.
	PerNode []NodeInfo
	// Unresolved lists nodes with a MAC-counted op whose shapes were not
	// known statically (their MACs are missing from the total), and nodes
	// whose shapes could not be inferred.
	Unresolved []string
}

// NodeInfo is one node's share of the totals.
type NodeInfo struct {
	Name, OpType string
	Output       []int64 // first output's static shape
	MACs         int64
	Params       int64 // elements of the initializers it reads first
}

// Analyze walks m's graph, propagating static shapes from the declared
// inputs (a dynamic batch dim taken as 1), and counts parameters and MACs.
func Analyze(m *ModelProto) (Info, error) { return AnalyzeShapes(m, nil) }

// AnalyzeShapes is Analyze with input shapes given by name (e.g. concrete
// H and W for a model declared [N,3,?,?]); inputs not listed keep their
// declared shapes.
func AnalyzeShapes(m *ModelProto, inputShapes map[string][]int64) (Info, error) {
	if err := Validate(m); err != nil {
		return Info{}, err
	}
	info := Info{
		IRVersion:  m.GetIrVersion(),
		Producer:   m.GetProducerName(),
		ParamsByOp: map[string]int64{},
		MACsByOp:   map[string]int64{},
		Nodes:      map[string]int{},
	}
	for _, o := range m.GetOpsetImport() {
		if o.GetDomain() == "" || o.GetDomain() == "ai.onnx" {
			info.Opset = o.GetVersion()
		}
	}
	g := m.GetGraph()
	shapes := map[string][]int64{}
	consts := map[string]*TensorProto{}
	isInit := map[string]bool{}
	constCount := map[string]int64{} // parameter-like Constant outputs
	for _, t := range g.GetInitializer() {
		consts[t.GetName()] = t
		isInit[t.GetName()] = true
		shapes[t.GetName()] = slices.Clone(t.GetDims())
		n, _ := NumElements(t.GetDims()) // checked by Validate
		info.Params += n
		info.ParamTensors++
	}
	for _, vi := range g.GetInput() {
		if _, isInit := consts[vi.GetName()]; isInit {
			continue // old models list initializers as inputs too
		}
		s := ShapeOf(vi)
		info.Inputs = append(info.Inputs, IOInfo{Name: vi.GetName(), Type: elemType(vi), Shape: s})
		if given, ok := inputShapes[vi.GetName()]; ok {
			s = given
		}
		if len(s) > 0 && s[0] < 0 {
			s = slices.Clone(s)
			s[0] = 1
		}
		shapes[vi.GetName()] = s
	}
	firstReader := map[string]string{}
	for _, n := range g.GetNode() {
		op := n.GetOpType()
		info.Nodes[op]++
		in := make([][]int64, len(n.GetInput()))
		var nodeParams int64
		for i, name := range n.GetInput() {
			in[i] = shapes[name]
			if _, ok := consts[name]; ok {
				if _, seen := firstReader[name]; !seen {
					firstReader[name] = op
					if isInit[name] {
						c, _ := NumElements(consts[name].GetDims())
						nodeParams += c
						if cc, ok := constCount[name]; ok {
							info.ParamsByOp[op] += cc
						}
					}
				}
			}
		}
		if op == "Constant" {
			if a := attrMap(n)["value"]; a != nil && len(n.GetOutput()) == 1 {
				t := a.GetT()
				consts[n.GetOutput()[0]] = t
				if TensorProto_DataType(t.GetDataType()) == TensorProto_FLOAT && len(t.GetDims()) > 0 {
					c, err := NumElements(t.GetDims())
					if err != nil {
						return info, fmt.Errorf("%w: constant %q: %v", ErrFormat, n.GetName(), err)
					}
					info.Params += c
					info.ParamTensors++
					isInit[n.GetOutput()[0]] = true
					constCount[n.GetOutput()[0]] = c
				}
			}
		}
		outs, err := InferShapes(n, in, info.Opset, func(name string) *TensorProto { return consts[name] })
		if err != nil {
			// Keep going with unknown shapes: the counts stay useful.
			info.Unresolved = append(info.Unresolved, err.Error())
			outs = make([][]int64, len(n.GetOutput()))
		}
		for i, name := range n.GetOutput() {
			shapes[name] = outs[i]
		}
		if op != "Constant" && len(n.GetOutput()) == 1 {
			if v := foldInt(n, in, info.Opset, func(name string) *TensorProto { return consts[name] }); v != nil {
				if t, err := Int64Tensor("", []int64{int64(len(v))}, v); err == nil {
					consts[n.GetOutput()[0]] = t
				}
			}
		}
		var out []int64
		if len(outs) > 0 {
			out = outs[0]
		}
		macs, counted, ok := nodeMACs(n, in, out)
		if (counted && ok && macs > 0) || nodeParams > 0 {
			info.PerNode = append(info.PerNode, NodeInfo{Name: n.GetName(), OpType: op, Output: out, MACs: macs, Params: nodeParams})
		}
		if !counted {
			continue
		}
		if !ok {
			info.Unresolved = append(info.Unresolved, fmt.Sprintf("%s %q", op, n.GetName()))
			continue
		}
		info.MACs += macs
		info.MACsByOp[op] += macs
	}
	for _, t := range g.GetInitializer() {
		n, _ := NumElements(t.GetDims())
		info.ParamsByOp[firstReader[t.GetName()]] += n
	}
	for _, vi := range g.GetOutput() {
		s := ShapeOf(vi)
		info.Outputs = append(info.Outputs, IOInfo{Name: vi.GetName(), Type: elemType(vi), Shape: s})
	}
	return info, nil
}

func elemType(vi *ValueInfoProto) TensorProto_DataType {
	return TensorProto_DataType(vi.GetType().GetTensorType().GetElemType())
}

// nodeMACs returns the MACs of a node; counted reports whether the op type
// is one that is counted, ok whether the shapes were known.
func nodeMACs(n *NodeProto, in [][]int64, out []int64) (macs int64, counted, ok bool) {
	switch n.GetOpType() {
	case "Conv":
		if len(in) < 2 || in[1] == nil || out == nil || prod(out) < 0 || len(in[1]) < 3 {
			return 0, true, false
		}
		// output elements × (Cin/group · kernel) — the weight's dims after Cout.
		return prod(out) * prod(in[1][1:]), true, true
	case "ConvTranspose":
		// each input element is scattered through Cout/group · kernel weights.
		if len(in) < 2 || in[0] == nil || prod(in[0]) < 0 || in[1] == nil || len(in[1]) < 3 {
			return 0, true, false
		}
		return prod(in[0]) * prod(in[1][1:]), true, true
	case "Gemm":
		if len(in) < 2 || out == nil || prod(out) < 0 || len(in[0]) != 2 {
			return 0, true, false
		}
		k := in[0][1]
		if attrInt(attrMap(n), "transA", 0) != 0 {
			k = in[0][0]
		}
		return prod(out) * k, true, true
	case "MatMul":
		if len(in) < 2 || out == nil || prod(out) < 0 || len(in[0]) == 0 || in[0][len(in[0])-1] < 0 {
			return 0, true, false
		}
		return prod(out) * in[0][len(in[0])-1], true, true
	}
	return 0, false, false
}

// String is a printable report: inputs, outputs, parameters and MACs with
// per-op breakdowns.
func (i Info) String() string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "ir_version %d, opset %d, producer %q\n", i.IRVersion, i.Opset, i.Producer)
	for _, io := range i.Inputs {
		fmt.Fprintf(&sb, "input  %-16s %-7s %s\n", io.Name, io.Type, fmtShape(io.Shape))
	}
	for _, io := range i.Outputs {
		fmt.Fprintf(&sb, "output %-16s %-7s %s\n", io.Name, io.Type, fmtShape(io.Shape))
	}
	fmt.Fprintf(&sb, "parameters %d values in %d tensors (%.2f M, %.1f MB as float32)\n",
		i.Params, i.ParamTensors, float64(i.Params)/1e6, float64(i.Params)*4/1e6)
	for _, op := range slices.Sorted(maps.Keys(i.ParamsByOp)) {
		name := op
		if name == "" {
			name = "(unused)"
		}
		fmt.Fprintf(&sb, "  %-20s %12d\n", name, i.ParamsByOp[op])
	}
	fmt.Fprintf(&sb, "MACs %d (%.3f G; dynamic dims taken as 1)\n", i.MACs, float64(i.MACs)/1e9)
	for _, op := range slices.Sorted(maps.Keys(i.MACsByOp)) {
		fmt.Fprintf(&sb, "  %-20s %12d\n", op, i.MACsByOp[op])
	}
	if len(i.Unresolved) > 0 {
		fmt.Fprintf(&sb, "MACs not counted (shapes unknown): %s\n", strings.Join(i.Unresolved, ", "))
	}
	total := 0
	for _, c := range i.Nodes {
		total += c
	}
	fmt.Fprintf(&sb, "nodes %d:", total)
	for _, op := range slices.Sorted(maps.Keys(i.Nodes)) {
		fmt.Fprintf(&sb, " %s×%d", op, i.Nodes[op])
	}
	sb.WriteByte('\n')
	return sb.String()
}

func fmtShape(s []int64) string {
	if s == nil {
		return "?"
	}
	parts := make([]string, len(s))
	for i, d := range s {
		if d < 0 {
			parts[i] = "N"
			if i > 0 {
				parts[i] = "?"
			}
		} else {
			parts[i] = fmt.Sprint(d)
		}
	}
	return "[" + strings.Join(parts, ",") + "]"
}
