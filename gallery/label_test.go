package gallery

import (
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCheckLabel(t *testing.T) {
	ok := []string{"元气森林", "安慕希 酸奶", "Red Bull-Enhanced", "emoji 👩‍👩‍👧", "a"}
	for _, l := range ok {
		if err := CheckLabel(l); err != nil {
			t.Errorf("%q refused: %v", l, err)
		}
	}
	bad := map[string]string{
		"empty": "", "spaces": "   ", "NUL": "a\x00b", "newline": "a\nb", "CR": "a\rb", "tab": "a\tb",
		"DEL": "a\x7fb", "C1": "a\u0085b", "RLO": "abc\u202edef", "LRI": "x\u2066y", "RLM": "x\u200fy",
		"line separator": "x\u2028y", "invalid UTF-8": "a\xffb", "too long": strings.Repeat("x", MaxLabelBytes+1),
	}
	for name, l := range bad {
		if err := CheckLabel(l); !errors.Is(err, ErrLabel) {
			t.Errorf("%s: %q accepted (%v)", name, l, err)
		}
	}
}

// Every way into a gallery refuses a bad label: Add (REST, PaddleX, CLI
// add) and list files (gallery build).
func TestBadLabelsRefused(t *testing.T) {
	g := newTestGallery(t, Options{Method: MethodFlat})
	r := rand.New(rand.NewPCG(3, 4))
	for _, it := range []Item{
		{Label: "bad\nlabel", Vector: unitVec(r, 16)},
		{Label: "ok", Vector: unitVec(r, 16), Meta: map[string]string{"k": "v\x00"}},
		{Label: "ok", Vector: unitVec(r, 16), Source: "a\x00b"},
	} {
		if _, err := g.Add(Item{Label: "fine", Vector: unitVec(r, 16)}, it); !errors.Is(err, ErrLabel) {
			t.Fatalf("Add %+v: %v, want ErrLabel", it, err)
		}
	}
	if g.Len() != 0 || g.Version() != 0 {
		t.Fatalf("a refused batch changed the gallery: %d items, version %d", g.Len(), g.Version())
	}
	list := "a.jpg\tgood\nb.jpg\tbad\u202elabel\nc.jpg\tx\x00y\n"
	lines, probs, err := ParseList(strings.NewReader(list), "", "\t")
	if err != nil || len(lines) != 1 || len(probs) != 2 || probs[0].Line != 2 || !strings.Contains(probs[0].Reason, "U+202E") {
		t.Fatalf("ParseList: %v %+v %+v", err, lines, probs)
	}
}

func TestSearchHugeK(t *testing.T) {
	g := newTestGallery(t, Options{Method: MethodFlat})
	r := rand.New(rand.NewPCG(5, 6))
	for i := 0; i < 3; i++ {
		if _, err := g.Add(Item{Label: "x", Vector: unitVec(r, 16)}); err != nil {
			t.Fatal(err)
		}
	}
	// 2e9 results would be a 32 GB allocation if k sized anything.
	hits, err := g.Search(unitVec(r, 16), 2_000_000_000, Query{})
	if err != nil || len(hits) != 3 {
		t.Fatalf("huge k: %v, %d hits", err, len(hits))
	}
	res, err := g.SearchBatch(append(unitVec(r, 16), unitVec(r, 16)...), 1<<40, Query{})
	if err != nil || len(res) != 2 || len(res[1]) != 3 {
		t.Fatalf("huge k batch: %v %v", err, res)
	}
}

func TestDelete(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "g")
	g, err := Create(dir, Options{Model: "m", Dims: 8, Method: MethodFlat})
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(7, 8))
	if _, err := g.Add(Item{Label: "x", Vector: unitVec(r, 8)}); err != nil {
		t.Fatal(err)
	}
	if err := g.Snapshot(); err != nil {
		t.Fatal(err)
	}
	if err := Delete(dir); !errors.Is(err, ErrLocked) {
		t.Fatalf("delete while open: %v, want ErrLocked", err)
	}
	g.Close()
	keep := filepath.Join(dir, "vector.index")
	os.WriteFile(keep, []byte("user data"), 0o644)
	if err := Delete(dir); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(dir, Options{}); !errors.Is(err, ErrNoGallery) {
		t.Fatalf("open after delete: %v", err)
	}
	if b, err := os.ReadFile(keep); err != nil || string(b) != "user data" {
		t.Fatalf("foreign file not kept: %v", err)
	}
	os.Remove(keep)
	if err := Delete(dir); !errors.Is(err, ErrNoGallery) {
		t.Fatalf("second delete: %v", err)
	}
	if err := Delete(t.TempDir()); !errors.Is(err, ErrNoGallery) {
		t.Fatalf("delete of a non-gallery: %v", err)
	}
}

func TestParseListReportsEmptyLabelAndExtraColumns(t *testing.T) {
	list := "a.jpg\t\nb.jpg\tcola\tshelf=3\tpromo\n\tcola\nc.jpg\t \n"
	lines, probs, err := ParseList(strings.NewReader(list), "", "\t")
	if err != nil || len(lines) != 1 || lines[0].Label != "cola" || lines[0].Meta["shelf"] != "3" {
		t.Fatalf("lines: %v %+v", err, lines)
	}
	want := []string{
		"line 1: a.jpg: empty label (nothing after the delimiter)",
		`line 2: b.jpg: column 4 "promo" ignored (only key=value columns after the label become metadata) (line used)`,
		"line 3: empty path",
		"line 4: c.jpg: empty label (nothing after the delimiter)",
	}
	var got []string
	for _, p := range probs {
		got = append(got, p.String())
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if b := firstBad(probs[1:2]); b != nil {
		t.Fatalf("a kept note counts as bad: %v", b)
	}
}
