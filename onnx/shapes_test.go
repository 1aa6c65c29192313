package onnx

import (
	"errors"
	"slices"
	"testing"

	"google.golang.org/protobuf/proto"
)

func node(op string, nIn, nOut int, attrs ...*AttributeProto) *NodeProto {
	n := &NodeProto{OpType: proto.String(op), Name: proto.String("n"), Attribute: attrs}
	for i := range nIn {
		n.Input = append(n.Input, string(rune('a'+i)))
	}
	for i := range nOut {
		n.Output = append(n.Output, string(rune('p'+i)))
	}
	return n
}

func TestInferShapes(t *testing.T) {
	i64 := func(v ...int64) *TensorProto {
		tp, _ := Int64Tensor("", []int64{int64(len(v))}, v)
		return tp
	}
	f32 := func(v ...float32) *TensorProto {
		tp, _ := FloatTensor("", []int64{int64(len(v))}, v)
		return tp
	}
	tests := []struct {
		name   string
		n      *NodeProto
		in     [][]int64
		opset  int64
		consts map[string]*TensorProto
		want   [][]int64
		err    error
	}{
		{"conv s2 p1", node("Conv", 2, 1, AttrInts("strides", 2, 2), AttrInts("pads", 1, 1, 1, 1)),
			[][]int64{{1, 3, 224, 224}, {32, 3, 3, 3}}, 13, nil, [][]int64{{1, 32, 112, 112}}, nil},
		{"conv dw k5 s2", node("Conv", 2, 1, AttrInt("group", 256), AttrInts("strides", 2, 2), AttrInts("pads", 2, 2, 2, 2)),
			[][]int64{{-1, 256, 28, 28}, {256, 1, 5, 5}}, 13, nil, [][]int64{{-1, 256, 14, 14}}, nil},
		{"conv same upper", node("Conv", 2, 1, AttrString("auto_pad", "SAME_UPPER"), AttrInts("strides", 2, 2)),
			[][]int64{{1, 8, 15, 15}, {4, 8, 3, 3}}, 13, nil, [][]int64{{1, 4, 8, 8}}, nil},
		{"conv dilated", node("Conv", 2, 1, AttrInts("dilations", 2, 2)),
			[][]int64{{1, 1, 9, 9}, {1, 1, 3, 3}}, 13, nil, [][]int64{{1, 1, 5, 5}}, nil},
		{"conv group mismatch", node("Conv", 2, 1, AttrInt("group", 2)),
			[][]int64{{1, 6, 9, 9}, {4, 2, 3, 3}}, 13, nil, nil, ErrShape},
		{"maxpool ceil", node("MaxPool", 1, 1, AttrInts("kernel_shape", 2, 2), AttrInts("strides", 2, 2), AttrInt("ceil_mode", 1)),
			[][]int64{{1, 3, 7, 7}}, 13, nil, [][]int64{{1, 3, 4, 4}}, nil},
		{"maxpool floor", node("MaxPool", 1, 1, AttrInts("kernel_shape", 2, 2), AttrInts("strides", 2, 2)),
			[][]int64{{1, 3, 7, 7}}, 13, nil, [][]int64{{1, 3, 3, 3}}, nil},
		{"broadcast", node("Add", 2, 1), [][]int64{{-1, 8, 4, 4}, {8, 1, 1}}, 13, nil, [][]int64{{-1, 8, 4, 4}}, nil},
		{"broadcast bad", node("Mul", 2, 1), [][]int64{{2, 3}, {4, 3}}, 13, nil, nil, ErrShape},
		{"concat", node("Concat", 2, 1, AttrInt("axis", -3)), [][]int64{{1, 2, 4, 4}, {1, 5, 4, 4}}, 13, nil, [][]int64{{1, 7, 4, 4}}, nil},
		{"resize scales", node("Resize", 3, 1), [][]int64{{1, 128, 20, 20}, nil, {4}}, 13,
			map[string]*TensorProto{"c": f32(1, 1, 2, 2)}, [][]int64{{1, 128, 40, 40}}, nil},
		{"resize sizes", node("Resize", 4, 1), [][]int64{{1, 3, 20, 20}, nil, nil, {4}}, 13,
			map[string]*TensorProto{"d": i64(1, 3, 7, 9)}, [][]int64{{1, 3, 7, 9}}, nil},
		{"upsample opset9", node("Upsample", 2, 1), [][]int64{{1, 4, 3, 3}, {4}}, 9,
			map[string]*TensorProto{"b": f32(1, 1, 2, 2)}, [][]int64{{1, 4, 6, 6}}, nil},
		{"split input", node("Split", 2, 2, AttrInt("axis", 1)), [][]int64{{1, 33, 10, 10}, {2}}, 13,
			map[string]*TensorProto{"b": i64(1, 32)}, [][]int64{{1, 1, 10, 10}, {1, 32, 10, 10}}, nil},
		{"split attr", node("Split", 1, 2, AttrInt("axis", 1), AttrInts("split", 1, 32)), [][]int64{{1, 33, 10, 10}}, 11,
			nil, [][]int64{{1, 1, 10, 10}, {1, 32, 10, 10}}, nil},
		{"split equal", node("Split", 1, 3, AttrInt("axis", 0)), [][]int64{{6, 2}}, 11, nil, [][]int64{{2, 2}, {2, 2}, {2, 2}}, nil},
		{"split bad sum", node("Split", 1, 2, AttrInts("split", 1, 2)), [][]int64{{4}}, 11, nil, nil, ErrShape},
		{"reshape", node("Reshape", 2, 1), [][]int64{{-1, 512, 1, 1}, {2}}, 13,
			map[string]*TensorProto{"b": i64(0, -1)}, [][]int64{{-1, 512}}, nil},
		{"reshape two -1", node("Reshape", 2, 1), [][]int64{{4, 4}, {2}}, 13,
			map[string]*TensorProto{"b": i64(-1, -1)}, nil, ErrShape},
		{"flatten", node("Flatten", 1, 1), [][]int64{{2, 3, 4, 5}}, 13, nil, [][]int64{{2, 60}}, nil},
		{"flatten dynamic", node("Flatten", 1, 1, AttrInt("axis", 2)), [][]int64{{-1, 3, 4, 5}}, 13, nil, [][]int64{{-1, 20}}, nil},
		{"transpose", node("Transpose", 1, 1, AttrInts("perm", 0, 2, 3, 1)), [][]int64{{1, 32, 80, 80}}, 13, nil, [][]int64{{1, 80, 80, 32}}, nil},
		{"transpose bad perm", node("Transpose", 1, 1, AttrInts("perm", 0, 0, 1)), [][]int64{{1, 2, 3}}, 13, nil, nil, ErrShape},
		{"matmul batched", node("MatMul", 2, 1), [][]int64{{5, 1, 4, 8}, {3, 8, 2}}, 13, nil, [][]int64{{5, 3, 4, 2}}, nil},
		{"matmul vector", node("MatMul", 2, 1), [][]int64{{6400, 8}, {8}}, 13, nil, [][]int64{{6400}}, nil},
		{"matmul bad", node("MatMul", 2, 1), [][]int64{{2, 3}, {4, 2}}, 13, nil, nil, ErrShape},
		{"gemm transB", node("Gemm", 3, 1, AttrInt("transB", 1)), [][]int64{{-1, 512}, {1000, 512}, {1000}}, 13, nil, [][]int64{{-1, 1000}}, nil},
		{"convtranspose", node("ConvTranspose", 2, 1, AttrInts("strides", 2, 2), AttrInts("pads", 0, 0, 0, 0)),
			[][]int64{{1, 24, 56, 56}, {24, 6, 2, 2}}, 13, nil, [][]int64{{1, 6, 112, 112}}, nil},
		{"gap", node("GlobalAveragePool", 1, 1), [][]int64{{1, 1024, 14, 14}}, 13, nil, [][]int64{{1, 1024, 1, 1}}, nil},
		{"bn", node("BatchNormalization", 5, 1), [][]int64{{-1, 512}}, 13, nil, [][]int64{{-1, 512}}, nil},
		{"unsqueeze input", node("Unsqueeze", 2, 1), [][]int64{{3, 4}, {1}}, 13,
			map[string]*TensorProto{"b": i64(0)}, [][]int64{{1, 3, 4}}, nil},
		{"unsqueeze repeated axis", node("Unsqueeze", 1, 1, AttrInts("axes", 0, 0)), [][]int64{{3, 4}}, 11, nil, nil, ErrShape},
		{"squeeze attr", node("Squeeze", 1, 1, AttrInts("axes", 2, 3)), [][]int64{{1, 512, 1, 1}}, 11, nil, [][]int64{{1, 512}}, nil},
		{"reducemean", node("ReduceMean", 1, 1, AttrInts("axes", 2, 3), AttrInt("keepdims", 0)), [][]int64{{2, 8, 4, 4}}, 13, nil, [][]int64{{2, 8}}, nil},
		{"shape", node("Shape", 1, 1), [][]int64{{2, 8, 4, 4}}, 13, nil, [][]int64{{4}}, nil},
		{"unknown op", node("Frobnicate", 1, 1), [][]int64{{2}}, 13, nil, [][]int64{nil}, nil},
		{"unknown input", node("Conv", 2, 1), [][]int64{nil, {4, 3, 3, 3}}, 13, nil, [][]int64{nil}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := InferShapes(tc.n, tc.in, tc.opset, func(name string) *TensorProto { return tc.consts[name] })
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("err %v, want %v", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("%d outputs, want %d", len(got), len(tc.want))
			}
			for i := range got {
				if !slices.Equal(got[i], tc.want[i]) || (got[i] == nil) != (tc.want[i] == nil) {
					t.Errorf("output %d: %v, want %v", i, got[i], tc.want[i])
				}
			}
		})
	}
}
