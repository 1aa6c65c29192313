package paddle

import (
	"archive/tar"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"time"

	"google.golang.org/protobuf/encoding/protowire"
)

// The writer produces legacy inference models the way Paddle does
// (models-and-formats §C.2, §C.3): proto2 with unpacked repeated scalars,
// negative integers as 10-byte varints, parameter records in bytewise name
// order. It exists for test fixtures and offline mirrors.

// EncodeProgram serializes a Program as a ProgramDesc.
func EncodeProgram(p *Program) []byte {
	var b []byte
	for _, blk := range p.Blocks {
		b = appendMsg(b, 1, encodeBlock(blk))
	}
	var v []byte
	v = appendVarint(v, 1, uint64(p.Version))
	b = appendMsg(b, 4, v)
	if len(p.OpVersions) > 0 {
		names := make([]string, 0, len(p.OpVersions))
		for k := range p.OpVersions {
			names = append(names, k)
		}
		sort.Strings(names)
		var m []byte
		for _, k := range names {
			var pair, ver []byte
			pair = appendString(pair, 1, k)
			ver = appendVarint(ver, 1, uint64(int64(p.OpVersions[k])))
			pair = appendMsg(pair, 2, ver)
			m = appendMsg(m, 1, pair)
		}
		b = appendMsg(b, 5, m)
	}
	return b
}

func appendVarint(b []byte, num protowire.Number, v uint64) []byte {
	b = protowire.AppendTag(b, num, protowire.VarintType)
	return protowire.AppendVarint(b, v)
}

func appendBool(b []byte, num protowire.Number, v bool) []byte {
	x := uint64(0)
	if v {
		x = 1
	}
	return appendVarint(b, num, x)
}

func appendString(b []byte, num protowire.Number, s string) []byte {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendString(b, s)
}

func appendMsg(b []byte, num protowire.Number, m []byte) []byte {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendBytes(b, m)
}

// i32 widens a signed int32 the way proto2 int32 fields are written
// (negative values as 10-byte two's complement varints).
func i32(v int32) uint64 { return uint64(int64(v)) }

func encodeBlock(blk *Block) []byte {
	var b []byte
	b = appendVarint(b, 1, i32(blk.Idx))
	b = appendVarint(b, 2, i32(blk.ParentIdx))
	for _, v := range blk.Vars {
		b = appendMsg(b, 3, encodeVar(v))
	}
	for _, op := range blk.Ops {
		b = appendMsg(b, 4, encodeOp(op))
	}
	if blk.ForwardBlockIdx != -1 {
		b = appendVarint(b, 5, i32(blk.ForwardBlockIdx))
	}
	return b
}

func encodeTensorDesc(dt DType, dims []int64) []byte {
	var b []byte
	b = appendVarint(b, 1, i32(int32(dt)))
	for _, d := range dims {
		b = appendVarint(b, 2, uint64(d))
	}
	return b
}

func encodeVar(v *Var) []byte {
	var b []byte
	b = appendString(b, 1, v.Name)
	var t []byte
	t = appendVarint(t, 1, i32(int32(v.Kind)))
	switch v.Kind {
	case LoDTensor, LoDTensorArray:
		var l []byte
		l = appendMsg(l, 1, encodeTensorDesc(v.DType, v.Dims))
		if v.LoDLevel != 0 {
			l = appendVarint(l, 2, i32(v.LoDLevel))
		}
		num := protowire.Number(3)
		if v.Kind == LoDTensorArray {
			num = 4
		}
		t = appendMsg(t, num, l)
	case SelectedRows:
		t = appendMsg(t, 2, encodeTensorDesc(v.DType, v.Dims))
	}
	b = appendMsg(b, 2, t)
	b = appendBool(b, 3, v.Persistable)
	if v.NeedCheckFeed {
		b = appendBool(b, 4, true)
	}
	if v.IsParameter {
		b = appendBool(b, 5, true)
	}
	if v.StopGradient {
		b = appendBool(b, 6, true)
	}
	for _, a := range v.Attrs {
		var m []byte
		m = appendString(m, 1, a.Name)
		m = appendVarint(m, 2, i32(int32(a.Type)))
		switch a.Type {
		case AttrInt:
			m = appendVarint(m, 3, i32(a.I))
		case AttrString:
			m = appendString(m, 4, a.S)
		case AttrInts:
			for _, x := range a.Ints {
				m = appendVarint(m, 5, i32(x))
			}
		}
		b = appendMsg(b, 7, m)
	}
	return b
}

func encodeOp(op *Op) []byte {
	var b []byte
	slot := func(s Slot) []byte {
		var m []byte
		m = appendString(m, 1, s.Param)
		for _, a := range s.Args {
			m = appendString(m, 2, a)
		}
		return m
	}
	for _, s := range op.Inputs {
		b = appendMsg(b, 1, slot(s))
	}
	for _, s := range op.Outputs {
		b = appendMsg(b, 2, slot(s))
	}
	b = appendString(b, 3, op.Type)
	for i := range op.Attrs {
		b = appendMsg(b, 4, encodeAttr(&op.Attrs[i]))
	}
	if op.IsTarget {
		b = appendBool(b, 5, true)
	}
	return b
}

func encodeScalar(s Scalar) []byte {
	var b []byte
	b = appendVarint(b, 1, i32(s.Type))
	switch s.Type {
	case 1:
		b = appendBool(b, 2, s.B)
	case 2:
		b = appendVarint(b, 3, uint64(s.I))
	case 3:
		b = protowire.AppendTag(b, 4, protowire.Fixed64Type)
		b = protowire.AppendFixed64(b, math.Float64bits(s.R))
	case 4:
		var c []byte
		for i, x := range s.C {
			c = protowire.AppendTag(c, protowire.Number(i+1), protowire.Fixed64Type)
			c = protowire.AppendFixed64(c, math.Float64bits(x))
		}
		b = appendMsg(b, 5, c)
	}
	return b
}

func encodeAttr(a *Attr) []byte {
	var b []byte
	b = appendString(b, 1, a.Name)
	b = appendVarint(b, 2, i32(int32(a.Type)))
	switch a.Type {
	case AttrInt:
		b = appendVarint(b, 3, i32(a.I))
	case AttrFloat:
		b = protowire.AppendTag(b, 4, protowire.Fixed32Type)
		b = protowire.AppendFixed32(b, math.Float32bits(a.F))
	case AttrString:
		b = appendString(b, 5, a.S)
	case AttrInts:
		for _, v := range a.Ints {
			b = appendVarint(b, 6, i32(v))
		}
	case AttrFloats:
		for _, v := range a.Floats {
			b = protowire.AppendTag(b, 7, protowire.Fixed32Type)
			b = protowire.AppendFixed32(b, math.Float32bits(v))
		}
	case AttrStrings:
		for _, v := range a.Strings {
			b = appendString(b, 8, v)
		}
	case AttrBool:
		b = appendBool(b, 10, a.B)
	case AttrBools:
		for _, v := range a.Bools {
			b = appendBool(b, 11, v)
		}
	case AttrBlock:
		b = appendVarint(b, 12, i32(a.Block))
	case AttrLong:
		b = appendVarint(b, 13, uint64(a.L))
	case AttrBlocks:
		for _, v := range a.Blocks {
			b = appendVarint(b, 14, i32(v))
		}
	case AttrLongs:
		for _, v := range a.Longs {
			b = appendVarint(b, 15, uint64(v))
		}
	case AttrFloat64s:
		for _, v := range a.Float64s {
			b = protowire.AppendTag(b, 16, protowire.Fixed64Type)
			b = protowire.AppendFixed64(b, math.Float64bits(v))
		}
	case AttrVar:
		b = appendString(b, 17, a.VarName)
	case AttrVars:
		for _, v := range a.VarNames {
			b = appendString(b, 18, v)
		}
	case AttrFloat64:
		b = protowire.AppendTag(b, 19, protowire.Fixed64Type)
		b = protowire.AppendFixed64(b, math.Float64bits(a.Float64))
	case AttrScalar:
		if a.Scalar != nil {
			b = appendMsg(b, 20, encodeScalar(*a.Scalar))
		}
	case AttrScalars:
		for _, s := range a.Scalars {
			b = appendMsg(b, 21, encodeScalar(s))
		}
	}
	return b
}

// AppendRecord appends one save_combine record (models-and-formats §C.3).
func AppendRecord(b []byte, t *Tensor) []byte {
	b = binary.LittleEndian.AppendUint32(b, 0) // LoD tensor version
	b = binary.LittleEndian.AppendUint64(b, 0) // lod_level
	b = binary.LittleEndian.AppendUint32(b, 0) // tensor version
	desc := encodeTensorDesc(t.DType, t.Dims)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(desc)))
	b = append(b, desc...)
	return append(b, t.Data...)
}

// EncodeParams serializes the program's persistable variables from params
// as a combined .pdiparams stream, in bytewise name order. Every
// persistable variable must have a value whose dtype, dims and data size
// agree with its VarDesc.
func EncodeParams(p *Program, params map[string]*Tensor) ([]byte, error) {
	var b []byte
	for _, v := range p.Persistables() {
		t, ok := params[v.Name]
		if !ok {
			return nil, fmt.Errorf("%w: no value for persistable %q", ErrParams, v.Name)
		}
		if err := checkRecord(v, t); err != nil {
			return nil, err
		}
		if int64(len(t.Data)) != t.Numel()*int64(t.DType.Size()) {
			return nil, fmt.Errorf("%w: %q holds %d bytes for %v %v", ErrParams, v.Name, len(t.Data), t.DType, t.Dims)
		}
		b = AppendRecord(b, t)
	}
	return b, nil
}

// pickleEmptyDict is a protocol-2 pickle of {} — a stand-in for the
// .pdiparams.info side file, which inference never reads (§C.4).
var pickleEmptyDict = []byte{0x80, 0x02, '}', 'q', 0x00, '.'}

// Write writes m to dir in the official layout: inference.pdmodel,
// inference.pdiparams and inference.pdiparams.info. Files are written
// atomically (temporary name, then rename).
func Write(dir string, m *Model) error {
	files, err := officialFiles(m)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("paddle: %w", err)
	}
	for _, f := range files {
		if err := writeAtomic(filepath.Join(dir, f.name), f.data); err != nil {
			return err
		}
	}
	return nil
}

// WriteUncombined writes m in the old layout: __model__ plus one file per
// persistable variable, named after it.
func WriteUncombined(dir string, m *Model) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("paddle: %w", err)
	}
	if err := writeAtomic(filepath.Join(dir, "__model__"), EncodeProgram(m.Program)); err != nil {
		return err
	}
	for _, v := range m.Program.Persistables() {
		t, ok := m.Params[v.Name]
		if !ok {
			return fmt.Errorf("%w: no value for persistable %q", ErrParams, v.Name)
		}
		if filepath.Base(v.Name) != v.Name {
			return fmt.Errorf("%w: variable name %q cannot be a file name", ErrParams, v.Name)
		}
		if err := writeAtomic(filepath.Join(dir, v.Name), AppendRecord(nil, t)); err != nil {
			return err
		}
	}
	return nil
}

// WriteTar writes m as an official-style tarball: a folder called prefix
// (e.g. "general_PPLCNetV2_base_pretrained_v1.0_infer") holding
// inference.pdmodel, inference.pdiparams and inference.pdiparams.info.
// The archive is uncompressed, like the official .tar downloads.
func WriteTar(w io.Writer, prefix string, m *Model) error {
	files, err := officialFiles(m)
	if err != nil {
		return err
	}
	tw := tar.NewWriter(w)
	mt := time.Date(2022, 8, 1, 0, 0, 0, 0, time.UTC)
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: prefix + "/", Mode: 0o755, ModTime: mt}); err != nil {
		return fmt.Errorf("paddle: %w", err)
	}
	for _, f := range files {
		h := &tar.Header{Typeflag: tar.TypeReg, Name: prefix + "/" + f.name, Mode: 0o644, Size: int64(len(f.data)), ModTime: mt}
		if err := tw.WriteHeader(h); err != nil {
			return fmt.Errorf("paddle: %w", err)
		}
		if _, err := tw.Write(f.data); err != nil {
			return fmt.Errorf("paddle: %w", err)
		}
	}
	if err := tw.Close(); err != nil {
		return fmt.Errorf("paddle: %w", err)
	}
	return nil
}

type namedFile struct {
	name string
	data []byte
}

func officialFiles(m *Model) ([]namedFile, error) {
	if m == nil || m.Program == nil {
		return nil, fmt.Errorf("%w: nil model", ErrFormat)
	}
	params, err := EncodeParams(m.Program, m.Params)
	if err != nil {
		return nil, err
	}
	return []namedFile{
		{"inference.pdmodel", EncodeProgram(m.Program)},
		{"inference.pdiparams", params},
		{"inference.pdiparams.info", pickleEmptyDict},
	}, nil
}

func writeAtomic(path string, data []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return fmt.Errorf("paddle: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("paddle: %w", err)
	}
	return nil
}
