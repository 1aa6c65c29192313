package eval

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/shitu-go/shitu/imaging"
)

func pipelineQueries() []PipelineQuery {
	return []PipelineQuery{
		{Label: "a", Raw: []Prediction{{Label: "b", Score: 0.9}, {Label: "a", Score: 0.8}, {Label: "a", Score: 0.3}},
			Deployed: []Prediction{{Label: "b", Score: 0.9}}},
		{Label: "b", Raw: []Prediction{{Label: "b", Score: 0.7}, {Label: "c", Score: 0.75}},
			Deployed: []Prediction{{Label: "b", Score: 0.7}, {Label: "c", Score: 0.75, Unknown: true}}},
		{Label: "c", Raw: []Prediction{{Label: "c", Score: 0.95}, {Label: "a", Score: 0.2}, {Label: "b", Score: 0.1}}},
		{Label: "z", Unknown: true, Raw: []Prediction{{Label: "a", Score: 0.4}, {Label: "a", Score: 0.5}, {Label: "b", Score: 0.45}}},
	}
}

func TestPipeline(t *testing.T) {
	r, err := Pipeline(pipelineQueries())
	if err != nil {
		t.Fatal(err)
	}
	// Raw lists by score: q0 b a a, q1 c b, q2 c a b, q3 a b a; the first
	// query has 3 predictions so i = 1..3.
	wantRaw := []AtK{{1, 0.25}, {2, 0.75}, {3, 0.75}}
	if !reflect.DeepEqual(r.RecallI, wantRaw) {
		t.Errorf("recall_i %v, want %v", r.RecallI, wantRaw)
	}
	// Deployed accepted: q0 [b], q1 [b] (c is unknown), q2 [], q3 [].
	wantDep := []AtK{{1, 0.25}, {2, 0.25}, {3, 0.25}}
	if !reflect.DeepEqual(r.DeployedRecallI, wantDep) {
		t.Errorf("deployed recall_i %v, want %v", r.DeployedRecallI, wantDep)
	}
	third := 1.0 / 3
	for name, p := range map[string][2]float64{
		"top1":      {float64(r.Top1), third},
		"wrong":     {float64(r.Wrong), third},
		"no answer": {float64(r.NoAnswer), third},
		"unknown":   {float64(r.UnknownRejected), 1},
		"objects":   {float64(r.ObjectsPerImage), 0.5},
	} {
		if !near(p[0], p[1]) {
			t.Errorf("%s = %v, want %v", name, p[0], p[1])
		}
	}
	wantPer := []LabelRecall{{Label: "a", Queries: 1}, {Label: "b", Queries: 1, Hits: 1}, {Label: "c", Queries: 1}}
	if !reflect.DeepEqual(r.PerLabel, wantPer) {
		t.Errorf("per label %+v", r.PerLabel)
	}
	var buf bytes.Buffer
	if err := WritePaddleClasPipeline(&buf, "demo", r); err != nil {
		t.Fatal(err)
	}
	if want := "Dataset name: demo\nrecal_1: 0.2500\nrecal_2: 0.7500\nrecal_3: 0.7500\n"; buf.String() != want {
		t.Errorf("paddleclas text %q, want %q", buf.String(), want)
	}
	if _, err := Pipeline(nil); !errors.Is(err, ErrEmpty) {
		t.Errorf("err = %v", err)
	}
}

func TestRunPipeline(t *testing.T) {
	qs := []ListEntry{{Path: "a.jpg", Label: "a", Line: 1}, {Path: "z.jpg", Label: "z", Line: 2}}
	var seen []string
	rec := func(_ context.Context, p string) ([]Prediction, []Prediction, error) {
		seen = append(seen, p)
		return []Prediction{{Label: "a", Score: 1}}, nil, nil
	}
	done := 0
	out, err := RunPipeline(context.Background(), PerImage(rec), qs, "root", map[string]bool{"a": true}, func(d, total int) { done = d })
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(seen, []string{filepath.Join("root", "a.jpg"), filepath.Join("root", "z.jpg")}) || done != 2 {
		t.Errorf("paths %v, progress %d", seen, done)
	}
	if out[0].Unknown || !out[1].Unknown || out[0].Label != "a" {
		t.Errorf("outcomes %+v", out)
	}
	boom := errors.New("boom")
	_, err = RunPipeline(context.Background(), PerImage(func(context.Context, string) ([]Prediction, []Prediction, error) {
		return nil, nil, boom
	}), qs, "", nil, nil)
	if !errors.Is(err, boom) {
		t.Errorf("err = %v", err)
	}
}

// pathExtractor is a gallery.FileExtractor that maps paths to features
// without reading any file.
type pathExtractor func(paths []string) [][]float32

func (pathExtractor) Extract(context.Context, []*imaging.Image) ([][]float32, error) {
	return nil, errors.New("pathExtractor: Extract is not used")
}

func (f pathExtractor) ExtractFiles(_ context.Context, paths []string, each func(int, []float32, error) error) error {
	for i, v := range f(paths) {
		if err := each(i, v, nil); err != nil {
			return err
		}
	}
	return nil
}

func TestEvaluateLists(t *testing.T) {
	vecs := map[string][]float32{
		"0.jpg": {1, 0}, "1.jpg": {0.6, 0.8}, "2.jpg": {0.8, 0.6},
	}
	batches := 0
	ext := pathExtractor(func(ps []string) [][]float32 {
		batches++
		out := make([][]float32, len(ps))
		for i, p := range ps {
			out[i] = vecs[filepath.Base(p)]
		}
		return out
	})
	list := []ListEntry{{Path: "0.jpg", Label: "a", UniqueID: "0"}, {Path: "1.jpg", Label: "a", UniqueID: "1"}, {Path: "2.jpg", Label: "b", UniqueID: "2"}}
	var prog []int
	r, err := EvaluateLists(context.Background(), ext, ListEval{Query: list, QueryRoot: "/x", Batch: 2,
		Progress: func(d, total int) { prog = append(prog, d, total) },
		Options:  RetrievalOptions{TopK: []int{1, 2}}})
	if err != nil {
		t.Fatal(err)
	}
	// the hand-made "masked self, one block" case of TestRetrievalHandMade
	if RecallAt(r.Recall, 2) != 1 || RecallAt(r.Recall, 1) != 0 || r.MAP != 0.5 || r.MaskedPairs != 3 {
		t.Errorf("result %+v", r)
	}
	// One pipelined extraction over the whole list; progress every Batch.
	if batches != 1 || !reflect.DeepEqual(prog, []int{2, 3, 3, 3}) {
		t.Errorf("batches %d progress %v", batches, prog)
	}
	bad := pathExtractor(func(ps []string) [][]float32 { return make([][]float32, len(ps)) })
	if _, err := EvaluateLists(context.Background(), bad, ListEval{Query: list}); !errors.Is(err, ErrMismatch) {
		t.Errorf("err = %v", err)
	}
	// separate gallery: progress counts both lists
	prog = nil
	_, err = EvaluateLists(context.Background(), ext, ListEval{Query: list[:1], Gallery: list[1:],
		Progress: func(d, total int) { prog = append(prog, d, total) }})
	if err != nil || !reflect.DeepEqual(prog, []int{1, 3, 3, 3}) {
		t.Errorf("err %v progress %v", err, prog)
	}
}

func TestPipelineSamples(t *testing.T) {
	got := PipelineSamples(append(pipelineQueries(), PipelineQuery{Label: "empty"}))
	want := []Sample{
		{Label: "a", Predicted: "b", Score: 0.9},
		{Label: "b", Predicted: "c", Score: 0.75},
		{Label: "c", Predicted: "c", Score: 0.95},
		{Label: "z", Predicted: "a", Score: 0.5, Unknown: true},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
}
