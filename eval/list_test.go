package eval

import (
	"errors"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestParseList(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []ListEntry
		err  error
	}{
		{"two fields", "a/1.jpg 3\nb/2.jpg 4\n", []ListEntry{{Path: "a/1.jpg", Label: "3", Line: 1}, {Path: "b/2.jpg", Label: "4", Line: 2}}, nil},
		{"unique id, tabs, blank, bom", "\uFEFFa.jpg\tcola 0\n\n  b.jpg  cola   1  \r\n", []ListEntry{{Path: "a.jpg", Label: "cola", UniqueID: "0", Line: 1}, {Path: "b.jpg", Label: "cola", UniqueID: "1", Line: 3}}, nil},
		{"chinese label", "x.jpg 光明\n", []ListEntry{{Path: "x.jpg", Label: "光明", Line: 1}}, nil},
		{"one field", "a.jpg 1\nb.jpg\n", nil, ErrListFormat},
		{"four fields", "my photo.jpg 1 2\n", nil, ErrListFormat},
		{"empty", "", nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseList(strings.NewReader(tt.in))
			if !errors.Is(err, tt.err) {
				t.Fatalf("err = %v, want %v", err, tt.err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestParseListErrorNamesLine(t *testing.T) {
	_, err := ParseList(strings.NewReader("a 1\n\nb\n"))
	if err == nil || !strings.Contains(err.Error(), "line 3") {
		t.Fatalf("err = %v, want it to name line 3", err)
	}
}

func TestResolvePaths(t *testing.T) {
	es := []ListEntry{{Path: "a/1.jpg"}, {Path: "/abs/2.jpg"}}
	got := ResolvePaths("root", es)
	want := []string{filepath.Join("root", "a/1.jpg"), "/abs/2.jpg"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	if got := ResolvePaths("", es); got[0] != "a/1.jpg" {
		t.Errorf("no root: %v", got)
	}
}

func TestSetFromEntries(t *testing.T) {
	vecs := [][]float32{{1}, {2}}
	s, err := SetFromEntries([]ListEntry{{Label: "a", UniqueID: "1"}, {Label: "b", UniqueID: "2"}}, vecs)
	if err != nil || !reflect.DeepEqual(s.UniqueIDs, []string{"1", "2"}) || !reflect.DeepEqual(s.Labels, []string{"a", "b"}) {
		t.Fatalf("got %+v, %v", s, err)
	}
	s, _ = SetFromEntries([]ListEntry{{Label: "a", UniqueID: "1"}, {Label: "b"}}, vecs)
	if s.UniqueIDs != nil {
		t.Errorf("partial unique ids must disable masking, got %v", s.UniqueIDs)
	}
	if _, err := SetFromEntries([]ListEntry{{Label: "a"}}, vecs); !errors.Is(err, ErrMismatch) {
		t.Errorf("err = %v", err)
	}
}

func FuzzParseList(f *testing.F) {
	f.Add("a.jpg 1\nb.jpg 2 7\n")
	f.Add("\uFEFF\n\t\n x y z w")
	f.Fuzz(func(t *testing.T, s string) {
		es, err := ParseList(strings.NewReader(s))
		if err != nil {
			if !errors.Is(err, ErrListFormat) {
				t.Fatalf("unexpected error type %v", err)
			}
			return
		}
		for _, e := range es {
			if e.Path == "" || e.Label == "" || strings.ContainsAny(e.Label, " \t\n") {
				t.Fatalf("bad entry %+v", e)
			}
		}
	})
}
