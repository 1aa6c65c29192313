package paddleclas

import (
	"context"
	"errors"
	"github.com/shitu-go/shitu/gallery"
	"github.com/shitu-go/shitu/internal/gallerytest"
	"os"
	"path/filepath"
	"testing"

	"github.com/shitu-go/shitu/vecindex"
)

func TestIndexProcessOptions(t *testing.T) {
	for _, c := range []struct {
		ip     IndexProcess
		metric vecindex.Metric
		method string
		dims   int
	}{
		{IndexProcess{}, vecindex.IP, gallery.MethodHNSW, 512},
		{IndexProcess{DistType: "IP", IndexMethod: "Flat", EmbeddingSize: 128}, vecindex.IP, gallery.MethodFlat, 128},
		{IndexProcess{DistType: "hamming", IndexMethod: "Flat"}, vecindex.Hamming, gallery.MethodFlat, 512},
		{IndexProcess{DistType: "L2", IndexMethod: "IVF"}, vecindex.L2, gallery.MethodIVF, 512},
		{IndexProcess{DistType: "cosine"}, vecindex.L2, gallery.MethodHNSW, 512}, // anything else → L2 (§11.4)
	} {
		o, err := c.ip.Options("m")
		if err != nil || o.Metric != c.metric || o.Method != c.method || o.Dims != c.dims {
			t.Errorf("%+v → %+v %v", c.ip, o, err)
		}
	}
	if _, err := (IndexProcess{IndexMethod: "PQ"}).Options("m"); !errors.Is(err, gallery.ErrConfig) {
		t.Errorf("bad method: %v", err)
	}
}

func TestRunIndexProcess(t *testing.T) {
	fx := gallerytest.NewListFixture(t, map[string]string{"a.jpg": "A", "b.jpg": "B", "c.jpg": "C"},
		"a.jpg\tcola", "b.jpg\tfanta")
	ex := &gallerytest.Extractor{Dims: 8}
	ip := IndexProcess{IndexMethod: "Flat", ImageRoot: fx.Root, IndexDir: fx.Dir, DataFile: fx.List, Delimiter: "\t", DistType: "IP", EmbeddingSize: 8}
	run := IndexRun{Model: "model-1", Extractor: ex}
	ctx := context.Background()
	r, err := RunIndexProcess(ctx, ip, run)
	if err != nil || r.Operation != "new" || r.Added != 2 || r.Recreated {
		t.Fatalf("new: %+v %v", r, err)
	}
	// append with a list holding one old and one new line: only the new one
	// is added (PaddleClas would add both again).
	fx.WriteList(t, "b.jpg\tfanta", "c.jpg\tsprite")
	ip.IndexOperation = "APPEND"
	r, err = RunIndexProcess(ctx, ip, run)
	if err != nil || r.Operation != "append" || r.Added != 1 || r.Unchanged != 1 || ex.Calls != 3 {
		t.Fatalf("append: %+v %v", r, err)
	}
	// remove by exact doc line.
	fx.WriteList(t, "a.jpg\tcola", "zzz.jpg\tnothing")
	ip.IndexOperation = "remove"
	r, err = RunIndexProcess(ctx, ip, run)
	if err != nil || r.Removed != 1 {
		t.Fatalf("remove: %+v %v", r, err)
	}
	g, _ := gallery.Open(fx.Dir, gallery.Options{Model: "model-1"})
	if g.Len() != 2 || g.Labels()["cola"] != 0 {
		t.Fatalf("after remove: %v", g.Labels())
	}
	g.Close()
	// new with the list: exactly the list's lines remain, nothing re-extracted.
	fx.WriteList(t, "c.jpg\tsprite")
	ip.IndexOperation = "new"
	r, err = RunIndexProcess(ctx, ip, run)
	if err != nil || r.Removed != 1 || r.Extracted != 0 {
		t.Fatalf("new again: %+v %v", r, err)
	}
	// append under another model is refused; new replaces the gallery.
	ip.IndexOperation = "append"
	if _, err := RunIndexProcess(ctx, ip, IndexRun{Model: "model-2", Extractor: ex}); !errors.Is(err, gallery.ErrModelMismatch) {
		t.Fatalf("append other model: %v", err)
	}
	ip.IndexOperation = "new"
	r, err = RunIndexProcess(ctx, ip, IndexRun{Model: "model-2", Extractor: ex})
	if err != nil || !r.Recreated || r.Added != 1 {
		t.Fatalf("new other model: %+v %v", r, err)
	}
	ip.IndexOperation = "rebuild"
	if _, err := RunIndexProcess(ctx, ip, run); !errors.Is(err, gallery.ErrConfig) {
		t.Fatalf("bad op: %v", err)
	}
}

func TestLabelOfDoc(t *testing.T) {
	for _, c := range []struct{ doc, src, label string }{
		{"a/1.jpg\t红牛-强化型", "a/1.jpg", "红牛-强化型"},
		{"a/1.jpg\tlabel with spaces\textra", "a/1.jpg", "label with spaces"},
		{"0/0.jpg Pulse", "0/0.jpg", "Pulse"},
		{"alone", "", "alone"},
	} {
		s, l := labelOfDoc(c.doc)
		if s != c.src || l != c.label {
			t.Errorf("labelOfDoc(%q) = %q, %q", c.doc, s, l)
		}
	}
}

func TestReadPaddleXMap(t *testing.T) {
	m, err := readPaddleXMap([]byte("id_map:\n  0: Pulse\n  5: 红牛\nindex_type: HNSW32\nmetric_type: IP\n"))
	if err != nil || m[0] != "Pulse" || m[5] != "红牛" || len(m) != 2 {
		t.Fatalf("%v %v", m, err)
	}
	if _, err := readPaddleXMap([]byte("id_map:\n  0: a\n")); !errors.Is(err, gallery.ErrFormat) {
		t.Fatalf("incomplete: %v", err)
	}
	if _, err := ReadIndexDir(filepath.Join(t.TempDir(), "none")); !errors.Is(err, gallery.ErrNoGallery) {
		t.Fatalf("empty dir: %v", err)
	}
}

// TestAppendAdoptsPaddleClasIndexDir: append into an index_dir that only
// holds PaddleClas' vector.index + id_map.pkl keeps its entries.
func TestAppendAdoptsPaddleClasIndexDir(t *testing.T) {
	fx := gallerytest.NewListFixture(t, map[string]string{"new.jpg": "N"}, "new.jpg\tnewlabel")
	os.MkdirAll(fx.Dir, 0o755)
	for _, f := range []string{VectorIndexFile, IDMapPickle} {
		b, err := os.ReadFile(filepath.Join("testdata", "indexdirs", "flat_ip", f))
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(fx.Dir, f), b, 0o644)
	}
	ip := IndexProcess{IndexMethod: "Flat", ImageRoot: fx.Root, IndexDir: fx.Dir, DataFile: fx.List, DistType: "IP", EmbeddingSize: 32, IndexOperation: "append"}
	r, err := RunIndexProcess(context.Background(), ip, IndexRun{Model: "m", Extractor: &gallerytest.Extractor{Dims: 32}})
	if err != nil || r.Added != 1 || len(r.Exported) != 2 {
		t.Fatalf("%+v %v", r, err)
	}
	f, _ := os.Open(filepath.Join(fx.Dir, IDMapPickle))
	defer f.Close()
	m, err := ReadIDMap(f)
	if err != nil || len(m) != 297+1 || m[0] != "gallery/0/0.jpg\tlabel0" || m[300] != "new.jpg\tnewlabel" {
		t.Fatalf("exported id map: %d entries, %q, %q, %v", len(m), m[0], m[300], err)
	}
	// Dims that do not match the adopted index are refused, and nothing is left behind.
	os.Remove(filepath.Join(fx.Dir, gallery.DBFile))
	ip.EmbeddingSize = 64
	if _, err := RunIndexProcess(context.Background(), ip, IndexRun{Model: "m", Extractor: &gallerytest.Extractor{Dims: 64}}); !errors.Is(err, gallery.ErrConfig) {
		t.Fatalf("dims mismatch: %v", err)
	}
	if _, err := os.Stat(filepath.Join(fx.Dir, gallery.DBFile)); err == nil {
		t.Fatal("gallery.db left behind")
	}
}
