package train

import (
	"math"
	"math/rand/v2"
	"slices"
)

// pkSampler is PaddleClas' PKSampler (ppcls/data/dataloader/pk_sampler.py):
// every batch draws P = batch/K labels without replacement (uniformly with
// id_avg_prob, in proportion to their sample counts with sample_avg_prob),
// then K samples of each label — without replacement when the label has K
// or more, with replacement otherwise. An epoch has ceil(N/batch) batches
// (floor with drop_last), N the number of samples.
type pkSampler struct {
	byLabel  [][]int // sample indices per label
	probs    []float64
	p, k     int
	nBatches int
}

func newPKSampler(labels []int, classes, batch, k int, method string, dropLast bool) *pkSampler {
	s := &pkSampler{byLabel: make([][]int, classes), k: k}
	for i, l := range labels {
		s.byLabel[l] = append(s.byLabel[l], i)
	}
	s.p = min(batch/k, classes)
	s.probs = make([]float64, classes)
	for c := range s.probs {
		if method == "sample_avg_prob" {
			s.probs[c] = float64(len(s.byLabel[c])) / float64(len(labels))
		} else {
			s.probs[c] = 1 / float64(classes)
		}
	}
	if dropLast {
		s.nBatches = len(labels) / batch
	} else {
		s.nBatches = (len(labels) + batch - 1) / batch
	}
	s.nBatches = max(s.nBatches, 1)
	return s
}

// epoch draws the batches of one epoch.
func (s *pkSampler) epoch(r *rand.Rand) [][]int {
	out := make([][]int, 0, s.nBatches)
	for range s.nBatches {
		var batch []int
		for _, c := range s.chooseLabels(r) {
			idx := s.byLabel[c]
			if s.k <= len(idx) {
				perm := r.Perm(len(idx))
				for _, j := range perm[:s.k] {
					batch = append(batch, idx[j])
				}
			} else {
				for range s.k {
					batch = append(batch, idx[r.IntN(len(idx))])
				}
			}
		}
		out = append(out, batch)
	}
	return out
}

// chooseLabels draws P distinct labels with the sampler's probabilities
// (numpy's choice without replacement: successive draws renormalised
// over the labels left).
func (s *pkSampler) chooseLabels(r *rand.Rand) []int {
	left := make([]int, len(s.probs))
	for i := range left {
		left[i] = i
	}
	var out []int
	for range s.p {
		var tot float64
		for _, c := range left {
			tot += s.probs[c]
		}
		u := r.Float64() * tot
		pick := len(left) - 1
		for i, c := range left {
			u -= s.probs[c]
			if u < 0 {
				pick = i
				break
			}
		}
		out = append(out, left[pick])
		left = slices.Delete(left, pick, pick+1)
	}
	return out
}

// lrAt is PaddleClas' Cosine learning rate with LinearWarmup, stepped per
// iteration (by_epoch false, ppcls/optimizer/learning_rate.py): linear from
// warmup_start_lr to learning_rate over warmup_epoch·steps iterations, then
// eta_min + (lr − eta_min)·(1 + cos(π·t/T))/2 with T = (epochs −
// warmup_epoch)·steps. warmup_epoch is capped at epochs, as PaddleClas does.
func (rc *Recipe) lrAt(it, stepsPerEpoch int) float64 {
	we := min(rc.WarmupEpochs, float64(rc.Epochs))
	ws := int(math.Round(we * float64(stepsPerEpoch)))
	if it < ws {
		return rc.WarmupStart + (rc.LR-rc.WarmupStart)*float64(it)/float64(ws)
	}
	tmax := (float64(rc.Epochs) - we) * float64(stepsPerEpoch)
	if tmax <= 0 {
		return rc.LR
	}
	t := float64(it - ws)
	return rc.EtaMin + (rc.LR-rc.EtaMin)*(1+math.Cos(math.Pi*t/tmax))/2
}
