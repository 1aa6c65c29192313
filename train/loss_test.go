package train

import (
	"bytes"
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

var paddleTriplet = TripletAngularMarginLoss{Weight: 1, Margin: 0.5, NormalizeFeature: true, AddAbsolute: true, AbsoluteWeight: 0.1, AP: 0.8, AN: 0.4}

type refBatch struct {
	Feat    [][]float64 `json:"feat"`
	Logits  [][]float64 `json:"logits"`
	Labels  []int       `json:"labels"`
	Epsilon float64     `json:"epsilon"`
	Triplet struct {
		Margin           float64 `json:"margin"`
		NormalizeFeature bool    `json:"normalize_feature"`
		AddAbsolute      bool    `json:"add_absolute"`
		AbsWeight        float64 `json:"absolute_loss_weight"`
		AP               float64 `json:"ap_value"`
		AN               float64 `json:"an_value"`
	} `json:"triplet"`
}

// refBatches are seeded batches: PK batches (P ids × K=4), one with exact
// duplicate rows (ties, as sampling with replacement makes), one where a
// label has a single sample, one with features nearly aligned (every
// anchor active), one without the absolute term.
func refBatches() []refBatch {
	r := rand.New(rand.NewPCG(14, 1))
	mk := func(labels []int, dim, classes int, spread float64) refBatch {
		var b refBatch
		centres := map[int][]float64{}
		for _, l := range labels {
			if centres[l] == nil {
				c := make([]float64, dim)
				for k := range c {
					c[k] = r.NormFloat64()
				}
				centres[l] = c
			}
			f := make([]float64, dim)
			for k := range f {
				f[k] = centres[l][k] + spread*r.NormFloat64()
			}
			b.Feat = append(b.Feat, f)
			lg := make([]float64, classes)
			for k := range lg {
				lg[k] = 3 * r.NormFloat64()
			}
			b.Logits = append(b.Logits, lg)
		}
		b.Labels = labels
		b.Epsilon = 0.1
		b.Triplet.Margin, b.Triplet.NormalizeFeature, b.Triplet.AddAbsolute = 0.5, true, true
		b.Triplet.AbsWeight, b.Triplet.AP, b.Triplet.AN = 0.1, 0.8, 0.4
		return b
	}
	pk := mk([]int{0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2}, 16, 5, 0.8)
	ties := mk([]int{0, 0, 0, 0, 3, 3, 3, 3}, 8, 4, 0.5)
	ties.Feat[1] = append([]float64(nil), ties.Feat[0]...) // duplicates
	ties.Feat[2] = append([]float64(nil), ties.Feat[0]...)
	ties.Feat[6] = append([]float64(nil), ties.Feat[5]...)
	single := mk([]int{0, 0, 1, 1, 1, 2, 3, 3}, 8, 4, 0.6)
	tight := mk([]int{0, 0, 1, 1, 2, 2, 3, 3}, 32, 4, 3)
	noabs := mk([]int{1, 1, 1, 1, 0, 0, 0, 0}, 12, 3, 1)
	noabs.Triplet.AddAbsolute = false
	noabs.Epsilon = 0
	return []refBatch{pk, ties, single, tight, noabs}
}

func (b refBatch) losses() (float64, float64) {
	dim, classes := len(b.Feat[0]), len(b.Logits[0])
	var f, lg []float64
	for i := range b.Feat {
		f = append(f, b.Feat[i]...)
		lg = append(lg, b.Logits[i]...)
	}
	ce, _ := CELoss{Weight: 1, Epsilon: b.Epsilon}.Forward(lg, b.Labels, classes)
	t := TripletAngularMarginLoss{Weight: 1, Margin: b.Triplet.Margin, NormalizeFeature: b.Triplet.NormalizeFeature,
		AddAbsolute: b.Triplet.AddAbsolute, AbsoluteWeight: b.Triplet.AbsWeight, AP: b.Triplet.AP, AN: b.Triplet.AN}
	tl, _ := t.Forward(f, b.Labels, dim)
	return ce, tl
}

// The losses agree with a numpy reference written from PaddleClas'
// definitions (testdata/ref_losses.py) to 1e-6.
func TestLossesMatchNumpyReference(t *testing.T) {
	// Debian's interpreter, where python3-numpy installs (a pyenv or venv
	// python3 first on PATH usually lacks it).
	py := "/usr/bin/python3"
	if _, err := os.Stat(py); err != nil {
		t.Skipf("%s is absent: the numpy loss reference cannot run (apt-get install python3-numpy)", py)
	}
	if out, err := exec.Command(py, "-c", "import numpy").CombinedOutput(); err != nil {
		t.Skipf("numpy is not importable by %s (apt-get install python3-numpy): %v %s", py, err, out)
	}
	bs := refBatches()
	in, _ := json.Marshal(bs)
	dir := t.TempDir()
	p := filepath.Join(dir, "batches.json")
	if err := os.WriteFile(p, in, 0o644); err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd := exec.Command(py, "testdata/ref_losses.py", p)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("reference: %v\n%s", err, stderr.String())
	}
	var ref []struct{ CE, Triplet float64 }
	if err := json.Unmarshal(out, &ref); err != nil {
		t.Fatal(err)
	}
	if len(ref) != len(bs) {
		t.Fatalf("%d reference results for %d batches", len(ref), len(bs))
	}
	for i, b := range bs {
		ce, tl := b.losses()
		t.Logf("batch %d: CE %.9f (numpy %.9f), triplet %.9f (numpy %.9f)", i, ce, ref[i].CE, tl, ref[i].Triplet)
		if math.Abs(ce-ref[i].CE) > 1e-6 || math.Abs(tl-ref[i].Triplet) > 1e-6 {
			t.Errorf("batch %d: Go CE %.9g triplet %.9g, numpy CE %.9g triplet %.9g", i, ce, tl, ref[i].CE, ref[i].Triplet)
		}
	}
}
