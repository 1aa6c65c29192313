package detect

import (
	"fmt"
	"sort"
)

// NMSParams are the attributes of Paddle's multiclass_nms3 operator.
// Use PicoDetNMS for the values the PP-ShiTuV2 detector was exported with;
// a zero NMSParams is not useful on its own.
type NMSParams struct {
	// ScoreThreshold drops candidates whose score is not strictly greater
	// (PicoDet: 0.025).
	ScoreThreshold float32
	// NMSTopK keeps at most this many candidates per class, by score,
	// before suppression; negative keeps all (PicoDet: 1000).
	NMSTopK int
	// KeepTopK keeps at most this many detections per image across all
	// classes, by score; negative keeps all (PicoDet: 100).
	KeepTopK int
	// NMSThreshold is the IoU above which a box is suppressed (PicoDet: 0.6).
	NMSThreshold float32
	// Normalized selects the IoU convention: true computes areas as
	// w·h, false as (w+1)·(h+1) (PicoDet: true, although its coordinates
	// are pixels).
	Normalized bool
	// Eta is the adaptive-threshold factor: when Eta < 1, each kept box
	// multiplies the threshold by Eta while it is above 0.5 (PicoDet: 1).
	Eta float32
	// BackgroundLabel is a class id that is skipped; -1 skips none
	// (PicoDet: -1).
	BackgroundLabel int
}

// PicoDetNMS returns the multiclass_nms3 attributes of the PicoDet
// mainbody detector (models-and-formats.md §B.4): score_threshold 0.025,
// nms_top_k 1000, keep_top_k 100, nms_threshold 0.6, normalized true,
// nms_eta 1, background_label -1.
func PicoDetNMS() NMSParams {
	return NMSParams{
		ScoreThreshold:  0.025,
		NMSTopK:         1000,
		KeepTopK:        100,
		NMSThreshold:    0.6,
		Normalized:      true,
		Eta:             1,
		BackgroundLabel: -1,
	}
}

// MultiClassNMS is Paddle's multiclass_nms3 (CPU kernel) for one image with
// scores of shape [C, M] and boxes shared by all classes, [M] × (x1, y1,
// x2, y2). For every class except the background it keeps the candidates
// with score > ScoreThreshold, sorts them by score (stable: equal scores
// keep the lower box index first), cuts to NMSTopK and greedily keeps a box
// when its IoU with every box kept so far is ≤ the (adaptive) threshold.
// If more than KeepTopK boxes survive over all classes, the KeepTopK best
// by score (stable) are kept.
//
// The result is in Paddle's output order: by class id ascending, and within
// a class by descending score (the selection order). An empty result is a
// nil slice; Paddle itself then emits a [0,6] tensor or a single -1.
func MultiClassNMS(boxes [][4]float32, scores [][]float32, p NMSParams) ([]Box, error) {
	for c, s := range scores {
		if len(s) != len(boxes) {
			return nil, fmt.Errorf("%w: class %d has %d scores for %d boxes", ErrInput, c, len(s), len(boxes))
		}
	}
	type pick struct {
		class, idx int
		score      float32
	}
	var perClass [][]int
	total := 0
	for c, s := range scores {
		perClass = append(perClass, nil)
		if c == p.BackgroundLabel {
			continue
		}
		sel := nmsFast(boxes, s, p)
		perClass[c] = sel
		total += len(sel)
	}
	if p.KeepTopK > -1 && total > p.KeepTopK {
		all := make([]pick, 0, total)
		for c, sel := range perClass {
			for _, i := range sel {
				all = append(all, pick{c, i, scores[c][i]})
			}
		}
		sort.SliceStable(all, func(a, b int) bool { return all[a].score > all[b].score })
		all = all[:p.KeepTopK]
		// Regroup by class; within a class the order stays the score order.
		for c := range perClass {
			perClass[c] = perClass[c][:0]
		}
		for _, k := range all {
			perClass[k.class] = append(perClass[k.class], k.idx)
		}
	}
	var out []Box
	for c, sel := range perClass {
		for _, i := range sel {
			b := boxes[i]
			out = append(out, Box{X1: b[0], Y1: b[1], X2: b[2], Y2: b[3], Score: scores[c][i], Class: c})
		}
	}
	return out, nil
}

// nmsFast is the per-class greedy suppression of multiclass_nms3 (NMSFast).
func nmsFast(boxes [][4]float32, scores []float32, p NMSParams) []int {
	var cand []int
	for i, s := range scores {
		if s > p.ScoreThreshold {
			cand = append(cand, i)
		}
	}
	sort.SliceStable(cand, func(a, b int) bool { return scores[cand[a]] > scores[cand[b]] })
	if p.NMSTopK > -1 && p.NMSTopK < len(cand) {
		cand = cand[:p.NMSTopK]
	}
	thresh := p.NMSThreshold
	var kept []int
	for _, i := range cand {
		keep := true
		for _, k := range kept {
			// Written as the kernel's `keep = overlap <= threshold`, so a NaN
			// overlap (two zero-area boxes) suppresses, as in Paddle.
			if !(jaccard(boxes[i], boxes[k], p.Normalized) <= thresh) {
				keep = false
				break
			}
		}
		if keep {
			kept = append(kept, i)
			if p.Eta < 1 && thresh > 0.5 {
				thresh *= p.Eta
			}
			// A box selected after this class's KeepTopK-th can never be in
			// the image's KeepTopK best (its own class already has KeepTopK
			// boxes scoring at least as much, placed before it by the
			// stable cross-class sort), so stopping here is exact.
			if p.KeepTopK > -1 && len(kept) >= p.KeepTopK {
				break
			}
		}
	}
	return kept
}

// bboxArea is multiclass_nms3's BBoxArea: 0 for an inverted box, w·h when
// normalized, (w+1)·(h+1) otherwise.
func bboxArea(b [4]float32, normalized bool) float32 {
	if b[2] < b[0] || b[3] < b[1] {
		return 0
	}
	w, h := b[2]-b[0], b[3]-b[1]
	if normalized {
		return w * h
	}
	return (w + 1) * (h + 1)
}

// jaccard is multiclass_nms3's JaccardOverlap, in float32 like the kernel.
// Disjoint boxes (b starts right of / below a's end, or ends before a's
// start) have overlap 0; touching boxes have 0 intersection when
// normalized and 1 pixel otherwise.
func jaccard(a, b [4]float32, normalized bool) float32 {
	if b[0] > a[2] || b[2] < a[0] || b[1] > a[3] || b[3] < a[1] {
		return 0
	}
	ix1, iy1 := max(a[0], b[0]), max(a[1], b[1])
	ix2, iy2 := min(a[2], b[2]), min(a[3], b[3])
	var norm float32
	if !normalized {
		norm = 1
	}
	iw := float32(ix2 - ix1 + norm)
	ih := float32(iy2 - iy1 + norm)
	inter := float32(iw * ih)
	return inter / float32(bboxArea(a, normalized)+bboxArea(b, normalized)-inter)
}
