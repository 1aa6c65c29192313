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

func threads(n int) int {
	if n <= 0 {
		return 1
	}
	return n
}
