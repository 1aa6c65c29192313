package detect

import (
	"fmt"
	"math"
	"sort"

	"github.com/shitu-go/shitu/tensor"
)

// ScoreForm says whether raw score outputs are logits or probabilities.
type ScoreForm int

const (
	// ScoresAuto (the default) treats rank-3 score outputs [1, H·W, C] as
	// probabilities (the raw-head export applies the sigmoid in the graph,
	// models-and-formats.md §B.5) and rank-4 outputs [1, C, H, W] as the
	// head's logits (§B.3), to which the sigmoid is applied.
	ScoresAuto ScoreForm = iota
	// ScoresLogits applies the sigmoid to every score output.
	ScoresLogits
	// ScoresProbs uses the score outputs as they are.
	ScoresProbs
)

// DecodeConfig configures DecodeRaw. The zero value is the released
// PP-ShiTuV2 mainbody detector (models-and-formats.md §B.4).
type DecodeConfig struct {
	// Strides are the FPN strides of the levels (default [8, 16, 32, 64]).
	Strides []int
	// RegMax is the largest DFL bin; each side has RegMax+1 bins (default 7).
	RegMax int
	// PreNMSTopK keeps the best PreNMSTopK points of a level, by max class
	// score, when it has more (default 1000; negative keeps all, as the
	// modern export does).
	PreNMSTopK int
	// NoClip disables clipping boxes to im_shape (default false: clip, as
	// the released v1.0 graph does; the modern export does not clip).
	NoClip bool
	// Scores says whether score outputs are logits (default ScoresAuto).
	Scores ScoreForm
	// SkipAtOrBelow drops points whose best class score is ≤ this value
	// after the pre-NMS top-k, saving their decode (default 0: keep all).
	// The Detector sets it to the NMS score threshold, which rejects such
	// points anyway, so its results are unchanged.
	SkipAtOrBelow float32
}

func (c DecodeConfig) withDefaults() DecodeConfig {
	if len(c.Strides) == 0 {
		c.Strides = []int{8, 16, 32, 64}
	}
	if c.RegMax <= 0 {
		c.RegMax = 7
	}
	if c.PreNMSTopK == 0 {
		c.PreNMSTopK = 1000
	}
	return c
}

// rawLevel is one level's outputs in a common indexing.
type rawLevel struct {
	scores, dist *tensor.Tensor
	nchw         bool
	gh, gw       int
}

// DecodeRaw turns the raw head outputs of a PicoDet (models-and-formats.md
// §B.4/§B.5) into candidate boxes in original-image pixels and per-class
// scores, ready for MultiClassNMS.
//
// outs are the 2·L head outputs: for each of the L levels a score tensor
// with C channels and a distribution tensor with 4·(RegMax+1) channels,
// either flattened [1, H·W, ch] or NCHW [1, ch, H, W]. Outputs are
// recognised by channel count (so their order does not matter) and levels
// by size, largest first. imShape is the model input size (h, w) —
// im_shape, 640×640 for PP-ShiTu — and scale is scale_factor (sy, sx).
//
// Per level and cell (row-major), centre = ((col+0.5)·s, (row+0.5)·s); each
// side's distance is the expectation of the softmax over its bins times s
// (bin order left, top, right, bottom); box = (cx−l, cy−t, cx+r, cy+b),
// clipped to [0, w]×[0, h], then divided by (sx, sy, sx, sy).
// The result has one row per kept point: boxes[M] and scores[C][M].
func DecodeRaw(outs []*tensor.Tensor, imShape, scale [2]float32, cfg DecodeConfig) ([][4]float32, [][]float32, error) {
	cfg = cfg.withDefaults()
	levels, nc, err := splitLevels(outs, imShape, cfg)
	if err != nil {
		return nil, nil, err
	}
	if !(scale[0] > 0 && scale[1] > 0) || math.IsInf(float64(scale[0]), 0) || math.IsInf(float64(scale[1]), 0) {
		return nil, nil, fmt.Errorf("%w: scale_factor %v must be positive and finite", ErrInput, scale)
	}
	bins := cfg.RegMax + 1
	var boxes [][4]float32
	scores := make([][]float32, nc)
	logit := make([]float32, bins)
	for li, lv := range levels {
		s := float32(cfg.Strides[li])
		n := lv.gh * lv.gw
		sigmoid := cfg.Scores == ScoresLogits || (cfg.Scores == ScoresAuto && lv.nchw)
		sc := lv.scores.Float32s()
		ds := lv.dist.Float32s()
		at := func(data []float32, ch, chans, p int) float32 {
			if lv.nchw {
				return data[ch*n+p]
			}
			return data[p*chans+ch]
		}
		// Per point: class scores and max score.
		pts := make([]int, n)
		best := make([]float32, n)
		cls := make([]float32, n*nc)
		for p := 0; p < n; p++ {
			pts[p] = p
			m := float32(math.Inf(-1))
			for c := 0; c < nc; c++ {
				v := at(sc, c, nc, p)
				if sigmoid {
					v = float32(1 / (1 + math.Exp(-float64(v))))
				}
				cls[p*nc+c] = v
				m = max(m, v)
			}
			best[p] = m
		}
		// §B.4: a level with more than nms_pre points keeps its top ones,
		// in score order (ties: lower index first).
		if cfg.PreNMSTopK > 0 && n > cfg.PreNMSTopK {
			sort.SliceStable(pts, func(a, b int) bool { return best[pts[a]] > best[pts[b]] })
			pts = pts[:cfg.PreNMSTopK]
		}
		for _, p := range pts {
			if cfg.SkipAtOrBelow != 0 && best[p] <= cfg.SkipAtOrBelow {
				continue
			}
			row, col := p/lv.gw, p%lv.gw
			cx := float32(float32(col)+0.5) * s
			cy := float32(float32(row)+0.5) * s
			var d [4]float32
			for side := 0; side < 4; side++ {
				for k := 0; k < bins; k++ {
					logit[k] = at(ds, side*bins+k, 4*bins, p)
				}
				d[side] = float32(dflExpectation(logit) * s)
			}
			b := [4]float32{cx - d[0], cy - d[1], cx + d[2], cy + d[3]}
			if !cfg.NoClip {
				b[0] = clamp(b[0], imShape[1])
				b[1] = clamp(b[1], imShape[0])
				b[2] = clamp(b[2], imShape[1])
				b[3] = clamp(b[3], imShape[0])
			}
			b[0] /= scale[1]
			b[1] /= scale[0]
			b[2] /= scale[1]
			b[3] /= scale[0]
			boxes = append(boxes, b)
			for c := 0; c < nc; c++ {
				scores[c] = append(scores[c], cls[p*nc+c])
			}
		}
	}
	return boxes, scores, nil
}

// dflExpectation is Σ k·softmax(x)_k (k = 0..len(x)-1) in float32, in the
// graph's order of operations: softmax with the max subtracted
// (p_k = e_k / Σe), then the matmul with the `project` buffer
// [0, 1, …, reg_max] accumulated in bin order.
func dflExpectation(x []float32) float32 {
	var e [16]float32
	ex := e[:0]
	if len(x) > len(e) {
		ex = make([]float32, 0, len(x))
	}
	m := x[0]
	for _, v := range x[1:] {
		m = max(m, v)
	}
	var sum float32
	for _, v := range x {
		t := float32(math.Exp(float64(v - m)))
		ex = append(ex, t)
		sum += t
	}
	var acc float32
	for k, t := range ex {
		acc += float32(float32(t/sum) * float32(k)) // conversions forbid FMA fusion
	}
	return acc
}

func clamp(v, hi float32) float32 {
	if v < 0 {
		return 0
	}
	if v > hi {
		return hi
	}
	return v
}

// splitLevels sorts the outputs into levels and checks their shapes.
func splitLevels(outs []*tensor.Tensor, imShape [2]float32, cfg DecodeConfig) ([]rawLevel, int, error) {
	L := len(cfg.Strides)
	if len(outs) != 2*L {
		return nil, 0, fmt.Errorf("%w: raw head form wants %d outputs (scores and distributions for %d levels), got %d", ErrOutput, 2*L, L, len(outs))
	}
	if !(imShape[0] > 0 && imShape[1] > 0) || imShape[0] > 1<<16 || imShape[1] > 1<<16 {
		return nil, 0, fmt.Errorf("%w: im_shape %v out of range", ErrInput, imShape)
	}
	regCh := 4 * (cfg.RegMax + 1)
	type out struct {
		t      *tensor.Tensor
		ch, hw int
		gh, gw int
		nchw   bool
		pos    int
	}
	var sc, rg, all []out
	for i, t := range outs {
		if t == nil || t.DType() != tensor.Float32 {
			return nil, 0, fmt.Errorf("%w: output %d is not a float32 tensor", ErrOutput, i)
		}
		s := t.Shape()
		o := out{t: t, pos: i}
		switch {
		case len(s) == 3 && s[0] == 1:
			o.hw, o.ch = s[1], s[2]
		case len(s) == 4 && s[0] == 1:
			o.ch, o.gh, o.gw, o.hw, o.nchw = s[1], s[2], s[3], s[2]*s[3], true
		default:
			return nil, 0, fmt.Errorf("%w: output %d has shape %v, want [1, H·W, ch] or [1, ch, H, W]", ErrOutput, i, s)
		}
		if o.ch == 0 || o.hw == 0 {
			return nil, 0, fmt.Errorf("%w: output %d has empty shape %v", ErrOutput, i, s)
		}
		all = append(all, o)
	}
	n32 := 0
	for _, o := range all {
		if o.ch == regCh {
			n32++
		}
	}
	for _, o := range all {
		// With C == 4·(RegMax+1) classes the channel counts cannot tell
		// the outputs apart: take the §B.5 order, all scores first.
		if o.ch == regCh && (n32 < 2*L || o.pos >= L) {
			rg = append(rg, o)
		} else {
			sc = append(sc, o)
		}
	}
	if len(sc) != L || len(rg) != L {
		return nil, 0, fmt.Errorf("%w: want %d score and %d distribution outputs (%d channels), got %d and %d", ErrOutput, L, L, regCh, len(sc), len(rg))
	}
	bySize := func(v []out) {
		sort.SliceStable(v, func(a, b int) bool { return v[a].hw > v[b].hw })
	}
	bySize(sc)
	bySize(rg)
	nc := sc[0].ch
	levels := make([]rawLevel, L)
	for li := range L {
		s := cfg.Strides[li]
		if s <= 0 {
			return nil, 0, fmt.Errorf("%w: stride %d", ErrInput, s)
		}
		gh := int(math.Ceil(float64(imShape[0]) / float64(s)))
		gw := int(math.Ceil(float64(imShape[1]) / float64(s)))
		a, b := sc[li], rg[li]
		if a.ch != nc {
			return nil, 0, fmt.Errorf("%w: score outputs disagree on the class count (%d vs %d)", ErrOutput, a.ch, nc)
		}
		if a.nchw != b.nchw || a.hw != b.hw {
			return nil, 0, fmt.Errorf("%w: level %d: scores %v and distributions %v do not match", ErrOutput, li, a.t.Shape(), b.t.Shape())
		}
		if a.nchw {
			if a.gh != gh || a.gw != gw || b.gh != gh || b.gw != gw {
				return nil, 0, fmt.Errorf("%w: level %d (stride %d) is %d×%d, want %d×%d for input %v×%v", ErrOutput, li, s, a.gh, a.gw, gh, gw, imShape[0], imShape[1])
			}
		} else if a.hw != gh*gw {
			return nil, 0, fmt.Errorf("%w: level %d (stride %d) has %d points, want %d×%d for input %v×%v", ErrOutput, li, s, a.hw, gh, gw, imShape[0], imShape[1])
		}
		levels[li] = rawLevel{scores: a.t, dist: b.t, nchw: a.nchw, gh: gh, gw: gw}
	}
	return levels, nc, nil
}
