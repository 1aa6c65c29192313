package server

import (
	"context"
	"fmt"
	"net/http"

	"github.com/shitu-go/shitu/api"
	"github.com/shitu-go/shitu/gallery"
)

// maxThresholdLabels bounds the per-label thresholds of one PUT.
const maxThresholdLabels = 100_000

// handleGetThresholds answers GET /v1/gallery/thresholds.
func (s *Server) handleGetThresholds(w http.ResponseWriter, r *http.Request) {
	e, err := s.gallery(r.URL.Query().Get("gallery"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	global, per, ok, err := e.g.Thresholds()
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, api.Thresholds{Global: global, PerLabel: per, Set: ok, GalleryVersion: e.g.Version()})
}

// handlePutThresholds stores a gallery's acceptance thresholds (PUT
// /v1/gallery/thresholds): the way to give a served — in particular a
// replicated — gallery the thresholds that `shitu eval` calibrated.
func (s *Server) handlePutThresholds(w http.ResponseWriter, r *http.Request) {
	e, err := s.gallery(r.URL.Query().Get("gallery"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var t api.Thresholds
	if err := decodeJSON(r, &t); err != nil {
		s.fail(w, r, err)
		return
	}
	if err := checkThresholds(t, e.g); err != nil {
		s.fail(w, r, err)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.Timeout)
	defer cancel()
	v, err := s.sys.SetThresholdsIn(ctx, e.g, t.Global, t.PerLabel)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, api.Thresholds{Global: t.Global, PerLabel: t.PerLabel, Set: true, GalleryVersion: v})
}

// checkThresholds bounds thresholds as a recognition's score threshold is
// bounded, and their labels as stored labels are.
func checkThresholds(t api.Thresholds, g *gallery.Gallery) error {
	if g.Binary() {
		return fmt.Errorf("%w: thresholds are score thresholds; a binary gallery takes a Hamming radius per request", errBadRequest)
	}
	if err := checkScore("global", t.Global, g); err != nil {
		return err
	}
	if len(t.PerLabel) > maxThresholdLabels {
		return fmt.Errorf("%w: %d per-label thresholds: allowed at most %d", errBadRequest, len(t.PerLabel), maxThresholdLabels)
	}
	for l, v := range t.PerLabel {
		if err := gallery.CheckLabel(l); err != nil {
			return fmt.Errorf("%w: per_label: %v", errBadRequest, err)
		}
		if err := checkScore("per_label["+l+"]", v, g); err != nil {
			return err
		}
	}
	return nil
}
