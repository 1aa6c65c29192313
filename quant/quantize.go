package quant

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sort"

	"github.com/shitu-go/shitu/infer"
	"github.com/shitu-go/shitu/onnx"
	"github.com/shitu-go/shitu/tensor"
)

// Feed is one set of model inputs (a batch of calibration images).
type Feed = map[string]*tensor.Tensor

// Quantize calibrates model on the feeds and returns its int8 twin (see
// the package comment for the steps).
func Quantize(ctx context.Context, rt Runtime, model []byte, feeds []Feed, opts Options) (*Result, error) {
	opts = opts.withDefaults()
	if err := opts.validate(); err != nil {
		return nil, err
	}
	if len(feeds) == 0 {
		return nil, fmt.Errorf("%w: no calibration inputs", ErrCalib)
	}
	opt, err := rt.Optimize(model, infer.OptBasic)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrModel, err)
	}
	base, err := onnx.Read(opt)
	if err != nil {
		return nil, fmt.Errorf("%w: optimised model: %w", ErrModel, err)
	}
	gi, err := analyze(base)
	if err != nil {
		return nil, err
	}
	for _, ex := range opts.Exclude {
		if !slices.ContainsFunc(gi.units, func(u unit) bool { return u.name == ex }) {
			return nil, fmt.Errorf("%w: --exclude %q is not a quantizable Conv (names of the optimised graph)", ErrModel, ex)
		}
	}
	q := &quantizer{ctx: ctx, rt: rt, opts: opts, base: base, gi: gi, feeds: feeds}
	opts.Progress("%d quantizable layers; reference float32 run on %d inputs", len(gi.units), len(feeds))
	if q.ref, err = q.run(model, feeds); err != nil {
		return nil, err
	}
	opts.Progress("calibrating %d activation tensors", len(gi.actTensors(nil)))
	hists, err := q.calibrate()
	if err != nil {
		return nil, err
	}
	var means map[string][]float64
	corrections := []bool{false}
	if !opts.NoBiasCorrection {
		means = map[string][]float64{}
		for t, h := range hists {
			means[t] = h.means()
		}
		corrections = []bool{true, false}
	}
	res := &Result{Methods: map[Method]Score{}}
	all := make([]bool, len(gi.units))
	for i, u := range gi.units {
		all[i] = !slices.Contains(opts.Exclude, u.name) && (opts.QuantizeOutputs || !gi.final[u.out])
	}
	best := math.Inf(-1)
	var qp map[string]qparams
	for _, m := range opts.Methods {
		p := map[string]qparams{}
		for t, h := range hists {
			lo, hi := gi.rangeFor(t, h, m, opts.Percentile)
			p[t] = uint8Params(lo, hi)
		}
		for _, bc := range corrections {
			gi.means = nil
			name := m
			if bc {
				gi.means, name = means, m+BiasCorrected
			}
			s, err := q.score(all, p, feeds)
			if err != nil {
				return nil, err
			}
			opts.Progress("range %s: %s", name, s)
			res.Methods[name] = s
			if s.Mean > best {
				best, res.Method, qp, res.BiasCorrection = s.Mean, name, p, bc
			}
		}
	}
	gi.means = nil
	if res.BiasCorrection {
		gi.means = means
	}
	enabled := slices.Clone(all)
	res.Layers = make([]Layer, len(gi.units))
	for i, u := range gi.units {
		res.Layers[i] = Layer{Name: u.name, Op: "Conv", Sensitivity: -1, Float: !all[i]}
		if u.relu {
			res.Layers[i].Op = "Conv+Relu"
		}
	}
	res.Score = res.Methods[res.Method]
	if opts.SensitivityInputs > 0 && res.Score.Mean < opts.Target {
		sub := feeds[:min(len(feeds), opts.SensitivityInputs)]
		var order []int
		for i := range gi.units {
			if !all[i] {
				continue
			}
			one := make([]bool, len(gi.units))
			one[i] = true
			s, err := q.score(one, qp, sub)
			if err != nil {
				return nil, err
			}
			res.Layers[i].Sensitivity = 1 - s.Mean
			order = append(order, i)
			if (i+1)%10 == 0 {
				opts.Progress("sensitivity: %d/%d layers", i+1, len(gi.units))
			}
		}
		sort.SliceStable(order, func(a, b int) bool { return res.Layers[order[a]].Sensitivity > res.Layers[order[b]].Sensitivity })
		maxFloat := int(opts.MaxFloat * float64(len(gi.units)))
		step := max(1, len(gi.units)/25)
		kept, bestKept, bestScore := 0, 0, res.Score
		for res.Score.Mean < opts.Target && kept < maxFloat && kept < len(order) {
			for j := 0; j < step && kept < maxFloat && kept < len(order); j++ {
				enabled[order[kept]] = false
				kept++
			}
			if res.Score, err = q.score(enabled, qp, feeds); err != nil {
				return nil, err
			}
			opts.Progress("%d layers float32: %s", kept, res.Score)
			if res.Score.Mean > bestScore.Mean {
				bestKept, bestScore = kept, res.Score
			}
		}
		// Out of layers to move before the target: the best prefix tried.
		if res.Score.Mean < opts.Target {
			res.Score = bestScore
			for j := bestKept; j < kept; j++ {
				enabled[order[j]] = true
			}
		}
		for i := range enabled {
			res.Layers[i].Float = !enabled[i]
		}
	}
	final, err := qdqModel(base, gi, enabled, qp)
	if err != nil {
		return nil, err
	}
	if res.Model, err = onnx.Marshal(final); err != nil {
		return nil, err
	}
	return res, nil
}

type quantizer struct {
	ctx   context.Context
	rt    Runtime
	opts  Options
	base  *onnx.ModelProto
	gi    *graphInfo
	feeds []Feed
	ref   [][]*tensor.Tensor
}

func (q *quantizer) open(model []byte) (infer.Session, error) {
	s, err := q.rt.Open(model, infer.Options{IntraOpThreads: q.opts.Threads})
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrModel, err)
	}
	return s, nil
}

// run returns the outputs of model on each feed.
func (q *quantizer) run(model []byte, feeds []Feed) ([][]*tensor.Tensor, error) {
	s, err := q.open(model)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	out := make([][]*tensor.Tensor, len(feeds))
	for i, f := range feeds {
		if out[i], err = s.Run(q.ctx, f); err != nil {
			return nil, fmt.Errorf("%w: input %d: %w", ErrCalib, i, err)
		}
	}
	return out, nil
}

// calibrate runs the feeds through the model with the activation tensors
// of every unit exposed and returns their histograms.
func (q *quantizer) calibrate() (map[string]*hist, error) {
	acts := q.gi.actTensors(nil)
	b, err := onnx.Marshal(observeModel(q.base, acts))
	if err != nil {
		return nil, err
	}
	s, err := q.open(b)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	idx := map[string]int{}
	for i, o := range s.Outputs() {
		idx[o.Name] = i
	}
	hists := map[string]*hist{}
	for _, t := range acts {
		hists[t] = newHist()
	}
	for fi, f := range q.feeds {
		outs, err := s.Run(q.ctx, f)
		if err != nil {
			return nil, fmt.Errorf("%w: input %d: %w", ErrCalib, fi, err)
		}
		for _, t := range acts {
			if q.gi.inputs[t] {
				if in := f[t]; in != nil && in.DType() == tensor.Float32 {
					hists[t].add(in.Float32s())
					hists[t].addChannels(in.Float32s(), in.Shape())
				}
				continue
			}
			o := outs[idx[t]]
			if o.DType() != tensor.Float32 {
				return nil, fmt.Errorf("%w: tensor %q is %v, not float32", ErrModel, t, o.DType())
			}
			hists[t].add(o.Float32s())
			hists[t].addChannels(o.Float32s(), o.Shape())
		}
	}
	return hists, nil
}

// score builds the model with the enabled units quantized and compares it
// with float32 on feeds (a prefix of q.feeds).
func (q *quantizer) score(enabled []bool, qp map[string]qparams, feeds []Feed) (Score, error) {
	m, err := qdqModel(q.base, q.gi, enabled, qp)
	if err != nil {
		return Score{}, err
	}
	b, err := onnx.Marshal(m)
	if err != nil {
		return Score{}, err
	}
	got, err := q.run(b, feeds)
	if err != nil {
		return Score{}, err
	}
	return Compare(q.ref[:len(feeds)], got), nil
}

// Compare scores outputs b against reference outputs a (per feed, per
// output): the cosine similarity of every row of the first dimension.
func Compare(a, b [][]*tensor.Tensor) Score {
	var sum float64
	var n int
	worst := 1.0
	for i := range a {
		for j := range a[i] {
			if j >= len(b[i]) || a[i][j].DType() != tensor.Float32 || b[i][j].DType() != tensor.Float32 {
				continue
			}
			x, y := a[i][j].Float32s(), b[i][j].Float32s()
			rows := 1
			if s := a[i][j].Shape(); len(s) > 1 && s[0] > 0 {
				rows = s[0]
			}
			if len(x) != len(y) || len(x)%rows != 0 {
				worst, n = 0, n+1
				continue
			}
			per := len(x) / rows
			for r := 0; r < rows; r++ {
				c := Cosine(x[r*per:(r+1)*per], y[r*per:(r+1)*per])
				sum += c
				n++
				worst = math.Min(worst, c)
			}
		}
	}
	if n == 0 {
		return Score{}
	}
	return Score{Mean: sum / float64(n), Worst: worst}
}

// Cosine is the cosine similarity of two vectors (1 when both are zero).
func Cosine(x, y []float32) float64 {
	var xy, xx, yy float64
	for i := range x {
		a, b := float64(x[i]), float64(y[i])
		xy += a * b
		xx += a * a
		yy += b * b
	}
	if xx == 0 && yy == 0 {
		return 1
	}
	if xx == 0 || yy == 0 {
		return 0
	}
	return xy / math.Sqrt(xx*yy)
}
