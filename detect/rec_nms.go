package detect

import (
	"fmt"
	"sort"
)

// RecNMS is the recognition-level NMS of PaddleClas' predict_system.py
// (nms_to_rec_results, ppshitu-pipeline.md §8). boxes are the integer
// (truncated) result boxes (x1, y1, x2, y2) and scores their recognition
// scores. It returns the indices of the kept results, highest score first.
//
// Areas use the "+1 pixel" convention, (x2−x1+1)·(y2−y1+1), intersections
// max(0, min(x2)−max(x1)+1) per axis, all in float32 as numpy computes
// them; a remaining box is kept while its IoU with the picked one is
// ≤ thresh (rec_nms_thresold, 0.05 in the shipped configs) and suppressed
// when strictly greater. Equal scores put the later index first (numpy's
// reversed ascending argsort on small arrays; §8.3). Empty input gives an
// empty result.
func RecNMS(boxes [][4]int, scores []float32, thresh float32) ([]int, error) {
	if len(boxes) != len(scores) {
		return nil, fmt.Errorf("%w: %d boxes and %d scores", ErrInput, len(boxes), len(scores))
	}
	n := len(boxes)
	f := make([][4]float32, n)
	area := make([]float32, n)
	for i, b := range boxes {
		f[i] = [4]float32{float32(b[0]), float32(b[1]), float32(b[2]), float32(b[3])}
		area[i] = (f[i][2] - f[i][0] + 1) * (f[i][3] - f[i][1] + 1)
	}
	order := make([]int, n)
	for i := range order {
		order[i] = n - 1 - i
	}
	sort.SliceStable(order, func(a, b int) bool { return scores[order[a]] > scores[order[b]] })
	keep := []int{}
	for len(order) > 0 {
		i := order[0]
		keep = append(keep, i)
		rest := order[:0]
		for _, j := range order[1:] {
			w := max(0, float32(min(f[i][2], f[j][2])-max(f[i][0], f[j][0])+1))
			h := max(0, float32(min(f[i][3], f[j][3])-max(f[i][1], f[j][1])+1))
			inter := float32(w * h)
			iou := inter / float32(area[i]+area[j]-inter)
			if iou <= thresh {
				rest = append(rest, j)
			}
		}
		order = rest
	}
	return keep, nil
}
