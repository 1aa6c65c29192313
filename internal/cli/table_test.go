package cli

import (
	"strings"
	"testing"
)

func TestWriteTableCJK(t *testing.T) {
	var b strings.Builder
	writeTable(&b, [][]string{{"ID", "LABEL", "SOURCE"}, {"0", "元气森林", "a.jpg"}, {"12", "cola", "b.jpg"}, {"3", "安慕希 酸奶", "c.jpg"}})
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	col := -1
	for i, l := range lines {
		// the SOURCE column starts at the same terminal column on every line
		c := displayWidth(l[:strings.LastIndex(l, "  ")+2])
		if i > 0 && c != col {
			t.Fatalf("line %d: SOURCE at column %d, want %d:\n%s", i, c, col, b.String())
		}
		col = c
	}
	if displayWidth("元气森林") != 8 || displayWidth("cola") != 4 || displayWidth("e\u0301") != 1 {
		t.Fatal("display widths")
	}
}

func TestOutputNames(t *testing.T) {
	for _, c := range []struct {
		files []string
		want  []string
	}{
		{[]string{"/d/a.jpg"}, []string{"a.jpg"}},
		{[]string{"/d/a.jpg", "/d/b.jpg"}, []string{"a.jpg", "b.jpg"}},
		{[]string{"/d/x/1.jpg", "/d/y/1.jpg", "/d/y/z/2.png"}, []string{"x/1.jpg", "y/1.jpg", "y/z/2.png"}},
		{[]string{"/a/1.jpg", "/b/c/1.jpg"}, []string{"a/1.jpg", "b/c/1.jpg"}},
	} {
		got := outputNames(c.files)
		for i, f := range c.files {
			if got[f] != c.want[i] {
				t.Errorf("%v: %s → %q, want %q", c.files, f, got[f], c.want[i])
			}
		}
	}
}
