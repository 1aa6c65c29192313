package detect

import (
	"fmt"
	"math"
	"sort"

	"github.com/shitu-go/shitu/tensor"
)

// ParseNMSOutput reads the in-graph NMS form of the detector
// (ppshitu-pipeline.md §4.3): a float32 [N, 6] tensor of rows
// (class, score, x1, y1, x2, y2) in original-image pixels, and optionally
// the per-image count (int32 or int64 [B]). Following PaddleClas, an output
// with fewer than 6 elements ([0, 6], or the [1, 1] tensor holding -1 that
// multiclass_nms3 emits when nothing survives) means no detections. When a
// count is given and smaller than N, only the first count rows (the first
// image) are used. Rows keep the model's order.
func ParseNMSOutput(dets, count *tensor.Tensor) ([]Box, error) {
	if dets == nil || dets.DType() != tensor.Float32 {
		return nil, fmt.Errorf("%w: NMS output is not a float32 tensor", ErrOutput)
	}
	if dets.Len() < 6 {
		return nil, nil
	}
	s := dets.Shape()
	if len(s) != 2 || s[1] != 6 {
		return nil, fmt.Errorf("%w: NMS output has shape %v, want [N, 6]", ErrOutput, s)
	}
	n := s[0]
	if count != nil && count.Len() > 0 {
		var c int64
		switch count.DType() {
		case tensor.Int32:
			c = int64(count.Int32s()[0])
		case tensor.Int64:
			c = count.Int64s()[0]
		default:
			return nil, fmt.Errorf("%w: NMS count is %v, want int32 or int64", ErrOutput, count.DType())
		}
		if c < 0 {
			return nil, fmt.Errorf("%w: NMS count %d is negative", ErrOutput, c)
		}
		if c < int64(n) {
			n = int(c)
		}
	}
	d := dets.Float32s()
	out := make([]Box, 0, n)
	for i := 0; i < n; i++ {
		r := d[i*6 : i*6+6]
		if math.IsNaN(float64(r[0])) || r[0] < -1 || r[0] > 1<<24 {
			return nil, fmt.Errorf("%w: NMS row %d has class %v", ErrOutput, i, r[0])
		}
		// int(row[0]) truncates, as Python's int() on a float32.
		out = append(out, Box{Class: int(r[0]), Score: r[1], X1: r[2], Y1: r[3], X2: r[4], Y2: r[5]})
	}
	return out, nil
}

// SelectTop is PaddleClas' parse_det_results (ppshitu-pipeline.md §4.3,
// gotcha §20.6): sort by score descending, keep the first maxDet, THEN drop
// those with score < threshold — so the result can hold fewer than maxDet
// boxes even when more pass the threshold further down. maxDet ≤ 0 keeps
// none. Equal scores put the later input first, as numpy's reversed
// ascending argsort does on small arrays. The input is not modified.
// The float32 score is compared with the float64 threshold in float64, as
// predict_det.py's numpy float32 against a Python float is: a score of
// float32(0.7) = 0.699999988 is dropped at threshold 0.7.
func SelectTop(dets []Box, maxDet int, threshold float64) []Box {
	idx := make([]int, len(dets))
	for i := range idx {
		idx[i] = len(dets) - 1 - i
	}
	sort.SliceStable(idx, func(a, b int) bool { return dets[idx[a]].Score > dets[idx[b]].Score })
	if maxDet < 0 {
		maxDet = 0
	}
	if len(idx) > maxDet {
		idx = idx[:maxDet]
	}
	var out []Box
	for _, i := range idx {
		if float64(dets[i].Score) >= threshold {
			out = append(out, dets[i])
		}
	}
	return out
}
