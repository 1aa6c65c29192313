package eval

import (
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"testing"
)

// oneHot returns n one-hot vectors, so that q·g_j = q[j]: a query row of
// a hand-made similarity matrix is then simply the query vector.
func oneHot(n int) [][]float32 {
	vs := make([][]float32, n)
	for i := range vs {
		vs[i] = make([]float32, n)
		vs[i][i] = 1
	}
	return vs
}

func near(a, b float64) bool {
	if math.IsNaN(a) || math.IsNaN(b) {
		return math.IsNaN(a) && math.IsNaN(b)
	}
	return math.Abs(a-b) <= 1e-6
}

func TestRetrievalHandMade(t *testing.T) {
	nan := math.NaN()
	tests := []struct {
		name        string
		q, g        Set
		opts        RetrievalOptions
		recall      map[int]float64
		mAP         float64
		prec        map[int]float64
		exactRecall map[int]float64
		exactMAP    float64
		withRel     int
		masked      int
	}{
		{
			// q0 (a): ranking a b c a → rel 1 0 0 1, AP (1/1+2/4)/2 = 0.75
			// q1 (b): ranking a c a b → rel 0 0 0 1, AP 1/4
			name: "two queries",
			q: Set{Vecs: [][]float32{{0.9, 0.8, 0.1, 0.5}, {0.9, 0.2, 0.3, 0.4}},
				Labels: []string{"a", "b"}},
			g:      Set{Vecs: oneHot(4), Labels: []string{"a", "b", "a", "c"}},
			opts:   RetrievalOptions{TopK: []int{1, 2, 4}, PrecisionK: []int{1, 2}},
			recall: map[int]float64{1: 0.5, 2: 0.5, 4: 1}, mAP: 0.5,
			prec:        map[int]float64{1: 0.5, 2: 0.25},
			exactRecall: map[int]float64{1: 0.5, 4: 1}, exactMAP: 0.5, withRel: 2,
		},
		{
			// Same list with unique ids; the self pair is masked to 0 but
			// keeps its rank. q2 (b) has no other b: no relevant item, so
			// its block (block size 2) makes recall and mAP NaN.
			name: "masked self, no relevant, NaN block",
			q:    Set{Vecs: [][]float32{{1, 0}, {0.6, 0.8}, {0.8, 0.6}}, Labels: []string{"a", "a", "b"}, UniqueIDs: []string{"0", "1", "2"}},
			opts: RetrievalOptions{TopK: []int{1, 2}, PrecisionK: []int{1, 2}, BlockSize: 2},
			// q0: b(0.8) a(0.6) a-self(0) → first relevant at rank 2, AP 1/2
			// q1: b(0.96) a(0.6) a-self(0) → AP 1/2
			recall: map[int]float64{1: nan, 2: nan}, mAP: nan,
			prec:        map[int]float64{1: 0, 2: 1.0 / 3},
			exactRecall: map[int]float64{1: 0, 2: 1}, exactMAP: 0.5, withRel: 2, masked: 3,
		},
		{
			name:   "masked self, one block",
			q:      Set{Vecs: [][]float32{{1, 0}, {0.6, 0.8}, {0.8, 0.6}}, Labels: []string{"a", "a", "b"}, UniqueIDs: []string{"0", "1", "2"}},
			opts:   RetrievalOptions{TopK: []int{1, 2}, PrecisionK: []int{1, 2}},
			recall: map[int]float64{1: 0, 2: 1}, mAP: 0.5,
			prec:        map[int]float64{1: 0, 2: 1.0 / 3},
			exactRecall: map[int]float64{1: 0, 2: 1}, exactMAP: 0.5, withRel: 2, masked: 3,
		},
		{
			// Block weighting (§16.1 step 7): blocks {q0,q1} and {q2}; q1 has
			// no relevant item. recall@1 = 1·2/3 + 0·1/3 = 2/3 while the
			// exact figure is 1/2; mAP = 1·2/3 + 1/2·1/3 = 5/6 vs 3/4.
			name: "block weighting",
			q: Set{Vecs: [][]float32{{0.9, 0.1}, {0.9, 0.1}, {0.9, 0.1}},
				Labels: []string{"a", "z", "b"}},
			g:      Set{Vecs: oneHot(2), Labels: []string{"a", "b"}},
			opts:   RetrievalOptions{TopK: []int{1, 2}, PrecisionK: []int{1}, BlockSize: 2},
			recall: map[int]float64{1: 2.0 / 3, 2: 1}, mAP: 5.0 / 6,
			prec:        map[int]float64{1: 1.0 / 3},
			exactRecall: map[int]float64{1: 0.5, 2: 1}, exactMAP: 0.75, withRel: 2,
		},
		{
			// Ties keep gallery order: the b item (index 0) ranks first.
			name:   "tie keeps gallery order",
			q:      Set{Vecs: [][]float32{{0.5, 0.5}}, Labels: []string{"a"}},
			g:      Set{Vecs: oneHot(2), Labels: []string{"b", "a"}},
			opts:   RetrievalOptions{TopK: []int{1, 2}, PrecisionK: []int{1, 2, 5}},
			recall: map[int]float64{1: 0, 2: 1}, mAP: 0.5,
			prec:        map[int]float64{1: 0, 2: 0.5, 5: 0.2},
			exactRecall: map[int]float64{1: 0, 2: 1}, exactMAP: 0.5, withRel: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := tt.g
			if g.Vecs == nil {
				g = tt.q
			}
			r, err := Retrieval(tt.q, g, tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			for k, want := range tt.recall {
				if got := RecallAt(r.Recall, k); !near(got, want) {
					t.Errorf("recall@%d = %v, want %v", k, got, want)
				}
			}
			for k, want := range tt.exactRecall {
				if got := RecallAt(r.ExactRecall, k); !near(got, want) {
					t.Errorf("exact recall@%d = %v, want %v", k, got, want)
				}
			}
			for k, want := range tt.prec {
				if got := RecallAt(r.Precision, k); !near(got, want) {
					t.Errorf("precision@%d = %v, want %v", k, got, want)
				}
			}
			if !near(float64(r.MAP), tt.mAP) {
				t.Errorf("mAP = %v, want %v", r.MAP, tt.mAP)
			}
			if !near(float64(r.ExactMAP), tt.exactMAP) {
				t.Errorf("exact mAP = %v, want %v", r.ExactMAP, tt.exactMAP)
			}
			if r.WithRelevant != tt.withRel || r.MaskedPairs != tt.masked {
				t.Errorf("with relevant %d masked %d, want %d %d", r.WithRelevant, r.MaskedPairs, tt.withRel, tt.masked)
			}
		})
	}
}

func TestRetrievalPerLabel(t *testing.T) {
	q := Set{Vecs: [][]float32{{0.9, 0.1}, {0.2, 0.8}, {0.8, 0.2}, {0.5, 0.5}}, Labels: []string{"a", "a", "b", "z"}}
	g := Set{Vecs: oneHot(2), Labels: []string{"a", "b"}}
	r, err := Retrieval(q, g, RetrievalOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := []LabelRecall{{Label: "a", Queries: 2, Hits: 1}, {Label: "b", Queries: 1, Hits: 0}, {Label: "z", NoRelevant: 1}}
	if len(r.PerLabel) != len(want) {
		t.Fatalf("per label %+v", r.PerLabel)
	}
	for i := range want {
		if r.PerLabel[i] != want[i] {
			t.Errorf("per label %d = %+v, want %+v", i, r.PerLabel[i], want[i])
		}
	}
}

func TestRetrievalErrors(t *testing.T) {
	ok := Set{Vecs: [][]float32{{1, 0}}, Labels: []string{"a"}}
	tests := []struct {
		name string
		q, g Set
		opts RetrievalOptions
		want error
	}{
		{"empty query", Set{}, ok, RetrievalOptions{}, ErrEmpty},
		{"labels", Set{Vecs: [][]float32{{1, 0}}}, ok, RetrievalOptions{}, ErrMismatch},
		{"ids", Set{Vecs: [][]float32{{1, 0}}, Labels: []string{"a"}, UniqueIDs: []string{}}, ok, RetrievalOptions{}, ErrMismatch},
		{"ragged", Set{Vecs: [][]float32{{1, 0}, {1}}, Labels: []string{"a", "b"}}, ok, RetrievalOptions{}, ErrDims},
		{"dims", Set{Vecs: [][]float32{{1, 0, 0}}, Labels: []string{"a"}}, ok, RetrievalOptions{}, ErrDims},
		{"k", ok, ok, RetrievalOptions{TopK: []int{0}}, ErrBadK},
		{"precision k", ok, ok, RetrievalOptions{PrecisionK: []int{-1}}, ErrBadK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Retrieval(tt.q, tt.g, tt.opts); !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
		})
	}
}

type refSet struct {
	Vecs   [][]float32 `json:"vecs"`
	Labels []string    `json:"labels"`
	IDs    []string    `json:"ids"`
}

type refCase struct {
	Name       string  `json:"name"`
	Query      refSet  `json:"query"`
	Gallery    *refSet `json:"gallery"`
	Same       bool    `json:"same"`
	TopK       []int   `json:"topk"`
	PrecisionK []int   `json:"precision_k"`
	BlockSize  int     `json:"block_size"`
	Expected   struct {
		Recall       []Metric `json:"recall"`
		Precision    []Metric `json:"precision"`
		MAP          Metric   `json:"map"`
		ExactRecall  []Metric `json:"exact_recall"`
		ExactMAP     Metric   `json:"exact_map"`
		WithRelevant int      `json:"with_relevant"`
		MaskedPairs  int      `json:"masked_pairs"`
	} `json:"expected"`
}

// TestRetrievalReference compares with testdata/ref_metrics.json, written
// by the independent numpy implementation testdata/ref_metrics.py.
func TestRetrievalReference(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("testdata", "ref_metrics.json"))
	if err != nil {
		t.Fatal(err)
	}
	var fx struct {
		Cases []refCase `json:"cases"`
	}
	if err := json.Unmarshal(b, &fx); err != nil {
		t.Fatal(err)
	}
	if len(fx.Cases) < 8 {
		t.Fatalf("only %d reference cases", len(fx.Cases))
	}
	nanSeen, maskSeen, noRelSeen := false, false, false
	for _, c := range fx.Cases {
		t.Run(c.Name, func(t *testing.T) {
			q := Set{Vecs: c.Query.Vecs, Labels: c.Query.Labels, UniqueIDs: c.Query.IDs}
			g := q
			if !c.Same {
				g = Set{Vecs: c.Gallery.Vecs, Labels: c.Gallery.Labels, UniqueIDs: c.Gallery.IDs}
			}
			r, err := Retrieval(q, g, RetrievalOptions{TopK: c.TopK, PrecisionK: c.PrecisionK, BlockSize: c.BlockSize})
			if err != nil {
				t.Fatal(err)
			}
			e := c.Expected
			cmp := func(what string, got, want Metric) {
				t.Helper()
				if !near(float64(got), float64(want)) {
					t.Errorf("%s = %v, want %v", what, got, want)
				}
				if math.IsNaN(float64(want)) {
					nanSeen = true
				}
			}
			for i, k := range c.TopK {
				cmp("recall@"+itoa(k), r.Recall[i].Value, e.Recall[i])
				cmp("exact recall@"+itoa(k), r.ExactRecall[i].Value, e.ExactRecall[i])
			}
			for i, k := range c.PrecisionK {
				cmp("precision@"+itoa(k), r.Precision[i].Value, e.Precision[i])
			}
			cmp("mAP", r.MAP, e.MAP)
			cmp("exact mAP", r.ExactMAP, e.ExactMAP)
			if r.WithRelevant != e.WithRelevant || r.MaskedPairs != e.MaskedPairs {
				t.Errorf("with relevant %d masked %d, want %d %d", r.WithRelevant, r.MaskedPairs, e.WithRelevant, e.MaskedPairs)
			}
			maskSeen = maskSeen || r.MaskedPairs > 0
			noRelSeen = noRelSeen || r.WithRelevant < r.Queries
		})
	}
	if !nanSeen || !maskSeen || !noRelSeen {
		t.Errorf("fixture lacks coverage: NaN %v, masked %v, no-relevant %v", nanSeen, maskSeen, noRelSeen)
	}
}

func itoa(k int) string { return strconv.Itoa(k) }

// Properties that hold on any data: results do not depend on the number
// of workers; exact figures do not depend on the block size; and when
// every query has a relevant item, PaddleClas' block weighting is exact.
func TestRetrievalProperties(t *testing.T) {
	s := clustered(rand.New(rand.NewPCG(7, 7)), 300, 16, 150, 1.2)
	base, err := Retrieval(s, s, RetrievalOptions{Workers: 1, BlockSize: 64})
	if err != nil {
		t.Fatal(err)
	}
	if base.WithRelevant == base.Queries {
		t.Fatal("test data should contain queries without a relevant item")
	}
	for _, o := range []RetrievalOptions{{Workers: 3, BlockSize: 64}, {Workers: 2, BlockSize: 7}, {BlockSize: 1000}} {
		r, err := Retrieval(s, s, o)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(r.ExactRecall, base.ExactRecall) || !near(float64(r.ExactMAP), float64(base.ExactMAP)) ||
			!reflect.DeepEqual(r.PerLabel, base.PerLabel) {
			t.Errorf("%+v: exact figures changed", o)
		}
		if o.BlockSize == 64 && !reflect.DeepEqual(r, base) {
			t.Errorf("workers changed the result")
		}
		if o.BlockSize == 1000 && !near(float64(r.MAP), float64(r.ExactMAP)) {
			t.Errorf("one block: weighted mAP %v != exact %v", r.MAP, r.ExactMAP)
		}
	}
	// keep only queries with a relevant item: weighting is then exact
	var q Set
	for i := range s.Vecs {
		n := 0
		for j := range s.Vecs {
			if s.Labels[i] == s.Labels[j] && i != j {
				n++
			}
		}
		if n > 0 {
			q.Vecs, q.Labels, q.UniqueIDs = append(q.Vecs, s.Vecs[i]), append(q.Labels, s.Labels[i]), append(q.UniqueIDs, s.UniqueIDs[i])
		}
	}
	r, err := Retrieval(q, s, RetrievalOptions{BlockSize: 9})
	if err != nil {
		t.Fatal(err)
	}
	for i := range r.Recall {
		if !near(float64(r.Recall[i].Value), float64(r.ExactRecall[i].Value)) {
			t.Errorf("recall@%d weighted %v exact %v", r.Recall[i].K, r.Recall[i].Value, r.ExactRecall[i].Value)
		}
	}
	if !near(float64(r.MAP), float64(r.ExactMAP)) {
		t.Errorf("mAP weighted %v exact %v", r.MAP, r.ExactMAP)
	}
}
