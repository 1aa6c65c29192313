// Package infer is the narrow interface shitu uses to run neural networks,
// and a registry of backends. The ONNX Runtime backend lives in infer/ort;
// a pure-Go or out-of-process backend can implement the same two
// interfaces later.
package infer

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"

	"github.com/shitu-go/shitu/tensor"
)

// Errors shared by backends. Backends wrap them with %w.
var (
	// ErrUnavailable means the backend cannot run on this machine or build
	// (library missing, cgo disabled). Its message says how to fix it.
	ErrUnavailable = errors.New("infer: backend unavailable")
	// ErrModel means the model bytes are not a model the backend can load.
	ErrModel = errors.New("infer: invalid model")
	// ErrInput means the inputs given to Run do not match the model.
	ErrInput = errors.New("infer: bad input")
	// ErrClosed means the session was closed.
	ErrClosed = errors.New("infer: session closed")
	// ErrNoGPU means a GPU was required (GPUOptions.Require) and the
	// backend cannot run the model on one.
	ErrNoGPU = errors.New("infer: no GPU execution provider")
)

// OptLevel is the graph optimisation level.
type OptLevel int

// Graph optimisation levels; the zero value means "all".
const (
	OptAll OptLevel = iota
	OptDisable
	OptBasic
	OptExtended
)

// GPUOptions select GPU execution. The zero value runs on the CPU. They
// are PaddleClas's Global.use_gpu, use_tensorrt, use_fp16 and gpu_mem
// (ppshitu-pipeline.md §2.3) in ONNX Runtime terms.
type GPUOptions struct {
	// Enable runs the model with the CUDA execution provider when the
	// backend has it (default false: CPU).
	Enable bool
	// TensorRT puts the TensorRT execution provider before CUDA (default
	// false). Only with Enable.
	TensorRT bool
	// FP16 lets TensorRT build fp16 engines (default false: fp32). Only
	// with TensorRT, as in PaddleClas.
	FP16 bool
	// MemLimitMB caps the CUDA memory arena in MB (default 0: the
	// backend's default, no cap). PaddleClas's gpu_mem is the initial pool
	// of Paddle's allocator; ONNX Runtime's closest knob is the cap.
	MemLimitMB int
	// DeviceID is the GPU to use (default 0).
	DeviceID int
	// Require makes Open fail with ErrNoGPU when the GPU providers cannot
	// be used (default false: warn and run on the CPU).
	Require bool
}

// Options configure a session. The zero value means: 1 intra-op thread,
// 1 inter-op thread, all graph optimisations, CPU.
type Options struct {
	// IntraOpThreads is the number of threads one Run may use (default 1).
	IntraOpThreads int
	// InterOpThreads is the number of threads for parallel graph branches (default 1).
	InterOpThreads int
	// OptLevel is the graph optimisation level (default OptAll).
	OptLevel OptLevel
	// GPU selects GPU execution (default: CPU).
	GPU GPUOptions
}

// ValueInfo describes one model input or output. Dynamic dimensions are -1.
type ValueInfo struct {
	Name  string
	DType tensor.DType
	Shape []int64
}

func (v ValueInfo) String() string { return fmt.Sprintf("%s %v%v", v.Name, v.DType, v.Shape) }

// Session is a loaded model. Implementations are safe for concurrent Run
// calls from many goroutines.
type Session interface {
	// Inputs and Outputs describe the model's graph inputs and outputs in order.
	Inputs() []ValueInfo
	Outputs() []ValueInfo
	// Run feeds the named inputs and returns all outputs in Outputs() order.
	// Every model input must be given, with a matching dtype and shape.
	Run(ctx context.Context, inputs map[string]*tensor.Tensor) ([]*tensor.Tensor, error)
	// Close releases the session. Run after Close returns ErrClosed.
	Close() error
}

// Backend opens sessions.
type Backend interface {
	// Name is the registry name, e.g. "ort".
	Name() string
	// Open loads a model from its serialized bytes.
	Open(model []byte, opts Options) (Session, error)
}

var (
	mu       sync.RWMutex
	backends = map[string]Backend{}
)

// Register makes a backend available by name. It is called from init
// functions of backend packages.
func Register(b Backend) {
	mu.Lock()
	defer mu.Unlock()
	backends[b.Name()] = b
}

// Lookup returns the registered backend of that name.
func Lookup(name string) (Backend, error) {
	mu.RLock()
	defer mu.RUnlock()
	b, ok := backends[name]
	if !ok {
		return nil, fmt.Errorf("%w: no backend %q (registered: %v)", ErrUnavailable, name, namesLocked())
	}
	return b, nil
}

// Names lists the registered backends, sorted.
func Names() []string {
	mu.RLock()
	defer mu.RUnlock()
	return namesLocked()
}

func namesLocked() []string {
	var n []string
	for k := range backends {
		n = append(n, k)
	}
	sort.Strings(n)
	return n
}

// CheckInputs validates inputs against the model's declared inputs: every
// input present, no unknown names, dtype equal, rank equal and every fixed
// dimension matching. Backends call it before running.
func CheckInputs(decl []ValueInfo, inputs map[string]*tensor.Tensor) error {
	for _, d := range decl {
		t, ok := inputs[d.Name]
		if !ok || t == nil {
			return fmt.Errorf("%w: missing input %q (model inputs: %s)", ErrInput, d.Name, list(decl))
		}
		if t.DType() != d.DType {
			return fmt.Errorf("%w: input %q is %v, model wants %v", ErrInput, d.Name, t.DType(), d.DType)
		}
		s := t.Shape()
		if len(s) != len(d.Shape) {
			return fmt.Errorf("%w: input %q has shape %v, model wants %v", ErrInput, d.Name, s, d.Shape)
		}
		for i, want := range d.Shape {
			if want >= 0 && int64(s[i]) != want {
				return fmt.Errorf("%w: input %q has shape %v, model wants %v", ErrInput, d.Name, s, d.Shape)
			}
		}
	}
	if len(inputs) != len(decl) {
		for name := range inputs {
			found := false
			for _, d := range decl {
				found = found || d.Name == name
			}
			if !found {
				return fmt.Errorf("%w: unknown input %q (model inputs: %s)", ErrInput, name, list(decl))
			}
		}
	}
	return nil
}

func list(decl []ValueInfo) string {
	s := ""
	for i, d := range decl {
		if i > 0 {
			s += ", "
		}
		s += d.String()
	}
	return s
}
