// Package ort is the ONNX Runtime backend of infer, through
// github.com/yalue/onnxruntime_go. It needs cgo and, at run time, the ONNX
// Runtime shared library (libonnxruntime.so.1, ORT ≥ 1.24; shitu ships
// with 1.30.0 from the onnxruntime-node npm package, see the Makefile).
//
// The library is loaded with dlopen when the first backend is created; the
// path comes from Config.LibPath. One process has one ORT environment, so
// every backend of a process must use the same library.
package ort

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"

	"github.com/shitu-go/shitu/infer"
)

// Name is the registry name of this backend.
const Name = "ort"

// Config configures the backend.
type Config struct {
	// LibPath is the path of libonnxruntime.so.1 (required).
	LibPath string
	// Spin lets ORT's intra-op threads busy-wait between operators. The
	// default (false) turns spinning off, which leaves the CPU to Go code
	// that decodes and preprocesses images while a model runs.
	Spin bool
	// Warn receives the warning given when infer.Options.GPU asks for a GPU
	// the library cannot use and the session falls back to the CPU; it is
	// called once per process per distinct message (default: discarded).
	Warn func(msg string)
}

// Backend opens ONNX Runtime sessions.
type Backend struct {
	cfg Config
}

var (
	envMu   sync.Mutex
	envLib  string
	envErr  error
	envDone bool
)

// ErrLibrary is returned when the ONNX Runtime library cannot be loaded.
var ErrLibrary = fmt.Errorf("%w: ort: cannot load the ONNX Runtime library", infer.ErrUnavailable)

// New loads the ONNX Runtime library (once per process) and returns a backend.
func New(cfg Config) (*Backend, error) {
	if !cgoEnabled {
		return nil, initEnv("")
	}
	if cfg.LibPath == "" {
		return nil, fmt.Errorf("%w: no library path given (set SHITU_ORT_LIB or run `make setup`)", ErrLibrary)
	}
	if _, err := os.Stat(cfg.LibPath); err != nil {
		return nil, fmt.Errorf("%w: %s: %v (set SHITU_ORT_LIB to libonnxruntime.so.1 or run `make setup`)", ErrLibrary, cfg.LibPath, errors.Unwrap(err))
	}
	envMu.Lock()
	defer envMu.Unlock()
	if envDone {
		if envErr != nil {
			return nil, envErr
		}
		if envLib != cfg.LibPath {
			return nil, fmt.Errorf("%w: the process already uses %s; one ONNX Runtime library per process", ErrLibrary, envLib)
		}
		return &Backend{cfg: cfg}, nil
	}
	envDone, envLib = true, cfg.LibPath
	envErr = initEnv(cfg.LibPath)
	if envErr != nil {
		return nil, envErr
	}
	return &Backend{cfg: cfg}, nil
}

// Name implements infer.Backend.
func (b *Backend) Name() string { return Name }

// OpenFile reads a model file and opens it.
func (b *Backend) OpenFile(path string, opts infer.Options) (infer.Session, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", infer.ErrModel, err)
	}
	s, err := b.Open(data, opts)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return s, nil
}

var warned sync.Map // warning kinds already given

// warnOnce gives msg to cfg.Warn unless this process gave a warning of
// that kind before.
func (b *Backend) warnOnce(kind, msg string) {
	if _, dup := warned.LoadOrStore(kind, true); !dup && b.cfg.Warn != nil {
		b.cfg.Warn(msg)
	}
}

// shortCause drops the source location ORT puts before its message.
func shortCause(err error) string {
	s := fmt.Sprint(err)
	if i := strings.LastIndex(s, "] : "); i >= 0 {
		s = s[i+4:]
		if j := strings.Index(s, " : "); j >= 0 && j < 12 {
			s = s[j+3:]
		}
	}
	return s
}

// gpuFallback is what happens when the GPU providers cannot be used: an
// error wrapping infer.ErrNoGPU when g.Require, else a warning (once) and
// nil, and the caller goes on on the CPU.
func (b *Backend) gpuFallback(g infer.GPUOptions, cause error) error {
	what := "CUDA"
	if g.TensorRT {
		what = "TensorRT/CUDA"
	}
	if g.Require {
		return fmt.Errorf("%w: ort: the ONNX Runtime library %s cannot run %s: %s", infer.ErrNoGPU, b.cfg.LibPath, what, shortCause(cause))
	}
	b.warnOnce("gpu", fmt.Sprintf("use_gpu is set, but the ONNX Runtime library %s cannot run %s (%s); running on the CPU. "+
		"Point SHITU_ORT_LIB at a GPU build of ONNX Runtime to use the GPU", b.cfg.LibPath, what, shortCause(cause)))
	return nil
}

// cudaOptions are the CUDA execution provider's options for g.
func cudaOptions(g infer.GPUOptions) map[string]string {
	o := map[string]string{"device_id": strconv.Itoa(g.DeviceID)}
	if g.MemLimitMB > 0 {
		o["gpu_mem_limit"] = strconv.FormatInt(int64(g.MemLimitMB)<<20, 10)
	}
	return o
}

// tensorRTOptions are the TensorRT execution provider's options for g:
// PaddleClas's engine settings (workspace 1<<30, min_subgraph_size 30,
// ppshitu-pipeline.md §2.3) and fp16.
func tensorRTOptions(g infer.GPUOptions) map[string]string {
	fp16 := "0"
	if g.FP16 {
		fp16 = "1"
	}
	return map[string]string{
		"device_id":              strconv.Itoa(g.DeviceID),
		"trt_fp16_enable":        fp16,
		"trt_max_workspace_size": strconv.Itoa(1 << 30),
		"trt_min_subgraph_size":  "30",
	}
}

func threads(n int) int {
	if n <= 0 {
		return 1
	}
	return n
}
