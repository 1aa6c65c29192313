// Package simd holds the AVX2 kernels of imaging's resize (assembly
// cannot live in imaging itself, which uses cgo). Each kernel computes
// exactly the integer and float32 operations of its Go twin in imaging,
// so results never depend on whether AVX2 is used. On other
// architectures, or with the purego build tag, AVX2 is false and the
// kernels panic.
package simd
