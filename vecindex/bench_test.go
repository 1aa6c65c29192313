package vecindex

import (
	"fmt"
	"testing"
)

// Benchmarks over sizes; run with -bench . -benchmem. Index benchmarks
// report recall@5 against an exact scan with b.ReportMetric.

func BenchmarkFlatSearch(b *testing.B) {
	for _, n := range []int{1000, 10000, 50000} {
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
			const d = 512
			data := unitData(1, n+64, d, 0)
			f, _ := NewFlatFrom(d, IP, seqIDs(0, n), data[:n*d])
			qs := data[n*d:]
			b.SetBytes(int64(n * d * 4))
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				_, _ = f.Search(qs[(i%64)*d:(i%64+1)*d], 5, nil)
				i++
			}
		})
	}
}

func BenchmarkFlatSearchBatch(b *testing.B) {
	for _, nq := range []int{4, 16, 64} {
		b.Run(fmt.Sprintf("nq=%d", nq), func(b *testing.B) {
			const n, d = 50000, 512
			data := unitData(1, n+nq, d, 0)
			f, _ := NewFlatFrom(d, IP, seqIDs(0, n), data[:n*d])
			qs := data[n*d:]
			b.ReportAllocs()
			for b.Loop() {
				_, _ = f.SearchBatch(qs, 5, nil)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*nq), "ns/query")
		})
	}
}

func BenchmarkHNSWSearch(b *testing.B) {
	const n, d, nq = 10000, 128, 200
	data := unitData(2, n+nq, d, 50)
	ids := seqIDs(0, n)
	h, _ := NewHNSW(d, IP, HNSWConfig{})
	_ = h.Add(ids, data[:n*d])
	qs := data[n*d:]
	for _, ef := range []int{16, 64} {
		b.Run(fmt.Sprintf("ef=%d", ef), func(b *testing.B) {
			h.SetEfSearch(ef)
			var rec float64
			for i := range nq {
				q := qs[i*d : (i+1)*d]
				got, _ := h.Search(q, 5, nil)
				rec += recallAt(got, bruteForce(data[:n*d], ids, d, IP, q, 5, nil))
			}
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				_, _ = h.Search(qs[(i%nq)*d:(i%nq+1)*d], 5, nil)
				i++
			}
			b.ReportMetric(rec/nq, "recall@5")
		})
	}
}

func BenchmarkIVFSearch(b *testing.B) {
	const n, d, nq = 10000, 128, 200
	data := unitData(3, n+nq, d, 50)
	ids := seqIDs(0, n)
	v, _ := NewIVF(d, IP, IVFConfig{NList: 64, Iters: 10})
	_ = v.Train(data[:n*d])
	_ = v.Add(ids, data[:n*d])
	qs := data[n*d:]
	for _, np := range []int{1, 8} {
		b.Run(fmt.Sprintf("nprobe=%d", np), func(b *testing.B) {
			v.SetNProbe(np)
			var rec float64
			for i := range nq {
				q := qs[i*d : (i+1)*d]
				got, _ := v.Search(q, 5, nil)
				rec += recallAt(got, bruteForce(data[:n*d], ids, d, IP, q, 5, nil))
			}
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				_, _ = v.Search(qs[(i%nq)*d:(i%nq+1)*d], 5, nil)
				i++
			}
			b.ReportMetric(rec/nq, "recall@5")
		})
	}
}

func BenchmarkBinaryFlatSearch(b *testing.B) {
	const n, bits = 100000, 512
	codes := make([]byte, n*bits/8)
	for i := range codes {
		codes[i] = byte(i*2654435761>>13) ^ byte(i)
	}
	f, _ := NewBinaryFlatFrom(bits, seqIDs(0, n), codes)
	q := codes[:bits/8]
	b.ReportAllocs()
	for b.Loop() {
		_, _ = f.Search(q, 5, nil)
	}
}

func BenchmarkHNSWAdd(b *testing.B) {
	const d = 128
	data := unitData(4, 5000, d, 0)
	b.ReportAllocs()
	for b.Loop() {
		h, _ := NewHNSW(d, IP, HNSWConfig{})
		_ = h.Add(seqIDs(0, 5000), data)
	}
}

// BenchmarkHNSWRemove removes one vector and adds it back, as a gallery
// edit does.
func BenchmarkHNSWRemove(b *testing.B) {
	const n, d = 10000, 128
	data := unitData(6, n, d, 20)
	h, _ := NewHNSW(d, IP, HNSWConfig{})
	_ = h.Add(seqIDs(0, n), data)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		id := int64(i % n)
		h.Remove(id)
		_ = h.Add([]int64{id}, data[int(id)*d:int(id+1)*d])
		i++
	}
}
