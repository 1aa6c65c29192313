//go:build cgo

package ort

import (
	"context"
	"fmt"
	"sync"

	ortgo "github.com/yalue/onnxruntime_go"

	"github.com/shitu-go/shitu/infer"
	"github.com/shitu-go/shitu/tensor"
)

const cgoEnabled = true

func initEnv(lib string) error {
	ortgo.SetSharedLibraryPath(lib)
	if err := ortgo.InitializeEnvironment(ortgo.WithLogLevelError()); err != nil {
		return fmt.Errorf("%w: %s: %v", ErrLibrary, lib, err)
	}
	return nil
}

// Version is the loaded ONNX Runtime's version ("" before New succeeds).
func Version() string {
	if !ortgo.IsInitialized() {
		return ""
	}
	return ortgo.GetVersion()
}

type session struct {
	mu      sync.RWMutex // Run holds it shared; Close exclusively
	s       *ortgo.DynamicAdvancedSession
	inputs  []infer.ValueInfo
	outputs []infer.ValueInfo
}

// Open implements infer.Backend. The session may be used by many goroutines
// at once: ONNX Runtime's Run is thread-safe and every call brings its own
// tensors.
func (b *Backend) Open(model []byte, opts infer.Options) (infer.Session, error) {
	if len(model) == 0 {
		return nil, fmt.Errorf("%w: ort: empty model", infer.ErrModel)
	}
	ins, outs, err := ortgo.GetInputOutputInfoWithONNXData(model)
	if err != nil {
		return nil, fmt.Errorf("%w: ort: %v", infer.ErrModel, err)
	}
	if len(ins) == 0 {
		return nil, fmt.Errorf("%w: ort: the model has no inputs", infer.ErrModel)
	}
	if len(outs) == 0 {
		return nil, fmt.Errorf("%w: ort: the model has no outputs", infer.ErrModel)
	}
	s := &session{}
	for _, in := range ins {
		vi, err := valueInfo(in)
		if err != nil {
			return nil, err
		}
		s.inputs = append(s.inputs, vi)
	}
	for _, out := range outs {
		vi, err := valueInfo(out)
		if err != nil {
			return nil, err
		}
		s.outputs = append(s.outputs, vi)
	}
	if opts.GPU.Enable {
		so, gerr := b.sessionOptions(opts, true)
		if gerr == nil {
			s.s, gerr = ortgo.NewDynamicAdvancedSessionWithONNXData(model, names(s.inputs), names(s.outputs), so)
			so.Destroy()
			if gerr == nil {
				return s, nil
			}
			// The providers were appended but the session could not be
			// made (no device, missing CUDA libraries): if the CPU can run
			// the model, the GPU was the problem.
		}
		if err := b.gpuFallback(opts.GPU, gerr); err != nil {
			return nil, err
		}
	}
	so, err := b.sessionOptions(opts, false)
	if err != nil {
		return nil, err
	}
	defer so.Destroy()
	s.s, err = ortgo.NewDynamicAdvancedSessionWithONNXData(model, names(s.inputs), names(s.outputs), so)
	if err != nil {
		return nil, fmt.Errorf("%w: ort: %v", infer.ErrModel, err)
	}
	return s, nil
}

// sessionOptions builds the ORT session options for opts; with gpu, the
// TensorRT (if asked) and CUDA execution providers come first, and an
// error means they are not available in this library or machine.
func (b *Backend) sessionOptions(opts infer.Options, gpu bool) (*ortgo.SessionOptions, error) {
	so, err := ortgo.NewSessionOptions()
	if err != nil {
		return nil, fmt.Errorf("ort: session options: %w", err)
	}
	if err := b.configure(so, opts, gpu); err != nil {
		so.Destroy()
		return nil, err
	}
	return so, nil
}

func (b *Backend) configure(so *ortgo.SessionOptions, opts infer.Options, gpu bool) error {
	if err := so.SetIntraOpNumThreads(threads(opts.IntraOpThreads)); err != nil {
		return fmt.Errorf("ort: intra-op threads: %w", err)
	}
	if err := so.SetInterOpNumThreads(threads(opts.InterOpThreads)); err != nil {
		return fmt.Errorf("ort: inter-op threads: %w", err)
	}
	if err := so.SetGraphOptimizationLevel(optLevel(opts.OptLevel)); err != nil {
		return fmt.Errorf("ort: optimisation level: %w", err)
	}
	spin := "0"
	if b.cfg.Spin {
		spin = "1"
	}
	if err := so.AddSessionConfigEntry("session.intra_op.allow_spinning", spin); err != nil {
		return fmt.Errorf("ort: spinning: %w", err)
	}
	if !gpu {
		return nil
	}
	// A CPU-only library answers the provider calls with "not enabled in
	// this build"; a GPU build without CUDA on the machine fails here or
	// when the session is created.
	if opts.GPU.TensorRT {
		to, err := ortgo.NewTensorRTProviderOptions()
		if err != nil {
			return err
		}
		defer to.Destroy()
		if err := to.Update(tensorRTOptions(opts.GPU)); err != nil {
			return err
		}
		if err := so.AppendExecutionProviderTensorRT(to); err != nil {
			return err
		}
	}
	co, err := ortgo.NewCUDAProviderOptions()
	if err != nil {
		return err
	}
	defer co.Destroy()
	if err := co.Update(cudaOptions(opts.GPU)); err != nil {
		return err
	}
	return so.AppendExecutionProviderCUDA(co)
}

func optLevel(l infer.OptLevel) ortgo.GraphOptimizationLevel {
	switch l {
	case infer.OptDisable:
		return ortgo.GraphOptimizationLevelDisableAll
	case infer.OptBasic:
		return ortgo.GraphOptimizationLevelEnableBasic
	case infer.OptExtended:
		return ortgo.GraphOptimizationLevelEnableExtended
	}
	return ortgo.GraphOptimizationLevelEnableAll
}

func names(v []infer.ValueInfo) []string {
	n := make([]string, len(v))
	for i := range v {
		n[i] = v[i].Name
	}
	return n
}

func valueInfo(in ortgo.InputOutputInfo) (infer.ValueInfo, error) {
	if in.OrtValueType != ortgo.ONNXTypeTensor {
		return infer.ValueInfo{}, fmt.Errorf("%w: ort: %s is a %v, only tensors are supported", infer.ErrModel, in.Name, in.OrtValueType)
	}
	vi := infer.ValueInfo{Name: in.Name, Shape: append([]int64(nil), in.Dimensions...)}
	switch in.DataType {
	case ortgo.TensorElementDataTypeFloat:
		vi.DType = tensor.Float32
	case ortgo.TensorElementDataTypeInt32:
		vi.DType = tensor.Int32
	case ortgo.TensorElementDataTypeInt64:
		vi.DType = tensor.Int64
	case ortgo.TensorElementDataTypeUint8:
		vi.DType = tensor.Uint8
	default:
		return infer.ValueInfo{}, fmt.Errorf("%w: ort: %s has element type %v, which shitu does not support", infer.ErrModel, in.Name, in.DataType)
	}
	for i, d := range vi.Shape {
		if d < 0 {
			vi.Shape[i] = -1
		}
	}
	return vi, nil
}

func (s *session) Inputs() []infer.ValueInfo  { return s.inputs }
func (s *session) Outputs() []infer.ValueInfo { return s.outputs }

func (s *session) Run(ctx context.Context, inputs map[string]*tensor.Tensor) (res []*tensor.Tensor, err error) {
	// onnxruntime_go panics on some outputs it cannot represent (rank-0
	// tensors); turn that into an error instead of a crash.
	defer func() {
		if r := recover(); r != nil {
			res, err = nil, fmt.Errorf("ort: run: unsupported model output: %v", r)
		}
	}()
	if err := infer.CheckInputs(s.inputs, inputs); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.s == nil {
		return nil, infer.ErrClosed
	}
	in := make([]ortgo.Value, len(s.inputs))
	defer func() {
		for _, v := range in {
			if !isNil(v) {
				v.Destroy()
			}
		}
	}()
	for i, d := range s.inputs {
		v, err := toORT(inputs[d.Name])
		if err != nil {
			return nil, fmt.Errorf("%w: input %q: %v", infer.ErrInput, d.Name, err)
		}
		in[i] = v
	}
	out := make([]ortgo.Value, len(s.outputs))
	if ctx.Done() != nil {
		err = s.runCancellable(ctx, in, out)
	} else {
		err = s.s.Run(in, out)
	}
	res = make([]*tensor.Tensor, len(out))
	for i, v := range out {
		if isNil(v) {
			continue
		}
		if err == nil {
			res[i], err = fromORT(v)
		}
		v.Destroy()
	}
	if err != nil {
		return nil, fmt.Errorf("ort: run: %w", err)
	}
	return res, nil
}

// runCancellable runs with RunOptions that are terminated when ctx ends.
func (s *session) runCancellable(ctx context.Context, in, out []ortgo.Value) error {
	ro, err := ortgo.NewRunOptions()
	if err != nil {
		return err
	}
	defer ro.Destroy()
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		select {
		case <-ctx.Done():
			ro.Terminate()
		case <-done:
		}
	}()
	err = s.s.RunWithOptions(in, out, ro)
	close(done)
	<-stopped
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

// isNil reports a nil Value, including an interface holding a nil pointer
// (what onnxruntime_go leaves behind when it fails to convert an output).
func isNil(v ortgo.Value) bool {
	if v == nil {
		return true
	}
	switch x := v.(type) {
	case *ortgo.Tensor[float32]:
		return x == nil
	case *ortgo.Tensor[int32]:
		return x == nil
	case *ortgo.Tensor[int64]:
		return x == nil
	case *ortgo.Tensor[uint8]:
		return x == nil
	}
	return false
}

func toORT(t *tensor.Tensor) (ortgo.Value, error) {
	if len(t.Shape()) == 0 {
		return nil, fmt.Errorf("rank-0 tensors are not supported")
	}
	shape := make(ortgo.Shape, len(t.Shape()))
	for i, d := range t.Shape() {
		shape[i] = int64(d)
	}
	switch t.DType() {
	case tensor.Float32:
		return ortgo.NewTensor(shape, t.Float32s())
	case tensor.Int32:
		return ortgo.NewTensor(shape, t.Int32s())
	case tensor.Int64:
		return ortgo.NewTensor(shape, t.Int64s())
	case tensor.Uint8:
		return ortgo.NewTensor(shape, t.Uint8s())
	}
	return nil, fmt.Errorf("unsupported dtype %v", t.DType())
}

func fromORT(v ortgo.Value) (*tensor.Tensor, error) {
	shape := make([]int, len(v.GetShape()))
	for i, d := range v.GetShape() {
		shape[i] = int(d)
	}
	switch x := v.(type) {
	case *ortgo.Tensor[float32]:
		return tensor.New(shape, x.GetData())
	case *ortgo.Tensor[int32]:
		return tensor.New(shape, x.GetData())
	case *ortgo.Tensor[int64]:
		return tensor.New(shape, x.GetData())
	case *ortgo.Tensor[uint8]:
		return tensor.New(shape, x.GetData())
	}
	return nil, fmt.Errorf("output of unsupported type %T", v)
}

func (s *session) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.s == nil {
		return nil
	}
	err := s.s.Destroy()
	s.s = nil
	return err
}
