package models

import (
	"context"
	"errors"
	"fmt"
	"github.com/shitu-go/shitu/internal/ortest"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/shitu-go/shitu/infer"
	"github.com/shitu-go/shitu/internal/testutil"
	"github.com/shitu-go/shitu/tensor"
)

func realModel(t *testing.T, rel string) string {
	t.Helper()
	return filepath.Join(testutil.SharedDir(t), "testdata", "real-models", filepath.FromSlash(rel))
}

func ortSession(t *testing.T, path string) infer.Session {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return ortest.Exact(t, b)
}

// TestResolveRealModels resolves the real Paddle folders of ../shared with
// the paddle converter (into a cache folder: the shared folders are never
// written) and checks the result against the paddle2onnx conversion of the
// same weights in ONNX Runtime.
func TestResolveRealModels(t *testing.T) {
	tests := []struct {
		paddle, onnx string
		shape        []int
	}{
		{"ch_ppocr_mobile_v2.0_cls/paddle-2.3", "ch_ppocr_mobile_v2.0_cls/onnx/kahsolt", []int{1, 3, 48, 192}},
		{"ch_ppocr_mobile_v2.0_cls/paddle-2020", "ch_ppocr_mobile_v2.0_cls/onnx/rapidocr-onnx-dflymegold", []int{1, 3, 32, 100}},
		{"ch_PP-OCRv3_det/paddle", "ch_PP-OCRv3_det/onnx/kahsolt", []int{1, 3, 64, 96}},
	}
	cache := t.TempDir()
	for _, tc := range tests {
		t.Run(tc.paddle, func(t *testing.T) {
			o := ResolveOptions{Converter: PaddleConverter, CacheDir: cache, CacheOnly: true}
			r, err := Resolve(context.Background(), realModel(t, tc.paddle), o)
			if err != nil {
				t.Fatal(err)
			}
			m := r.Manifest
			if !r.Converted || m.ONNX.Form != "plain" || m.ONNX.Ops["conv2d"] == 0 || m.Kind != KindPaddle {
				t.Fatalf("manifest %+v / %+v", m, m.ONNX)
			}
			t.Logf("ops: %v", m.ONNX.Ops)
			ref, err := Resolve(context.Background(), realModel(t, tc.onnx), ResolveOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if ref.Layout.Kind != KindONNX || len(ref.Manifest.Inputs) != 1 {
				t.Fatalf("reference %+v", ref.Manifest)
			}
			if m.Inputs[0].Name != ref.Manifest.Inputs[0].Name || len(m.Outputs) != len(ref.Manifest.Outputs) {
				t.Fatalf("io %+v %+v vs %+v %+v", m.Inputs, m.Outputs, ref.Manifest.Inputs, ref.Manifest.Outputs)
			}
			// Cached now.
			again, err := Resolve(context.Background(), realModel(t, tc.paddle), o)
			if err != nil || again.Converted || again.Path != r.Path {
				t.Fatalf("second resolve: %+v %v", again, err)
			}
			so, sr := ortSession(t, r.Path), ortSession(t, ref.Path)
			worst := 0.0
			for seed := int64(1); seed <= 2; seed++ {
				in := map[string]*tensor.Tensor{m.Inputs[0].Name: randTensor(seed, tc.shape...)}
				a, err := so.Run(context.Background(), in)
				if err != nil {
					t.Fatal(err)
				}
				b, err := sr.Run(context.Background(), in)
				if err != nil {
					t.Fatal(err)
				}
				for i := range a {
					x, y := a[i].Float32s(), b[i].Float32s()
					if len(x) != len(y) {
						t.Fatalf("output %d: %d vs %d values", i, len(x), len(y))
					}
					for j := range x {
						worst = max(worst, math.Abs(float64(x[j]-y[j])))
					}
				}
			}
			if worst > 1e-4 {
				t.Errorf("max abs diff %.3g > 1e-4", worst)
			}
		})
	}
}

func TestResolveRealProgramWithoutWeights(t *testing.T) {
	_, err := Resolve(context.Background(), realModel(t, "picodet_lcnet_x1_0_fgd_layout/paddle"),
		ResolveOptions{Converter: PaddleConverter, CacheDir: t.TempDir(), CacheOnly: true})
	if !errors.Is(err, ErrNoModel) {
		t.Fatalf("err = %v, want ErrNoModel", err)
	}
}

var randTensor = ortest.RandInput

func TestReadInferCfg(t *testing.T) {
	pre, labels := readInferCfg(realModel(t, "picodet_lcnet_x1_0_fgd_layout/paddle"))
	if pre == nil {
		t.Fatal("no preprocessing read")
	}
	if pre.Height != 800 || pre.Width != 608 || pre.Interp != "cubic" || pre.KeepRatio || pre.PadStride != 32 ||
		math.Abs(pre.Scale-1.0/255) > 1e-12 || len(pre.Mean) != 3 || pre.Std[2] != 0.225 {
		t.Errorf("preprocess %+v", pre)
	}
	if len(labels) != 5 || labels[0] != "text" || labels[4] != "figure" {
		t.Errorf("labels %v", labels)
	}
	if p, l := readInferCfg(t.TempDir()); p != nil || l != nil {
		t.Errorf("absent file: %+v %v", p, l)
	}
}

// Issue 13 point 4: the 2020 classifier stores its image feed as
// [-1,3,32,100]; PaddleConverter gives a dynamic height and width, the
// pinned converter keeps 32×100, and the manifests say which.
func TestResolveDynamicImageFeed(t *testing.T) {
	dir := realModel(t, "ch_ppocr_mobile_v2.0_cls/paddle-2020")
	for _, tc := range []struct {
		conv  Converter
		shape string
		name  string
	}{
		{PaddleConverter, "[-1 3 -1 -1]", "shitu paddle"},
		{PaddleConverterPinned, "[-1 3 32 100]", "shitu paddle (input dims pinned)"},
	} {
		r, err := Resolve(context.Background(), dir, ResolveOptions{Converter: tc.conv, CacheDir: t.TempDir(), CacheOnly: true})
		if err != nil {
			t.Fatal(err)
		}
		m := r.Manifest
		if got := fmt.Sprint(m.Inputs[0].Shape); got != tc.shape || m.ONNX.Converter != tc.name {
			t.Errorf("%s: manifest input %s by %q, want %s", tc.name, got, m.ONNX.Converter, tc.shape)
		}
		if got := fmt.Sprint(m.Outputs[0].Shape); got != "[-1 2]" {
			t.Errorf("%s: manifest output %s", tc.name, got)
		}
		_, err = ortSession(t, r.Path).Run(context.Background(), map[string]*tensor.Tensor{"x": randTensor(1, 1, 3, 48, 160)})
		if (err == nil) != (tc.shape == "[-1 3 -1 -1]") {
			t.Errorf("%s: run at 48×160: %v", tc.name, err)
		}
	}
}
