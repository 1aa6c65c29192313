package config

import (
	"reflect"
	"testing"

	"github.com/shitu-go/shitu/infer"
)

func TestInferOptions(t *testing.T) {
	for _, tc := range []struct {
		name    string
		yaml    string
		threads int
		want    infer.Options
	}{
		{"defaults", "Global: {}", 0, infer.Options{}},
		{"cpu threads", "Global: {cpu_num_threads: 10}", 0, infer.Options{IntraOpThreads: 10}},
		{"threads flag wins", "Global: {cpu_num_threads: 10}", 3, infer.Options{IntraOpThreads: 3}},
		{"ir_optim off", "Global: {ir_optim: False}", 0, infer.Options{OptLevel: infer.OptDisable}},
		{"gpu", "Global: {use_gpu: True, gpu_mem: 4000}", 0,
			infer.Options{GPU: infer.GPUOptions{Enable: true, MemLimitMB: 4000}}},
		{"gpu default pool", "Global: {use_gpu: True}", 0,
			infer.Options{GPU: infer.GPUOptions{Enable: true, MemLimitMB: 8000}}},
		{"tensorrt fp16", "Global: {use_gpu: True, use_tensorrt: True, use_fp16: True, gpu_mem: 100}", 0,
			infer.Options{GPU: infer.GPUOptions{Enable: true, TensorRT: true, FP16: true, MemLimitMB: 100}}},
		{"fp16 without tensorrt", "Global: {use_gpu: True, use_fp16: True, gpu_mem: 100}", 0,
			infer.Options{GPU: infer.GPUOptions{Enable: true, MemLimitMB: 100}}},
		{"tensorrt without gpu", "Global: {use_gpu: False, use_tensorrt: True, use_fp16: True}", 0, infer.Options{}},
		{"mkldnn has no effect", "Global: {enable_mkldnn: True, cpu_num_threads: 2}", 0, infer.Options{IntraOpThreads: 2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Parse([]byte(tc.yaml), "c.yaml", nil)
			if err != nil {
				t.Fatal(err)
			}
			if got := c.Global.InferOptions(tc.threads); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}
