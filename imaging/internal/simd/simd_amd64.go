//go:build amd64 && !purego

package simd

import (
	"unsafe"

	"golang.org/x/sys/cpu"
)

// AVX2 reports whether the kernels may be called (the CPU has AVX2).
var AVX2 = cpu.X86.HasAVX2

// AVX512 reports whether the AVX-512 kernels may be called: the CPU has
// AVX-512 F, BW and VBMI, BMI2 (HGroups shifts with SHLX) and the OS
// saves their registers (x/sys/cpu checks both). VLinear and VCubic then take 16 elements a step, and
// HGroups may be called. Tests turn it off to compare with the AVX2 path.
var AVX512 = cpu.X86.HasAVX2 && cpu.X86.HasAVX512F && cpu.X86.HasAVX512BW && cpu.X86.HasAVX512VBMI && cpu.X86.HasBMI2

// HGroups is the AVX-512 horizontal pass: for each group g < ng, with b =
// base[g], it computes cnt[g] (≤ 16) outputs d[j] = Σ_t s[b+idx[t][j]]·w[t][j]
// over ks taps (2 or 4) and stores them at d, which then moves on by
// cnt[g]. Per group, idx holds ks·32 bytes and w ks·16 int16, laid out in
// halves of 64 bytes (32 words, two taps per output: word 2j is tap 2h,
// word 2j+1 tap 2h+1; only the even index bytes are used). It reads the
// 128 bytes at s+b, and prefetches the same windows of the row at pf
// (the next row to be filtered; any address).
//
//go:noescape
func HGroups(s *uint8, d *int32, ng int, base *int32, cnt *int32, idx *uint8, w *int16, ks int, pf *uint8)

//go:noescape
func vlinear256(t0, t1 *int32, out *uint8, n int, b0, b1 int32)

//go:noescape
func vlinear512(t0, t1 *int32, out *uint8, n int, b0, b1 int32)

//go:noescape
func vcubic256(t0, t1, t2, t3 *int32, out *uint8, n int, b *[4]float32)

//go:noescape
func vcubic512(t0, t1, t2, t3 *int32, out *uint8, n int, b *[4]float32)

// HGather sets d[j] = Σ_t s[ofs[t·plane+j]]·alpha[t·plane+j] for t < ks
// and j < n (a multiple of 8). Every ofs+4 must lie inside s.
//
//go:noescape
func HGather(s *uint8, d *int32, n int, ofs *int32, alpha *int32, plane int, ks int)

// VLinear is OpenCV's uint8 vertical linear pass for n (a multiple of 8)
// elements: sat_u8(((b0·(t0>>4))>>16 + (b1·(t1>>4))>>16 + 2) >> 2).
func VLinear(t0, t1 *int32, out *uint8, n int, b0, b1 int32) {
	if AVX512 && n >= 16 {
		m := n &^ 15
		vlinear512(t0, t1, out, m, b0, b1)
		if m == n {
			return
		}
		t0, t1, out, n = offset32(t0, m), offset32(t1, m), offset8(out, m), n-m
	}
	vlinear256(t0, t1, out, n, b0, b1)
}

func offset32(p *int32, n int) *int32 { return (*int32)(unsafe.Add(unsafe.Pointer(p), 4*n)) }
func offset8(p *uint8, n int) *uint8  { return (*uint8)(unsafe.Add(unsafe.Pointer(p), n)) }

// VCubic is OpenCV's uint8 vertical cubic float path for n (a multiple of
// 8) elements: sat_u8(roundEven(t0·b0 + (t1·b1 + (t2·b2 + t3·b3)))) in
// float32 without fused multiply-adds.
func VCubic(t0, t1, t2, t3 *int32, out *uint8, n int, b *[4]float32) {
	if AVX512 && n >= 16 {
		m := n &^ 15
		vcubic512(t0, t1, t2, t3, out, m, b)
		if m == n {
			return
		}
		t0, t1, t2, t3, out, n = offset32(t0, m), offset32(t1, m), offset32(t2, m), offset32(t3, m), offset8(out, m), n-m
	}
	vcubic256(t0, t1, t2, t3, out, n, b)
}

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
