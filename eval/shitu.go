package eval

import (
	"context"
	"fmt"
	"math"

	"github.com/shitu-go/shitu/gallery"
	"github.com/shitu-go/shitu/imaging"
	"github.com/shitu-go/shitu/recognize"
)

// GalleryItems lists every item of a float gallery with its vector, for
// LeaveOneOut, and the number of images per label.
func GalleryItems(g *gallery.Gallery) ([]Item, map[string]int, error) {
	if g.Binary() {
		return nil, nil, fmt.Errorf("%w: leave-one-out needs a float gallery, this one is binary", ErrMismatch)
	}
	its, _, err := g.List(gallery.ListOptions{Limit: -1, Vectors: true})
	if err != nil {
		return nil, nil, fmt.Errorf("eval: listing gallery: %w", err)
	}
	out := make([]Item, len(its))
	counts := map[string]int{}
	for i, it := range its {
		out[i] = Item{ID: it.ID, Label: it.Label, Vec: it.Vector}
		counts[it.Label]++
	}
	return out, counts, nil
}

// SaveThresholds stores calibrated thresholds in the gallery, where
// recognize and the service read them: a result below its label's
// threshold then answers "unknown" with its candidates still listed.
func SaveThresholds(g *gallery.Gallery, t Thresholds) error {
	if math.IsNaN(float64(t.Global)) {
		return fmt.Errorf("%w: NaN global threshold", ErrMismatch)
	}
	for l, v := range t.PerLabel {
		if math.IsNaN(float64(v)) {
			return fmt.Errorf("%w: NaN threshold for label %q", ErrMismatch, l)
		}
	}
	if err := g.SetThresholds(t.Global, t.PerLabel); err != nil {
		return fmt.Errorf("eval: saving thresholds: %w", err)
	}
	return nil
}

// SystemRecognizer adapts a recognition system to StreamRecognizer. Each
// image is decoded, detected, embedded and searched once (recognize's
// Stream, which decodes and preprocesses the next image while the current
// one is in the models), then decided twice:
//   - Raw, as eval_shitu_pipeline.py does (ppshitu-pipeline.md §16.2):
//     every box (detections and whole image) with its top-1 label and
//     score, no score threshold, no stored thresholds, no recognition NMS
//     (NMS IoU threshold 1 keeps every box);
//   - Deployed, with opts as given (stored thresholds, NMS), keeping
//     rejected boxes so they show up as Unknown predictions.
//
// For binary galleries scores are Hamming distances and are sorted
// descending like any score, as PaddleClas does.
func SystemRecognizer(sys *recognize.System, opts recognize.Options, dec imaging.DecodeOptions) StreamRecognizer {
	raw := opts
	raw.ScoreThreshold = -math.MaxFloat32
	raw.HammingRadius = math.MaxFloat32
	raw.IgnoreStoredThresholds = true
	raw.NMSThreshold = 1
	raw.KeepUnknown = true
	dep := opts
	dep.KeepUnknown = true
	return func(ctx context.Context, paths []string, each func(int, []Prediction, []Prediction, error) error) error {
		load := func(_ context.Context, i int) (*imaging.Image, error) {
			return imaging.DecodeFile(paths[i], dec)
		}
		return sys.Stream(ctx, len(paths), opts, load, func(f recognize.Frame) error {
			if f.Err != nil {
				return each(f.Index, nil, nil, f.Err)
			}
			r, err := f.Searched.Decide(raw)
			if err != nil {
				return each(f.Index, nil, nil, err)
			}
			d, err := f.Searched.Decide(dep)
			if err != nil {
				return each(f.Index, nil, nil, err)
			}
			return each(f.Index, predictions(r.Objects), predictions(d.Objects), nil)
		})
	}
}

func predictions(objs []recognize.Object) []Prediction {
	out := make([]Prediction, 0, len(objs))
	for _, o := range objs {
		p := Prediction{Label: o.Label, Score: o.Score,
			Box: [4]float32{float32(o.Box[0]), float32(o.Box[1]), float32(o.Box[2]), float32(o.Box[3])}}
		if !o.Known() {
			p.Unknown = true
			if len(o.Candidates) == 0 {
				continue
			}
			p.Label, p.Score = o.Candidates[0].Label, o.Candidates[0].Score
		}
		out = append(out, p)
	}
	return out
}
