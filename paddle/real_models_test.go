package paddle

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shitu-go/shitu/internal/testutil"
	"github.com/shitu-go/shitu/tensor"
)

func realDir(t testing.TB, parts ...string) string {
	t.Helper()
	return filepath.Join(append([]string{testutil.SharedDir(t), "testdata", "real-models"}, parts...)...)
}

// The op inventories are those recorded in each folder's SOURCE.md.
func TestRealModelsLoad(t *testing.T) {
	tests := []struct {
		dir       string
		noParams  bool
		version   int64
		params    int
		feeds     []string
		fetches   []string
		inventory string
	}{
		{dir: "ch_PP-OCRv3_det/paddle", version: 2002002, params: 288, feeds: []string{"x"}, fetches: []string{"sigmoid_0.tmp_0"},
			inventory: "batch_norm×49, concat×1, conv2d×57, conv2d_transpose×2, depthwise_conv2d×15, elementwise_add×39, elementwise_mul×8, feed×1, fetch×1, hard_sigmoid×8, hard_swish×20, nearest_interp_v2×6, pool2d×8, relu×22, sigmoid×1"},
		{dir: "ch_ppocr_mobile_v2.0_cls/paddle-2020", version: 0, params: 213, feeds: []string{"x"}, fetches: []string{"save_infer_model/scale_0.tmp_1"},
			inventory: "batch_norm×35, conv2d×42, depthwise_conv2d×11, elementwise_add×26, elementwise_mul×9, feed×1, fetch×1, hard_sigmoid×9, hard_swish×18, matmul×1, pool2d×11, relu×15, reshape2×1, scale×1, shape×2, slice×2, softmax×1"},
		{dir: "ch_ppocr_mobile_v2.0_cls/paddle-2.3", version: 2003002, params: 213, feeds: []string{"x"}, fetches: []string{"softmax_0.tmp_0"},
			inventory: "batch_norm×35, conv2d×42, depthwise_conv2d×11, elementwise_add×26, elementwise_mul×9, feed×1, fetch×1, fill_constant×1, hard_sigmoid×9, hard_swish×18, matmul_v2×1, pool2d×11, relu×15, reshape2×1, shape×1, slice×1, softmax×1"},
		{dir: "picodet_lcnet_x1_0_fgd_layout/paddle", noParams: true, version: 2002002, params: 486, feeds: []string{"image"},
			fetches:   []string{"transpose_0.tmp_0", "transpose_2.tmp_0", "transpose_4.tmp_0", "transpose_6.tmp_0", "transpose_1.tmp_0", "transpose_3.tmp_0", "transpose_5.tmp_0", "transpose_7.tmp_0"},
			inventory: "batch_norm×94, concat×8, conv2d×65, depthwise_conv2d×37, elementwise_add×9, elementwise_mul×2, feed×1, fetch×8, hard_sigmoid×2, hard_swish×94, nearest_interp_v2×2, pool2d×2, relu×2, reshape2×8, sigmoid×4, split×4, transpose2×8"},
	}
	for _, tc := range tests {
		t.Run(tc.dir, func(t *testing.T) {
			dir := realDir(t, tc.dir)
			var m *Model
			var err error
			if tc.noParams {
				m, err = LoadProgram(dir)
				if _, err2 := Load(dir); err2 == nil {
					t.Errorf("Load of a program without weights succeeded")
				} else {
					t.Logf("Load without weights: %v", err2)
				}
			} else {
				m, err = Load(dir)
			}
			if err != nil {
				t.Fatal(err)
			}
			p := m.Program
			if p.Version != tc.version {
				t.Errorf("version %d, want %d", p.Version, tc.version)
			}
			if n := len(p.Persistables()); n != tc.params {
				t.Errorf("%d persistables, want %d", n, tc.params)
			}
			if !tc.noParams && len(m.Params) != tc.params {
				t.Errorf("%d params, want %d", len(m.Params), tc.params)
			}
			if got := p.Feeds(); !equalStrings(got, tc.feeds) {
				t.Errorf("feeds %v, want %v", got, tc.feeds)
			}
			if got := p.Fetches(); !equalStrings(got, tc.fetches) {
				t.Errorf("fetches %v, want %v", got, tc.fetches)
			}
			inv := FormatInventory(m.OpInventory())
			if inv != tc.inventory {
				t.Errorf("inventory\n got %s\nwant %s", inv, tc.inventory)
			}
			t.Logf("op inventory: %s", inv)
		})
	}
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// Shitu's conversion of each real Paddle model matches the paddle2onnx
// conversion of the same weights in ONNX Runtime on 5 seeded inputs.
func TestRealModelsMatchPaddle2ONNX(t *testing.T) {
	tests := []struct {
		paddle, onnx string
		input        string
		shape        []int
	}{
		{"ch_ppocr_mobile_v2.0_cls/paddle-2.3", "ch_ppocr_mobile_v2.0_cls/onnx/kahsolt/ch_ppocr_mobile_v2.0_cls_infer.onnx", "x", []int{2, 3, 48, 192}},
		{"ch_ppocr_mobile_v2.0_cls/paddle-2.3", "ch_ppocr_mobile_v2.0_cls/onnx/gutenye/ch_ppocr_mobile_v2.0_cls_infer.onnx", "x", []int{1, 3, 48, 192}},
		{"ch_ppocr_mobile_v2.0_cls/paddle-2020", "ch_ppocr_mobile_v2.0_cls/onnx/rapidocr-onnx-dflymegold/ch_ppocr_mobile_v2.0_cls_infer.meta.onnx", "x", []int{2, 3, 32, 100}},
		{"ch_PP-OCRv3_det/paddle", "ch_PP-OCRv3_det/onnx/kahsolt/ch_PP-OCRv3_det_infer.onnx", "x", []int{1, 3, 96, 128}},
	}
	for _, tc := range tests {
		t.Run(tc.onnx, func(t *testing.T) {
			m, err := Load(realDir(t, tc.paddle))
			if err != nil {
				t.Fatal(err)
			}
			ours, err := ToONNX(m, ConvertOptions{})
			if err != nil {
				t.Fatal(err)
			}
			ref, err := os.ReadFile(realDir(t, tc.onnx))
			if err != nil {
				t.Fatal(err)
			}
			so, sr := ortOpen(t, ours), ortOpen(t, ref)
			worst := 0.0
			for seed := int64(1); seed <= 5; seed++ {
				in := map[string]*tensor.Tensor{tc.input: randInput(seed, tc.shape...)}
				d := maxAbsDiff(t, run(t, so, in), run(t, sr, in))
				worst = max(worst, d)
			}
			t.Logf("max abs diff over 5 inputs: %.3g", worst)
			if worst > 1e-4 {
				t.Errorf("max abs diff %.3g > 1e-4", worst)
			}
		})
	}
}

// Truncated and mismatched real files give errors that say what and where.
func TestRealModelsDamaged(t *testing.T) {
	dir := realDir(t, "ch_ppocr_mobile_v2.0_cls/paddle-2.3")
	prog, err := os.ReadFile(filepath.Join(dir, "inference.pdmodel"))
	if err != nil {
		t.Fatal(err)
	}
	params, err := os.ReadFile(filepath.Join(dir, "inference.pdiparams"))
	if err != nil {
		t.Fatal(err)
	}
	p, err := ParseProgram(prog)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ParseProgram(prog[:len(prog)/3]); !errors.Is(err, ErrFormat) {
		t.Errorf("truncated program: %v", err)
	}
	_, err = ParseParams(params[:len(params)-100], p)
	if !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), "record 212") || !strings.Contains(err.Error(), "truncated") {
		t.Errorf("truncated params: %v", err)
	}
	// The 2020 export's params (hand-written names, another sort order)
	// do not fit the 2.3 program.
	old, err := os.ReadFile(realDir(t, "ch_ppocr_mobile_v2.0_cls/paddle-2020", "inference.pdiparams"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = ParseParams(old, p)
	if !errors.Is(err, ErrParams) {
		t.Errorf("mismatched params: %v", err)
	}
	t.Logf("mismatched: %v", err)
}

// InputShapes fixes dynamic input dims in the converted model.
func TestConvertInputShapes(t *testing.T) {
	m, err := Load(realDir(t, "ch_ppocr_mobile_v2.0_cls/paddle-2.3"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := ToONNX(m, ConvertOptions{InputShapes: map[string][]int64{"x": {1, 3, 48, 192}}, AutoCut: true})
	if err != nil {
		t.Fatal(err)
	}
	s := ortOpen(t, b)
	if in := s.Inputs(); len(in) != 1 || in[0].Name != "x" || fmt.Sprint(in[0].Shape) != "[1 3 48 192]" {
		t.Errorf("inputs %v", in)
	}
	if out := s.Outputs(); len(out) != 1 || out[0].Name != "softmax_0.tmp_0" {
		t.Errorf("outputs %v", out)
	}
}
