package gallery

import (
	"context"
	"errors"
	"fmt"
	"github.com/shitu-go/shitu/internal/gallerytest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

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
	// line 2's "extra" column is reported (the line is still used)
	if len(probs) != 4 || !probs[0].Kept || probs[0].Line != 2 || probs[1].Line != 4 || probs[2].Line != 5 ||
		!strings.Contains(probs[2].Reason, "spaces instead of a TAB") || probs[3].Line != 7 || probs[3].Reason != "empty path" {
		t.Fatalf("problems %v", probs)
	}
	// Space delimiter as in evaluation_general.yaml.
	lines, probs, _ = ParseList(strings.NewReader("c.jpg label\n"), "", " ")
	if len(lines) != 1 || len(probs) != 0 || lines[0].Label != "label" {
		t.Fatalf("space delimiter: %+v %v", lines, probs)
	}
}

// TestParseListLabelWithSpaces: issue 13 point 2. A label is the whole
// TAB column, spaces included, under the TAB delimiter and, for lines
// holding a TAB, under a space delimiter too (eval's lists agree).
func TestParseListLabelWithSpaces(t *testing.T) {
	for _, delim := range []string{"", "\t", " "} {
		lines, probs, err := ParseList(strings.NewReader("a.jpg\t安慕希 酸奶\nb c.jpg\t光明 纯牛奶\tshelf=2\n"), "", delim)
		if err != nil || len(probs) != 0 || len(lines) != 2 {
			t.Fatalf("delimiter %q: %+v %v %v", delim, lines, probs, err)
		}
		if l := lines[0]; l.Source != "a.jpg" || l.Label != "安慕希 酸奶" || l.Doc != "a.jpg\t安慕希 酸奶" {
			t.Errorf("delimiter %q: line 1 %+v", delim, l)
		}
		if l := lines[1]; l.Source != "b c.jpg" || l.Label != "光明 纯牛奶" || l.Meta["shelf"] != "2" {
			t.Errorf("delimiter %q: line 2 %+v", delim, l)
		}
	}
	// Space-delimited lines without TABs keep PaddleClas' split.
	lines, _, _ := ParseList(strings.NewReader("a.jpg 安慕希 酸奶\n"), "", " ")
	if len(lines) != 1 || lines[0].Label != "安慕希" {
		t.Errorf("space delimiter: %+v", lines)
	}
}

func TestBuildIncrementalAndSync(t *testing.T) {
	fx := gallerytest.NewListFixture(t, map[string]string{"a.jpg": "A", "b.jpg": "B", "c.jpg": "C", "dup-of-a.jpg": "A"},
		"a.jpg\tcola", "b.jpg\tfanta", "c.jpg\tsprite", "dup-of-a.jpg\tcola")
	g, err := Create(fx.Dir, Options{Model: "m", Dims: 8, Method: MethodFlat})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	ex := &gallerytest.Extractor{Dims: 8}
	var progress []int
	s, err := g.Build(context.Background(), BuildOptions{List: fx.List, ImageRoot: fx.Root, Extractor: ex,
		Progress: func(done, total int) { progress = append(progress, done) }})
	if err != nil {
		t.Fatal(err)
	}
	if s.Added != 4 || s.Extracted != 3 || s.Reused != 1 || ex.Calls != 3 || len(s.Problems) != 0 {
		t.Fatalf("first build: %v (calls %d)", s, ex.Calls)
	}
	if len(progress) == 0 || progress[len(progress)-1] != 4 {
		t.Fatalf("progress %v", progress)
	}
	// Same list again: nothing new, nothing extracted.
	s, err = g.Build(context.Background(), BuildOptions{List: fx.List, ImageRoot: fx.Root, Extractor: ex})
	if err != nil || s.Added != 0 || s.Unchanged != 4 || s.Extracted != 0 || ex.Calls != 3 || g.Version() != 1 {
		t.Fatalf("rebuild: %v %v (calls %d, version %d)", s, err, ex.Calls, g.Version())
	}
	// Change one image, drop one line, add one: only the changed and the
	// new image are extracted; without Sync the dropped line stays.
	os.WriteFile(filepath.Join(fx.Root, "b.jpg"), []byte("B2"), 0o644)
	os.WriteFile(filepath.Join(fx.Root, "d.jpg"), []byte("D"), 0o644)
	fx.WriteList(t, "a.jpg\tcola", "b.jpg\tfanta", "dup-of-a.jpg\tcola", "d.jpg\tpepsi")
	s, err = g.Build(context.Background(), BuildOptions{List: fx.List, ImageRoot: fx.Root, Extractor: ex})
	if err != nil || s.Added != 1 || s.Updated != 1 || s.Unchanged != 2 || s.Removed != 0 || ex.Calls != 5 {
		t.Fatalf("changed build: %v %v (calls %d)", s, err, ex.Calls)
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
	s, err = g.Build(context.Background(), BuildOptions{List: fx.List, ImageRoot: fx.Root, Extractor: ex, Sync: true})
	if err != nil || s.Removed != 1 || s.Extracted != 0 || g.Len() != 4 {
		t.Fatalf("sync: %v %v len %d", s, err, g.Len())
	}
	if n := g.Labels()["sprite"]; n != 0 {
		t.Fatal("sprite still present after sync")
	}
	// A relabelled line with the same image reuses the vector.
	fx.WriteList(t, "a.jpg\tcoca-cola", "b.jpg\tfanta", "dup-of-a.jpg\tcola", "d.jpg\tpepsi")
	s, err = g.Build(context.Background(), BuildOptions{List: fx.List, ImageRoot: fx.Root, Extractor: ex, Sync: true})
	if err != nil || s.Added != 1 || s.Removed != 1 || s.Extracted != 0 || s.Reused != 1 {
		t.Fatalf("relabel: %v %v", s, err)
	}
}

func TestBuildProblemsLenientAndStrict(t *testing.T) {
	files := map[string]string{"a.jpg": "A", "broken.jpg": "bad bytes", "c.jpg": "C"}
	lines := []string{"a.jpg\tx", "missing.jpg\ty", "just-a-path", "broken.jpg\tz", "c.jpg\tw", "a.jpg\tx"}
	fx := gallerytest.NewListFixture(t, files, lines...)
	g, _ := Create(fx.Dir, Options{Model: "m", Dims: 8})
	defer g.Close()
	ex := &gallerytest.Extractor{Dims: 8}
	for _, strict := range []bool{true, false} {
		s, err := g.Build(context.Background(), BuildOptions{List: fx.List, ImageRoot: fx.Root, Extractor: ex, Strict: strict})
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
		for _, p := range s.Problems { // each problem line names its file once
			if p.Path != "" && strings.Count(p.String(), p.Path) != 1 {
				t.Errorf("problem names its file more than once: %s", p)
			}
		}
		if s.Added != 2 || g.Len() != 2 {
			t.Fatalf("lenient: %v", s)
		}
	}
	// Strict with only an unreadable image: gallery unchanged.
	fx2 := gallerytest.NewListFixture(t, files, "a.jpg\tx", "broken.jpg\tz", "c.jpg\tw")
	g2, _ := Create(fx2.Dir, Options{Model: "m", Dims: 8})
	defer g2.Close()
	_, err := g2.Build(context.Background(), BuildOptions{List: fx2.List, ImageRoot: fx2.Root, Extractor: ex, Strict: true, CommitEvery: 1})
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
	fx := gallerytest.NewListFixture(t, files, lines...)
	g, _ := Create(fx.Dir, Options{Model: "m", Dims: 8})
	defer g.Close()
	s, err := g.Build(context.Background(), BuildOptions{List: fx.List, ImageRoot: fx.Root, Extractor: &gallerytest.Extractor{Dims: 8}, CommitEvery: 3})
	if err != nil || s.Added != 10 || g.Version() != 4 {
		t.Fatalf("%v %v version %d", s, err, g.Version())
	}
}
