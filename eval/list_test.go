package eval

import (
	"context"
	"errors"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/shitu-go/shitu/gallery"
)

func TestParseList(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []ListEntry
		err  error
	}{
		{"two fields", "a/1.jpg 3\nb/2.jpg 4\n", []ListEntry{{Path: "a/1.jpg", Label: "3", Line: 1}, {Path: "b/2.jpg", Label: "4", Line: 2}}, nil},
		{"unique id, tabs, blank, bom", "\uFEFFa.jpg\tcola\t0\n\n  b.jpg  cola   1  \r\n", []ListEntry{{Path: "a.jpg", Label: "cola", UniqueID: "0", Line: 1}, {Path: "b.jpg", Label: "cola", UniqueID: "1", Line: 3}}, nil},
		// Issue 13 point 2: a TAB line keeps a label with spaces whole, as
		// gallery build does; space-only lines split as before.
		{"tab label with space", "a.jpg\t安慕希 酸奶\n", []ListEntry{{Path: "a.jpg", Label: "安慕希 酸奶", Line: 1}}, nil},
		{"tab label with space, unique id", "my photo.jpg\t 安慕希 酸奶 \t7\r\n", []ListEntry{{Path: "my photo.jpg", Label: "安慕希 酸奶", UniqueID: "7", Line: 1}}, nil},
		{"space line unchanged", "a.jpg 安慕希 7\n", []ListEntry{{Path: "a.jpg", Label: "安慕希", UniqueID: "7", Line: 1}}, nil},
		{"empty tab field", "a.jpg\t\t7\n", nil, ErrListFormat},
		{"four tab fields", "a.jpg\tx\t7\tz\n", nil, ErrListFormat},
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
			if e.Path == "" || e.Label == "" || strings.ContainsAny(e.Label, "\t\n") || strings.TrimSpace(e.Label) != e.Label {
				t.Fatalf("bad entry %+v", e)
			}
		}
	})
}

// TestListLabelsAgreeWithGallery: issue 13 point 2. The same TAB list read
// as a gallery data_file (gallery build) and as an eval query list
// (calibrate, retrieval, pipeline) gives the same labels, spaces included,
// so a query recognised as its gallery label counts as correct and known.
func TestListLabelsAgreeWithGallery(t *testing.T) {
	const list = "a/1.jpg\t安慕希 酸奶\nb/2.jpg\t光明\n"
	gl, probs, err := gallery.ParseList(strings.NewReader(list), "", "")
	if err != nil || len(probs) != 0 {
		t.Fatal(err, probs)
	}
	ql, err := ParseList(strings.NewReader(list))
	if err != nil {
		t.Fatal(err)
	}
	known := map[string]bool{}
	byPath := map[string]string{}
	for i, l := range gl {
		if ql[i].Label != l.Label || ql[i].Path != l.Source || ql[i].UniqueID != "" {
			t.Fatalf("line %d: eval %+v, gallery %+v", i+1, ql[i], l)
		}
		known[l.Label] = true
		byPath[l.Source] = l.Label
	}
	rec := func(_ context.Context, p string) ([]Prediction, []Prediction, error) {
		return []Prediction{{Label: byPath[p], Score: 0.9}}, nil, nil
	}
	qs, err := RunPipeline(context.Background(), PerImage(rec), ql, "", known, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range PipelineSamples(qs) {
		if s.Unknown || s.Predicted != s.Label {
			t.Errorf("sample %+v: the query label must match the gallery label", s)
		}
	}
	if qs[0].Label != "安慕希 酸奶" {
		t.Errorf("label %q", qs[0].Label)
	}
}
