package config

import "github.com/shitu-go/shitu/infer"

// InferOptions maps the Global section's device options onto session
// options (ppshitu-pipeline.md §2.3): cpu_num_threads → intra-op threads
// (threads > 0 overrides it, e.g. a --threads flag), ir_optim: False → no
// graph optimisation, use_gpu → the CUDA execution provider, use_tensorrt
// → TensorRT before CUDA, use_fp16 → fp16 TensorRT engines, gpu_mem → the
// CUDA arena cap in MB. enable_mkldnn has no ONNX Runtime counterpart in
// the shipped library and stays a warning (see Warnings).
func (g Global) InferOptions(threads int) infer.Options {
	o := infer.Options{IntraOpThreads: g.CPUNumThreads}
	if threads > 0 {
		o.IntraOpThreads = threads
	}
	if !g.IROptim {
		o.OptLevel = infer.OptDisable
	}
	if g.UseGPU {
		o.GPU = infer.GPUOptions{Enable: true, TensorRT: g.UseTensorRT, FP16: g.UseTensorRT && g.UseFP16, MemLimitMB: max(g.GPUMem, 0)}
	}
	return o
}
