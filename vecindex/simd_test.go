package vecindex

import (
	"math"
	"math/rand/v2"
	"testing"
)

func randVec(r *rand.Rand, n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(r.NormFloat64())
	}
	return v
}

func near(a, b float32, tol float64) bool {
	return math.Abs(float64(a-b)) <= tol*math.Max(1, math.Abs(float64(b)))
}

func TestKernels(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{0, 1, 3, 7, 8, 9, 15, 16, 31, 32, 33, 63, 64, 100, 512, 513} {
		a, b := randVec(r, n), randVec(r, n)
		var wd, wl float64
		for i := range a {
			wd += float64(a[i]) * float64(b[i])
			d := float64(a[i]) - float64(b[i])
			wl += d * d
		}
		if got := Dot(a, b); !near(got, float32(wd), 1e-4) {
			t.Errorf("Dot n=%d: got %v want %v", n, got, wd)
		}
		if got := L2Sq(a, b); !near(got, float32(wl), 1e-4) {
			t.Errorf("L2Sq n=%d: got %v want %v", n, got, wl)
		}
		if got := dotGo(a, b); !near(got, float32(wd), 1e-4) {
			t.Errorf("dotGo n=%d: got %v want %v", n, got, wd)
		}
		if got := l2Go(a, b); !near(got, float32(wl), 1e-4) {
			t.Errorf("l2Go n=%d: got %v want %v", n, got, wl)
		}
	}
	for _, d := range []int{1, 5, 16, 48, 512} {
		q, x := randVec(r, 4*d), randVec(r, d)
		var out [4]float32
		dot4(q, x, d, &out)
		for j := 0; j < 4; j++ {
			if want := dotGo(q[j*d:(j+1)*d], x); !near(out[j], want, 1e-4) {
				t.Errorf("dot4 d=%d j=%d: got %v want %v", d, j, out[j], want)
			}
		}
	}
}

func TestDotRows(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for _, d := range []int{8, 32, 64, 512, 100} {
		for _, n := range []int{1, 2, 7} {
			q, x := randVec(r, d), randVec(r, n*d)
			out := make([]float32, n)
			dotRows(q, x, d, out)
			for i := range n {
				if want := dotGo(q, x[i*d:(i+1)*d]); !near(out[i], want, 1e-4) {
					t.Errorf("d=%d n=%d row %d: %v want %v", d, n, i, out[i], want)
				}
			}
		}
	}
}

func TestHamming(t *testing.T) {
	tests := []struct {
		a, b []byte
		want int
	}{
		{[]byte{}, []byte{}, 0},
		{[]byte{0xff}, []byte{0x00}, 8},
		{[]byte{0x80, 1, 2, 3, 4, 5, 6, 7, 8}, []byte{0, 1, 2, 3, 4, 5, 6, 7, 9}, 2},
		{[]byte{1, 2, 3, 4, 5, 6, 7, 8}, []byte{1, 2, 3, 4, 5, 6, 7, 8}, 0},
	}
	for _, tc := range tests {
		if got := hamming(tc.a, tc.b); got != tc.want {
			t.Errorf("hamming(%x,%x) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
	}
}

func BenchmarkDot512(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	x, y := randVec(r, 512), randVec(r, 512)
	b.ReportAllocs()
	var s float32
	for b.Loop() {
		s += Dot(x, y)
	}
	_ = s
}

func TestHammingLengths(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 3))
	for n := 0; n <= 80; n++ {
		a, b := make([]byte, n), make([]byte, n)
		for i := range a {
			a[i], b[i] = byte(r.Uint32()), byte(r.Uint32())
		}
		want := 0
		for i := range a {
			for x := a[i] ^ b[i]; x != 0; x &= x - 1 {
				want++
			}
		}
		if got := hamming(a, b); got != want {
			t.Fatalf("n=%d: hamming %d, want %d", n, got, want)
		}
	}
}
