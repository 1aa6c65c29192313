package ort

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/shitu-go/shitu/infer"
	"github.com/shitu-go/shitu/internal/testutil"
	"github.com/shitu-go/shitu/tensor"
)

func TestProviderOptions(t *testing.T) {
	g := infer.GPUOptions{Enable: true, TensorRT: true, FP16: true, MemLimitMB: 8000, DeviceID: 1}
	if got, want := cudaOptions(g), map[string]string{"device_id": "1", "gpu_mem_limit": "8388608000"}; !reflect.DeepEqual(got, want) {
		t.Errorf("cuda options %v, want %v", got, want)
	}
	if got := cudaOptions(infer.GPUOptions{Enable: true}); !reflect.DeepEqual(got, map[string]string{"device_id": "0"}) {
		t.Errorf("cuda options without a cap: %v", got)
	}
	want := map[string]string{"device_id": "1", "trt_fp16_enable": "1", "trt_max_workspace_size": "1073741824", "trt_min_subgraph_size": "30"}
	if got := tensorRTOptions(g); !reflect.DeepEqual(got, want) {
		t.Errorf("tensorrt options %v, want %v", got, want)
	}
	g.FP16 = false
	if got := tensorRTOptions(g)["trt_fp16_enable"]; got != "0" {
		t.Errorf("trt_fp16_enable = %q without FP16", got)
	}
}

// The shipped library (onnxruntime-node's) is CPU-only: use_gpu warns once,
// naming the library, and the model runs on the CPU; with Require it fails.
func TestGPUOnCPUOnlyLibrary(t *testing.T) {
	if !cgoEnabled {
		t.Skip("needs cgo")
	}
	lib := testutil.ORTLib(t)
	var warnings []string
	warned.Clear()
	b, err := New(Config{LibPath: lib, Warn: func(m string) { warnings = append(warnings, m) }})
	if err != nil {
		t.Fatal(err)
	}
	for _, trt := range []bool{false, true} {
		s, err := b.Open(tinyModel(), infer.Options{GPU: infer.GPUOptions{Enable: true, TensorRT: trt, MemLimitMB: 100}})
		if err != nil {
			t.Fatal(err)
		}
		out, err := s.Run(context.Background(), map[string]*tensor.Tensor{
			"x": tensor.Must([]int{1, 4}, []float32{-1, 2, -3, 4}), "i": tensor.Must([]int{1}, []int64{7})})
		if err != nil {
			t.Fatal(err)
		}
		if got := out[0].Float32s(); !reflect.DeepEqual(got, []float32{0, 2, 0, 4}) {
			t.Fatalf("y = %v", got)
		}
		s.Close()
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], lib) || !strings.Contains(warnings[0], "running on the CPU") ||
		!strings.Contains(warnings[0], "SHITU_ORT_LIB") {
		t.Fatalf("warnings = %q, want one naming %s", warnings, lib)
	}
	_, err = b.Open(tinyModel(), infer.Options{GPU: infer.GPUOptions{Enable: true, TensorRT: true, Require: true}})
	if !errors.Is(err, infer.ErrNoGPU) || !strings.Contains(err.Error(), lib) {
		t.Fatalf("Require on a CPU-only library: %v, want ErrNoGPU naming the library", err)
	}
	if len(warnings) != 1 {
		t.Fatalf("Require also warned: %q", warnings)
	}
	// Without GPU options nothing is tried and nothing is said.
	s, err := b.Open(tinyModel(), infer.Options{})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
}
