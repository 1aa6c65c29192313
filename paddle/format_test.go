package paddle

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
)

// tinyModel is a two-op program: x → conv2d (3→4, 3×3) → relu → fetch.
func tinyModel(t testing.TB) *Model {
	t.Helper()
	b := NewProgramBuilder()
	x := b.Feed("x", FP32, []int64{-1, 3, 8, 8})
	w := make([]float32, 4*3*3*3)
	for i := range w {
		w[i] = float32(i%7-3) / 10
	}
	wn := b.Param("conv2d_0.w_0", NewFloat32([]int64{4, 3, 3, 3}, w))
	c := b.Tmp("conv2d_0.tmp_0", FP32, []int64{-1, 4, 8, 8})
	b.Op("conv2d", []Slot{SlotOf("Input", x), SlotOf("Filter", wn)}, []Slot{SlotOf("Output", c)},
		AInts("paddings", 1, 1), AInts("strides", 1, 1), AInt("groups", 1))
	r := b.Tmp("relu_0.tmp_0", FP32, []int64{-1, 4, 8, 8})
	b.Op("relu", []Slot{SlotOf("X", c)}, []Slot{SlotOf("Out", r)})
	b.Fetch(r)
	m, err := b.Model()
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// Re-encoding a real program gives the same decoded program, and
// re-encoding its parameters gives the original .pdiparams byte for byte
// (the bytewise-sorted record order of §C.3).
func TestRealModelsReencode(t *testing.T) {
	for _, d := range []string{"ch_PP-OCRv3_det/paddle", "ch_ppocr_mobile_v2.0_cls/paddle-2020", "ch_ppocr_mobile_v2.0_cls/paddle-2.3"} {
		t.Run(d, func(t *testing.T) {
			dir := realDir(t, d)
			m, err := Load(dir)
			if err != nil {
				t.Fatal(err)
			}
			p2, err := ParseProgram(EncodeProgram(m.Program))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(m.Program, p2) {
				t.Error("program changed through encode/decode")
			}
			orig, err := os.ReadFile(filepath.Join(dir, "inference.pdiparams"))
			if err != nil {
				t.Fatal(err)
			}
			enc, err := EncodeParams(m.Program, m.Params)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(orig, enc) {
				t.Errorf("re-encoded params differ (%d vs %d bytes)", len(enc), len(orig))
			}
		})
	}
}

// All three legacy layouts load to the same model.
func TestLayouts(t *testing.T) {
	m := tinyModel(t)
	root := t.TempDir()
	official := filepath.Join(root, "official")
	if err := Write(official, m); err != nil {
		t.Fatal(err)
	}
	old := filepath.Join(root, "old")
	if err := os.MkdirAll(old, 0o755); err != nil {
		t.Fatal(err)
	}
	params, err := EncodeParams(m.Program, m.Params)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(old, "__model__"), EncodeProgram(m.Program), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(old, "__params__"), params, 0o644); err != nil {
		t.Fatal(err)
	}
	unc := filepath.Join(root, "uncombined")
	if err := WriteUncombined(unc, m); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{official, filepath.Join(official, "inference.pdmodel"), old, filepath.Join(old, "__model__"), unc} {
		got, err := Load(path)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if !reflect.DeepEqual(got.Program, m.Program) {
			t.Errorf("%s: program differs", path)
		}
		if len(got.Params) != 1 || !bytes.Equal(got.Params["conv2d_0.w_0"].Data, m.Params["conv2d_0.w_0"].Data) {
			t.Errorf("%s: params differ", path)
		}
	}
	if got, err := LoadFiles(filepath.Join(old, "__model__"), filepath.Join(old, "__params__")); err != nil || len(got.Params) != 1 {
		t.Errorf("LoadFiles: %v", err)
	}
	// A missing per-variable file is named.
	if err := os.Remove(filepath.Join(unc, "conv2d_0.w_0")); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(unc); !errors.Is(err, ErrNotFound) {
		t.Errorf("uncombined without files: %v", err)
	}
}

func TestPIRRefused(t *testing.T) {
	dir := t.TempDir()
	js := pirSample
	if err := os.WriteFile(filepath.Join(dir, "inference.json"), []byte(js), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Load(dir)
	if !errors.Is(err, ErrPIR) || !strings.Contains(err.Error(), "PIR version 1, 8 ops, 2 parameters") || !strings.Contains(err.Error(), "FLAGS_enable_pir_api=0") {
		t.Errorf("dir: %v", err)
	}
	_, err = Load(filepath.Join(dir, "inference.json"))
	if !errors.Is(err, ErrPIR) {
		t.Errorf("file: %v", err)
	}
	if _, err := ParseProgram([]byte(js)); !errors.Is(err, ErrPIR) {
		t.Errorf("bytes: %v", err)
	}
	// Other JSON is not PIR.
	if isPIRJSON([]byte(`{"a": 1}`)) {
		t.Error(`{"a":1} taken for PIR`)
	}
}

// Packed repeated fields, unknown fields and negative varints decode.
func TestProgramWireForms(t *testing.T) {
	// TensorDesc with packed dims [-1, 3] and an unknown field 9.
	var td []byte
	td = appendVarint(td, 1, uint64(FP32))
	var packed []byte
	packed = protowire.AppendVarint(packed, neg1)
	packed = protowire.AppendVarint(packed, 3)
	td = appendMsg(td, 2, packed)
	td = appendString(td, 9, "future")
	var lt []byte
	lt = appendMsg(lt, 1, td)
	var vt []byte
	vt = appendVarint(vt, 1, uint64(LoDTensor))
	vt = appendMsg(vt, 3, lt)
	var vd []byte
	vd = appendString(vd, 1, "x")
	vd = appendMsg(vd, 2, vt)
	var va []byte
	va = appendString(va, 1, "dist_attr")
	va = appendVarint(va, 2, uint64(AttrInts))
	va = appendMsg(va, 5, protowire.AppendVarint(protowire.AppendVarint(nil, 4), neg1))
	vd = appendMsg(vd, 7, va)
	vd = protowire.AppendTag(vd, 99, protowire.Fixed64Type)
	vd = protowire.AppendFixed64(vd, 7)
	// An op with packed ints attr [-1, 2] and packed floats.
	var at []byte
	at = appendString(at, 1, "shape")
	at = appendVarint(at, 2, uint64(AttrInts))
	var pi []byte
	pi = protowire.AppendVarint(pi, neg1)
	pi = protowire.AppendVarint(pi, 2)
	at = appendMsg(at, 6, pi)
	var af []byte
	af = appendString(af, 1, "scale")
	af = appendVarint(af, 2, uint64(AttrFloats))
	var pf []byte
	pf = protowire.AppendFixed32(pf, 0x40000000) // 2.0
	pf = protowire.AppendFixed32(pf, 0x40400000) // 3.0
	af = appendMsg(af, 7, pf)
	var od []byte
	od = appendString(od, 3, "reshape2")
	od = appendMsg(od, 4, at)
	od = appendMsg(od, 4, af)
	var bd []byte
	bd = appendVarint(bd, 1, 0)
	bd = appendVarint(bd, 2, neg1)
	bd = appendMsg(bd, 3, vd)
	bd = appendMsg(bd, 4, od)
	var pd []byte
	pd = appendMsg(pd, 1, bd)
	pd = appendString(pd, 3, "old op_compatible_map") // field 3: skipped
	p, err := ParseProgram(pd)
	if err != nil {
		t.Fatal(err)
	}
	v := p.Var(0, "x")
	if v == nil || !reflect.DeepEqual(v.Dims, []int64{-1, 3}) || v.DType != FP32 {
		t.Fatalf("var %+v", v)
	}
	if len(v.Attrs) != 1 || v.Attrs[0].Name != "dist_attr" || !reflect.DeepEqual(v.Attrs[0].Ints, []int32{4, -1}) {
		t.Errorf("var attrs %+v", v.Attrs)
	}
	if p2, err := ParseProgram(EncodeProgram(p)); err != nil || !reflect.DeepEqual(p2.Var(0, "x"), v) {
		t.Errorf("re-encoded var: %v", err)
	}
	if p.Blocks[0].ParentIdx != -1 {
		t.Errorf("parent %d", p.Blocks[0].ParentIdx)
	}
	op := p.Blocks[0].Ops[0]
	if got := op.Ints("shape", nil); !reflect.DeepEqual(got, []int64{-1, 2}) {
		t.Errorf("ints %v", got)
	}
	if got := op.Floats("scale", nil); !reflect.DeepEqual(got, []float64{2, 3}) {
		t.Errorf("floats %v", got)
	}
}

func TestParamsErrors(t *testing.T) {
	m := tinyModel(t)
	good, err := EncodeParams(m.Program, m.Params)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ParseParams(good, m.Program); err != nil {
		t.Fatal(err)
	}
	wrongDims := AppendRecord(nil, NewFloat32([]int64{4, 3, 9}, make([]float32, 108)))
	wrongType := AppendRecord(nil, &Tensor{DType: FP64, Dims: []int64{4, 3, 3, 3}, Data: make([]byte, 8*108)})
	tests := []struct {
		name string
		data []byte
		want error
		msg  string
	}{
		{"empty", nil, ErrParams, "ends after 0 of 1"},
		{"truncated header", good[:10], ErrFormat, "truncated"},
		{"truncated desc", good[:22], ErrFormat, "truncated"},
		{"truncated data", good[:len(good)-1], ErrFormat, "truncated"},
		{"trailing", append(append([]byte{}, good...), 0), ErrParams, "1 trailing bytes"},
		{"dims", wrongDims, ErrParams, "dims [4 3 3 3] in the program but [4 3 9]"},
		{"dtype", wrongType, ErrParams, "float32 in the program but float64"},
		{"version", append([]byte{1}, good[1:]...), ErrFormat, "version 1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseParams(tc.data, m.Program)
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("got %v, want %v containing %q", err, tc.want, tc.msg)
			}
		})
	}
}

func TestProgramErrors(t *testing.T) {
	m := tinyModel(t)
	enc := EncodeProgram(m.Program)
	for _, n := range []int{1, 5, len(enc) / 2, len(enc) - 1} {
		if _, err := ParseProgram(enc[:n]); !errors.Is(err, ErrFormat) {
			t.Errorf("truncated to %d: %v", n, err)
		}
	}
	if _, err := ParseProgram(nil); !errors.Is(err, ErrFormat) {
		t.Errorf("empty: %v", err)
	}
	// Wrong wire type for a known field.
	bad := protowire.AppendTag(nil, 1, protowire.VarintType)
	bad = protowire.AppendVarint(bad, 3)
	if _, err := ParseProgram(bad); !errors.Is(err, ErrFormat) {
		t.Errorf("wire type: %v", err)
	}
	if _, err := Load(t.TempDir()); !errors.Is(err, ErrNotFound) {
		t.Errorf("empty dir: %v", err)
	}
}

var minusOne int64 = -1

// neg1 is -1 as proto2 writes it: a 10-byte two's complement varint.
var neg1 = uint64(minusOne)

// pirSample follows the serialized form of §C.5: compressed parameter ops
// ("p"), dialect-numbered op names, a nested region.
const pirSample = `{"base_code":{"magic":"pir","trainable":false,"version":1},
"program":{"regions":[{"#":"region_0","blocks":[{"#":"block_0","args":[],"ops":[
{"#":"p","A":[0,1,1,"fc_0.w_0"],"O":{"%":1,"TT":{"#":"0.t_dtensor","D":[{"#":"0.t_f32"},[2,3],"NCHW",[],0]}},"OA":[1,0,1]},
{"#":"p","A":[0,1,1,"fc_0.b_0"],"O":{"%":2,"TT":{"#":"0.t_dtensor","D":[{"#":"0.t_f32"},[3],"NCHW",[],0]}},"OA":[1,0,1]},
{"#":"1.data","A":[{"AT":{"#":"0.a_str","D":"x"},"N":"name"}],"I":[],"O":[{"%":3}]},
{"#":"1.matmul","I":[{"%":3},{"%":1}],"O":[{"%":4}]},
{"#":"1.if","I":[],"O":[],"regions":[{"#":"region_1","blocks":[{"#":"block_1","args":[],"ops":[{"#":"2.yield","I":[],"O":[]}]}]}]},
{"#":"1.add","I":[{"%":4},{"%":2}],"O":[{"%":5}]},
{"#":"1.fetch","A":[{"AT":{"#":"0.a_str","D":"fetch_name_0"},"N":"name"}],"I":[{"%":5}],"O":[]}
]}]}]}}`

func TestPIRRead(t *testing.T) {
	p, err := ParsePIR([]byte(pirSample))
	if err != nil {
		t.Fatal(err)
	}
	want := "builtin.parameter×2, cf.yield×1, pd_op.add×1, pd_op.data×1, pd_op.fetch×1, pd_op.if×1, pd_op.matmul×1"
	if got := FormatInventory(p.OpInventory()); got != want {
		t.Errorf("inventory %s, want %s", got, want)
	}
	if p.Version != 1 || len(p.Params) != 2 || p.Params[0].Name != "fc_0.w_0" || !reflect.DeepEqual(p.Params[0].Dims, []int64{2, 3}) || p.Params[0].DType != FP32 {
		t.Errorf("program %+v", p)
	}
	// Parameters: records in bytewise name order (b_0 before w_0).
	var params []byte
	params = AppendRecord(params, NewFloat32([]int64{3}, []float32{1, 2, 3}))
	params = AppendRecord(params, NewFloat32([]int64{2, 3}, []float32{1, 2, 3, 4, 5, 6}))
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "inference.json"), []byte(pirSample), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "inference.pdiparams"), params, 0o644); err != nil {
		t.Fatal(err)
	}
	_, ps, err := LoadPIR(dir)
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := ps["fc_0.b_0"].Float32s(); !reflect.DeepEqual(v, []float32{1, 2, 3}) {
		t.Errorf("fc_0.b_0 = %v", v)
	}
	// Swapped records do not fit.
	var bad []byte
	bad = AppendRecord(bad, NewFloat32([]int64{2, 3}, make([]float32, 6)))
	bad = AppendRecord(bad, NewFloat32([]int64{3}, make([]float32, 3)))
	if _, err := ParsePIRParams(bad, p); !errors.Is(err, ErrParams) {
		t.Errorf("swapped: %v", err)
	}
	for _, s := range []string{`{"base_code":{"magic":"pir"}}`, `[1]`, `{"base_code":{"magic":"pir"},"program":{"regions":[{"blocks":[{"ops":[{"#":"p","A":[]}]}]}]}}`} {
		if _, err := ParsePIR([]byte(s)); !errors.Is(err, ErrFormat) {
			t.Errorf("%s: %v", s, err)
		}
	}
}
