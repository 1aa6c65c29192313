package vecindex

import (
	"encoding/binary"
	"math/bits"
)

// dotGo is the portable inner product, unrolled by four.
func dotGo(a, b []float32) float32 {
	b = b[:len(a)]
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(a); i += 4 {
		s0 += a[i] * b[i]
		s1 += a[i+1] * b[i+1]
		s2 += a[i+2] * b[i+2]
		s3 += a[i+3] * b[i+3]
	}
	for ; i < len(a); i++ {
		s0 += a[i] * b[i]
	}
	return (s0 + s1) + (s2 + s3)
}

// l2Go is the portable squared L2 distance, unrolled by four.
func l2Go(a, b []float32) float32 {
	b = b[:len(a)]
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(a); i += 4 {
		d0 := a[i] - b[i]
		d1 := a[i+1] - b[i+1]
		d2 := a[i+2] - b[i+2]
		d3 := a[i+3] - b[i+3]
		s0 += d0 * d0
		s1 += d1 * d1
		s2 += d2 * d2
		s3 += d3 * d3
	}
	for ; i < len(a); i++ {
		d := a[i] - b[i]
		s0 += d * d
	}
	return (s0 + s1) + (s2 + s3)
}

func dot4Go(q, x []float32, d int, out *[4]float32) {
	for j := 0; j < 4; j++ {
		out[j] = dotGo(q[j*d:(j+1)*d], x)
	}
}

// hamming returns the number of differing bits of two equal-length codes.
func hamming(a, b []byte) int {
	b = b[:len(a)]
	n := 0
	i := 0
	for ; i+32 <= len(a); i += 32 {
		n += bits.OnesCount64(binary.LittleEndian.Uint64(a[i:])^binary.LittleEndian.Uint64(b[i:])) +
			bits.OnesCount64(binary.LittleEndian.Uint64(a[i+8:])^binary.LittleEndian.Uint64(b[i+8:])) +
			bits.OnesCount64(binary.LittleEndian.Uint64(a[i+16:])^binary.LittleEndian.Uint64(b[i+16:])) +
			bits.OnesCount64(binary.LittleEndian.Uint64(a[i+24:])^binary.LittleEndian.Uint64(b[i+24:]))
	}
	for ; i+8 <= len(a); i += 8 {
		n += bits.OnesCount64(binary.LittleEndian.Uint64(a[i:]) ^ binary.LittleEndian.Uint64(b[i:]))
	}
	for ; i < len(a); i++ {
		n += bits.OnesCount8(a[i] ^ b[i])
	}
	return n
}
