package gallery

import (
	"bytes"
	"strings"
	"testing"
)

// FuzzParseList: list files are user text; parsing never panics, every
// line is either a Line or a Problem, and lines keep their numbers.
func FuzzParseList(f *testing.F) {
	f.Add("a.jpg\tcola\nb.jpg\tfanta\textra\tk=v\n", "\t")
	f.Add("\ufeffx y\n\n  \t \nz", " ")
	f.Add("no delimiter\n\xff\xfe\tlabel\n", "\t")
	f.Fuzz(func(t *testing.T, in, delim string) {
		lines, probs, err := ParseList(strings.NewReader(in), "/root", delim)
		if err != nil {
			return // e.g. a line longer than the scanner's limit
		}
		last := 0
		for _, l := range lines {
			if l.No <= last || l.Label == "" || l.Source == "" {
				t.Fatalf("bad line %+v after %d", l, last)
			}
			last = l.No
		}
		for _, p := range probs {
			if p.Line <= 0 || p.Reason == "" {
				t.Fatalf("bad problem %+v", p)
			}
		}
	})
}

// FuzzDecodeItem: item records come from disk; a damaged one is an error,
// never a panic, and a valid one round-trips.
func FuzzDecodeItem(f *testing.F) {
	f.Add(encodeItem(&Item{Label: "cola", Source: "a.jpg", SHA256: strings.Repeat("ab", 32), Doc: "a.jpg\tcola", Meta: map[string]string{"k": "v"}}, 3))
	f.Add(encodeItem(&Item{}, 0))
	f.Fuzz(func(t *testing.T, rec []byte) {
		it, added, err := decodeItem(1, rec)
		if err != nil {
			return
		}
		again := encodeItem(&it, added)
		if !bytes.Equal(again, rec) {
			// Metadata order is canonical on encode; a record with unsorted
			// or duplicate keys decodes but re-encodes differently.
			it2, added2, err := decodeItem(1, again)
			if err != nil || added2 != added || it2.Label != it.Label || it2.Source != it.Source || len(it2.Meta) != len(it.Meta) {
				t.Fatalf("round trip changed the item: %+v / %+v", it, it2)
			}
		}
	})
}
