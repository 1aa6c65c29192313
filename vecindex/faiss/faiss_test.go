package faiss

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/shitu-go/shitu/vecindex"
)

type fixtureCase struct {
	Binary bool        `json:"binary"`
	K      int         `json:"k"`
	IDs    [][]int64   `json:"ids"`
	Scores [][]float64 `json:"scores"`
	NTotal int         `json:"ntotal"`
}

type fixtures struct {
	D             int                    `json:"d"`
	BinaryD       int                    `json:"binary_d"`
	Queries       [][]float64            `json:"queries"`
	BinaryQueries [][]byte               `json:"-"`
	BinaryQ       [][]int                `json:"binary_queries"`
	Cases         map[string]fixtureCase `json:"cases"`
}

func loadFixtures(t *testing.T) *fixtures {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "expected.json"))
	if err != nil {
		t.Fatal(err)
	}
	var f fixtures
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	for _, q := range f.BinaryQ {
		c := make([]byte, len(q))
		for i, v := range q {
			c[i] = byte(v)
		}
		f.BinaryQueries = append(f.BinaryQueries, c)
	}
	return &f
}

func f32s(v []float64) []float32 {
	out := make([]float32, len(v))
	for i, x := range v {
		out[i] = float32(x)
	}
	return out
}

func closeTo(a float32, b float64) bool {
	if math.IsInf(b, 0) || math.Abs(b) > 1e38 {
		return float64(a) == b || float32(b) == a
	}
	return math.Abs(float64(a)-b) <= 1e-5*math.Max(1, math.Abs(b))
}

// TestReadFaissFiles loads every file python3-faiss wrote and checks that
// searches return faiss' own ids and scores.
func TestReadFaissFiles(t *testing.T) {
	fx := loadFixtures(t)
	names := make([]string, 0, len(fx.Cases))
	for n := range fx.Cases {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		c := fx.Cases[name]
		t.Run(name, func(t *testing.T) {
			f, err := os.Open(filepath.Join("testdata", name+".index"))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if c.Binary {
				idx, err := ReadBinary(f)
				if err != nil {
					t.Fatal(err)
				}
				if idx.Len() != c.NTotal {
					t.Fatalf("Len %d, want %d", idx.Len(), c.NTotal)
				}
				for qi, q := range fx.BinaryQueries {
					got, err := idx.Search(q, c.K, nil)
					if err != nil {
						t.Fatal(err)
					}
					for j := range got {
						if got[j].ID != c.IDs[qi][j] || !closeTo(got[j].Score, c.Scores[qi][j]) {
							t.Fatalf("q%d: got %v, faiss ids %v scores %v", qi, got, c.IDs[qi], c.Scores[qi])
						}
					}
				}
				return
			}
			idx, err := Read(f)
			if err != nil {
				t.Fatal(err)
			}
			if idx.Len() != c.NTotal || idx.Dims() != fx.D {
				t.Fatalf("Len %d Dims %d, want %d %d", idx.Len(), idx.Dims(), c.NTotal, fx.D)
			}
			for qi, q := range fx.Queries {
				got, err := idx.Search(f32s(q), c.K, nil)
				if err != nil {
					t.Fatal(err)
				}
				for j := range got {
					if got[j].ID != c.IDs[qi][j] || !closeTo(got[j].Score, c.Scores[qi][j]) {
						t.Fatalf("q%d: got %v, faiss ids %v scores %v", qi, got, c.IDs[qi], c.Scores[qi])
					}
				}
			}
		})
	}
}

// TestRoundTrip reads each faiss file, writes it back and reads it again:
// the searches must not change, and files whose layout Write reproduces
// must come back byte for byte.
func TestRoundTrip(t *testing.T) {
	fx := loadFixtures(t)
	same := map[string]bool{"flat_ip": true, "flat_l2": true, "idmap2_flat_ip": true, "bflat": true}
	for name, c := range fx.Cases {
		t.Run(name, func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join("testdata", name+".index"))
			if err != nil {
				t.Fatal(err)
			}
			var buf bytes.Buffer
			if c.Binary {
				idx, err := ReadBinary(bytes.NewReader(raw))
				if err != nil {
					t.Fatal(err)
				}
				if err := WriteBinary(&buf, idx); err != nil {
					t.Fatal(err)
				}
				back, err := ReadBinary(bytes.NewReader(buf.Bytes()))
				if err != nil {
					t.Fatal(err)
				}
				for _, q := range fx.BinaryQueries {
					a, _ := idx.Search(q, c.K, nil)
					b, _ := back.Search(q, c.K, nil)
					if !equalResults(a, b) {
						t.Fatalf("after round trip %v != %v", b, a)
					}
				}
			} else {
				idx, err := Read(bytes.NewReader(raw))
				if err != nil {
					t.Fatal(err)
				}
				opt := WriteOptions{}
				if name == "idmap2_ivf4_ip" {
					opt.IDMap = IDMap2
				}
				if err := Write(&buf, idx, opt); err != nil {
					t.Fatal(err)
				}
				back, err := Read(bytes.NewReader(buf.Bytes()))
				if err != nil {
					t.Fatal(err)
				}
				for _, q := range fx.Queries {
					a, _ := idx.Search(f32s(q), c.K, nil)
					b, _ := back.Search(f32s(q), c.K, nil)
					if !equalResults(a, b) {
						t.Fatalf("after round trip %v != %v", b, a)
					}
				}
			}
			if same[name] && !bytes.Equal(raw, buf.Bytes()) {
				t.Errorf("rewritten file differs from faiss' (%d vs %d bytes)", buf.Len(), len(raw))
			}
		})
	}
}

func equalResults(a, b []vecindex.Result) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestCorrupt truncates and flips files: readers must fail cleanly.
func TestCorrupt(t *testing.T) {
	for _, name := range []string{"idmap2_hnsw32_ip", "ivf4_l2", "bhnsw16", "idmap2_flat_l2_removed"} {
		raw, err := os.ReadFile(filepath.Join("testdata", name+".index"))
		if err != nil {
			t.Fatal(err)
		}
		read := func(b []byte) error {
			if name[0] == 'b' {
				_, err := ReadBinary(bytes.NewReader(b))
				return err
			}
			_, err := Read(bytes.NewReader(b))
			return err
		}
		for _, cut := range []int{0, 3, 4, 20, 40, len(raw) / 2, len(raw) - 1} {
			if err := read(raw[:cut]); !errors.Is(err, ErrFormat) && !errors.Is(err, ErrUnsupported) {
				t.Errorf("%s cut at %d: %v", name, cut, err)
			}
		}
	}
	if _, err := Read(bytes.NewReader([]byte("IBxF"))); !errors.Is(err, ErrUnsupported) {
		t.Errorf("binary through Read: %v", err)
	}
}

// TestFilteredFaissHNSW: a filter on a graph read from faiss returns the
// exact filtered top-k (same data as the IDMap2 Flat fixture).
func TestFilteredFaissHNSW(t *testing.T) {
	fx := loadFixtures(t)
	open := func(name string) vecindex.Index {
		f, err := os.Open(filepath.Join("testdata", name+".index"))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		idx, err := Read(f)
		if err != nil {
			t.Fatal(err)
		}
		return idx
	}
	h, flat := open("idmap2_hnsw32_ip"), open("idmap2_flat_ip")
	for _, mod := range []int64{2, 5, 20} {
		filter := func(id int64) bool { return ((id-3)/7)%mod == 0 }
		for _, q := range fx.Queries {
			a, _ := h.Search(f32s(q), 3, filter)
			b, _ := flat.Search(f32s(q), 3, filter)
			for j := range a {
				if a[j].ID != b[j].ID {
					t.Fatalf("mod %d: hnsw %v, flat %v", mod, a, b)
				}
			}
		}
	}
}
