package recognize

import (
	"context"

	"github.com/shitu-go/shitu/gallery"
	"github.com/shitu-go/shitu/imaging"
)

// FromGallery adapts a gallery for a System. Thresholds stored in the
// gallery (by calibration) apply per label.
func FromGallery(g *gallery.Gallery) Gallery { return galleryAdapter{g} }

type galleryAdapter struct{ g *gallery.Gallery }

// View reads the stored thresholds once per view (one small bbolt read).
func (a galleryAdapter) View() GalleryView {
	v := galleryView{v: a.g.View(), binary: a.g.Binary()}
	if global, per, ok, err := a.g.Thresholds(); err == nil && ok {
		v.global, v.hasGlobal, v.per = global, true, per
	}
	return v
}

type galleryView struct {
	v         gallery.View
	binary    bool
	global    float32
	hasGlobal bool
	per       map[string]float32
}

func (v galleryView) Version() uint64 { return v.v.Version() }
func (v galleryView) Binary() bool    { return v.binary }
func (v galleryView) Current() bool   { return v.v.Current() }

func (v galleryView) Search(vec []float32, k int, f *Filter) ([]Candidate, error) {
	var q gallery.Query
	if f != nil {
		q = gallery.Query{Labels: f.Labels, Meta: f.Metadata}
	}
	hits, err := v.v.Search(vec, k, q)
	if err != nil {
		return nil, err
	}
	out := make([]Candidate, len(hits))
	for i, h := range hits {
		out[i] = Candidate{ID: h.ID, Label: h.Label, Score: h.Score}
	}
	return out, nil
}

// Threshold is the label's calibrated threshold, else the calibrated
// global one, else none (the system's option applies).
func (v galleryView) Threshold(label string) (float32, bool) {
	if t, ok := v.per[label]; ok {
		return t, true
	}
	return v.global, v.hasGlobal
}

// Embed returns the features of whole images, as a gallery build makes
// them (ppshitu-pipeline.md §11.2), for adding items.
func (s *System) Embed(ctx context.Context, imgs []*imaging.Image) ([][]float32, error) {
	return s.emb.Extract(ctx, imgs)
}

// Extractor is the system's feature extractor.
func (s *System) Extractor() gallery.Extractor { return s.emb }

// WithGallery returns a system sharing s's detector and extractor but
// searching another gallery.
func (s *System) WithGallery(g Gallery) *System {
	c := *s
	c.gal = g
	return &c
}
