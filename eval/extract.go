package eval

import (
	"context"
	"fmt"

	"github.com/shitu-go/shitu/gallery"
)

// ExtractFeatures embeds the images at paths with ext (decoded and
// preprocessed by its own pipelined file path when it has one, see
// gallery.ExtractFiles: the next images are decoded while the model runs,
// across the whole list), calling progress (if set) every batch images
// (default 32) and at the end. An unreadable image stops the run with its
// error, as PaddleClas stops.
func ExtractFeatures(ctx context.Context, ext gallery.Extractor, paths []string, batch int, progress func(done, total int)) ([][]float32, error) {
	if batch <= 0 {
		batch = 32
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("eval: %w", err)
	}
	out := make([][]float32, len(paths))
	got := 0
	err := gallery.ExtractFiles(ctx, ext, paths, func(k int, v []float32, err error) error {
		if err != nil {
			return fmt.Errorf("%s: %w", paths[k], err)
		}
		if v != nil {
			got++
		}
		out[k] = v
		if progress != nil && ((k+1)%batch == 0 || k+1 == len(paths)) {
			progress(k+1, len(paths))
		}
		return nil
	})
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("eval: %w", ctx.Err())
		}
		return nil, fmt.Errorf("eval: features: %w", err)
	}
	if got != len(paths) {
		return nil, fmt.Errorf("%w: extractor returned %d features for %d images", ErrMismatch, got, len(paths))
	}
	return out, nil
}

// ListEval describes a retrieval evaluation from list files.
type ListEval struct {
	Query     []ListEntry
	QueryRoot string
	// Gallery is nil when the query list is also the gallery (PaddleClas'
	// single Eval loader; give it a 3rd column to exclude self-matches).
	Gallery     []ListEntry
	GalleryRoot string
	// Batch is how many images go between Progress calls (default 32);
	// the extractor's own batch size applies to its model runs.
	Batch int
	// Progress, if set, is called as features are extracted, with the
	// count over query and gallery images together.
	Progress func(done, total int)
	Options  RetrievalOptions
}

// EvaluateLists extracts features for the lists and runs Retrieval.
func EvaluateLists(ctx context.Context, ext gallery.Extractor, le ListEval) (*RetrievalResult, error) {
	if len(le.Query) == 0 {
		return nil, fmt.Errorf("%w: query list is empty", ErrEmpty)
	}
	total := len(le.Query) + len(le.Gallery)
	prog := func(off int) func(int, int) {
		if le.Progress == nil {
			return nil
		}
		return func(done, _ int) { le.Progress(off+done, total) }
	}
	qv, err := ExtractFeatures(ctx, ext, ResolvePaths(le.QueryRoot, le.Query), le.Batch, prog(0))
	if err != nil {
		return nil, err
	}
	q, err := SetFromEntries(le.Query, qv)
	if err != nil {
		return nil, err
	}
	g := q
	if le.Gallery != nil {
		gv, err := ExtractFeatures(ctx, ext, ResolvePaths(le.GalleryRoot, le.Gallery), le.Batch, prog(len(le.Query)))
		if err != nil {
			return nil, err
		}
		if g, err = SetFromEntries(le.Gallery, gv); err != nil {
			return nil, err
		}
	}
	return Retrieval(q, g, le.Options)
}
