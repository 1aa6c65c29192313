package eval

import (
	"fmt"
	"math"
	"slices"
	"sort"
)

// Sample is one query's top-1 answer before any acceptance threshold.
type Sample struct {
	// Label is the ground truth.
	Label string `json:"label"`
	// Predicted is the label of the best gallery match.
	Predicted string `json:"predicted"`
	// Score is the similarity of that match (higher is better; pass
	// negated distances for Hamming or L2).
	Score float32 `json:"score"`
	// Unknown marks a query whose true label is not in the gallery: the
	// right answer is "unknown", so accepting it is always an error.
	Unknown bool `json:"unknown,omitempty"`
}

func (s Sample) correct() bool { return !s.Unknown && s.Predicted == s.Label }

// Thresholds are acceptance thresholds: a result is accepted iff its score
// is ≥ the threshold of its label (the same "≥" as PaddleClas' score_thres,
// ppshitu-pipeline.md §7.2); otherwise it answers "unknown" while still
// listing its nearest candidates. Store them with the gallery.
type Thresholds struct {
	// TargetPrecision is the precision they were chosen for.
	TargetPrecision float64 `json:"target_precision"`
	// Global applies to every label without its own threshold.
	Global float32 `json:"global"`
	// PerLabel overrides Global for the labels it lists.
	PerLabel map[string]float32 `json:"per_label,omitempty"`
}

// For returns the threshold of a label (Global when it has none). A nil
// *Thresholds returns -Inf: everything is accepted.
func (t *Thresholds) For(label string) float32 {
	if t == nil {
		return float32(math.Inf(-1))
	}
	if v, ok := t.PerLabel[label]; ok {
		return v
	}
	return t.Global
}

// Accept reports whether a result with this label and score is accepted.
func (t *Thresholds) Accept(label string, score float32) bool {
	return score >= t.For(label)
}

// CalibrateOptions configures Calibrate. Zero values mean the defaults.
type CalibrateOptions struct {
	// TargetPrecision is the precision wanted on accepted results
	// (default 0.95).
	TargetPrecision float64
	// MinSupport is the number of samples predicted as a label needed to
	// fit that label's own threshold; below it the label uses the global
	// threshold (default 10).
	MinSupport int
	// GalleryCounts, if set, gives the number of gallery images per label,
	// for the under-covered label report.
	GalleryCounts map[string]int
	// MinImages is the number of gallery images below which a label is
	// reported as under-covered (default 3).
	MinImages int
	// CurvePoints is the number of thresholds on the curves (default 101).
	CurvePoints int
	// TopConfused is the number of confused label pairs kept (default 10).
	TopConfused int
}

// OperatingPoint summarises decisions at a threshold (or threshold set).
type OperatingPoint struct {
	Threshold Metric `json:"threshold"` // null for per-label thresholds
	// Precision is correct accepted / accepted (null when none accepted).
	Precision Metric `json:"precision"`
	// Recall is correct accepted / samples whose label is in the gallery.
	Recall Metric `json:"recall"`
	// RejectRate is rejected / all samples.
	RejectRate Metric `json:"reject_rate"`
	// Accuracy is the open-set accuracy: (correct accepted + rejected
	// unknowns) / all samples.
	Accuracy Metric `json:"accuracy"`
	Accepted int    `json:"accepted"`
	Correct  int    `json:"correct"`
}

// Curve holds the operating points over a grid of global thresholds.
type Curve struct {
	Threshold  []float64 `json:"threshold"`
	Precision  []Metric  `json:"precision"`
	Recall     []Metric  `json:"recall"`
	RejectRate []Metric  `json:"reject_rate"`
}

// LabelCalibration is the per-label part of a calibration.
type LabelCalibration struct {
	Label string `json:"label"`
	// Support counts samples predicted as this label.
	Support int `json:"support"`
	// Queries counts samples whose true label is this one.
	Queries   int     `json:"queries"`
	Threshold float32 `json:"threshold"`
	// Source is "fitted", "global" (too little support) or "unreachable"
	// (no threshold reaches the target: everything predicted as this
	// label is rejected).
	Source string `json:"source"`
	// Precision and Recall are this label's figures under the chosen
	// thresholds (as predicted label, and as true label).
	Precision     Metric `json:"precision"`
	Recall        Metric `json:"recall"`
	GalleryImages int    `json:"gallery_images,omitempty"`
}

// ConfusedPair counts queries of one label answered with the other.
type ConfusedPair struct {
	A     string `json:"a"`
	B     string `json:"b"`
	AtoB  int    `json:"a_to_b"` // queries labelled A predicted as B
	BtoA  int    `json:"b_to_a"`
	Total int    `json:"total"`
	// MaxScore is the highest score among these confusions: a threshold
	// above it separates the pair.
	MaxScore float32 `json:"max_score"`
}

// LabelCount is a label with its number of gallery images.
type LabelCount struct {
	Label  string `json:"label"`
	Images int    `json:"images"`
}

// Calibration is the result of Calibrate.
type Calibration struct {
	Thresholds Thresholds `json:"thresholds"`
	// Reachable is false when no global threshold reaches the target; the
	// global threshold then rejects everything.
	Reachable bool `json:"reachable"`
	// Global is the operating point of the global threshold alone.
	Global OperatingPoint `json:"global"`
	// PerLabel is the operating point with the per-label thresholds.
	PerLabel OperatingPoint `json:"per_label"`
	// NoThreshold is the operating point when everything is accepted.
	NoThreshold OperatingPoint     `json:"no_threshold"`
	Curve       Curve              `json:"curve"`
	Labels      []LabelCalibration `json:"labels"`
	Confused    []ConfusedPair     `json:"confused"`
	FewImages   []LabelCount       `json:"few_images,omitempty"`
	Samples     int                `json:"samples"`
	Unknown     int                `json:"unknown"`
}

// Calibrate chooses acceptance thresholds for a target precision.
//
// Rule: among the sample scores, the chosen threshold is the LOWEST t
// whose precision on accepted results (score ≥ t) is ≥ the target. Recall
// can only fall as t rises, so this is the threshold with the highest
// recall that meets the target. Per label, the same rule is applied to
// the samples predicted as that label when there are at least MinSupport
// of them; otherwise the label falls back to the global threshold. When
// no threshold reaches the target the threshold is set just above the
// highest score (everything rejected) and marked unreachable.
func Calibrate(samples []Sample, opts CalibrateOptions) (*Calibration, error) {
	if len(samples) == 0 {
		return nil, fmt.Errorf("%w: no calibration samples", ErrEmpty)
	}
	target := opts.TargetPrecision
	if target == 0 {
		target = 0.95
	}
	if !(target > 0 && target <= 1) {
		return nil, fmt.Errorf("%w: got %v", ErrBadTarget, target)
	}
	for i, s := range samples {
		if math.IsNaN(float64(s.Score)) {
			return nil, fmt.Errorf("%w: sample %d has a NaN score", ErrMismatch, i)
		}
	}
	minSupport := defInt(opts.MinSupport, 10)
	minImages := defInt(opts.MinImages, 3)
	points := defInt(opts.CurvePoints, 101)
	topConf := defInt(opts.TopConfused, 10)

	c := &Calibration{Samples: len(samples)}
	for _, s := range samples {
		if s.Unknown {
			c.Unknown++
		}
	}
	g, ok := fitThreshold(samples, target)
	c.Reachable = ok
	th := Thresholds{TargetPrecision: target, Global: g, PerLabel: map[string]float32{}}

	byPred := map[string][]Sample{}
	queries := map[string]int{}
	for _, s := range samples {
		byPred[s.Predicted] = append(byPred[s.Predicted], s)
		if !s.Unknown {
			queries[s.Label]++
		}
	}
	labels := map[string]bool{}
	for l := range byPred {
		labels[l] = true
	}
	for l := range queries {
		labels[l] = true
	}
	names := make([]string, 0, len(labels))
	for l := range labels {
		names = append(names, l)
	}
	sort.Strings(names)
	src := map[string]string{}
	for _, l := range names {
		ss := byPred[l]
		switch {
		case len(ss) < minSupport:
			src[l] = "global"
		default:
			t, ok := fitThreshold(ss, target)
			th.PerLabel[l] = t
			src[l] = "fitted"
			if !ok {
				src[l] = "unreachable"
			}
		}
	}
	c.Thresholds = th
	c.Global = operatingPoint(samples, func(string) float32 { return g })
	c.Global.Threshold = Metric(g)
	c.PerLabel = operatingPoint(samples, th.For)
	c.PerLabel.Threshold = Metric(math.NaN())
	c.NoThreshold = operatingPoint(samples, func(string) float32 { return float32(math.Inf(-1)) })
	c.NoThreshold.Threshold = Metric(math.Inf(-1))
	c.Curve = curve(samples, points)

	// correct accepted answers per true label, under the chosen thresholds
	qcorrect := map[string]int{}
	for _, s := range samples {
		if s.correct() && s.Score >= th.For(s.Predicted) {
			qcorrect[s.Label]++
		}
	}
	for _, l := range names {
		lc := LabelCalibration{Label: l, Support: len(byPred[l]), Queries: queries[l], Threshold: th.For(l), Source: src[l]}
		var acc, cor int
		for _, s := range byPred[l] {
			if s.Score >= lc.Threshold {
				acc++
				if s.correct() {
					cor++
				}
			}
		}
		qcor := qcorrect[l]
		lc.Precision = Metric(div(float64(cor), float64(acc)))
		lc.Recall = Metric(div(float64(qcor), float64(lc.Queries)))
		if opts.GalleryCounts != nil {
			lc.GalleryImages = opts.GalleryCounts[l]
		}
		c.Labels = append(c.Labels, lc)
	}
	c.Confused = confusedPairs(samples, topConf)
	if opts.GalleryCounts != nil {
		for l, n := range opts.GalleryCounts {
			if n < minImages {
				c.FewImages = append(c.FewImages, LabelCount{l, n})
			}
		}
		sort.Slice(c.FewImages, func(i, j int) bool {
			a, b := c.FewImages[i], c.FewImages[j]
			return a.Images < b.Images || a.Images == b.Images && a.Label < b.Label
		})
	}
	return c, nil
}

func defInt(v, d int) int {
	if v <= 0 {
		return d
	}
	return v
}

// fitThreshold returns the lowest sample score t with precision(score ≥ t)
// ≥ target, or just above the highest score and false when none exists.
func fitThreshold(ss []Sample, target float64) (float32, bool) {
	sorted := slices.Clone(ss)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Score > sorted[j].Score })
	best, found := float32(0), false
	acc, cor := 0, 0
	for i := 0; i < len(sorted); {
		t := sorted[i].Score
		for i < len(sorted) && sorted[i].Score == t { // equal scores are accepted together
			acc++
			if sorted[i].correct() {
				cor++
			}
			i++
		}
		// cor/acc ≥ target, in integers where possible to avoid rounding.
		if float64(cor) >= target*float64(acc)-1e-12 {
			best, found = t, true
		}
	}
	if !found {
		return math.Nextafter32(sorted[0].Score, float32(math.Inf(1))), false
	}
	return best, true
}

func operatingPoint(ss []Sample, thr func(label string) float32) OperatingPoint {
	var acc, cor, known, rejUnknown int
	for _, s := range ss {
		if !s.Unknown {
			known++
		}
		if s.Score >= thr(s.Predicted) {
			acc++
			if s.correct() {
				cor++
			}
		} else if s.Unknown {
			rejUnknown++
		}
	}
	n := float64(len(ss))
	return OperatingPoint{
		Precision:  Metric(div(float64(cor), float64(acc))),
		Recall:     Metric(div(float64(cor), float64(known))),
		RejectRate: Metric(float64(len(ss)-acc) / n),
		Accuracy:   Metric(float64(cor+rejUnknown) / n),
		Accepted:   acc,
		Correct:    cor,
	}
}

// curve evaluates the global-threshold operating points on an even grid
// from the lowest to the highest score.
func curve(ss []Sample, points int) Curve {
	scores := make([]float64, len(ss))
	lo, hi := math.Inf(1), math.Inf(-1)
	for i, s := range ss {
		scores[i] = float64(s.Score)
		lo, hi = math.Min(lo, scores[i]), math.Max(hi, scores[i])
	}
	if points < 2 {
		points = 2
	}
	var c Curve
	for i := range points {
		t := lo + (hi-lo)*float64(i)/float64(points-1)
		op := operatingPoint(ss, func(string) float32 { return float32(t) })
		c.Threshold = append(c.Threshold, t)
		c.Precision = append(c.Precision, op.Precision)
		c.Recall = append(c.Recall, op.Recall)
		c.RejectRate = append(c.RejectRate, op.RejectRate)
	}
	return c
}

func confusedPairs(ss []Sample, top int) []ConfusedPair {
	m := map[[2]string]*ConfusedPair{}
	for _, s := range ss {
		if s.Unknown || s.Predicted == s.Label {
			continue
		}
		a, b := s.Label, s.Predicted
		key := [2]string{min(a, b), max(a, b)}
		p := m[key]
		if p == nil {
			p = &ConfusedPair{A: key[0], B: key[1], MaxScore: s.Score}
			m[key] = p
		}
		if a == key[0] {
			p.AtoB++
		} else {
			p.BtoA++
		}
		p.Total++
		p.MaxScore = max(p.MaxScore, s.Score)
	}
	out := make([]ConfusedPair, 0, len(m))
	for _, p := range m {
		out = append(out, *p)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Total != b.Total {
			return a.Total > b.Total
		}
		if a.A != b.A {
			return a.A < b.A
		}
		return a.B < b.B
	})
	if len(out) > top {
		out = out[:top]
	}
	return out
}
