package server

import (
	"fmt"
	"math"

	"github.com/shitu-go/shitu/gallery"
	"github.com/shitu-go/shitu/vecindex"
)

// Bounds of request fields that are not server settings.
const (
	maxFilterLabels = 1000 // labels of a recognition filter
	maxFilterMeta   = 64   // metadata conditions of a recognition filter
	maxServingKeys  = 16   // key/value pairs of a Paddle Serving request
)

// checkTopK bounds a requested k before any work: 1..MaxTopK.
func (s *Server) checkTopK(name string, k int) error {
	if k < 1 || k > s.cfg.MaxTopK {
		return fmt.Errorf("%w: %s=%d is out of range: allowed 1..%d", errBadRequest, name, k, s.cfg.MaxTopK)
	}
	return nil
}

// checkScore bounds a score threshold by what the gallery's metric can
// produce for L2-normalised features: inner products in [-1, 1], squared
// L2 distances in [0, 4].
func checkScore(name string, v float32, g *gallery.Gallery) error {
	lo, hi := float32(-1), float32(1)
	if g.Metric() == vecindex.L2 {
		lo, hi = 0, 4
	}
	if !finite(v) || v < lo || v > hi {
		return fmt.Errorf("%w: %s=%v is out of range: allowed %v..%v for a %s gallery", errBadRequest, name, v, lo, hi, g.Metric())
	}
	return nil
}

// checkRadius bounds a Hamming radius: 0..the code's bits.
func checkRadius(name string, v float32, g *gallery.Gallery) error {
	if !finite(v) || v < 0 || v > float32(g.Dims()) {
		return fmt.Errorf("%w: %s=%v is out of range: allowed 0..%d (the code's bits)", errBadRequest, name, v, g.Dims())
	}
	return nil
}

// checkUnit bounds a detection threshold: 0..1.
func checkUnit(name string, v float64) error {
	if math.IsNaN(v) || v < 0 || v > 1 {
		return fmt.Errorf("%w: %s=%v is out of range: allowed 0..1", errBadRequest, name, v)
	}
	return nil
}

func finite(v float32) bool { return !math.IsNaN(float64(v)) && !math.IsInf(float64(v), 0) }

// checkBatch bounds the images of one add request: 1..MaxBatch (0 allowed
// where an empty batch makes sense, e.g. building an empty index).
func (s *Server) checkBatch(n int, allowEmpty bool) error {
	lo := 1
	if allowEmpty {
		lo = 0
	}
	if n < lo || n > s.cfg.MaxBatch {
		return fmt.Errorf("%w: %d images in one request: allowed %d..%d (--max-batch)", errBadRequest, n, lo, s.cfg.MaxBatch)
	}
	return nil
}
