package paddleclas

import (
	"encoding/json"
	"github.com/shitu-go/shitu/gallery"
	"math"
	"os"
	"path/filepath"
	"sort"
	"testing"
)

type faissExpected struct {
	K       int
	Queries [][]float32
	QCodes  [][]byte `json:"-"`
	RawQC   [][]int  `json:"qcodes"`
	Cases   map[string]struct {
		IDs    [][]int64
		Scores [][]float64
	}
}

func loadExpected(t *testing.T) *faissExpected {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "indexdirs", "expected.json"))
	if err != nil {
		t.Fatal(err)
	}
	var e faissExpected
	if err := json.Unmarshal(b, &e); err != nil {
		t.Fatal(err)
	}
	for _, q := range e.RawQC {
		c := make([]byte, len(q))
		for i, v := range q {
			c[i] = byte(v)
		}
		e.QCodes = append(e.QCodes, c)
	}
	return &e
}

// compareHits checks gallery hits against faiss' ids and scores. Equal
// scores may come in another order (faiss' heap order is unspecified).
func compareHits(t *testing.T, what string, hits []gallery.Hit, ids []int64, scores []float64, binary bool) {
	t.Helper()
	if len(hits) != len(ids) {
		t.Fatalf("%s: %d hits, faiss %d", what, len(hits), len(ids))
	}
	for i := range hits {
		if d := math.Abs(float64(hits[i].Score) - scores[i]); d > 1e-5 {
			t.Fatalf("%s: rank %d score %v, faiss %v", what, i, hits[i].Score, scores[i])
		}
	}
	got, want := map[float64][]int64{}, map[float64][]int64{}
	for i := range hits {
		s := math.Round(scores[i]*1e5) / 1e5
		got[s] = append(got[s], hits[i].ID)
		want[s] = append(want[s], ids[i])
	}
	for s := range want {
		a, b := got[s], want[s]
		sort.Slice(a, func(i, j int) bool { return a[i] < a[j] })
		sort.Slice(b, func(i, j int) bool { return b[i] < b[j] })
		// The last tie group may be cut differently at rank k.
		if len(a) == 1 && a[0] != b[0] && !binary {
			t.Fatalf("%s: score %v id %v, faiss %v", what, s, a, b)
		}
	}
}

// TestImportFaissIndexDirs loads index_dirs written by python3-faiss +
// pickle (PaddleClas) or YAML (PaddleX) (testdata/gen_indexdirs.py) and
// checks that the imported gallery returns faiss' results with the right
// labels, after reopening too, and after an export → read round trip.
func TestImportFaissIndexDirs(t *testing.T) {
	exp := loadExpected(t)
	for name, c := range exp.Cases {
		t.Run(name, func(t *testing.T) {
			src := filepath.Join("testdata", "indexdirs", name)
			d, err := ReadIndexDir(src)
			if err != nil {
				t.Fatal(err)
			}
			binary := d.Metric.String() == "hamming"
			dst := filepath.Join(t.TempDir(), "g")
			g, err := Import(src, dst, "model-x")
			if err != nil {
				t.Fatal(err)
			}
			check := func(g *gallery.Gallery, when string) {
				t.Helper()
				for qi := range exp.Queries {
					var hits []gallery.Hit
					var err error
					if binary {
						hits, err = g.SearchCode(exp.QCodes[qi], exp.K, gallery.Query{})
					} else {
						hits, err = g.Search(exp.Queries[qi], exp.K, gallery.Query{})
					}
					if err != nil {
						t.Fatal(err)
					}
					compareHits(t, when, hits, c.IDs[qi], c.Scores[qi], binary)
					for _, h := range hits {
						want := "label" + itoa(int(h.ID)%37)
						if h.Label != want {
							t.Fatalf("%s: id %d label %q, want %q", when, h.ID, h.Label, want)
						}
					}
				}
			}
			check(g, "imported")
			if d.Format == "paddleclas" {
				it, _ := g.Get(c.IDs[0][0])
				if it.Source == "" || it.Doc != it.Source+"\t"+it.Label {
					t.Fatalf("doc/source not kept: %+v", it)
				}
			}
			// Export both ways, read back.
			out := filepath.Join(t.TempDir(), "export")
			if _, err := ExportPaddleClas(g, out); err != nil {
				t.Fatal(err)
			}
			back, err := ReadIndexDir(out)
			if err != nil {
				t.Fatal(err)
			}
			if len(back.Items) != len(d.Items) || back.Method != d.Method || back.Metric != d.Metric {
				t.Fatalf("export round trip: %d items %s %v", len(back.Items), back.Method, back.Metric)
			}
			pxo := filepath.Join(t.TempDir(), "px")
			if _, err := ExportPaddleX(g, pxo); err != nil {
				t.Fatal(err)
			}
			px, err := ReadIndexDir(pxo)
			if err != nil || px.Format != "paddlex" || len(px.Items) != len(d.Items) {
				t.Fatalf("paddlex round trip: %v", err)
			}
			g2, err := Import(out, filepath.Join(t.TempDir(), "g2"), "model-x")
			if err != nil {
				t.Fatal(err)
			}
			check(g2, "re-imported export")
			g2.Close()
			// Reopen: the snapshot keeps the faiss-read index.
			if err := g.Close(); err != nil {
				t.Fatal(err)
			}
			g, err = gallery.Open(dst, gallery.Options{Model: "model-x"})
			if err != nil {
				t.Fatal(err)
			}
			defer g.Close()
			check(g, "reopened")
		})
	}
}

func itoa(i int) string {
	b, _ := json.Marshal(i)
	return string(b)
}

// TestWriteExportsForFaiss writes the PaddleClas export of every imported
// fixture into $SHITU_GALLERY_EXPORT_DIR, for testdata/check_exports.py to
// load with python3-faiss + pickle (skipped unless the variable is set).
func TestWriteExportsForFaiss(t *testing.T) {
	out := os.Getenv("SHITU_GALLERY_EXPORT_DIR")
	if out == "" {
		t.Skip("set SHITU_GALLERY_EXPORT_DIR to write exports for testdata/check_exports.py")
	}
	for name := range loadExpected(t).Cases {
		g, err := Import(filepath.Join("testdata", "indexdirs", name), filepath.Join(t.TempDir(), name), "m")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ExportPaddleClas(g, filepath.Join(out, name)); err != nil {
			t.Fatal(err)
		}
		g.Close()
	}
}
