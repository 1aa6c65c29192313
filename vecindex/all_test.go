package vecindex

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
)

type floatCase struct {
	name  string
	exact bool
	make  func(t *testing.T, d int, m Metric, train []float32) Index
}

func floatCases() []floatCase {
	return []floatCase{
		{"flat", true, func(t *testing.T, d int, m Metric, _ []float32) Index {
			f, err := NewFlat(d, m)
			if err != nil {
				t.Fatal(err)
			}
			return f
		}},
		{"hnsw", false, func(t *testing.T, d int, m Metric, _ []float32) Index {
			h, err := NewHNSW(d, m, HNSWConfig{EfSearch: 64})
			if err != nil {
				t.Fatal(err)
			}
			return h
		}},
		{"ivf", false, func(t *testing.T, d int, m Metric, train []float32) Index {
			v, err := NewIVF(d, m, IVFConfig{NList: 16, NProbe: 6})
			if err != nil {
				t.Fatal(err)
			}
			if err := v.Train(train); err != nil {
				t.Fatal(err)
			}
			return v
		}},
	}
}

func TestIndexes(t *testing.T) {
	const n, d, nq, k = 1200, 32, 40, 5
	all := unitData(3, n+nq, d, 20)
	data, qs := all[:n*d], all[n*d:]
	ids := make([]int64, n)
	for i := range ids {
		ids[i] = int64(i*7 + 3) // sparse, as after PaddleClas removals
	}
	for _, m := range []Metric{IP, L2} {
		for _, tc := range floatCases() {
			t.Run(tc.name+"-"+m.String(), func(t *testing.T) {
				idx := tc.make(t, d, m, data)
				if err := idx.Add(ids, data); err != nil {
					t.Fatal(err)
				}
				if err := idx.Add(ids[:1], data[:d]); !errors.Is(err, ErrDuplicate) {
					t.Errorf("duplicate add: %v", err)
				}
				if _, err := idx.Search(qs[:d-1], k, nil); !errors.Is(err, ErrDims) {
					t.Errorf("short query: %v", err)
				}
				check := func(stage string, idx Index, vecs []float32, ids []int64, filter Filter, minRecall float64) {
					t.Helper()
					var rec float64
					batch, err := idx.SearchBatch(qs, k, filter)
					if err != nil {
						t.Fatal(err)
					}
					for i := range nq {
						q := qs[i*d : (i+1)*d]
						got, err := idx.Search(q, k, filter)
						if err != nil {
							t.Fatal(err)
						}
						if !sameResults(got, batch[i]) && tc.exact {
							t.Fatalf("%s: batch %v != single %v", stage, batch[i], got)
						}
						want := bruteForce(vecs, ids, d, m, q, k, filter)
						if tc.exact {
							for j := range want {
								if got[j].ID != want[j].ID || !near(got[j].Score, want[j].Score, 1e-5) {
									t.Fatalf("%s q%d: got %v want %v", stage, i, got, want)
								}
							}
						}
						if !slices.IsSortedFunc(got, func(a, b Result) int {
							if (m == IP && a.Score > b.Score) || (m != IP && a.Score < b.Score) {
								return -1
							}
							if a.Score == b.Score {
								return 0
							}
							return 1
						}) {
							t.Fatalf("%s: unsorted %v", stage, got)
						}
						for _, r := range got {
							if r.ID != PadID && filter != nil && !filter(r.ID) {
								t.Fatalf("%s: id %d fails the filter", stage, r.ID)
							}
						}
						rec += recallAt(got, want)
					}
					if rec /= nq; rec < minRecall {
						t.Errorf("%s: recall@%d %.3f < %.3f", stage, k, rec, minRecall)
					}
				}
				check("all", idx, data, ids, nil, 0.95)
				// A selective filter (2 % of ids) and a broad one.
				check("filter2%", idx, data, ids, func(id int64) bool { return id%50 == 3 }, 0.9)
				check("filter50%", idx, data, ids, func(id int64) bool { return id%2 == 1 }, 0.95)

				// Remove the first half: none may come back.
				gone := map[int64]bool{}
				var rm []int64
				for i := 0; i < n/2; i++ {
					rm = append(rm, ids[i*2])
					gone[ids[i*2]] = true
				}
				if got := idx.Remove(append(rm, 999999)...); got != len(rm) {
					t.Fatalf("Remove = %d, want %d", got, len(rm))
				}
				if idx.Len() != n-len(rm) {
					t.Fatalf("Len = %d after remove", idx.Len())
				}
				var keepIDs []int64
				var keepVecs []float32
				for i, id := range ids {
					if !gone[id] {
						keepIDs = append(keepIDs, id)
						keepVecs = append(keepVecs, data[i*d:(i+1)*d]...)
					}
				}
				check("removed", idx, keepVecs, keepIDs, nil, 0.95)
				for i := range nq {
					got, _ := idx.Search(qs[i*d:(i+1)*d], 50, nil)
					for _, r := range got {
						if gone[r.ID] {
							t.Fatalf("removed id %d returned", r.ID)
						}
					}
				}
				// Re-add removed ids (slots are reused) and round-trip.
				if err := idx.Add(rm[:10], data[:10*d]); err != nil {
					t.Fatal(err)
				}
				var buf bytes.Buffer
				if err := idx.Save(&buf); err != nil {
					t.Fatal(err)
				}
				back, err := Load(bytes.NewReader(buf.Bytes()))
				if err != nil {
					t.Fatal(err)
				}
				if back.Len() != idx.Len() || back.Dims() != d || back.Metric() != m {
					t.Fatalf("loaded %d/%d/%v", back.Len(), back.Dims(), back.Metric())
				}
				for i := range nq {
					q := qs[i*d : (i+1)*d]
					a, _ := idx.Search(q, k, nil)
					b, _ := back.Search(q, k, nil)
					if !slices.Equal(a, b) {
						t.Fatalf("after load: %v != %v", b, a)
					}
				}
				// Corruption is caught by the checksum.
				bad := slices.Clone(buf.Bytes())
				bad[len(bad)/2] ^= 1
				if _, err := Load(bytes.NewReader(bad)); !errors.Is(err, ErrFormat) {
					t.Errorf("corrupt load: %v", err)
				}
			})
		}
	}
}

func TestPadding(t *testing.T) {
	for _, m := range []Metric{IP, L2} {
		f, _ := NewFlat(4, m)
		_ = f.Add([]int64{5}, []float32{1, 0, 0, 0})
		got, err := f.Search([]float32{1, 0, 0, 0}, 3, nil)
		if err != nil {
			t.Fatal(err)
		}
		want := []Result{{5, 1}, {PadID, PadIP}, {PadID, PadIP}}
		if m == L2 {
			want = []Result{{5, 0}, {PadID, PadL2}, {PadID, PadL2}}
		}
		if !slices.Equal(got, want) {
			t.Errorf("%v: got %v want %v", m, got, want)
		}
	}
	b, _ := NewBinaryFlat(16)
	got, _ := b.Search([]byte{0, 0}, 2, nil)
	if want := []Result{{PadID, PadHamming}, {PadID, PadHamming}}; !slices.Equal(got, want) {
		t.Errorf("binary: got %v want %v", got, want)
	}
}

func TestBinaryIndexes(t *testing.T) {
	const n, bits, nq, k = 800, 64, 30, 5
	r := rand.New(rand.NewPCG(4, 4))
	codes := make([]byte, n*bits/8)
	for i := range codes {
		codes[i] = byte(r.Uint32())
	}
	qs := make([]byte, nq*bits/8)
	for i := range qs {
		qs[i] = byte(r.Uint32())
	}
	ids := seqIDs(0, n)
	bf, _ := NewBinaryFlat(bits)
	bh, _ := NewBinaryHNSW(bits, HNSWConfig{EfSearch: 128})
	for _, idx := range []BinaryIndex{bf, bh} {
		if err := idx.Add(ids, codes); err != nil {
			t.Fatal(err)
		}
		idx.Remove(ids[:100]...)
		var buf bytes.Buffer
		if err := idx.Save(&buf); err != nil {
			t.Fatal(err)
		}
		back, err := LoadBinary(&buf)
		if err != nil {
			t.Fatal(err)
		}
		var rec float64
		for i := range nq {
			q := qs[i*8 : (i+1)*8]
			// reference: distances of live codes
			type sc struct {
				d  int
				id int64
			}
			var all []sc
			for j := 100; j < n; j++ {
				all = append(all, sc{hamming(q, codes[j*8:(j+1)*8]), int64(j)})
			}
			slices.SortFunc(all, func(a, b sc) int {
				if a.d != b.d {
					return a.d - b.d
				}
				return int(a.id - b.id)
			})
			got, err := back.Search(q, k, nil)
			if err != nil {
				t.Fatal(err)
			}
			hit := 0
			for j, g := range got {
				if g.ID < 100 {
					t.Fatalf("removed id %d returned", g.ID)
				}
				if int(g.Score) == all[j].d {
					hit++
				}
			}
			if idx == BinaryIndex(bf) && hit != k {
				t.Fatalf("binary flat q%d: got %v, want distances of %v", i, got, all[:k])
			}
			rec += float64(hit) / k
		}
		if rec /= nq; rec < 0.95 {
			t.Errorf("%T: distance recall %.3f", idx, rec)
		}
	}
}

// TestConcurrent runs searches while another goroutine adds and removes;
// run it with -race.
func TestConcurrent(t *testing.T) {
	const d = 16
	data := unitData(9, 2000, d, 0)
	for _, tc := range floatCases() {
		t.Run(tc.name, func(t *testing.T) {
			idx := tc.make(t, d, IP, data)
			if err := idx.Add(seqIDs(0, 1000), data[:1000*d]); err != nil {
				t.Fatal(err)
			}
			var wg sync.WaitGroup
			stop := make(chan struct{})
			for g := range 3 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := 0; ; i++ {
						select {
						case <-stop:
							return
						default:
						}
						q := data[((i+g)%2000)*d:][:d]
						if _, err := idx.Search(q, 5, nil); err != nil {
							t.Error(err)
							return
						}
					}
				}()
			}
			for i := 1000; i < 2000; i += 50 {
				if err := idx.Add(seqIDs(i, 50), data[i*d:(i+50)*d]); err != nil {
					t.Fatal(err)
				}
				idx.Remove(seqIDs(i-1000, 25)...)
			}
			close(stop)
			wg.Wait()
			if idx.Len() != 2000-500 {
				t.Errorf("Len = %d", idx.Len())
			}
		})
	}
}

// sameResults compares ids exactly and scores to float32 rounding (a batch
// sums in a different order than a single search).
func sameResults(a, b []Result) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].ID != b[i].ID || !near(a[i].Score, b[i].Score, 1e-5) {
			return false
		}
	}
	return true
}

func TestFactories(t *testing.T) {
	tests := []struct {
		method string
		want   string
		err    bool
	}{{"", "*vecindex.HNSW", false}, {"HNSW32", "*vecindex.HNSW", false}, {"Flat", "*vecindex.Flat", false}, {"IVF", "*vecindex.IVF", false}, {"PQ", "", true}}
	for _, tc := range tests {
		idx, err := NewIndex(tc.method, 8, ParseMetric("IP"))
		if (err != nil) != tc.err {
			t.Fatalf("%q: %v", tc.method, err)
		}
		if err == nil && fmt.Sprintf("%T", idx) != tc.want {
			t.Errorf("%q: %T, want %s", tc.method, idx, tc.want)
		}
	}
	if ParseMetric("L2") != L2 || ParseMetric("cosine") != L2 || ParseMetric("hamming") != Hamming {
		t.Error("ParseMetric")
	}
	if b, err := NewBinaryIndex("Flat", 64); err != nil || b.Dims() != 64 {
		t.Errorf("binary flat: %v", err)
	}
	if _, err := NewBinaryIndex("IVF", 64); !errors.Is(err, ErrArgs) {
		t.Errorf("binary IVF: %v", err)
	}
}

func TestEmptyAdd(t *testing.T) {
	for _, tc := range floatCases() {
		idx := tc.make(t, 4, IP, unitData(1, 40, 4, 0))
		for range 2 { // a lock left held would deadlock the second call
			if err := idx.Add(nil, nil); err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
		}
		if idx.Len() != 0 {
			t.Fatalf("%s: Len %d", tc.name, idx.Len())
		}
	}
	b, _ := NewBinaryHNSW(8, HNSWConfig{})
	_ = b.Add(nil, nil)
	if b.Len() != 0 {
		t.Fatal("binary")
	}
}
