package recognize

import "testing"

// TestFormatPaddleClasWholeLabel: --format paddleclas prints the whole
// label where predict_system.py prints id_map[id].split()[1] (issue 13
// point 2, documented in README and predict --help).
func TestFormatPaddleClasWholeLabel(t *testing.T) {
	objs := []Object{{Box: [4]int{1, 2, 30, 40}, Label: "安慕希 酸奶", Score: 0.75}}
	want := `[{'bbox': [1, 2, 30, 40], 'rec_docs': '安慕希 酸奶', 'rec_scores': 0.75}]`
	if got := FormatPaddleClas(objs, false); got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
}
