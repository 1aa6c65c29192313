package recognize

import (
	"strconv"
	"strings"

	"github.com/shitu-go/shitu/internal/pyrepr"
)

// FormatPaddleClas renders objects exactly as PaddleClas predict_system.py
// prints its result list (ppshitu-pipeline.md §9.1), e.g.
//
//	[{'bbox': [437, 71, 660, 728], 'rec_docs': '元气森林', 'rec_scores': 0.7740249}]
//
// rec_docs is the whole label: predict_system.py prints
// id_map[id].split()[1], which cuts a label with spaces ("安慕希 酸奶") at
// its first space (ppshitu-pipeline.md §7.2 item 4); shitu keeps what the
// user labelled. Unknown objects are left out, as PaddleClas never reports
// them. binary prints Hamming distances as integers, as numpy prints the
// int32 distance.
func FormatPaddleClas(objs []Object, binary bool) string {
	var b strings.Builder
	b.WriteByte('[')
	n := 0
	for _, o := range objs {
		if !o.Known() {
			continue
		}
		if n > 0 {
			b.WriteString(", ")
		}
		n++
		b.WriteString("{'bbox': [")
		for i, v := range o.Box {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(strconv.Itoa(v))
		}
		b.WriteString("], 'rec_docs': ")
		b.WriteString(pyrepr.Str(o.Label))
		b.WriteString(", 'rec_scores': ")
		if binary {
			b.WriteString(strconv.Itoa(int(o.Score)))
		} else {
			b.WriteString(pyrepr.Float32(o.Score))
		}
		b.WriteByte('}')
	}
	b.WriteByte(']')
	return b.String()
}
