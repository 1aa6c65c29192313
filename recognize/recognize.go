// Package recognize is the PP-ShiTuV2 system: mainbody detection, the
// whole-image box, crops, batched feature extraction, gallery search,
// acceptance and recognition-level NMS (ppshitu-pipeline.md §5–§8, §10).
package recognize

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/shitu-go/shitu/detect"
	"github.com/shitu-go/shitu/imaging"
)

// WholeImage says when the whole-image box joins the detections.
type WholeImage int

const (
	// WholeAlways appends the whole image after the detections, as
	// PaddleClas predict_system does (§5.1). The default.
	WholeAlways WholeImage = iota
	// WholeFallback uses the whole image only when nothing is detected, as
	// PaddleX does (§17).
	WholeFallback
	// WholeNever never adds the whole image.
	WholeNever
)

// ParseWholeImage maps "always", "fallback" and "never" to a mode.
func ParseWholeImage(s string) (WholeImage, error) {
	switch s {
	case "", "always":
		return WholeAlways, nil
	case "fallback":
		return WholeFallback, nil
	case "never":
		return WholeNever, nil
	}
	return 0, fmt.Errorf("%w: whole-image mode %q (want always, fallback or never)", ErrOptions, s)
}

func (w WholeImage) String() string {
	return [...]string{"always", "fallback", "never"}[w]
}

// Errors.
var (
	ErrOptions = errors.New("recognize: bad options")
	ErrImage   = errors.New("recognize: bad image")
)

// Options are the pipeline's knobs; the zero value means PaddleClas'
// inference_general.yaml defaults.
type Options struct {
	// MaxDetResults is how many detections are kept, best first (default 5;
	// negative keeps none, as max_det_results: 0 does in PaddleClas).
	MaxDetResults int
	// DetThreshold drops detections scoring below it, after the top
	// MaxDetResults are taken (default 0.2; §10 step 3).
	DetThreshold float64
	// WholeImage is the whole-image box mode (default WholeAlways).
	WholeImage WholeImage
	// TopK is how many gallery candidates each box gets (default 5, return_k).
	TopK int
	// ScoreThreshold accepts a float gallery's top hit when score ≥ it
	// (default 0.5, score_thres). Per-label thresholds stored in the
	// gallery take precedence for their labels.
	ScoreThreshold float32
	// HammingRadius accepts a binary gallery's top hit when distance ≤ it
	// (default 64, hamming_radius).
	HammingRadius float32
	// NMSThreshold is the recognition NMS IoU threshold; boxes with IoU ≤
	// it are kept (default 0.05, rec_nms_thresold).
	NMSThreshold float32
	// NoDetector skips detection: only the whole image is recognised.
	NoDetector bool
	// Filter restricts the gallery search (nil: every item).
	Filter *Filter
	// IgnoreStoredThresholds makes ScoreThreshold/HammingRadius apply to
	// every label even when the gallery stores calibrated thresholds (a
	// service request that names its own threshold sets it).
	IgnoreStoredThresholds bool
	// KeepUnknown keeps boxes whose top hit is not accepted, with an empty
	// Label and their candidates, instead of dropping them as PaddleClas
	// does. The service and JSON output set it; --format paddleclas does not.
	KeepUnknown bool
}

// Filter restricts a search to some labels and/or metadata values.
type Filter struct {
	Labels   []string
	Metadata map[string]string
}

func (o Options) withDefaults() Options {
	if o.MaxDetResults == 0 {
		o.MaxDetResults = 5
	}
	if o.DetThreshold == 0 {
		o.DetThreshold = 0.2
	}
	if o.TopK == 0 {
		o.TopK = 5
	}
	if o.ScoreThreshold == 0 {
		o.ScoreThreshold = 0.5
	}
	if o.HammingRadius == 0 {
		o.HammingRadius = 64
	}
	if o.NMSThreshold == 0 {
		o.NMSThreshold = 0.05
	}
	return o
}

// Candidate is one gallery hit.
type Candidate struct {
	ID    int64
	Label string
	Score float32
}

// Object is one recognised box. Its JSON form (predict, the service) is
// api.Object, made by shitu.Response.
type Object struct {
	// Box is [xmin, ymin, xmax, ymax], the detection truncated toward zero
	// (§5.2), as PaddleClas reports it.
	Box [4]int
	// DetScore is the detector's score (1 for the whole-image box).
	DetScore float32
	// WholeImage marks the whole-image box.
	WholeImage bool
	// Label is the accepted label, "" when unknown.
	Label string
	// Score is the top-1 score: similarity, or Hamming distance for binary galleries.
	Score float32
	// Threshold is the acceptance threshold that applied to this box.
	Threshold float32
	// Candidates are the top-k gallery hits, best first.
	Candidates []Candidate
}

// Known reports whether the box got a label.
func (o Object) Known() bool { return o.Label != "" }

// Timings are the stage durations of one Recognize call.
type Timings struct {
	DetPreprocess time.Duration // resize, normalise (a *detect.Detector only)
	Detect        time.Duration // the detector run, decode and NMS
	Crop          time.Duration
	Rec           time.Duration // preprocessing of the crops and the batched feature run
	Search        time.Duration
	NMS           time.Duration
	Total         time.Duration
}

// Result is the answer for one image.
type Result struct {
	Objects []Object
	// Crops is how many boxes (detections plus the whole image) were embedded.
	Crops int
	// GalleryVersion is the gallery version the search ran against.
	GalleryVersion uint64
	Timings        Timings
}

// Detector finds the main objects of an image, in original-image pixels,
// after the detector's own NMS (any order; Recognize sorts).
type Detector interface {
	Detect(ctx context.Context, img *imaging.Image) ([]detect.Box, error)
}

// Gallery gives consistent read views of a labelled gallery.
type Gallery interface {
	View() GalleryView
}

// GalleryView is an immutable snapshot: every box of one image is searched
// against the same view.
type GalleryView interface {
	Version() uint64
	// Binary reports a Hamming gallery (scores are distances, lower is better).
	Binary() bool
	// Search returns up to k hits, best first. Padding slots (id -1) are
	// left out.
	Search(vec []float32, k int, f *Filter) ([]Candidate, error)
	// Threshold is the stored acceptance threshold of a label, if any.
	Threshold(label string) (float32, bool)
	// Current reports whether the view is still the gallery's latest; when
	// it turns false during a search, the search may have missed items of
	// the view's version and is repeated on a fresh view.
	Current() bool
}
