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
