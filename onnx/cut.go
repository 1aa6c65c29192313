package onnx

import (
	"fmt"

	"google.golang.org/protobuf/proto"
)

// Cut returns a copy of m whose graph ends at the named values: the nodes
// those values do not depend on are dropped, and so are the initializers
// nothing uses any more. The new outputs are declared as float tensors
// of unknown shape (the runtime infers it). It is how a network is split at an inner layer, e.g. a
// recognition backbone at its global pooling (package train).
func Cut(m *ModelProto, outputs ...string) (*ModelProto, error) {
	if len(outputs) == 0 {
		return nil, fmt.Errorf("%w: cut: no outputs", ErrBuild)
	}
	if err := Validate(m); err != nil {
		return nil, err
	}
	g := m.GetGraph()
	producer := map[string]int{}
	for i, n := range g.GetNode() {
		for _, o := range n.GetOutput() {
			producer[o] = i
		}
	}
	isInput := map[string]bool{}
	for _, in := range g.GetInput() {
		isInput[in.GetName()] = true
	}
	inits := map[string]bool{}
	for _, t := range g.GetInitializer() {
		inits[t.GetName()] = true
	}
	need := map[string]bool{}
	keep := make([]bool, len(g.GetNode()))
	stack := []string{}
	for _, o := range outputs {
		if _, ok := producer[o]; !ok && !isInput[o] && !inits[o] {
			return nil, fmt.Errorf("%w: cut: no value %q in the graph", ErrBuild, o)
		}
		stack = append(stack, o)
	}
	for len(stack) > 0 {
		v := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if v == "" || need[v] {
			continue
		}
		need[v] = true
		i, ok := producer[v]
		if !ok || keep[i] {
			continue
		}
		keep[i] = true
		stack = append(stack, g.GetNode()[i].GetInput()...)
	}
	out := proto.Clone(m).(*ModelProto)
	og := out.GetGraph()
	var nodes []*NodeProto
	for i, n := range og.GetNode() {
		if keep[i] {
			nodes = append(nodes, n)
		}
	}
	og.Node = nodes
	var ts []*TensorProto
	for _, t := range og.GetInitializer() {
		if need[t.GetName()] {
			ts = append(ts, t)
		}
	}
	og.Initializer = ts
	var ins []*ValueInfoProto
	for _, in := range og.GetInput() {
		if need[in.GetName()] || !inits[in.GetName()] {
			ins = append(ins, in)
		}
	}
	og.Input = ins
	og.Output = nil
	for _, o := range outputs {
		og.Output = append(og.Output, cutValueInfo(o, TensorProto_FLOAT, nil))
	}
	og.ValueInfo = nil
	return out, nil
}

func cutValueInfo(name string, dt TensorProto_DataType, shape []int64) *ValueInfoProto {
	return valueInfo(Value{Name: name, Type: dt, Shape: shape})
}
