//go:build !amd64 || purego

package vecindex

import "unsafe"

// useAVX2 is false: no assembly kernels in this build.
const useAVX2 = false

// Dot returns the inner product of a and b (len(b) ≥ len(a)).
func Dot(a, b []float32) float32 { return dotGo(a, b) }

// L2Sq returns the squared Euclidean distance of a and b (len(b) ≥ len(a)).
func L2Sq(a, b []float32) float32 { return l2Go(a, b) }

func dot4(q, x []float32, d int, out *[4]float32) { dot4Go(q, x, d, out) }

func dotRows(q, x []float32, d int, out []float32) {
	for r := range out {
		out[r] = dotGo(q, x[r*d:(r+1)*d])
	}
}

func prefetch4(unsafe.Pointer) {}
