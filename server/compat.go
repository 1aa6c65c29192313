package server

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"

	"github.com/shitu-go/shitu/api"
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
		writeJSON(w, http.StatusOK, api.ServingResponse{ErrNo: code, ErrMsg: err.Error(), Key: []string{}, Value: []string{}, Tensors: []any{}})
	}
	var req api.ServingRequest
	if err := decodeJSON(r, &req); err != nil {
		fail(err)
		return
	}
	idx := -1
	for i, k := range req.Key {
		if k == "image" {
			idx = i
		}
	}
	if idx < 0 || idx >= len(req.Value) {
		fail(fmt.Errorf("%w: request needs key [\"image\"] with a base64 value", errBadRequest))
		return
	}
	data, err := decodeB64(req.Value[idx])
	if err != nil {
		fail(err)
		return
	}
	e, err := s.gallery("")
	if err != nil {
		fail(err)
		return
	}
	ro := s.cfg.Recognize
	ro.KeepUnknown = false
	res, _, _, err := s.recognize(r, data, e, ro)
	if err != nil {
		fail(err)
		return
	}
	out := recognize.FormatPaddleClas(res.Objects, e.g.Binary())
	writeJSON(w, http.StatusOK, api.ServingResponse{Key: []string{"result"}, Value: []string{out}, Tensors: []any{}})
}

func logID() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// pxWrite answers in PaddleX's envelope; errorCode mirrors the HTTP status.
func pxWrite[T any](s *Server, w http.ResponseWriter, r *http.Request, res *T, err error) {
	if err != nil {
		code, kind := classify(err)
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
	data, err := decodeB64(req.Image)
	if err != nil {
		pxWrite[api.PXInferResult](s, w, r, nil, err)
		return
	}
	e, err := s.gallery(req.IndexKey)
	if err != nil {
		pxWrite[api.PXInferResult](s, w, r, nil, err)
		return
	}
	ro := s.cfg.Recognize
	ro.WholeImage = recognize.WholeFallback
	ro.DetThreshold = 0.5
	ro.NMSThreshold = 1 // IoU ≤ 1 always holds: PaddleX runs no recognition NMS
	ro.KeepUnknown = true
	if req.DetThreshold != nil {
		ro.DetThreshold = *req.DetThreshold
	}
	if req.RecThreshold != nil {
		ro.ScoreThreshold, ro.IgnoreStoredThresholds = *req.RecThreshold, true
	}
	if req.HammingRadius != nil {
		ro.HammingRadius, ro.IgnoreStoredThresholds = *req.HammingRadius, true
	}
	if req.TopK != nil {
		if *req.TopK < 1 {
			pxWrite[api.PXInferResult](s, w, r, nil, fmt.Errorf("%w: topk must be positive", errBadRequest))
			return
		}
		ro.TopK = *req.TopK
	}
	res, img, _, err := s.recognize(r, data, e, ro)
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
	if req.Visualize != nil && *req.Visualize {
		jpg, err := recognize.VisualizeJPEG(img, res.Objects)
		if err != nil {
			pxWrite[api.PXInferResult](s, w, r, nil, err)
			return
		}
		b := base64.StdEncoding.EncodeToString(jpg)
		out.Image = &b
	}
	pxWrite(s, w, r, out, nil)
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
	if s.cfg.NewGallery == nil {
		pxWrite[api.PXBuildResult](s, w, r, nil, fmt.Errorf("%w: this server was started without a folder for new galleries", errUnsupported))
		return
	}
	key := logID()[:16]
	g, err := s.cfg.NewGallery(key)
	if err != nil {
		pxWrite[api.PXBuildResult](s, w, r, nil, err)
		return
	}
	e := &entry{name: key, g: g, sys: s.sys.RecognizerFor(g)}
	if len(req.ImageLabelPairs) > 0 {
		if _, err := s.addImages(r, e, pairsToItems(req.ImageLabelPairs)); err != nil {
			g.Close()
			pxWrite[api.PXBuildResult](s, w, r, nil, err)
			return
		}
	}
	s.AddGallery(key, g)
	pxWrite(s, w, r, &api.PXBuildResult{IndexKey: key, ImageCount: g.Len()}, nil)
}

func (s *Server) handlePXAdd(w http.ResponseWriter, r *http.Request) {
	var req api.PXAddRequest
	if err := decodeJSON(r, &req); err != nil {
		pxWrite[api.PXCountResult](s, w, r, nil, err)
		return
	}
	e, err := s.gallery(req.IndexKey)
	if err != nil {
		pxWrite[api.PXCountResult](s, w, r, nil, err)
		return
	}
	if _, err := s.addImages(r, e, pairsToItems(req.ImageLabelPairs)); err != nil {
		pxWrite[api.PXCountResult](s, w, r, nil, err)
		return
	}
	pxWrite(s, w, r, &api.PXCountResult{ImageCount: e.g.Len()}, nil)
}

func (s *Server) handlePXRemove(w http.ResponseWriter, r *http.Request) {
	var req api.PXRemoveRequest
	if err := decodeJSON(r, &req); err != nil {
		pxWrite[api.PXCountResult](s, w, r, nil, err)
		return
	}
	e, err := s.gallery(req.IndexKey)
	if err != nil {
		pxWrite[api.PXCountResult](s, w, r, nil, err)
		return
	}
	if _, err := e.g.Remove(req.IDs...); err != nil {
		pxWrite[api.PXCountResult](s, w, r, nil, err)
		return
	}
	pxWrite(s, w, r, &api.PXCountResult{ImageCount: e.g.Len()}, nil)
}
