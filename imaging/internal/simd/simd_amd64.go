//go:build amd64 && !purego

package simd

import "golang.org/x/sys/cpu"

// AVX2 reports whether the kernels may be called (the CPU has AVX2).
var AVX2 = cpu.X86.HasAVX2

// HGather sets d[j] = Σ_t s[ofs[t·plane+j]]·alpha[t·plane+j] for t < ks
// and j < n (a multiple of 8). Every ofs+4 must lie inside s.
//
//go:noescape
func HGather(s *uint8, d *int32, n int, ofs *int32, alpha *int32, plane int, ks int)

// VLinear is OpenCV's uint8 vertical linear pass for n (a multiple of 8)
// elements: sat_u8(((b0·(t0>>4))>>16 + (b1·(t1>>4))>>16 + 2) >> 2).
//
//go:noescape
func VLinear(t0, t1 *int32, out *uint8, n int, b0, b1 int32)

// VCubic is OpenCV's uint8 vertical cubic float path for n (a multiple of
// 8) elements: sat_u8(roundEven(t0·b0 + (t1·b1 + (t2·b2 + t3·b3)))) in
// float32 without fused multiply-adds.
//
//go:noescape
func VCubic(t0, t1, t2, t3 *int32, out *uint8, n int, b *[4]float32)

// HLinear3 is the 3-channel horizontal linear pass for dx < n: with
// o = ofs[dx], d[3dx+c] = s[o+c]·w[8dx] + s[o+3+c]·w[8dx+1], w holding
// a0 a1 a0 a1 a0 a1 0 0 per dx. It reads 8 bytes at s+o and writes one
// int32 past d[3n-1].
//
//go:noescape
func HLinear3(s *uint8, d *int32, n int, ofs *int32, w *int16)

// Area2 is the exact 2×2 INTER_AREA row kernel, (a+b+c+d+2)>>2. With
// cn 3 it handles n groups of 2 output pixels (reads 16 bytes at
// r+12i, writes 8 bytes at d+6i); with cn 1, n groups of 8 outputs
// (reads 16 bytes at r+16i, writes 8 bytes at d+8i).
//
//go:noescape
func Area2(r0, r1, d *uint8, n int, cn int)
