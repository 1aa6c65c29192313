package faiss

import (
	"encoding/json"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/shitu-go/shitu/vecindex"
)

const debianPython = "/usr/bin/python3"

// needFaiss skips unless Debian's python3 with python3-faiss is present.
func needFaiss(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(debianPython); err != nil {
		t.Skipf("%s is absent: install python3-faiss (apt) to check shitu-written files in faiss", debianPython)
	}
	if out, err := exec.Command(debianPython, "-c", "import faiss, numpy").CombinedOutput(); err != nil {
		t.Skipf("python3-faiss is not installed (%v: %s)", err, out)
	}
}

type exportCase struct {
	Binary bool        `json:"binary"`
	K      int         `json:"k"`
	IDs    [][]int64   `json:"ids"`
	Scores [][]float64 `json:"scores"`
	NTotal int         `json:"ntotal"`
	FourCC string      `json:"fourcc"`
}

func unitVecs(r *rand.Rand, n, d int) []float32 {
	v := make([]float32, n*d)
	for i := range n {
		var s float32
		row := v[i*d : (i+1)*d]
		for j := range row {
			row[j] = float32(r.NormFloat64())
			s += row[j] * row[j]
		}
		s = 1 / float32(sqrt(float64(s)))
		for j := range row {
			row[j] *= s
		}
	}
	return v
}

func sqrt(x float64) float64 {
	z := x
	for range 40 {
		z = (z + x/z) / 2
	}
	return z
}

// TestFaissLoadsShituFiles writes every index type with Write/WriteBinary
// and has python3-faiss load them and reproduce shitu's results.
func TestFaissLoadsShituFiles(t *testing.T) {
	needFaiss(t)
	const d, n, nq, k, bits = 16, 300, 8, 5, 64
	r := rand.New(rand.NewPCG(11, 12))
	data := unitVecs(r, n, d)
	qs := unitVecs(r, nq, d)
	seq := make([]int64, n)
	sparse := make([]int64, n)
	for i := range seq {
		seq[i] = int64(i)
		sparse[i] = int64(i*13 + 1000)
	}
	dir := t.TempDir()
	cases := map[string]exportCase{}
	queries := make([][]float64, nq)
	for i := range queries {
		for _, v := range qs[i*d : (i+1)*d] {
			queries[i] = append(queries[i], float64(v))
		}
	}
	record := func(name, fourcc string, idx vecindex.Index, opt WriteOptions) {
		t.Helper()
		f, err := os.Create(filepath.Join(dir, name+".index"))
		if err != nil {
			t.Fatal(err)
		}
		if err := Write(f, idx, opt); err != nil {
			t.Fatal(err)
		}
		f.Close()
		c := exportCase{K: k, NTotal: idx.Len(), FourCC: fourcc}
		for i := range nq {
			res, err := idx.Search(qs[i*d:(i+1)*d], k, nil)
			if err != nil {
				t.Fatal(err)
			}
			var ids []int64
			var sc []float64
			for _, x := range res {
				ids = append(ids, x.ID)
				sc = append(sc, float64(x.Score))
			}
			c.IDs = append(c.IDs, ids)
			c.Scores = append(c.Scores, sc)
		}
		cases[name] = c
	}
	for _, m := range []vecindex.Metric{vecindex.IP, vecindex.L2} {
		f, _ := vecindex.NewFlat(d, m)
		_ = f.Add(sparse, data)
		f.Remove(sparse[5:40]...)
		record("flat_idmap2_"+m.String(), "IxM2", f, WriteOptions{})
		record("flat_idmap_"+m.String(), "IxMp", f, WriteOptions{IDMap: IDMap1})
		fs, _ := vecindex.NewFlat(d, m)
		_ = fs.Add(seq, data)
		want := "IxF2"
		if m == vecindex.IP {
			want = "IxFI"
		}
		record("flat_bare_"+m.String(), want, fs, WriteOptions{})

		h, _ := vecindex.NewHNSW(d, m, vecindex.HNSWConfig{})
		_ = h.Add(sparse, data)
		h.Remove(sparse[10:30]...)
		// shitu's graph, searched the way faiss searches it.
		h.SetFaissSearch(true)
		record("hnsw_idmap2_"+m.String(), "IxM2", h, WriteOptions{})
		hs, _ := vecindex.NewHNSW(d, m, vecindex.HNSWConfig{M: 8, EfSearch: 32})
		_ = hs.Add(seq, data)
		hs.SetFaissSearch(true)
		record("hnsw8_bare_"+m.String(), "IHNf", hs, WriteOptions{})

		v, _ := vecindex.NewIVF(d, m, vecindex.IVFConfig{NList: 8, NProbe: 3})
		if err := v.Train(data); err != nil {
			t.Fatal(err)
		}
		_ = v.Add(sparse, data)
		v.Remove(sparse[:20]...)
		record("ivf_bare_"+m.String(), "IwFl", v, WriteOptions{})
		record("ivf_idmap2_"+m.String(), "IxM2", v, WriteOptions{IDMap: IDMap2})
	}

	codes := make([]byte, n*bits/8)
	for i := range codes {
		codes[i] = byte(r.Uint32())
	}
	bq := make([]byte, nq*bits/8)
	for i := range bq {
		bq[i] = byte(r.Uint32())
	}
	var bqs [][]int
	for i := range nq {
		var row []int
		for _, b := range bq[i*8 : (i+1)*8] {
			row = append(row, int(b))
		}
		bqs = append(bqs, row)
	}
	recordB := func(name, fourcc string, idx vecindex.BinaryIndex) {
		t.Helper()
		f, err := os.Create(filepath.Join(dir, name+".index"))
		if err != nil {
			t.Fatal(err)
		}
		if err := WriteBinary(f, idx); err != nil {
			t.Fatal(err)
		}
		f.Close()
		c := exportCase{Binary: true, K: k, NTotal: idx.Len(), FourCC: fourcc}
		for i := range nq {
			res, _ := idx.Search(bq[i*8:(i+1)*8], k, nil)
			var ids []int64
			var sc []float64
			for _, x := range res {
				ids = append(ids, x.ID)
				sc = append(sc, float64(x.Score))
			}
			c.IDs = append(c.IDs, ids)
			c.Scores = append(c.Scores, sc)
		}
		cases[name] = c
	}
	bf, _ := vecindex.NewBinaryFlat(bits)
	_ = bf.Add(seq, codes)
	recordB("bflat", "IBxF", bf)
	bfs, _ := vecindex.NewBinaryFlat(bits)
	_ = bfs.Add(sparse, codes)
	recordB("bflat_idmap2", "IBM2", bfs)
	bh, _ := vecindex.NewBinaryHNSW(bits, vecindex.HNSWConfig{M: 16})
	_ = bh.Add(seq, codes)
	bh.SetFaissSearch(true)
	recordB("bhnsw16", "IBHf", bh)

	js, _ := json.Marshal(map[string]any{"queries": queries, "binary_queries": bqs, "cases": cases})
	if err := os.WriteFile(filepath.Join(dir, "expected.json"), js, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(debianPython, filepath.Join("testdata", "check_shitu_files.py"), dir).CombinedOutput()
	t.Logf("faiss check:\n%s", out)
	if err != nil {
		t.Fatalf("python3-faiss disagrees with shitu: %v", err)
	}
}
