package train

import (
	"math"
)

// CELoss is PaddleClas' CELoss (ppcls/loss/celoss.py) with label
// smoothing: the target is (1−ε)·onehot + ε/C and the loss is the batch
// mean of −Σ target·log_softmax(logits). Epsilon outside (0, 1) means no
// smoothing, as in PaddleClas.
type CELoss struct {
	Weight  float64
	Epsilon float64
}

// Forward returns the loss of logits [B, C] (row-major) against labels
// (class indices) and its gradient with respect to the logits.
func (l CELoss) Forward(logits []float64, labels []int, classes int) (float64, []float64) {
	b := len(labels)
	eps := l.Epsilon
	if eps <= 0 || eps >= 1 {
		eps = 0
	}
	grad := make([]float64, len(logits))
	var total float64
	for i := range b {
		row := logits[i*classes : (i+1)*classes]
		mx := math.Inf(-1)
		for _, v := range row {
			mx = max(mx, v)
		}
		var s float64
		for _, v := range row {
			s += math.Exp(v - mx)
		}
		lse := mx + math.Log(s)
		for c, v := range row {
			t := eps / float64(classes)
			if c == labels[i] {
				t += 1 - eps
			}
			total += -t * (v - lse)
			grad[i*classes+c] = (math.Exp(v-lse) - t) / float64(b)
		}
	}
	return total / float64(b), grad
}

// TripletAngularMarginLoss is PaddleClas' TripletAngularMarginLoss
// (ppcls/loss/tripletangularmarginloss.py): features are L2-normalised
// (NormalizeFeature), dist = F·Fᵀ is the cosine similarity, and for every
// anchor the hardest positive is the least similar sample of its label
// (itself included, so a label alone in the batch gives ap = 1) and the
// hardest negative the most similar sample of another label. The loss is
//
//	mean(max(0, an − ap + Margin))
//	+ AbsoluteWeight·(mean(max(AP − ap, 0)) + mean(an − AN if an > AN else 1))
//
// where the second part is there only with AddAbsolute. The "else 1" is
// PaddleClas' own definition (paddle.where(…, ones_like)); it is a constant
// with no gradient, kept so the loss values match.
//
// PaddleClas gathers the positives with masked_select + reshape(bs, −1),
// which needs the same number of positives per row (the PK sampler makes
// it so); this implementation takes the minimum and maximum per row, which
// is the same value whenever PaddleClas' form is defined. Ties get the
// gradient as Paddle's min/max kernels give it: every tied element gets
// the full upstream gradient.
type TripletAngularMarginLoss struct {
	Weight           float64
	Margin           float64
	NormalizeFeature bool
	AddAbsolute      bool
	AbsoluteWeight   float64
	AP, AN           float64
}

// Forward returns the loss of features [B, D] and its gradient.
func (l TripletAngularMarginLoss) Forward(feat []float64, labels []int, dim int) (float64, []float64) {
	b := len(labels)
	n := make([]float64, len(feat))
	norms := make([]float64, b)
	for i := range b {
		row := feat[i*dim : (i+1)*dim]
		s := 1.0
		if l.NormalizeFeature {
			var ss float64
			for _, v := range row {
				ss += v * v
			}
			s = math.Sqrt(ss)
		}
		norms[i] = s
		for k, v := range row {
			n[i*dim+k] = v / s
		}
	}
	dist := make([]float64, b*b)
	for i := range b {
		for j := range b {
			var s float64
			a, c := n[i*dim:(i+1)*dim], n[j*dim:(j+1)*dim]
			for k := range a {
				s += a[k] * c[k]
			}
			dist[i*b+j] = s
		}
	}
	ap := make([]float64, b)
	an := make([]float64, b)
	hasNeg := make([]bool, b)
	for i := range b {
		ap[i], an[i] = math.Inf(1), math.Inf(-1)
		for j := range b {
			d := dist[i*b+j]
			if labels[j] == labels[i] {
				ap[i] = min(ap[i], d)
			} else {
				an[i] = max(an[i], d)
				hasNeg[i] = true
			}
		}
	}
	fb := float64(b)
	gAP := make([]float64, b)
	gAN := make([]float64, b)
	var rank, absAP, absAN float64
	for i := range b {
		// A batch of one label has no negatives: PaddleClas' reshape fails
		// there; the anchor then contributes nothing (the sampler never
		// makes such batches).
		if !hasNeg[i] {
			continue
		}
		if h := an[i] - ap[i] + l.Margin; h > 0 {
			rank += h
			gAP[i] -= 1 / fb
			gAN[i] += 1 / fb
		}
		if l.AddAbsolute {
			if v := l.AP - ap[i]; v > 0 {
				absAP += v
				gAP[i] -= l.AbsoluteWeight / fb
			}
			if v := an[i] - l.AN; v > 0 {
				absAN += v
				gAN[i] += l.AbsoluteWeight / fb
			} else {
				absAN += 1
			}
		}
	}
	loss := rank / fb
	if l.AddAbsolute {
		loss += (absAN/fb + absAP/fb) * l.AbsoluteWeight
	}
	// dL/ddist, ties sharing as Paddle's reduce min/max gradients do.
	gd := make([]float64, b*b)
	for i := range b {
		if !hasNeg[i] {
			continue
		}
		for j := range b {
			d := dist[i*b+j]
			if labels[j] == labels[i] {
				if d == ap[i] {
					gd[i*b+j] += gAP[i]
				}
			} else if d == an[i] {
				gd[i*b+j] += gAN[i]
			}
		}
	}
	gn := make([]float64, len(n))
	for i := range b {
		for j := range b {
			g := gd[i*b+j]
			if g == 0 {
				continue
			}
			for k := range dim {
				gn[i*dim+k] += g * n[j*dim+k]
				gn[j*dim+k] += g * n[i*dim+k]
			}
		}
	}
	grad := gn
	if l.NormalizeFeature {
		grad = make([]float64, len(n))
		for i := range b {
			var dot float64
			for k := range dim {
				dot += n[i*dim+k] * gn[i*dim+k]
			}
			for k := range dim {
				grad[i*dim+k] = (gn[i*dim+k] - n[i*dim+k]*dot) / norms[i]
			}
		}
	}
	return loss, grad
}
