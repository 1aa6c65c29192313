package models

import (
	"bytes"
	"context"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/shitu-go/shitu/arch"
	"github.com/shitu-go/shitu/onnx"
	"github.com/shitu-go/shitu/tensor"
)

// TestSynthMirrorPullConvert is the offline quick start's model half: a
// mirror folder of official-layout tarballs (the paddle writer's output for
// arch's seeded networks) is pulled, unpacked, converted by the paddle
// converter, and the converted networks compute what arch's ONNX computes.
// The detector's 640×640 comparison runs with SHITU_LONG=1.
func TestSynthMirrorPullConvert(t *testing.T) {
	mirror := t.TempDir()
	const seed = 11
	tarballs, err := SynthMirror(mirror, seed)
	if err != nil {
		t.Fatal(err)
	}
	if len(tarballs) != 2 {
		t.Fatalf("tarballs %v", tarballs)
	}
	root := t.TempDir()
	refs := map[string]func() (*onnx.ModelProto, error){
		recName: func() (*onnx.ModelProto, error) { return arch.BuildRec(seed, arch.RecOptions{}) },
		detName: func() (*onnx.ModelProto, error) { return arch.BuildDet(seed, arch.DetOptions{}) },
	}
	for _, name := range []string{recName, detName} {
		t.Run(name, func(t *testing.T) {
			inst, err := Pull(context.Background(), name, PullOptions{Root: root, Mirror: mirror, Converter: PaddleConverter})
			if err != nil {
				t.Fatal(err)
			}
			m := inst.Manifest
			for _, f := range []string{"inference.pdmodel", "inference.pdiparams", "inference.pdiparams.info"} {
				if _, err := os.Stat(filepath.Join(inst.Dir, f)); err != nil {
					t.Fatal(err)
				}
			}
			if m.ONNX == nil || m.ONNX.Ops["conv2d"] == 0 || m.Kind != KindPaddle {
				t.Fatalf("manifest %+v", m)
			}
			t.Logf("form %s, ops %v", m.Form, m.ONNX.Ops)
			if name == detName {
				if m.Form != "raw-head" {
					t.Errorf("detector form %q", m.Form)
				}
				if os.Getenv("SHITU_LONG") != "1" {
					t.Skip("detector ORT comparison: set SHITU_LONG=1")
				}
			}
			ref, err := refs[name]()
			if err != nil {
				t.Fatal(err)
			}
			refPath := filepath.Join(t.TempDir(), "ref.onnx")
			b, err := onnx.Marshal(ref)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(refPath, b, 0o644); err != nil {
				t.Fatal(err)
			}
			so, sr := ortSession(t, filepath.Join(inst.Dir, m.Model)), ortSession(t, refPath)
			worst := 0.0
			for s := int64(1); s <= 5; s++ {
				in := map[string]*tensor.Tensor{}
				for _, vi := range sr.Inputs() {
					shape := make([]int, len(vi.Shape))
					for i, d := range vi.Shape {
						shape[i] = int(d)
						if d < 0 {
							shape[i] = 1
						}
					}
					in[vi.Name] = randTensor(100*s, shape...)
				}
				a, err := so.Run(context.Background(), in)
				if err != nil {
					t.Fatal(err)
				}
				r, err := sr.Run(context.Background(), in)
				if err != nil {
					t.Fatal(err)
				}
				if len(a) != len(r) {
					t.Fatalf("%d outputs vs %d", len(a), len(r))
				}
				for i := range a {
					x, y := a[i].Float32s(), r[i].Float32s()
					if len(x) != len(y) {
						t.Fatalf("output %d: %d vs %d values", i, len(x), len(y))
					}
					var mag float64
					for j := range x {
						worst = max(worst, math.Abs(float64(x[j]-y[j])))
						mag = max(mag, math.Abs(float64(y[j])))
					}
					if mag == 0 || math.IsNaN(mag) {
						t.Fatalf("output %d is all zeros or NaN: the comparison would be vacuous", i)
					}
				}
			}
			t.Logf("max abs diff over 5 inputs: %.3g", worst)
			if worst > 1e-4 {
				t.Errorf("max abs diff %.3g > 1e-4", worst)
			}
		})
	}
}

func TestTarDir(t *testing.T) {
	src := t.TempDir()
	writeFiles(t, src, map[string]string{"gallery/drink_label.txt": "a/1.jpg\tx\n", "gallery/a/1.jpg": "j", "test_images/1.jpeg": "q"})
	var a, b bytes.Buffer
	if err := TarDir(&a, src, "drink_dataset_v2.0"); err != nil {
		t.Fatal(err)
	}
	if err := TarDir(&b, src, "drink_dataset_v2.0"); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Fatal("same folder, different tarballs")
	}
	out := t.TempDir()
	if err := Extract(&a, out, ExtractOptions{}); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(out, "drink_dataset_v2.0", "gallery", "a", "1.jpg"))
	if err != nil || string(got) != "j" {
		t.Fatalf("%q %v", got, err)
	}
}
