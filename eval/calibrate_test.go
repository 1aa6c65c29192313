package eval

import (
	"errors"
	"math"
	"reflect"
	"testing"

	"github.com/shitu-go/shitu/vecindex"
)

// hs returns float32(k)/100 for k = from, from+step, …, ≤ to: scores that
// are identical wherever they are built, so thresholds compare exactly.
func hs(from, to, step int) []float32 {
	var out []float32
	for k := from; k <= to; k += step {
		out = append(out, float32(k)/100)
	}
	return out
}

func samplesAt(scores []float32, label, pred string, unknown bool) []Sample {
	out := make([]Sample, len(scores))
	for i, s := range scores {
		out[i] = Sample{Label: label, Predicted: pred, Score: s, Unknown: unknown}
	}
	return out
}

// Open-set scores: 25 correct answers at 0.51, 0.53, …, 0.99 and 21
// unknown queries at 0.30, 0.32, …, 0.70.
func openSet() []Sample {
	s := samplesAt(hs(51, 99, 2), "a", "a", false)
	return append(s, samplesAt(hs(30, 70, 2), "x", "a", true)...)
}

func TestCalibrateGlobalKnownThresholds(t *testing.T) {
	tests := []struct {
		target    float64
		want      float32
		correct   int
		precision float64
	}{
		// Target 1: the lowest correct score above every unknown (0.70).
		{1, float32(71) / 100, 15, 1},
		// Target 0.9: at correct score 0.71−0.02j, accepted = 15+j correct
		// and j unknown; (15+j)/(15+2j) ≥ 0.9 ⇔ j ≤ 1.875 → j = 1 → 0.69.
		{0.9, float32(69) / 100, 16, 16.0 / 17},
		// Target 0.7: everything (25 correct / 35 accepted at 0.51 = 0.714;
		// 0.50 adds an unknown: 25/36 = 0.694 < 0.7).
		{0.7, float32(51) / 100, 25, 25.0 / 35},
	}
	for _, tt := range tests {
		c, err := Calibrate(openSet(), CalibrateOptions{TargetPrecision: tt.target, MinSupport: 1000})
		if err != nil {
			t.Fatal(err)
		}
		if c.Thresholds.Global != tt.want || !c.Reachable {
			t.Errorf("target %v: global %v (reachable %v), want %v", tt.target, c.Thresholds.Global, c.Reachable, tt.want)
		}
		g := c.Global
		if g.Correct != tt.correct || !near(float64(g.Precision), tt.precision) || !near(float64(g.Recall), float64(tt.correct)/25) {
			t.Errorf("target %v: operating point %+v", tt.target, g)
		}
		if !near(float64(g.RejectRate), float64(46-g.Accepted)/46) {
			t.Errorf("reject rate %v", g.RejectRate)
		}
		// open-set accuracy: correct accepted + rejected unknowns
		rejUnknown := 21 - (g.Accepted - g.Correct)
		if !near(float64(g.Accuracy), float64(g.Correct+rejUnknown)/46) {
			t.Errorf("accuracy %v", g.Accuracy)
		}
		if len(c.Thresholds.PerLabel) != 0 {
			t.Errorf("per-label thresholds below min support: %v", c.Thresholds.PerLabel)
		}
	}
}

// Two look-alike labels with different score ranges, and a rare label.
// Predicted a: correct 0.61…0.99 (20), wrong (true b) 0.40…0.80 (21).
// Predicted b: correct 0.31…0.69 (20), wrong (true a) 0.10…0.40 (16).
// Predicted c: 3 correct samples, below MinSupport.
func twoLabels() []Sample {
	s := samplesAt(hs(61, 99, 2), "a", "a", false)
	s = append(s, samplesAt(hs(40, 80, 2), "b", "a", false)...)
	s = append(s, samplesAt(hs(31, 69, 2), "b", "b", false)...)
	s = append(s, samplesAt(hs(10, 40, 2), "a", "b", false)...)
	return append(s, samplesAt([]float32{0.9, 0.95, 0.97}, "c", "c", false)...)
}

func TestCalibratePerLabel(t *testing.T) {
	c, err := Calibrate(twoLabels(), CalibrateOptions{TargetPrecision: 1, MinSupport: 10,
		GalleryCounts: map[string]int{"a": 10, "b": 2, "c": 1}})
	if err != nil {
		t.Fatal(err)
	}
	th := c.Thresholds
	if th.Global != float32(81)/100 {
		t.Errorf("global %v, want 0.81 (just above the highest wrong score 0.80)", th.Global)
	}
	want := map[string]float32{"a": float32(81) / 100, "b": float32(41) / 100}
	if !reflect.DeepEqual(th.PerLabel, want) {
		t.Errorf("per label %v, want %v", th.PerLabel, want)
	}
	if th.For("c") != th.Global || th.For("never-seen") != th.Global {
		t.Errorf("fallback to global broken")
	}
	srcs := map[string]string{}
	for _, l := range c.Labels {
		srcs[l.Label] = l.Source
	}
	if !reflect.DeepEqual(srcs, map[string]string{"a": "fitted", "b": "fitted", "c": "global"}) {
		t.Errorf("sources %v", srcs)
	}
	// Per-label thresholds keep precision 1 and recover b's answers:
	// a 10 (0.81…0.99) + b 15 (0.41…0.69) + c 3 correct, of all 80 queries.
	if c.PerLabel.Correct != 28 || c.PerLabel.Precision != 1 || !near(float64(c.PerLabel.Recall), 28.0/80) {
		t.Errorf("per-label point %+v", c.PerLabel)
	}
	if c.Global.Correct != 13 || c.Global.Precision != 1 { // a 10 + c 3
		t.Errorf("global point %+v", c.Global)
	}
	wantPair := ConfusedPair{A: "a", B: "b", AtoB: 16, BtoA: 21, Total: 37, MaxScore: float32(80) / 100}
	if len(c.Confused) != 1 || c.Confused[0] != wantPair {
		t.Errorf("confused %+v, want %+v", c.Confused, wantPair)
	}
	wantFew := []LabelCount{{"c", 1}, {"b", 2}}
	if !reflect.DeepEqual(c.FewImages, wantFew) {
		t.Errorf("few images %v, want %v", c.FewImages, wantFew)
	}
	// Deployed decisions: "unknown" exactly below the stored threshold.
	for _, tt := range []struct {
		label string
		score float32
		want  bool
	}{
		{"b", float32(41) / 100, true}, {"b", float32(40) / 100, false},
		{"a", float32(81) / 100, true}, {"a", float32(80) / 100, false},
		{"c", 0.85, true}, {"c", 0.8, false},
	} {
		if got := th.Accept(tt.label, tt.score); got != tt.want {
			t.Errorf("Accept(%s, %v) = %v, want %v", tt.label, tt.score, got, tt.want)
		}
	}
}

func TestCalibrateUnreachable(t *testing.T) {
	s := samplesAt(hs(10, 90, 10), "a", "b", false)
	c, err := Calibrate(s, CalibrateOptions{TargetPrecision: 0.5})
	if err != nil {
		t.Fatal(err)
	}
	if c.Reachable || c.Global.Accepted != 0 || c.Thresholds.Global <= 0.9 {
		t.Errorf("unreachable target: %+v, threshold %v", c.Global, c.Thresholds.Global)
	}
	if !math.IsNaN(float64(c.Global.Precision)) || c.Global.RejectRate != 1 {
		t.Errorf("nothing accepted: %+v", c.Global)
	}
}

func TestCalibrateCurve(t *testing.T) {
	c, err := Calibrate(openSet(), CalibrateOptions{CurvePoints: 41})
	if err != nil {
		t.Fatal(err)
	}
	cv := c.Curve
	if len(cv.Threshold) != 41 || cv.Threshold[0] != float64(float32(0.30)) || cv.Threshold[40] != float64(float32(0.99)) {
		t.Fatalf("grid %v", cv.Threshold)
	}
	if cv.RejectRate[0] != 0 || cv.Recall[0] != 1 || !near(float64(cv.Precision[0]), 25.0/46) {
		t.Errorf("lowest threshold: p %v r %v rej %v", cv.Precision[0], cv.Recall[0], cv.RejectRate[0])
	}
	if cv.Precision[40] != 1 || !near(float64(cv.Recall[40]), 1.0/25) {
		t.Errorf("highest threshold: p %v r %v", cv.Precision[40], cv.Recall[40])
	}
	for i := 1; i < len(cv.Threshold); i++ {
		if cv.Recall[i] > cv.Recall[i-1] || cv.RejectRate[i] < cv.RejectRate[i-1] {
			t.Fatalf("curves not monotone at %d", i)
		}
	}
}

func TestCalibrateErrors(t *testing.T) {
	if _, err := Calibrate(nil, CalibrateOptions{}); !errors.Is(err, ErrEmpty) {
		t.Errorf("err = %v", err)
	}
	if _, err := Calibrate(openSet(), CalibrateOptions{TargetPrecision: 1.5}); !errors.Is(err, ErrBadTarget) {
		t.Errorf("err = %v", err)
	}
	if _, err := Calibrate([]Sample{{Score: float32(math.NaN())}}, CalibrateOptions{}); !errors.Is(err, ErrMismatch) {
		t.Errorf("err = %v", err)
	}
}

func TestThresholdsNil(t *testing.T) {
	var th *Thresholds
	if !th.Accept("x", -1e30) {
		t.Error("nil thresholds must accept everything")
	}
}

// fakeIndex is a tiny exhaustive IP index, to check LeaveOneOut's Index path.
type fakeIndex struct {
	vecindex.Index
	items []Item
}

func (f fakeIndex) Dims() int { return len(f.items[0].Vec) }
func (f fakeIndex) Search(q []float32, k int, filter vecindex.Filter) ([]vecindex.Result, error) {
	best := vecindex.Result{ID: vecindex.PadID, Score: vecindex.PadIP}
	for _, it := range f.items {
		if filter != nil && !filter(it.ID) {
			continue
		}
		if s := dot(q, it.Vec); s > best.Score {
			best = vecindex.Result{ID: it.ID, Score: s}
		}
	}
	return []vecindex.Result{best}, nil
}

func TestLeaveOneOut(t *testing.T) {
	items := []Item{
		{ID: 10, Label: "a", Vec: []float32{1, 0, 0}},
		{ID: 11, Label: "a", Vec: []float32{0.8, 0.6, 0}},
		{ID: 12, Label: "b", Vec: []float32{0.6, 0.8, 0}},
		{ID: 13, Label: "b", Vec: []float32{0, 1, 0}},
		{ID: 14, Label: "c", Vec: []float32{0, 0.6, 0.8}},
	}
	want := []Sample{
		{Label: "a", Predicted: "a", Score: 0.8},
		{Label: "a", Predicted: "b", Score: 0.96},
		{Label: "b", Predicted: "a", Score: 0.96},
		{Label: "b", Predicted: "b", Score: 0.8},
		{Label: "c", Predicted: "b", Score: 0.6, Unknown: true},
	}
	for _, tc := range []struct {
		name string
		opts LeaveOneOutOptions
	}{{"exhaustive", LeaveOneOutOptions{Workers: 2}}, {"index", LeaveOneOutOptions{Index: fakeIndex{items: items}}}} {
		t.Run(tc.name, func(t *testing.T) {
			calls := 0
			tc.opts.Progress = func(done, total int) { calls++ }
			got, err := LeaveOneOut(items, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			for i := range want {
				if got[i].Label != want[i].Label || got[i].Predicted != want[i].Predicted ||
					got[i].Unknown != want[i].Unknown || !near(float64(got[i].Score), float64(want[i].Score)) {
					t.Errorf("item %d: %+v, want %+v", i, got[i], want[i])
				}
			}
			if calls != len(items) {
				t.Errorf("progress called %d times", calls)
			}
		})
	}
	if _, err := LeaveOneOut(items[:1], LeaveOneOutOptions{}); !errors.Is(err, ErrEmpty) {
		t.Errorf("err = %v", err)
	}
	dup := []Item{{ID: 1, Vec: []float32{1}}, {ID: 1, Vec: []float32{1}}}
	if _, err := LeaveOneOut(dup, LeaveOneOutOptions{}); !errors.Is(err, ErrMismatch) {
		t.Errorf("err = %v", err)
	}
}

func TestQuerySamples(t *testing.T) {
	q := Set{Vecs: [][]float32{{0.9, 0.1}, {0.2, 0.8}, {0.5, 0.5}}, Labels: []string{"a", "a", "z"}}
	g := Set{Vecs: oneHot(2), Labels: []string{"a", "b"}}
	calls := 0
	got, err := QuerySamples(q, g, func(int, int) { calls++ })
	if err != nil {
		t.Fatal(err)
	}
	want := []Sample{
		{Label: "a", Predicted: "a", Score: 0.9},
		{Label: "a", Predicted: "b", Score: 0.8},
		{Label: "z", Predicted: "a", Score: 0.5, Unknown: true}, // tie: first gallery item
	}
	if !reflect.DeepEqual(got, want) || calls != 3 {
		t.Errorf("got %+v (%d progress calls), want %+v", got, calls, want)
	}
	// one list as both, with unique ids: the query itself is skipped and a
	// label with a single image becomes an unknown query
	s := Set{Vecs: [][]float32{{1, 0}, {0.6, 0.8}, {0.8, 0.6}}, Labels: []string{"a", "a", "b"}, UniqueIDs: []string{"0", "1", "2"}}
	got, err = QuerySamples(s, s, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got[0].Predicted != "b" || got[2].Predicted != "a" || !got[2].Unknown || got[0].Unknown {
		t.Errorf("same list: %+v", got)
	}
	if _, err := QuerySamples(Set{}, g, nil); !errors.Is(err, ErrEmpty) {
		t.Errorf("err = %v", err)
	}
}
