package gallery

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shitu-go/shitu/imaging"
)

// fakeExtractor derives a unit vector from the file's bytes; files whose
// content starts with "bad" fail to decode.
type fakeExtractor struct {
	dims  int
	calls int // images extracted
}

// Extract is not used: builds go through ExtractFiles.
func (f *fakeExtractor) Extract(context.Context, []*imaging.Image) ([][]float32, error) {
	return nil, errors.New("fakeExtractor: Extract is not used")
}

func (f *fakeExtractor) ExtractFiles(ctx context.Context, paths []string, each func(int, []float32, error) error) error {
	for i, p := range paths {
		b, err := os.ReadFile(p)
		var v []float32
		if err == nil && strings.HasPrefix(string(b), "bad") {
			err = errors.New("cannot decode")
		}
		if err == nil {
			f.calls++
			h := sha256.Sum256(b)
			v = unitVec(rand.New(rand.NewPCG(binary.LittleEndian.Uint64(h[:]), 1)), f.dims)
		}
		if err := each(i, v, err); err != nil {
			return err
		}
	}
	return nil
}

type listFixture struct {
	dir, root, list string
}

func newListFixture(t *testing.T, files map[string]string, lines ...string) listFixture {
	t.Helper()
	d := t.TempDir()
	f := listFixture{dir: filepath.Join(d, "gallery"), root: filepath.Join(d, "images"), list: filepath.Join(d, "list.txt")}
	os.MkdirAll(f.root, 0o755)
	for name, content := range files {
		p := filepath.Join(f.root, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, []byte(content), 0o644)
	}
	f.writeList(t, lines...)
	return f
}

func (f listFixture) writeList(t *testing.T, lines ...string) {
	t.Helper()
	if err := os.WriteFile(f.list, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestParseList(t *testing.T) {
	in := "\ufeffa/1.jpg\tcola\n" +
		"  b.jpg\t红牛-强化型\textra\tshelf=3 \n" +
		"\n" +
		"no-delimiter-here\n" +
		"c d.jpg label\n" +
		"/abs/x.jpg\tmilk\n" +
		"\tempty-path\n"
	lines, probs, err := ParseList(strings.NewReader(in), "/root", "\t")
	if err != nil {
		t.Fatal(err)
	}
	if len(lines) != 3 {
		t.Fatalf("lines %+v", lines)
	}
	if l := lines[0]; l.No != 1 || l.Source != "a/1.jpg" || l.Path != filepath.Join("/root", "a/1.jpg") || l.Label != "cola" || l.Doc != "a/1.jpg\tcola" {
		t.Fatalf("line 1 %+v", l)
	}
	if l := lines[1]; l.No != 2 || l.Label != "红牛-强化型" || l.Doc != "b.jpg\t红牛-强化型\textra\tshelf=3" || l.Meta["shelf"] != "3" {
		t.Fatalf("line 2 %+v", l)
	}
	if l := lines[2]; l.Path != "/abs/x.jpg" {
		t.Fatalf("absolute path %+v", l)
	}
	if len(probs) != 3 || probs[0].Line != 4 || probs[1].Line != 5 || !strings.Contains(probs[1].Reason, "spaces instead of a TAB") || probs[2].Line != 7 {
		t.Fatalf("problems %v", probs)
	}
	// Space delimiter as in evaluation_general.yaml.
	lines, probs, _ = ParseList(strings.NewReader("c.jpg label\n"), "", " ")
	if len(lines) != 1 || len(probs) != 0 || lines[0].Label != "label" {
		t.Fatalf("space delimiter: %+v %v", lines, probs)
	}
}

func TestBuildIncrementalAndSync(t *testing.T) {
	fx := newListFixture(t, map[string]string{"a.jpg": "A", "b.jpg": "B", "c.jpg": "C", "dup-of-a.jpg": "A"},
		"a.jpg\tcola", "b.jpg\tfanta", "c.jpg\tsprite", "dup-of-a.jpg\tcola")
	g, err := Create(fx.dir, Options{Model: "m", Dims: 8, Method: MethodFlat})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	ex := &fakeExtractor{dims: 8}
	var progress []int
	s, err := g.Build(context.Background(), BuildOptions{List: fx.list, ImageRoot: fx.root, Extractor: ex,
		Progress: func(done, total int) { progress = append(progress, done) }})
	if err != nil {
		t.Fatal(err)
	}
	if s.Added != 4 || s.Extracted != 3 || s.Reused != 1 || ex.calls != 3 || len(s.Problems) != 0 {
		t.Fatalf("first build: %v (calls %d)", s, ex.calls)
	}
	if len(progress) == 0 || progress[len(progress)-1] != 4 {
		t.Fatalf("progress %v", progress)
	}
	// Same list again: nothing new, nothing extracted.
	s, err = g.Build(context.Background(), BuildOptions{List: fx.list, ImageRoot: fx.root, Extractor: ex})
	if err != nil || s.Added != 0 || s.Unchanged != 4 || s.Extracted != 0 || ex.calls != 3 || g.Version() != 1 {
		t.Fatalf("rebuild: %v %v (calls %d, version %d)", s, err, ex.calls, g.Version())
	}
	// Change one image, drop one line, add one: only the changed and the
	// new image are extracted; without Sync the dropped line stays.
	os.WriteFile(filepath.Join(fx.root, "b.jpg"), []byte("B2"), 0o644)
	os.WriteFile(filepath.Join(fx.root, "d.jpg"), []byte("D"), 0o644)
	fx.writeList(t, "a.jpg\tcola", "b.jpg\tfanta", "dup-of-a.jpg\tcola", "d.jpg\tpepsi")
	s, err = g.Build(context.Background(), BuildOptions{List: fx.list, ImageRoot: fx.root, Extractor: ex})
	if err != nil || s.Added != 1 || s.Updated != 1 || s.Unchanged != 2 || s.Removed != 0 || ex.calls != 5 {
		t.Fatalf("changed build: %v %v (calls %d)", s, err, ex.calls)
	}
	if g.Len() != 5 {
		t.Fatalf("len %d", g.Len())
	}
	bs, _, _ := g.List(ListOptions{Source: "b.jpg", Vectors: true})
	if len(bs) != 1 {
		t.Fatalf("b.jpg items %+v", bs)
	}
	h, _ := g.Search(bs[0].Vector, 1, Query{})
	if h[0].ID != bs[0].ID {
		t.Fatal("updated item not searchable")
	}
	// Sync removes the vanished line.
	s, err = g.Build(context.Background(), BuildOptions{List: fx.list, ImageRoot: fx.root, Extractor: ex, Sync: true})
	if err != nil || s.Removed != 1 || s.Extracted != 0 || g.Len() != 4 {
		t.Fatalf("sync: %v %v len %d", s, err, g.Len())
	}
	if n := g.Labels()["sprite"]; n != 0 {
		t.Fatal("sprite still present after sync")
	}
	// A relabelled line with the same image reuses the vector.
	fx.writeList(t, "a.jpg\tcoca-cola", "b.jpg\tfanta", "dup-of-a.jpg\tcola", "d.jpg\tpepsi")
	s, err = g.Build(context.Background(), BuildOptions{List: fx.list, ImageRoot: fx.root, Extractor: ex, Sync: true})
	if err != nil || s.Added != 1 || s.Removed != 1 || s.Extracted != 0 || s.Reused != 1 {
		t.Fatalf("relabel: %v %v", s, err)
	}
}

func TestBuildProblemsLenientAndStrict(t *testing.T) {
	files := map[string]string{"a.jpg": "A", "broken.jpg": "bad bytes", "c.jpg": "C"}
	lines := []string{"a.jpg\tx", "missing.jpg\ty", "just-a-path", "broken.jpg\tz", "c.jpg\tw", "a.jpg\tx"}
	fx := newListFixture(t, files, lines...)
	g, _ := Create(fx.dir, Options{Model: "m", Dims: 8})
	defer g.Close()
	ex := &fakeExtractor{dims: 8}
	for _, strict := range []bool{true, false} {
		s, err := g.Build(context.Background(), BuildOptions{List: fx.list, ImageRoot: fx.root, Extractor: ex, Strict: strict})
		if strict {
			if !errors.Is(err, ErrListLine) || !strings.Contains(err.Error(), "line 3") || g.Len() != 0 || g.Version() != 0 {
				t.Fatalf("strict: %v, len %d", err, g.Len())
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		got := map[int]string{}
		for _, p := range s.Problems {
			got[p.Line] = p.Reason
		}
		if len(got) != 4 || !strings.Contains(got[2], "not found") || got[3] == "" || !strings.Contains(got[4], "cannot decode") || !strings.Contains(got[6], "duplicate of line 1") {
			t.Fatalf("problems %v", s.Problems)
		}
		if s.Added != 2 || g.Len() != 2 {
			t.Fatalf("lenient: %v", s)
		}
	}
	// Strict with only an unreadable image: gallery unchanged.
	fx2 := newListFixture(t, files, "a.jpg\tx", "broken.jpg\tz", "c.jpg\tw")
	g2, _ := Create(fx2.dir, Options{Model: "m", Dims: 8})
	defer g2.Close()
	_, err := g2.Build(context.Background(), BuildOptions{List: fx2.list, ImageRoot: fx2.root, Extractor: ex, Strict: true, CommitEvery: 1})
	if !errors.Is(err, ErrImage) || !strings.Contains(err.Error(), "line 2") || g2.Len() != 0 || g2.Version() != 0 {
		t.Fatalf("strict image: %v, len %d", err, g2.Len())
	}
}

func TestBuildCommitsInChunks(t *testing.T) {
	files := map[string]string{}
	var lines []string
	for i := range 10 {
		n := fmt.Sprintf("%d.jpg", i)
		files[n] = n
		lines = append(lines, n+"\tl")
	}
	fx := newListFixture(t, files, lines...)
	g, _ := Create(fx.dir, Options{Model: "m", Dims: 8})
	defer g.Close()
	s, err := g.Build(context.Background(), BuildOptions{List: fx.list, ImageRoot: fx.root, Extractor: &fakeExtractor{dims: 8}, CommitEvery: 3})
	if err != nil || s.Added != 10 || g.Version() != 4 {
		t.Fatalf("%v %v version %d", s, err, g.Version())
	}
}
