// Package paddle reads PaddlePaddle legacy inference models (.pdmodel +
// .pdiparams, __model__ + __params__, and the one-file-per-variable layout),
// recognises Paddle 3 PIR inference.json files, converts the op inventory of
// the PP-ShiTuV2 networks (and the PaddleOCR relatives) to ONNX, and writes
// legacy models for test fixtures.
//
// Reading: Load (a model folder or program file), LoadFiles, LoadProgram
// (program only), Parse (bytes). Model.Program holds the blocks, variables
// and ops with their attributes; Model.Params the persistable tensors;
// OpInventory counts ops by type.
//
// Converting: ToONNX / ConvertModel. The whole program converts when every
// op it needs is supported (SupportedOps); otherwise ErrUnsupported names
// each op type with its count. ConvertOptions.DetectorHead cuts a PicoDet
// at its head outputs (the released PP-ShiTuV2 detector's post-processing
// is control flow), AutoCut does so only when needed, Outputs cuts anywhere.
// Image feeds (4-D float, NCHW) keep a dynamic height and width unless
// ConvertOptions.PinInputShapes keeps the stored ones. The converted ops
// and their ONNX forms are listed in docs/paddle-ops.md.
//
// Writing: FromONNX rewrites an ONNX graph (package arch's networks) in
// Paddle's legacy op forms, AppendPicoDetPost adds a detector's
// post-processing, ProgramBuilder assembles programs op by op, and Write,
// WriteTar (an official-style tarball) and WriteUncombined store them.
//
// The formats are described in ../shared/spec/models-and-formats.md §C; the
// ops and their ONNX equivalents in §D.
package paddle

import (
	"errors"
	"fmt"
	"sort"
)

// Errors returned by the readers and the converter; they are wrapped with %w
// and a message saying where the problem is.
var (
	// ErrFormat means a file is not a well-formed Paddle model file.
	ErrFormat = errors.New("paddle: malformed model file")
	// ErrParams means the .pdiparams records do not match the program's
	// persistable variables (count, dtype, dims, trailing bytes).
	ErrParams = errors.New("paddle: parameters do not match the program")
	// ErrPIR means the model is a Paddle 3 PIR program (inference.json),
	// which this package recognises but does not read.
	ErrPIR = errors.New("paddle: PIR inference.json models are not supported")
	// ErrNotFound means no model file was found at the given path.
	ErrNotFound = errors.New("paddle: no model found")
	// ErrUnsupported means the converter met ops it cannot convert; the
	// message names each op type with its count.
	ErrUnsupported = errors.New("paddle: unsupported ops")
	// ErrConvert means an op could not be converted (bad attributes,
	// missing inputs, unknown shapes).
	ErrConvert = errors.New("paddle: conversion failed")
)

// DType is Paddle's VarType.Type enum (models-and-formats §C.2). Only the
// element types carry data; the container kinds describe variables.
type DType int32

// Element types and container kinds of VarType.Type.
const (
	Bool           DType = 0
	Int16          DType = 1
	Int32          DType = 2
	Int64          DType = 3
	FP16           DType = 4
	FP32           DType = 5
	FP64           DType = 6
	LoDTensor      DType = 7
	SelectedRows   DType = 8
	FeedMinibatch  DType = 9
	FetchList      DType = 10
	StepScopes     DType = 11
	LoDRankTable   DType = 12
	LoDTensorArray DType = 13
	PlaceList      DType = 14
	Reader         DType = 15
	Raw            DType = 17
	Tuple          DType = 18
	SizeT          DType = 19
	Uint8          DType = 20
	Int8           DType = 21
	BF16           DType = 22
	Complex64      DType = 23
	Complex128     DType = 24
	String         DType = 25
	Strings        DType = 26
	Vocab          DType = 27
	FeedList       DType = 28
	PString        DType = 29
	SparseCOO      DType = 30
	SparseCSR      DType = 31
)

var dtypeNames = map[DType]string{
	Bool: "bool", Int16: "int16", Int32: "int32", Int64: "int64", FP16: "float16",
	FP32: "float32", FP64: "float64", LoDTensor: "LOD_TENSOR", SelectedRows: "SELECTED_ROWS",
	FeedMinibatch: "FEED_MINIBATCH", FetchList: "FETCH_LIST", StepScopes: "STEP_SCOPES",
	LoDRankTable: "LOD_RANK_TABLE", LoDTensorArray: "LOD_TENSOR_ARRAY", PlaceList: "PLACE_LIST",
	Reader: "READER", Raw: "RAW", Tuple: "TUPLE", SizeT: "size_t", Uint8: "uint8", Int8: "int8",
	BF16: "bfloat16", Complex64: "complex64", Complex128: "complex128", String: "STRING",
	Strings: "STRINGS", Vocab: "VOCAB", FeedList: "FEED_LIST", PString: "PSTRING",
	SparseCOO: "SPARSE_COO", SparseCSR: "SPARSE_CSR",
}

func (d DType) String() string {
	if s, ok := dtypeNames[d]; ok {
		return s
	}
	return fmt.Sprintf("dtype(%d)", int32(d))
}

// Size is the element size in bytes of an element type, 0 for container kinds.
func (d DType) Size() int {
	switch d {
	case Bool, Uint8, Int8:
		return 1
	case Int16, FP16, BF16:
		return 2
	case Int32, FP32:
		return 4
	case Int64, FP64, SizeT, Complex64:
		return 8
	case Complex128:
		return 16
	}
	return 0
}

// AttrType is the OpDesc attribute type enum (models-and-formats §C.2).
type AttrType int32

// Attribute types.
const (
	AttrInt AttrType = iota
	AttrFloat
	AttrString
	AttrInts
	AttrFloats
	AttrStrings
	AttrBool
	AttrBools
	AttrBlock
	AttrLong
	AttrBlocks
	AttrLongs
	AttrFloat64s
	AttrVar
	AttrVars
	AttrFloat64
	AttrScalar
	AttrScalars
)

// Program is a decoded ProgramDesc.
type Program struct {
	// Version is major·10⁶+minor·10³+patch of the exporting Paddle (0 when absent or a dev build).
	Version int64
	// Blocks holds block 0 (the global block) first, then control-flow sub-blocks.
	Blocks []*Block
	// OpVersions is the op_version_map (op name → version); nil when absent.
	OpVersions map[string]int32
}

// Block is a BlockDesc.
type Block struct {
	Idx             int32
	ParentIdx       int32 // -1 for block 0
	ForwardBlockIdx int32 // -1 when absent
	Vars            []*Var
	Ops             []*Op
}

// Var is a VarDesc. For LOD_TENSOR, SELECTED_ROWS and LOD_TENSOR_ARRAY
// variables DType and Dims describe the tensor (-1 = unknown dimension).
type Var struct {
	Name          string
	Kind          DType // container kind: LoDTensor, FeedMinibatch, FetchList, ...
	DType         DType // element type when the kind has a tensor
	Dims          []int64
	LoDLevel      int32
	Persistable   bool
	NeedCheckFeed bool
	IsParameter   bool
	StopGradient  bool
	// Attrs are VarDesc attributes (newer files; field 7): name, type and
	// the i, s or ints value.
	Attrs []VarAttr
}

// VarAttr is a VarDesc attribute.
type VarAttr struct {
	Name string
	Type AttrType
	I    int32
	S    string
	Ints []int32
}

// Slot is an op input or output: a parameter (slot) name and the variable names bound to it.
type Slot struct {
	Param string
	Args  []string
}

// Scalar is a Paddle Scalar attribute value (Paddle ≥2.5).
type Scalar struct {
	Type int32 // 1 bool, 2 int64, 3 float64, 4 complex128
	B    bool
	I    int64
	R    float64
	C    [2]float64
}

// Attr is one OpDesc attribute; the field matching Type holds the value.
type Attr struct {
	Name     string
	Type     AttrType
	I        int32
	F        float32
	S        string
	Ints     []int32
	Floats   []float32
	Strings  []string
	B        bool
	Bools    []bool
	Block    int32
	L        int64
	Blocks   []int32
	Longs    []int64
	Float64s []float64
	VarName  string
	VarNames []string
	Float64  float64
	Scalar   *Scalar
	Scalars  []Scalar
}

// Op is an OpDesc.
type Op struct {
	Type     string
	Inputs   []Slot
	Outputs  []Slot
	Attrs    []Attr
	IsTarget bool
}

// Var returns the variable called name in this block or its parents, or nil.
func (p *Program) Var(block int, name string) *Var {
	// Follow parents at most len(Blocks) times: a hostile file may make a cycle.
	for hops := 0; block >= 0 && block < len(p.Blocks) && hops <= len(p.Blocks); hops++ {
		b := p.Blocks[block]
		for _, v := range b.Vars {
			if v.Name == name {
				return v
			}
		}
		block = int(b.ParentIdx)
	}
	return nil
}

// OpInventory counts ops by type over all blocks.
func (p *Program) OpInventory() map[string]int {
	m := map[string]int{}
	for _, b := range p.Blocks {
		for _, op := range b.Ops {
			m[op.Type]++
		}
	}
	return m
}

// FormatInventory renders an inventory as "a×2, b×1" sorted by op type.
func FormatInventory(inv map[string]int) string {
	keys := make([]string, 0, len(inv))
	for k := range inv {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	s := ""
	for i, k := range keys {
		if i > 0 {
			s += ", "
		}
		s += fmt.Sprintf("%s×%d", k, inv[k])
	}
	return s
}

// Persistables returns the persistable tensor variables of all blocks, de-duplicated
// by name and sorted bytewise: the order of the .pdiparams records
// (models-and-formats §C.3). FEED_MINIBATCH, FETCH_LIST, READER and RAW
// variables are excluded.
func (p *Program) Persistables() []*Var {
	seen := map[string]bool{}
	var out []*Var
	for _, b := range p.Blocks {
		for _, v := range b.Vars {
			if !v.Persistable || seen[v.Name] {
				continue
			}
			switch v.Kind {
			case FeedMinibatch, FetchList, Reader, Raw:
				continue
			}
			seen[v.Name] = true
			out = append(out, v)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Feeds returns the model input names in `col` order (models-and-formats §C.2).
func (p *Program) Feeds() []string { return p.ioNames("feed", "Out") }

// Fetches returns the model output names in `col` order.
func (p *Program) Fetches() []string { return p.ioNames("fetch", "X") }

func (p *Program) ioNames(opType, slot string) []string {
	if len(p.Blocks) == 0 {
		return nil
	}
	type kv struct {
		col  int
		name string
	}
	var l []kv
	for i, op := range p.Blocks[0].Ops {
		if op.Type != opType {
			continue
		}
		args := op.Input(slot)
		if opType == "feed" {
			args = op.Output(slot)
		}
		if len(args) == 0 {
			continue
		}
		col := i
		if a := op.Attr("col"); a != nil {
			col = int(a.I)
		}
		l = append(l, kv{col, args[0]})
	}
	sort.SliceStable(l, func(i, j int) bool { return l[i].col < l[j].col })
	names := make([]string, len(l))
	for i, e := range l {
		names[i] = e.name
	}
	return names
}

// Input returns the argument names of an input slot (nil when absent).
func (o *Op) Input(param string) []string {
	for _, s := range o.Inputs {
		if s.Param == param {
			return s.Args
		}
	}
	return nil
}

// Output returns the argument names of an output slot (nil when absent).
func (o *Op) Output(param string) []string {
	for _, s := range o.Outputs {
		if s.Param == param {
			return s.Args
		}
	}
	return nil
}

// Attr returns the attribute called name, or nil.
func (o *Op) Attr(name string) *Attr {
	for i := range o.Attrs {
		if o.Attrs[i].Name == name {
			return &o.Attrs[i]
		}
	}
	return nil
}
