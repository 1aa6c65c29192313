//go:build !amd64 || purego

package simd

// AVX2 is false: this build has no assembly kernels.
var AVX2 = false

// AVX512 is false: this build has no assembly kernels.
var AVX512 = false

// HGroups panics: see AVX512.
func HGroups(s *uint8, d *int32, ng int, base *int32, cnt *int32, idx *uint8, w *int16, ks int, pf *uint8) {
	panic("simd: no assembly kernels in this build")
}

// HGather panics: see AVX2.
func HGather(s *uint8, d *int32, n int, ofs *int32, alpha *int32, plane int, ks int) {
	panic("simd: no assembly kernels in this build")
}

// VLinear panics: see AVX2.
func VLinear(t0, t1 *int32, out *uint8, n int, b0, b1 int32) {
	panic("simd: no assembly kernels in this build")
}

// VCubic panics: see AVX2.
func VCubic(t0, t1, t2, t3 *int32, out *uint8, n int, b *[4]float32) {
	panic("simd: no assembly kernels in this build")
}

// HLinear3 panics: see AVX2.
func HLinear3(s *uint8, d *int32, n int, ofs *int32, w *int16) {
	panic("simd: no assembly kernels in this build")
}

// Area2 panics: see AVX2.
func Area2(r0, r1, d *uint8, n int, cn int) {
	panic("simd: no assembly kernels in this build")
}
