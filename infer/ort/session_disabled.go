//go:build !cgo

package ort

import (
	"fmt"

	"github.com/shitu-go/shitu/infer"
	"github.com/shitu-go/shitu/tensor"
)

const cgoEnabled = false

func initEnv(string) error {
	return fmt.Errorf("%w: this shitu was built with CGO_ENABLED=0; the ONNX Runtime backend needs cgo: rebuild with CGO_ENABLED=1 and a C compiler (gcc)", ErrLibrary)
}

// Version is "" in a build without cgo.
func Version() string { return "" }

// Open implements infer.Backend; without cgo it always fails.
func (b *Backend) Open([]byte, infer.Options) (infer.Session, error) {
	return nil, initEnv("")
}

// Bare is unavailable without cgo.
type Bare struct{}

// NewBare always fails without cgo.
func (b *Backend) NewBare([]byte, infer.Options, map[string]*tensor.Tensor, [][]int) (*Bare, error) {
	return nil, initEnv("")
}

// Run always fails without cgo.
func (b *Bare) Run() error { return initEnv("") }

// Close does nothing.
func (b *Bare) Close() error { return nil }
