package onnx

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/shitu-go/shitu/internal/testutil"
)

// TestRealModels reads ONNX files exported by Paddle2ONNX (PaddleOCR models
// in the shared test data) and analyses them: every MAC-counted node must
// get static shapes, and a re-marshalled model must read back identically.
func TestRealModels(t *testing.T) {
	root := filepath.Join(testutil.SharedDir(t), "testdata", "real-models")
	var files []string
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && filepath.Ext(p) == ".onnx" {
			files = append(files, p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Skip("no ONNX files in the shared test data")
	}
	for _, f := range files {
		rel, _ := filepath.Rel(root, f)
		t.Run(rel, func(t *testing.T) {
			m, err := ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			// Give the dynamic H and W of these OCR models a concrete size.
			shapes := map[string][]int64{}
			for _, in := range m.GetGraph().GetInput() {
				s := ShapeOf(in)
				for i := 1; i < len(s); i++ {
					if s[i] < 0 {
						s[i] = 224
					}
				}
				shapes[in.GetName()] = s
			}
			info, err := AnalyzeShapes(m, shapes)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("opset %d, %d params in %d tensors, %.3f GMACs, %d unresolved",
				info.Opset, info.Params, info.ParamTensors, float64(info.MACs)/1e9, len(info.Unresolved))
			if info.Params == 0 || info.MACs == 0 || len(info.Inputs) == 0 || len(info.Outputs) == 0 {
				t.Errorf("empty analysis: %s", info)
			}
			if len(info.Unresolved) > 0 {
				t.Errorf("nodes without static shapes: %v", info.Unresolved)
			}
			b, err := Marshal(m)
			if err != nil {
				t.Fatal(err)
			}
			back, err := Read(b)
			if err != nil {
				t.Fatal(err)
			}
			if len(back.GetGraph().GetNode()) != len(m.GetGraph().GetNode()) {
				t.Error("node count changed in a round trip")
			}
		})
	}
}

// TestRealCounts compares the analyser with counts computed independently
// by testdata/gen_counts.py (Python onnx shape inference) for the same files,
// with dynamic dims set to 1 (batch) and 224.
func TestRealCounts(t *testing.T) {
	root := filepath.Join(testutil.SharedDir(t), "testdata", "real-models")
	data, err := os.ReadFile(filepath.Join("testdata", "real_counts.json"))
	if err != nil {
		t.Fatal(err)
	}
	var want map[string]struct{ Params, Tensors, MACs int64 }
	if err := json.Unmarshal(data, &want); err != nil {
		t.Fatal(err)
	}
	for rel, w := range want {
		t.Run(rel, func(t *testing.T) {
			m, err := ReadFile(filepath.Join(root, rel))
			if errors.Is(err, os.ErrNotExist) {
				t.Skipf("%s is not in the shared test data", rel)
			}
			if err != nil {
				t.Fatal(err)
			}
			shapes := map[string][]int64{}
			for _, in := range m.GetGraph().GetInput() {
				s := ShapeOf(in)
				for i := 1; i < len(s); i++ {
					if s[i] < 0 {
						s[i] = 224
					}
				}
				shapes[in.GetName()] = s
			}
			info, err := AnalyzeShapes(m, shapes)
			if err != nil {
				t.Fatal(err)
			}
			if info.Params != w.Params || int64(info.ParamTensors) != w.Tensors || info.MACs != w.MACs {
				t.Errorf("got %d params in %d tensors, %d MACs; reference %d in %d, %d MACs",
					info.Params, info.ParamTensors, info.MACs, w.Params, w.Tensors, w.MACs)
			}
		})
	}
}
