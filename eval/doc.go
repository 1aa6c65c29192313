// Package eval measures a shitu setup the way PaddleClas does and helps
// choose where it should answer "unknown".
//
// It has four parts, all working on plain data so that any feature
// extractor or recognition system can feed them:
//
//   - Retrieval: recall@k (CMC), mAP and precision@k of a feature
//     extractor over query and gallery lists, exactly as PaddleClas'
//     retrieval evaluation computes them (ppshitu-pipeline.md §16.1),
//     including its block-wise weighting, plus the exact global figures.
//   - Pipeline: recall_i of eval_shitu_pipeline (§16.2) over per-query
//     box predictions, and the same figures under shitu's real acceptance
//     rules (score thresholds, recognition NMS), so offline and deployed
//     behaviour can be compared.
//   - Calibrate: global and per-label acceptance thresholds for a target
//     precision, from labelled (score, predicted label) samples or from
//     leave-one-out over a gallery, with precision/recall/reject curves,
//     the most confused label pairs and under-covered labels.
//   - Reports: a text summary, JSON, and PNG plots.
//
// ExtractFeatures (any gallery.Extractor), SystemRecognizer, GalleryItems
// and SaveThresholds connect these to the feature extractor, the
// recognition system and the gallery;
// long-running steps take a progress callback func(done, total int) that
// the CLI turns into a progress bar.
package eval

import "errors"

// Errors returned by this package; they are wrapped with %w and context.
var (
	// ErrListFormat reports a malformed line in a query or gallery list.
	ErrListFormat = errors.New("eval: malformed list line")
	// ErrEmpty reports an empty query set, gallery or sample set.
	ErrEmpty = errors.New("eval: nothing to evaluate")
	// ErrDims reports feature vectors of different lengths.
	ErrDims = errors.New("eval: feature dimension mismatch")
	// ErrMismatch reports parallel slices of different lengths.
	ErrMismatch = errors.New("eval: length mismatch")
	// ErrBadK reports a k below 1.
	ErrBadK = errors.New("eval: k must be at least 1")
	// ErrBadTarget reports a target precision outside (0, 1].
	ErrBadTarget = errors.New("eval: target precision must be in (0, 1]")
)
