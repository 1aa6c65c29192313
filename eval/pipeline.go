package eval

import (
	"context"
	"fmt"
	"io"
	"sort"
)

// Prediction is one box's answer.
type Prediction struct {
	Label string  `json:"label"`
	Score float32 `json:"score"`
	// Box is [xmin, ymin, xmax, ymax] in pixels (informational).
	Box [4]float32 `json:"box"`
	// Unknown marks an object shitu answered "unknown" (score below its
	// label's threshold); Label is then its nearest candidate's label.
	Unknown bool `json:"unknown,omitempty"`
}

// PipelineQuery is the outcome of the recognition system on one query.
type PipelineQuery struct {
	Path  string `json:"path"`
	Label string `json:"label"` // ground truth
	// Unknown marks a query whose label is not in the gallery: the right
	// deployed answer is no accepted object.
	Unknown bool `json:"unknown,omitempty"`
	// Raw holds every box (detections and the whole image) with its top-1
	// label and score, with NO score threshold and NO recognition NMS, as
	// eval_shitu_pipeline.py sees them (ppshitu-pipeline.md §16.2 step 2).
	Raw []Prediction `json:"raw"`
	// Deployed holds what shitu returns (thresholds, recognition NMS).
	Deployed []Prediction `json:"deployed"`
}

// PipelineResult holds the pipeline metrics.
type PipelineResult struct {
	// RecallI is eval_shitu_pipeline's recall_i, i = 1..number of raw
	// predictions of the FIRST query (§16.2 step 5): the fraction of all
	// queries whose label is among their first i raw labels by score.
	RecallI []AtK `json:"recall_i"`
	// DeployedRecallI is the same over accepted deployed objects.
	DeployedRecallI []AtK `json:"deployed_recall_i"`
	// Top1 is the fraction of queries with a label in the gallery whose
	// best accepted deployed object has the right label.
	Top1 Metric `json:"deployed_top1"`
	// Wrong is the fraction of such queries whose best accepted object has
	// a wrong label; NoAnswer the fraction with no accepted object.
	Wrong    Metric `json:"deployed_wrong"`
	NoAnswer Metric `json:"deployed_no_answer"`
	// UnknownRejected is the fraction of out-of-gallery queries with no
	// accepted object (null when there are none).
	UnknownRejected Metric `json:"unknown_rejected"`
	// ObjectsPerImage is the mean number of accepted deployed objects.
	ObjectsPerImage Metric `json:"objects_per_image"`
	Queries         int    `json:"queries"`
	UnknownQueries  int    `json:"unknown_queries"`
	// PerLabel is deployed top-1 per ground-truth label.
	PerLabel []LabelRecall `json:"per_label"`
}

// byScore returns the labels sorted by descending score, keeping
// duplicates; equal scores keep their input order.
func byScore(ps []Prediction, acceptedOnly bool) []string {
	idx := make([]int, 0, len(ps))
	for i, p := range ps {
		if acceptedOnly && p.Unknown {
			continue
		}
		idx = append(idx, i)
	}
	sort.SliceStable(idx, func(a, b int) bool { return ps[idx[a]].Score > ps[idx[b]].Score })
	out := make([]string, len(idx))
	for i, j := range idx {
		out[i] = ps[j].Label
	}
	return out
}

// Pipeline aggregates per-query outcomes into PaddleClas' pipeline recall
// and the deployed figures.
func Pipeline(qs []PipelineQuery) (*PipelineResult, error) {
	if len(qs) == 0 {
		return nil, fmt.Errorf("%w: no pipeline queries", ErrEmpty)
	}
	n := float64(len(qs))
	res := &PipelineResult{Queries: len(qs)}
	raw := make([][]string, len(qs))
	dep := make([][]string, len(qs))
	maxDep := 0
	for i, q := range qs {
		raw[i] = byScore(q.Raw, false)
		dep[i] = byScore(q.Deployed, true)
		maxDep = max(maxDep, len(dep[i]))
	}
	recallI := func(lists [][]string, upto int) []AtK {
		var out []AtK
		for k := 1; k <= upto; k++ {
			hit := 0
			for j, q := range qs {
				l := lists[j]
				for _, p := range l[:min(k, len(l))] {
					if p == q.Label {
						hit++
						break
					}
				}
			}
			out = append(out, AtK{k, Metric(float64(hit) / n)})
		}
		return out
	}
	res.RecallI = recallI(raw, len(raw[0]))
	res.DeployedRecallI = recallI(dep, max(len(raw[0]), 1))

	var known, top1, wrong, none, unkRej, objects int
	per := map[string]*LabelRecall{}
	for j, q := range qs {
		objects += len(dep[j])
		if q.Unknown {
			res.UnknownQueries++
			if len(dep[j]) == 0 {
				unkRej++
			}
			continue
		}
		known++
		lr := per[q.Label]
		if lr == nil {
			lr = &LabelRecall{Label: q.Label}
			per[q.Label] = lr
		}
		lr.Queries++
		switch {
		case len(dep[j]) == 0:
			none++
		case dep[j][0] == q.Label:
			top1++
			lr.Hits++
		default:
			wrong++
		}
	}
	res.Top1 = Metric(div(float64(top1), float64(known)))
	res.Wrong = Metric(div(float64(wrong), float64(known)))
	res.NoAnswer = Metric(div(float64(none), float64(known)))
	res.UnknownRejected = Metric(div(float64(unkRej), float64(res.UnknownQueries)))
	res.ObjectsPerImage = Metric(float64(objects) / n)
	for _, lr := range per {
		res.PerLabel = append(res.PerLabel, *lr)
	}
	sort.Slice(res.PerLabel, func(a, b int) bool { return res.PerLabel[a].Label < res.PerLabel[b].Label })
	return res, nil
}

// WritePaddleClasPipeline writes recall_i as eval_shitu_pipeline.py
// appends it to eval_resutls.txt (§16.2 step 5, misspellings kept): a line
// "Dataset name: <name>" then "recal_<i>: <x:.4f>" per i.
func WritePaddleClasPipeline(w io.Writer, name string, r *PipelineResult) error {
	if _, err := fmt.Fprintf(w, "Dataset name: %s\n", name); err != nil {
		return err
	}
	for _, m := range r.RecallI {
		if _, err := fmt.Fprintf(w, "recal_%d: %.4f\n", m.K, float64(m.Value)); err != nil {
			return err
		}
	}
	return nil
}

// Recognizer runs the recognition system on one image and returns its raw
// per-box predictions (no threshold, no NMS) and its deployed objects.
type Recognizer func(ctx context.Context, path string) (raw, deployed []Prediction, err error)

// StreamRecognizer runs the recognition system over paths in order and
// calls each once per image, in order, with that image's predictions or
// error; a non-nil error from each stops it and is returned.
// SystemRecognizer's loads the next image while the current one is in
// the models.
type StreamRecognizer func(ctx context.Context, paths []string, each func(i int, raw, deployed []Prediction, err error) error) error

// PerImage makes a StreamRecognizer of a Recognizer: one image after the
// other, nothing ahead.
func PerImage(rec Recognizer) StreamRecognizer {
	return func(ctx context.Context, paths []string, each func(int, []Prediction, []Prediction, error) error) error {
		for i, p := range paths {
			if err := ctx.Err(); err != nil {
				return err
			}
			raw, dep, err := rec(ctx, p)
			if err := each(i, raw, dep, err); err != nil {
				return err
			}
		}
		return nil
	}
}

// RunPipeline runs rec on every query (paths resolved against root) and
// collects the outcomes for Pipeline. A query whose label is not in
// galleryLabels (when non-nil) is marked Unknown. progress, if set, is
// called after each query. The first image that fails stops the run.
func RunPipeline(ctx context.Context, rec StreamRecognizer, queries []ListEntry, root string,
	galleryLabels map[string]bool, progress func(done, total int)) ([]PipelineQuery, error) {
	if len(queries) == 0 {
		return nil, fmt.Errorf("%w: no pipeline queries", ErrEmpty)
	}
	paths := ResolvePaths(root, queries)
	out := make([]PipelineQuery, len(queries))
	done := 0
	err := rec(ctx, paths, func(i int, raw, dep []Prediction, err error) error {
		e := queries[i]
		if err != nil {
			return fmt.Errorf("eval: %s (line %d): %w", paths[i], e.Line, err)
		}
		out[i] = PipelineQuery{Path: paths[i], Label: e.Label, Raw: raw, Deployed: dep,
			Unknown: galleryLabels != nil && !galleryLabels[e.Label]}
		done++
		if progress != nil {
			progress(i+1, len(queries))
		}
		return nil
	})
	if ctx.Err() != nil {
		return nil, fmt.Errorf("eval: %w", ctx.Err())
	}
	if err != nil {
		return nil, err
	}
	if done < len(queries) {
		return nil, fmt.Errorf("%w: recogniser answered %d of %d queries", ErrMismatch, done, len(queries))
	}
	return out, nil
}

// PipelineSamples turns pipeline outcomes into calibration samples: per
// query, the raw prediction with the highest score (ties: the first). So
// thresholds are fitted on the scores the deployed system itself produces.
// Queries without any raw prediction are skipped.
func PipelineSamples(qs []PipelineQuery) []Sample {
	out := make([]Sample, 0, len(qs))
	for _, q := range qs {
		best := -1
		for i, p := range q.Raw {
			if best < 0 || p.Score > q.Raw[best].Score {
				best = i
			}
		}
		if best < 0 {
			continue
		}
		p := q.Raw[best]
		out = append(out, Sample{Label: q.Label, Predicted: p.Label, Score: p.Score, Unknown: q.Unknown})
	}
	return out
}
