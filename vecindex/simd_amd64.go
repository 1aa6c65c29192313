//go:build amd64 && !purego

package vecindex

import (
	"unsafe"

	"golang.org/x/sys/cpu"
)

// useAVX2 reports whether the assembly kernels may run (AVX2 and FMA).
var useAVX2 = cpu.X86.HasAVX2 && cpu.X86.HasFMA

//go:noescape
func dotAVX2(a, b *float32, n int) float32

//go:noescape
func l2AVX2(a, b *float32, n int) float32

// prefetch4 hints the CPU to load the 256 bytes at p (a vector that a
// graph search is about to read).
//
//go:noescape
func prefetch4(p unsafe.Pointer)

//go:noescape
func dotRowsAVX2(q, x *float32, d, n int, out *float32)

//go:noescape
func dot4AVX2(q, x *float32, d int, out *float32)

// Dot returns the inner product of a and b (len(b) ≥ len(a)).
func Dot(a, b []float32) float32 {
	if len(a) == 0 {
		return 0
	}
	_ = b[len(a)-1]
	if useAVX2 {
		return dotAVX2(&a[0], &b[0], len(a))
	}
	return dotGo(a, b)
}

// L2Sq returns the squared Euclidean distance of a and b (len(b) ≥ len(a)).
func L2Sq(a, b []float32) float32 {
	if len(a) == 0 {
		return 0
	}
	_ = b[len(a)-1]
	if useAVX2 {
		return l2AVX2(&a[0], &b[0], len(a))
	}
	return l2Go(a, b)
}

// dot4 writes the inner products of four queries (stored back to back,
// d values each) with row x into out.
func dot4(q, x []float32, d int, out *[4]float32) {
	_ = q[4*d-1]
	_ = x[d-1]
	if useAVX2 && d%16 == 0 {
		dot4AVX2(&q[0], &x[0], d, &out[0])
		return
	}
	dot4Go(q, x, d, out)
}

// dotRows writes the inner products of q with len(out) consecutive rows of
// x (d values each) into out.
func dotRows(q, x []float32, d int, out []float32) {
	n := len(out)
	if n == 0 {
		return
	}
	_ = x[n*d-1]
	_ = q[d-1]
	if useAVX2 && d%32 == 0 {
		dotRowsAVX2(&q[0], &x[0], d, n, &out[0])
		return
	}
	for r := range out {
		out[r] = Dot(q, x[r*d:(r+1)*d])
	}
}
