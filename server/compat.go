package server

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"

	"github.com/shitu-go/shitu/api"
	"github.com/shitu-go/shitu/gallery"
	"github.com/shitu-go/shitu/recognize"
)

// handleServing is Paddle Serving's pipeline endpoint
// (ppshitu-pipeline.md §13.3): {"key":["image"],"value":[base64]} in, the
// Python repr of the result list out, errors as err_no ≠ 0 with HTTP 200
// as the Serving gateway answers them.
func (s *Server) handleServing(w http.ResponseWriter, r *http.Request) {
	fail := func(err error) {
		code, kind := classify(err)
		if rec, ok := r.Context().Value(recorderKey{}).(*statusRecorder); ok {
			rec.kind = kind
		}
		if code == http.StatusTooManyRequests {
			// Serving's convention is HTTP 200 with err_no; the header
			// still tells a client or proxy when to come back.
			w.Header().Set("Retry-After", "1")
		}
		writeJSON(w, http.StatusOK, api.ServingResponse{ErrNo: code, ErrMsg: err.Error(), Key: []string{}, Value: []string{}, Tensors: []any{}})
	}
	var req api.ServingRequest
	if err := decodeJSON(r, &req); err != nil {
		fail(err)
		return
	}
	out, err := s.servingPredict(r.Context(), req.Key, req.Value)
	if err != nil {
		fail(err)
		return
	}
	writeJSON(w, http.StatusOK, api.ServingResponse{Key: []string{"result"}, Value: []string{out}, Tensors: []any{}})
}

// servingPredict is the work of a Paddle Serving pipeline request, over
// HTTP and gRPC: the image under key "image" (base64) recognised in the
// default gallery, answered as PaddleClas's Python repr of the result list.
func (s *Server) servingPredict(ctx context.Context, keys, values []string) (string, error) {
	if len(keys) > maxServingKeys || len(keys) != len(values) {
		return "", fmt.Errorf("%w: %d keys and %d values: they must pair up, at most %d", errBadRequest, len(keys), len(values), maxServingKeys)
	}
	idx := -1
	for i, k := range keys {
		if k == "image" {
			idx = i
		}
	}
	if idx < 0 {
		return "", fmt.Errorf("%w: request needs key [\"image\"] with a base64 value", errBadRequest)
	}
	data, err := s.imageData(ctx, values[idx])
	if err != nil {
		return "", err
	}
	e, err := s.gallery("")
	if err != nil {
		return "", err
	}
	ro := s.cfg.Recognize
	ro.KeepUnknown = false
	res, _, _, err := s.recognize(ctx, data, e, ro)
	if err != nil {
		return "", err
	}
	return recognize.FormatPaddleClas(res.Objects, e.g.Binary()), nil
}

func logID() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// pxWrite answers in PaddleX's envelope; errorCode mirrors the HTTP status.
// A request PaddleX's schema would refuse (a missing or out-of-range field)
// is 422, as PaddleX's validation answers it.
func pxWrite[T any](s *Server, w http.ResponseWriter, r *http.Request, res *T, err error) {
	if err != nil {
		code, kind := classify(err)
		if code == http.StatusBadRequest {
			code = http.StatusUnprocessableEntity
		}
		if rec, ok := r.Context().Value(recorderKey{}).(*statusRecorder); ok {
			rec.kind = kind
		}
		if code == http.StatusTooManyRequests {
			w.Header().Set("Retry-After", "1")
		}
		writeJSON(w, code, api.PXEnvelope[T]{LogID: logID(), ErrorCode: code, ErrorMsg: err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, api.PXEnvelope[T]{LogID: logID(), ErrorCode: 0, ErrorMsg: "Success", Result: res})
}

// handlePXInfer is PaddleX's /shitu-infer (§17): whole image only when
// nothing is detected, detection threshold 0.5, top-k labels per box, no
// recognition NMS, rejected boxes listed with no labels.
func (s *Server) handlePXInfer(w http.ResponseWriter, r *http.Request) {
	var req api.PXInferRequest
	if err := decodeJSON(r, &req); err != nil {
		pxWrite[api.PXInferResult](s, w, r, nil, err)
		return
	}
	if req.Image == "" {
		pxWrite[api.PXInferResult](s, w, r, nil, fmt.Errorf("%w: field \"image\" is required", errBadRequest))
		return
	}
	e, err := s.gallery(req.IndexKey)
	if err != nil {
		pxWrite[api.PXInferResult](s, w, r, nil, err)
		return
	}
	ro, err := s.pxInferOptions(&req, e)
	if err != nil {
		pxWrite[api.PXInferResult](s, w, r, nil, err)
		return
	}
	data, err := s.imageData(r.Context(), req.Image)
	if err != nil {
		pxWrite[api.PXInferResult](s, w, r, nil, err)
		return
	}
	res, img, _, err := s.recognize(r.Context(), data, e, ro)
	if err != nil {
		pxWrite[api.PXInferResult](s, w, r, nil, err)
		return
	}
	out := &api.PXInferResult{DetectedObjects: []api.PXObject{}}
	for _, o := range res.Objects {
		po := api.PXObject{BBox: [4]float32{float32(o.Box[0]), float32(o.Box[1]), float32(o.Box[2]), float32(o.Box[3])},
			Score: o.DetScore, RecResults: []api.PXRecResult{}}
		if o.WholeImage {
			po.Score = 0 // PaddleX's "full_img" box has score 0
		}
		if o.Known() {
			for _, c := range o.Candidates {
				po.RecResults = append(po.RecResults, api.PXRecResult{Label: c.Label, Score: c.Score})
			}
		}
		out.DetectedObjects = append(out.DetectedObjects, po)
	}
	// PaddleX returns the visualised image unless its serving config
	// turns it off (AppConfig.visualize, default true).
	if vis := !s.cfg.PXNoImage; (req.Visualize == nil && vis) || (req.Visualize != nil && *req.Visualize) {
		jpg, err := s.painter.JPEG(img, res.Objects)
		if err != nil {
			pxWrite[api.PXInferResult](s, w, r, nil, err)
			return
		}
		b := base64.StdEncoding.EncodeToString(jpg)
		out.Image = &b
	}
	pxWrite(s, w, r, out, nil)
}

// pxInferOptions checks /shitu-infer's fields and sets PaddleX's rules.
func (s *Server) pxInferOptions(req *api.PXInferRequest, e *entry) (recognize.Options, error) {
	ro := s.cfg.Recognize
	ro.WholeImage = recognize.WholeFallback
	ro.DetThreshold = 0.5
	ro.NMSThreshold = 1 // IoU ≤ 1 always holds: PaddleX runs no recognition NMS
	ro.KeepUnknown = true
	if req.DetThreshold != nil {
		if err := checkUnit("detThreshold", *req.DetThreshold); err != nil {
			return ro, err
		}
		ro.DetThreshold = *req.DetThreshold
	}
	if req.RecThreshold != nil {
		if err := checkScore("recThreshold", *req.RecThreshold, e.g); err != nil {
			return ro, err
		}
		ro.ScoreThreshold, ro.IgnoreStoredThresholds = *req.RecThreshold, true
	}
	if req.HammingRadius != nil {
		if err := checkRadius("hammingRadius", *req.HammingRadius, e.g); err != nil {
			return ro, err
		}
		ro.HammingRadius, ro.IgnoreStoredThresholds = *req.HammingRadius, true
	}
	if req.TopK != nil {
		if err := s.checkTopK("topk", *req.TopK); err != nil {
			return ro, err
		}
		ro.TopK = *req.TopK
	}
	return ro, nil
}

// idMap is PaddleX's answer to index changes: every id with its label.
func idMap(g *gallery.Gallery) (map[int64]string, error) {
	m := map[int64]string{}
	o := gallery.ListOptions{Limit: 10000}
	for {
		items, next, err := g.List(o)
		if err != nil {
			return nil, err
		}
		for _, it := range items {
			m[it.ID] = it.Label
		}
		if next < 0 {
			return m, nil
		}
		o.Start = next
	}
}

// pxIndexKey reads the indexKey that PaddleX requires on add and remove.
func pxIndexKey(key string) error {
	if key == "" {
		return fmt.Errorf("%w: field \"indexKey\" is required", errBadRequest)
	}
	return nil
}

func pairsToItems(p []api.PXImageLabelPair) []api.NewItem {
	items := make([]api.NewItem, len(p))
	for i, x := range p {
		items[i] = api.NewItem{Image: x.Image, Label: x.Label}
	}
	return items
}

func (s *Server) handlePXBuild(w http.ResponseWriter, r *http.Request) {
	var req api.PXBuildRequest
	if err := decodeJSON(r, &req); err != nil {
		pxWrite[api.PXBuildResult](s, w, r, nil, err)
		return
	}
	if req.ImageLabelPairs == nil {
		pxWrite[api.PXBuildResult](s, w, r, nil, fmt.Errorf("%w: field \"imageLabelPairs\" is required", errBadRequest))
		return
	}
	if err := s.checkBatch(len(req.ImageLabelPairs), true); err != nil {
		pxWrite[api.PXBuildResult](s, w, r, nil, err)
		return
	}
	key := logID()[:16]
	e, err := s.createGallery(key)
	if err != nil {
		pxWrite[api.PXBuildResult](s, w, r, nil, err)
		return
	}
	if len(req.ImageLabelPairs) > 0 {
		if _, _, err := s.addImages(r.Context(), e, pairsToItems(req.ImageLabelPairs), nil); err != nil {
			s.DeleteGallery(key) // nothing was acknowledged: leave no trace
			pxWrite[api.PXBuildResult](s, w, r, nil, err)
			return
		}
	}
	m, err := idMap(e.g)
	if err != nil {
		pxWrite[api.PXBuildResult](s, w, r, nil, err)
		return
	}
	pxWrite(s, w, r, &api.PXBuildResult{IndexKey: key, IDMap: m}, nil)
}

func (s *Server) handlePXAdd(w http.ResponseWriter, r *http.Request) {
	var req api.PXAddRequest
	if err := decodeJSON(r, &req); err != nil {
		pxWrite[api.PXIDMapResult](s, w, r, nil, err)
		return
	}
	if err := pxIndexKey(req.IndexKey); err != nil {
		pxWrite[api.PXIDMapResult](s, w, r, nil, err)
		return
	}
	e, err := s.gallery(req.IndexKey)
	if err != nil {
		pxWrite[api.PXIDMapResult](s, w, r, nil, err)
		return
	}
	if _, _, err := s.addImages(r.Context(), e, pairsToItems(req.ImageLabelPairs), nil); err != nil {
		pxWrite[api.PXIDMapResult](s, w, r, nil, err)
		return
	}
	m, err := idMap(e.g)
	pxWrite(s, w, r, &api.PXIDMapResult{IDMap: m}, err)
}

func (s *Server) handlePXRemove(w http.ResponseWriter, r *http.Request) {
	var req api.PXRemoveRequest
	if err := decodeJSON(r, &req); err != nil {
		pxWrite[api.PXIDMapResult](s, w, r, nil, err)
		return
	}
	if req.IDs == nil {
		pxWrite[api.PXIDMapResult](s, w, r, nil, fmt.Errorf("%w: field \"ids\" is required", errBadRequest))
		return
	}
	if len(req.IDs) > s.cfg.MaxIDs {
		pxWrite[api.PXIDMapResult](s, w, r, nil, fmt.Errorf("%w: %d ids in one request: allowed up to %d", errBadRequest, len(req.IDs), s.cfg.MaxIDs))
		return
	}
	if err := pxIndexKey(req.IndexKey); err != nil {
		pxWrite[api.PXIDMapResult](s, w, r, nil, err)
		return
	}
	e, err := s.gallery(req.IndexKey)
	if err != nil {
		pxWrite[api.PXIDMapResult](s, w, r, nil, err)
		return
	}
	if _, _, err := s.sys.RemoveFrom(r.Context(), e.g, req.IDs...); err != nil {
		pxWrite[api.PXIDMapResult](s, w, r, nil, err)
		return
	}
	m, err := idMap(e.g)
	pxWrite(s, w, r, &api.PXIDMapResult{IDMap: m}, err)
}

// handlePXHealth is PaddleX's GET /health: the envelope without a result.
func (s *Server) handlePXHealth(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, api.PXEnvelope[struct{}]{LogID: logID(), ErrorCode: 0, ErrorMsg: "Healthy"})
}
