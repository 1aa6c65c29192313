package paddleclas

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"testing"

	"github.com/shitu-go/shitu/gallery"
	"github.com/shitu-go/shitu/vecindex"
)

// debianPython is the interpreter that has Debian's python3-faiss.
const debianPython = "/usr/bin/python3"

// needFaissPeer skips unless python3 with python3-faiss and numpy exists.
func needFaissPeer(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(debianPython); err != nil {
		t.Skipf("%s is absent: install python3-faiss and python3-numpy (apt, `make setup-test`) for the faiss peer test", debianPython)
	}
	if out, err := exec.Command(debianPython, "-c", "import faiss, numpy").CombinedOutput(); err != nil {
		t.Skipf("python3-faiss or python3-numpy is not installed (%v: %s); `make setup-test` installs them", err, out)
	}
}

func runPeer(t *testing.T, args ...string) {
	t.Helper()
	cmd := exec.Command(debianPython, append([]string{filepath.Join("testdata", "faiss_peer.py")}, args...)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("faiss_peer.py %s: %v\n%s", args[0], err, out)
	}
}

func readLE[T float32 | int64](t *testing.T, path string) []T {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var z T
	out := make([]T, len(b)/binary.Size(z))
	if err := binary.Read(bytes.NewReader(b), binary.LittleEndian, out); err != nil {
		t.Fatal(err)
	}
	return out
}

type peerResult struct {
	ids    []int64   // nq×k
	scores []float32 // nq×k
}

func readPeerResult(t *testing.T, prefix string) peerResult {
	t.Helper()
	return peerResult{readLE[int64](t, prefix+".ids"), readLE[float32](t, prefix+".scores")}
}

type peerMeta struct {
	N, D, NQ, K int
	Cases       map[string]struct{ Removed bool }
}

// peerQueries searches every query through the gallery (View.Search, the
// call recognize makes for predict) and returns the hits.
func peerQueries(t *testing.T, g *gallery.Gallery, qs []float32, m peerMeta) [][]gallery.Hit {
	t.Helper()
	out := make([][]gallery.Hit, m.NQ)
	for i := range out {
		h, err := g.View().Search(qs[i*m.D:(i+1)*m.D], m.K, gallery.Query{})
		if err != nil {
			t.Fatal(err)
		}
		out[i] = h
	}
	return out
}

// comparePeer counts the queries whose top-k differs from faiss' (ids in
// order, scores within 1e-5), checks labels, logs the figures and fails
// when any query differs.
func comparePeer(t *testing.T, what string, hits [][]gallery.Hit, want peerResult, k int) {
	t.Helper()
	differ, top1 := 0, 0
	first := ""
	for qi, hs := range hits {
		row := want.ids[qi*k : (qi+1)*k]
		sc := want.scores[qi*k : (qi+1)*k]
		n := k // faiss pads missing slots with id -1; the gallery drops them
		for n > 0 && row[n-1] == vecindex.PadID {
			n--
		}
		bad := len(hs) != n
		for r := 0; r < n && !bad; r++ {
			bad = hs[r].ID != row[r] || math.Abs(float64(hs[r].Score-sc[r])) > 1e-5
		}
		if bad {
			differ++
			if len(hs) == 0 || hs[0].ID != row[0] {
				top1++
			}
			if first == "" {
				first = fmt.Sprintf("query %d: shitu %v, faiss %v %v", qi, hs, row, sc)
			}
		}
		for _, h := range hs {
			if want := peerLabel(h.ID); h.Label != want {
				t.Errorf("%s: query %d: id %d has label %q, want %q", what, qi, h.ID, h.Label, want)
				return
			}
		}
	}
	t.Logf("%-40s %d queries compared, %d differ (%d at top-1)", what, len(hits), differ, top1)
	if differ > 0 {
		t.Errorf("%s: %d of %d queries differ from faiss (%d at top-1); first: %s", what, differ, len(hits), top1, first)
	}
}

// peerLabel is faiss_peer.py's label(i): labels hold a space, which the
// gallery keeps (predict_system.py would print only "品牌").
func peerLabel(id int64) string { return "品牌 " + strconv.Itoa(int(id%97)) }

// TestFaissPeer checks point 1 of issue 13 against python3-faiss on both
// sides of a PaddleClas index_dir (testdata/faiss_peer.py):
//   - faiss → shitu: index_dirs written as build_gallery.py writes them
//     (HNSW32 with efSearch 16 and 48, IVF16,Flat with nprobe 4, IVF250,Flat
//     with nprobe 1, Flat; HNSW32 also with PaddleX's id_map.yaml),
//     opened the way predict opens IndexProcess.index_dir (Import into a
//     gallery, later runs reopen it from its snapshot), return faiss' own
//     top-k, also after a removal that matches nothing and, for Flat and
//     IVF, after removing ids as faiss' remove_ids does;
//   - shitu → faiss: galleries built by shitu (HNSW32, IVF, Flat), exported
//     as PaddleClas index_dirs, searched by faiss with the parameters in the
//     file, return what the gallery returns, before and after removals.
func TestFaissPeer(t *testing.T) {
	needFaissPeer(t)
	dir := t.TempDir()
	runPeer(t, "make", dir)
	var m peerMeta
	b, err := os.ReadFile(filepath.Join(dir, "meta.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	qs := readLE[float32](t, filepath.Join(dir, "queries.f32"))
	removed := readLE[int64](t, filepath.Join(dir, "removed.ids"))
	if len(qs) != m.NQ*m.D || len(m.Cases) == 0 {
		t.Fatalf("fixture: %d query values, %d cases", len(qs), len(m.Cases))
	}

	t.Run("faiss_to_shitu", func(t *testing.T) {
		for _, name := range []string{"hnsw32", "paddlex_hnsw32", "hnsw32_ef48", "ivf16", "ivf250", "flat"} {
			c, ok := m.Cases[name]
			if !ok {
				t.Fatalf("fixture lacks %s", name)
			}
			want := readPeerResult(t, filepath.Join(dir, name))
			dst := filepath.Join(t.TempDir(), "g")
			g, err := Import(filepath.Join(dir, name), dst, "model-x")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(filepath.Join(dst, gallery.SnapshotFile)); err != nil {
				t.Fatalf("no index snapshot right after the import (a crash would rebuild another index): %v", err)
			}
			comparePeer(t, name+": imported", peerQueries(t, g, qs, m), want, m.K)
			batch, err := g.SearchBatch(qs, m.K, gallery.Query{})
			if err != nil {
				t.Fatal(err)
			}
			comparePeer(t, name+": imported, SearchBatch", batch, want, m.K)
			if name == "hnsw32" {
				ownSearch(t, g, qs, m, want, readPeerResult(t, filepath.Join(dir, "flat")))
			}
			if n, err := g.RemoveLabel("no such label"); err != nil || n != 0 {
				t.Fatalf("no-op removal: %d, %v", n, err)
			}
			if n, err := g.Remove(1 << 40); err != nil || n != 0 {
				t.Fatalf("no-op removal: %d, %v", n, err)
			}
			comparePeer(t, name+": after no-op removals", peerQueries(t, g, qs, m), want, m.K)
			if err := g.Close(); err != nil {
				t.Fatal(err)
			}
			// A second predict run opens the imported gallery again.
			g, err = gallery.Open(dst, gallery.Options{Model: "model-x"})
			if err != nil {
				t.Fatal(err)
			}
			comparePeer(t, name+": reopened", peerQueries(t, g, qs, m), want, m.K)
			if c.Removed {
				if n, err := g.Remove(removed...); err != nil || n != len(removed) {
					t.Fatalf("remove: %d, %v", n, err)
				}
				comparePeer(t, fmt.Sprintf("%s: after removing %d ids", name, len(removed)),
					peerQueries(t, g, qs, m), readPeerResult(t, filepath.Join(dir, name+".removed")), m.K)
			}
			g.Close()
		}
	})

	t.Run("shitu_to_faiss", func(t *testing.T) {
		base := readLE[float32](t, filepath.Join(dir, "base.f32"))
		items := make([]gallery.Item, m.N)
		for i := range items {
			items[i] = gallery.Item{Label: peerLabel(int64(i)), Source: fmt.Sprintf("gallery/%d.jpg", i), Vector: base[i*m.D : (i+1)*m.D]}
		}
		type export struct {
			what string
			dir  string
			hits [][]gallery.Hit
		}
		var exports []export
		for _, c := range []struct {
			name, method string
			ivf          vecindex.IVFConfig
		}{
			{"HNSW32", gallery.MethodHNSW, vecindex.IVFConfig{}},
			// nprobe is written into the file for faiss; k-means is kept short.
			{"IVF16 nprobe 4", gallery.MethodIVF, vecindex.IVFConfig{NList: 16, NProbe: 4, Iters: 6}},
			{"IVF250 nprobe 1", gallery.MethodIVF, vecindex.IVFConfig{NList: 250, NProbe: 1, Iters: 6}},
			{"Flat", gallery.MethodFlat, vecindex.IVFConfig{}},
		} {
			o := gallery.Options{Model: "model-x", Dims: m.D, Method: c.method}
			if c.method == gallery.MethodIVF {
				o.NewIndex = func(s gallery.IndexSpec) (vecindex.Index, error) { return vecindex.NewIVF(s.Dims, s.Metric, c.ivf) }
			}
			g, err := gallery.Create(filepath.Join(t.TempDir(), "g"), o)
			if err != nil {
				t.Fatal(err)
			}
			ids, err := g.Add(items...)
			if err != nil {
				t.Fatal(err)
			}
			for i, id := range ids {
				if id != int64(i) {
					t.Fatalf("item %d got id %d", i, id)
				}
			}
			for _, phase := range []string{"built", "after removals"} {
				if phase != "built" {
					if n, err := g.Remove(removed...); err != nil || n != len(removed) {
						t.Fatalf("remove: %d, %v", n, err)
					}
				}
				out := filepath.Join(dir, "export", strconv.Itoa(len(exports)))
				if _, err := ExportPaddleClas(g, out); err != nil {
					t.Fatal(err)
				}
				exports = append(exports, export{c.name + ": " + phase, out, peerQueries(t, g, qs, m)})
			}
			g.Close()
		}
		args := []string{"search", filepath.Join(dir, "queries.f32"), strconv.Itoa(m.K)}
		for _, e := range exports {
			args = append(args, e.dir, e.dir+".faiss")
		}
		runPeer(t, args...)
		for _, e := range exports {
			comparePeer(t, e.what, e.hits, readPeerResult(t, e.dir+".faiss"), m.K)
		}
	})
}

// ownSearch checks that Query.OwnSearch takes shitu's own HNSW search
// (its answers differ from faiss' on some queries) and logs the recall@k
// of both procedures against the exact (Flat) answers.
func ownSearch(t *testing.T, g *gallery.Gallery, qs []float32, m peerMeta, faissRes, exact peerResult) {
	t.Helper()
	recall := func(ids []int64, qi int) int {
		n := 0
		for _, id := range ids {
			for _, e := range exact.ids[qi*m.K : (qi+1)*m.K] {
				if id == e {
					n++
				}
			}
		}
		return n
	}
	differ, rOwn, rFaiss := 0, 0, 0
	for qi := range m.NQ {
		hs, err := g.Search(qs[qi*m.D:(qi+1)*m.D], m.K, gallery.Query{OwnSearch: true})
		if err != nil {
			t.Fatal(err)
		}
		ids := make([]int64, len(hs))
		for i, h := range hs {
			ids[i] = h.ID
		}
		if !slices.Equal(ids, faissRes.ids[qi*m.K:(qi+1)*m.K]) {
			differ++
		}
		rOwn += recall(ids, qi)
		rFaiss += recall(faissRes.ids[qi*m.K:(qi+1)*m.K], qi)
	}
	total := float64(m.NQ * m.K)
	t.Logf("hnsw32: OwnSearch differs from faiss on %d of %d queries; recall@%d: own %.3f, faiss %.3f", differ, m.NQ, m.K, float64(rOwn)/total, float64(rFaiss)/total)
	if differ == 0 {
		t.Errorf("Query.OwnSearch gave faiss' answers on every query: the option has no effect")
	}
}
