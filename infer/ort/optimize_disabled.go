//go:build !cgo

package ort

import "github.com/shitu-go/shitu/infer"

// Optimize needs cgo; without it it always fails.
func (b *Backend) Optimize([]byte, infer.OptLevel) ([]byte, error) { return nil, initEnv("") }
