package server

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/shitu-go/shitu"
	"github.com/shitu-go/shitu/api"
	"github.com/shitu-go/shitu/gallery"
	"github.com/shitu-go/shitu/imaging"
	"github.com/shitu-go/shitu/recognize"
)

// decodeB64 accepts standard base64 with or without padding, and a
// data: URL prefix.
func decodeB64(s string) ([]byte, error) {
	if i := strings.Index(s, ";base64,"); strings.HasPrefix(s, "data:") && i > 0 {
		s = s[i+len(";base64,"):]
	}
	s = strings.TrimRight(strings.TrimSpace(s), "=")
	b, err := base64.RawStdEncoding.DecodeString(s)
	if err != nil {
		if b2, err2 := base64.RawURLEncoding.DecodeString(s); err2 == nil {
			return b2, nil
		}
		if strings.HasPrefix(s, "http://") || strings.HasPrefix(s, "https://") {
			return nil, fmt.Errorf("%w: image URLs are not fetched by this server; send the image bytes as base64", errUnsupported)
		}
		return nil, fmt.Errorf("%w: image is not valid base64: %v", errBadRequest, err)
	}
	if len(b) == 0 {
		return nil, fmt.Errorf("%w: empty image", errBadRequest)
	}
	return b, nil
}

func (s *Server) decode(b []byte) (*imaging.Image, error) {
	return imaging.Decode(b, imaging.DecodeOptions{MaxPixels: s.cfg.MaxPixels})
}

// readRecognizeRequest reads the image and options of POST /v1/recognize
// from a JSON, multipart or raw-image body.
func (s *Server) readRecognizeRequest(r *http.Request) ([]byte, api.RecognizeOptions, error) {
	var opts api.RecognizeOptions
	ct, params, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch {
	case ct == "application/json":
		var req api.RecognizeRequest
		if err := decodeJSON(r, &req); err != nil {
			return nil, opts, err
		}
		if req.Image == "" {
			return nil, opts, fmt.Errorf("%w: field \"image\" (base64) is required", errBadRequest)
		}
		b, err := s.imageData(r.Context(), req.Image)
		if err == nil && req.MinVersion == 0 {
			req.MinVersion, err = minVersionHeader(r)
		}
		return b, req.RecognizeOptions, err
	case ct == "multipart/form-data":
		b, err := readMultipartFile(r, params["boundary"], "image")
		if err != nil {
			return nil, opts, err
		}
		opts, err = optionsFromQuery(r.URL.Query())
		if err == nil && opts.MinVersion == 0 {
			opts.MinVersion, err = minVersionHeader(r)
		}
		return b, opts, err
	case strings.HasPrefix(ct, "image/") || ct == "application/octet-stream":
		b, err := io.ReadAll(r.Body)
		if err != nil {
			return nil, opts, err
		}
		if len(b) == 0 {
			return nil, opts, fmt.Errorf("%w: empty body", errBadRequest)
		}
		opts, err = optionsFromQuery(r.URL.Query())
		if err == nil && opts.MinVersion == 0 {
			opts.MinVersion, err = minVersionHeader(r)
		}
		return b, opts, err
	}
	return nil, opts, fmt.Errorf("%w: %q (send application/json, multipart/form-data or the image bytes as image/*)", errMediaType, ct)
}

// minVersionHeader reads X-Shitu-Min-Version (0 when absent).
func minVersionHeader(r *http.Request) (uint64, error) {
	v := r.Header.Get("X-Shitu-Min-Version")
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: X-Shitu-Min-Version %q is not a version number", errBadRequest, v)
	}
	return n, nil
}

func readMultipartFile(r *http.Request, boundary, field string) ([]byte, error) {
	if boundary == "" {
		return nil, fmt.Errorf("%w: multipart body without boundary", errBadRequest)
	}
	mr := multipart.NewReader(r.Body, boundary)
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			return nil, fmt.Errorf("%w: multipart body has no %q part", errBadRequest, field)
		}
		if err != nil {
			return nil, fmt.Errorf("%w: multipart: %v", errBadRequest, err)
		}
		if p.FormName() == field || (p.FileName() != "" && field == "image") {
			b, err := io.ReadAll(p)
			if err != nil {
				return nil, err
			}
			return b, nil
		}
	}
}

func optionsFromQuery(q url.Values) (api.RecognizeOptions, error) {
	o := api.RecognizeOptions{Gallery: q.Get("gallery"), WholeImage: q.Get("whole_image")}
	f32 := func(name string) (*float32, error) {
		v := q.Get(name)
		if v == "" {
			return nil, nil
		}
		f, err := strconv.ParseFloat(v, 32)
		if err != nil {
			return nil, fmt.Errorf("%w: %s=%q is not a number", errBadRequest, name, v)
		}
		x := float32(f)
		return &x, nil
	}
	var err error
	if o.ScoreThreshold, err = f32("score_threshold"); err != nil {
		return o, err
	}
	if v := q.Get("det_threshold"); v != "" {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return o, fmt.Errorf("%w: det_threshold=%q is not a number", errBadRequest, v)
		}
		o.DetThreshold = &f
	}
	if o.HammingRadius, err = f32("hamming_radius"); err != nil {
		return o, err
	}
	if v := q.Get("topk"); v != "" {
		if o.TopK, err = strconv.Atoi(v); err != nil || o.TopK < 1 {
			return o, fmt.Errorf("%w: topk=%q is not a positive integer", errBadRequest, v)
		}
	}
	if v := q.Get("labels"); v != "" {
		o.Labels = strings.Split(v, ",")
	}
	if v := q.Get("metadata"); v != "" {
		o.Metadata = map[string]string{}
		for _, kv := range strings.Split(v, ",") {
			k, val, ok := strings.Cut(kv, "=")
			if !ok {
				return o, fmt.Errorf("%w: metadata condition %q is not key=value", errBadRequest, kv)
			}
			o.Metadata[k] = val
		}
	}
	if v := q.Get("min_version"); v != "" {
		if o.MinVersion, err = strconv.ParseUint(v, 10, 64); err != nil {
			return o, fmt.Errorf("%w: min_version=%q is not a version number", errBadRequest, v)
		}
	}
	if v := q.Get("visualize"); v != "" {
		if o.Visualize, err = strconv.ParseBool(v); err != nil {
			return o, fmt.Errorf("%w: visualize=%q is not a boolean", errBadRequest, v)
		}
	}
	return o, nil
}

func decodeJSON(r *http.Request, v any) error {
	dec := json.NewDecoder(r.Body)
	if err := dec.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return err
		}
		return fmt.Errorf("%w: malformed JSON: %v", errBadRequest, err)
	}
	return nil
}

// recognizeOptions checks a request's options against their bounds and
// merges them into the server's base options.
func (s *Server) recognizeOptions(o api.RecognizeOptions, e *entry) (recognize.Options, error) {
	ro := s.cfg.Recognize
	if o.TopK != 0 {
		if err := s.checkTopK("topk", o.TopK); err != nil {
			return ro, err
		}
		ro.TopK = o.TopK
	}
	if o.ScoreThreshold != nil {
		if err := checkScore("score_threshold", *o.ScoreThreshold, e.g); err != nil {
			return ro, err
		}
		ro.ScoreThreshold = *o.ScoreThreshold
		ro.IgnoreStoredThresholds = true
	}
	if o.HammingRadius != nil {
		if err := checkRadius("hamming_radius", *o.HammingRadius, e.g); err != nil {
			return ro, err
		}
		ro.HammingRadius = *o.HammingRadius
		ro.IgnoreStoredThresholds = true
	}
	if o.DetThreshold != nil {
		if err := checkUnit("det_threshold", *o.DetThreshold); err != nil {
			return ro, err
		}
		ro.DetThreshold = *o.DetThreshold
	}
	if len(o.Labels) > maxFilterLabels || len(o.Metadata) > maxFilterMeta {
		return ro, fmt.Errorf("%w: a filter has %d labels and %d metadata conditions: allowed up to %d and %d",
			errBadRequest, len(o.Labels), len(o.Metadata), maxFilterLabels, maxFilterMeta)
	}
	if o.WholeImage != "" {
		m, err := recognize.ParseWholeImage(o.WholeImage)
		if err != nil {
			return ro, err
		}
		ro.WholeImage = m
	}
	if len(o.Labels) > 0 || len(o.Metadata) > 0 {
		ro.Filter = &recognize.Filter{Labels: o.Labels, Metadata: o.Metadata}
	}
	return ro, nil
}

// recognize decodes and recognises one image under the work queue.
func (s *Server) recognize(ctx context.Context, data []byte, e *entry, ro recognize.Options) (*recognize.Result, *imaging.Image, time.Duration, error) {
	release, err := s.acquire(ctx)
	if err != nil {
		return nil, nil, 0, err
	}
	defer release()
	if err := ctx.Err(); err != nil { // waited past the request's time
		return nil, nil, 0, err
	}
	t0 := time.Now()
	img, err := s.decode(data)
	if err != nil {
		return nil, nil, 0, err
	}
	dec := time.Since(t0)
	res, err := e.sys.RecognizeWith(ctx, img, ro)
	if err != nil {
		return nil, nil, 0, err
	}
	s.m.observeStages(dec, res.Timings)
	return res, img, dec, nil
}

// recognizeV1 is the work of POST /v1/recognize and of gRPC Recognize:
// the answer, and the JPEG visualisation when o.Visualize asks for it.
func (s *Server) recognizeV1(ctx context.Context, data []byte, o api.RecognizeOptions) (*api.RecognizeResponse, []byte, error) {
	e, err := s.gallery(o.Gallery)
	if err != nil {
		return nil, nil, err
	}
	ro, err := s.recognizeOptions(o, e)
	if err != nil {
		return nil, nil, err
	}
	ro.KeepUnknown = true
	if o.MinVersion > 0 {
		// Read-your-writes across replicas: wait, bounded, for the version.
		if err := s.sys.WaitVersion(ctx, e.g, o.MinVersion, s.cfg.MaxVersionWait); err != nil {
			return nil, nil, err
		}
	}
	res, img, dec, err := s.recognize(ctx, data, e, ro)
	if err != nil {
		return nil, nil, err
	}
	s.observe(e.name, img, res)
	out := shitu.Response(e.name, img.W, img.H, res, dec)
	out.Synthetic = s.sys.Synthetic()
	var jpg []byte
	if o.Visualize {
		if jpg, err = s.painter.JPEG(img, res.Objects); err != nil {
			return nil, nil, err
		}
	}
	return &out, jpg, nil
}

func (s *Server) handleRecognize(w http.ResponseWriter, r *http.Request) {
	data, o, err := s.readRecognizeRequest(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out, jpg, err := s.recognizeV1(r.Context(), data, o)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if jpg != nil {
		out.Image = base64.StdEncoding.EncodeToString(jpg)
	}
	writeJSON(w, http.StatusOK, out)
}

func toAPIItem(it gallery.Item) api.Item {
	return api.Item{ID: it.ID, Label: it.Label, Source: it.Source, SHA256: it.SHA256, Metadata: it.Meta}
}

// addImages decodes, embeds (in one batch, under the work queue) and adds
// images to a gallery as one durable change (shitu.System.AddTo: through
// the cluster for a replicated gallery); it returns the gallery version
// holding them.
// raw, when not nil, holds the image bytes of every item (gRPC); else an
// item's Image is base64 or an allowed URL.
func (s *Server) addImages(ctx context.Context, e *entry, items []api.NewItem, raw [][]byte) ([]gallery.Item, uint64, error) {
	if len(items) == 0 {
		return nil, 0, fmt.Errorf("%w: no items to add", errBadRequest)
	}
	if err := s.checkBatch(len(items), false); err != nil {
		return nil, 0, err
	}
	imgs := make([]gallery.NewImage, len(items))
	for i, it := range items { // the cheap checks first, before any work
		imgs[i] = gallery.NewImage{Label: it.Label, Source: it.Source, Meta: it.Metadata}
		if strings.TrimSpace(it.Label) == "" {
			return nil, 0, fmt.Errorf("%w: item %d has no label", errBadRequest, i)
		}
		if err := gallery.CheckItem(gallery.Item{Label: it.Label, Source: it.Source, Meta: it.Metadata}); err != nil {
			return nil, 0, fmt.Errorf("item %d: %w", i, err)
		}
		if raw != nil && len(raw[i]) == 0 {
			return nil, 0, fmt.Errorf("%w: item %d has no image", errBadRequest, i)
		}
	}
	if e.stored {
		if err := s.checkQuota(false); err != nil {
			return nil, 0, err
		}
	}
	release, err := s.acquire(ctx)
	if err != nil {
		return nil, 0, err
	}
	defer release()
	for i, it := range items {
		if raw != nil {
			imgs[i].Data = raw[i]
			continue
		}
		b, err := s.imageData(ctx, it.Image)
		if err != nil {
			return nil, 0, fmt.Errorf("item %d: %w", i, err)
		}
		imgs[i].Data = b
	}
	return s.sys.AddTo(ctx, e.g, imgs, imaging.DecodeOptions{MaxPixels: s.cfg.MaxPixels})
}

// addItems is the work of POST /v1/gallery/items and gRPC AddItems.
func (s *Server) addItems(ctx context.Context, galleryName string, items []api.NewItem, raw [][]byte) (*api.AddItemsResponse, error) {
	e, err := s.gallery(galleryName)
	if err != nil {
		return nil, err
	}
	added, version, err := s.addImages(ctx, e, items, raw)
	if err != nil {
		return nil, err
	}
	resp := &api.AddItemsResponse{GalleryVersion: version}
	for _, it := range added {
		resp.Items = append(resp.Items, toAPIItem(it))
	}
	return resp, nil
}

func (s *Server) handleAddItems(w http.ResponseWriter, r *http.Request) {
	var req api.AddItemsRequest
	ct, params, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch ct {
	case "application/json":
		if err := decodeJSON(r, &req); err != nil {
			s.fail(w, r, err)
			return
		}
	case "multipart/form-data":
		if err := readMultipartItems(r, params["boundary"], &req); err != nil {
			s.fail(w, r, err)
			return
		}
	default:
		s.fail(w, r, fmt.Errorf("%w: %q (send application/json or multipart/form-data)", errMediaType, ct))
		return
	}
	items := req.Items
	if req.Image != "" {
		items = append([]api.NewItem{req.NewItem}, items...)
	}
	if req.Gallery == "" {
		req.Gallery = r.URL.Query().Get("gallery")
	}
	resp, err := s.addItems(r.Context(), req.Gallery, items, nil)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, resp)
}

// readMultipartItems reads one item from multipart fields: a file part
// ("image"), "label", "source" and "metadata" (a JSON object).
func readMultipartItems(r *http.Request, boundary string, req *api.AddItemsRequest) error {
	if boundary == "" {
		return fmt.Errorf("%w: multipart body without boundary", errBadRequest)
	}
	mr := multipart.NewReader(r.Body, boundary)
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("%w: multipart: %v", errBadRequest, err)
		}
		b, err := io.ReadAll(p)
		if err != nil {
			return err
		}
		switch name := p.FormName(); {
		case name == "image" || p.FileName() != "":
			req.Image = base64.StdEncoding.EncodeToString(b)
		case name == "label":
			req.Label = string(b)
		case name == "source":
			req.Source = string(b)
		case name == "gallery":
			req.Gallery = string(b)
		case name == "metadata":
			if err := json.Unmarshal(b, &req.Metadata); err != nil {
				return fmt.Errorf("%w: metadata must be a JSON object of strings: %v", errBadRequest, err)
			}
		}
	}
	if req.Image == "" {
		return fmt.Errorf("%w: multipart body has no image part", errBadRequest)
	}
	return nil
}

// maxListLimit bounds the page size of an item listing.
const maxListLimit = 10000

func (s *Server) handleListItems(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var (
		start int64
		limit int
		err   error
	)
	if v := q.Get("start"); v != "" {
		if start, err = parseID(v); err != nil {
			s.fail(w, r, err)
			return
		}
	}
	if v := q.Get("limit"); v != "" {
		if limit, err = strconv.Atoi(v); err != nil || limit < 1 {
			s.fail(w, r, fmt.Errorf("%w: limit=%q must be 1..%d", errBadRequest, v, maxListLimit))
			return
		}
	}
	resp, err := s.listItems(q.Get("gallery"), q.Get("label"), start, limit)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, resp)
}

// listItems is the work of GET /v1/gallery/items and gRPC ListItems;
// limit 0 is the gallery's default page.
func (s *Server) listItems(galleryName, label string, start int64, limit int) (*api.ListItemsResponse, error) {
	if start < 0 {
		return nil, fmt.Errorf("%w: start=%d is out of range: allowed 0 and up", errBadRequest, start)
	}
	if limit < 0 || limit > maxListLimit {
		return nil, fmt.Errorf("%w: limit=%d must be 1..%d", errBadRequest, limit, maxListLimit)
	}
	e, err := s.gallery(galleryName)
	if err != nil {
		return nil, err
	}
	items, next, err := e.g.List(gallery.ListOptions{Label: label, Start: start, Limit: limit})
	if err != nil {
		return nil, err
	}
	resp := &api.ListItemsResponse{Items: make([]api.Item, 0, len(items)), Next: next}
	for _, it := range items {
		resp.Items = append(resp.Items, toAPIItem(it))
	}
	return resp, nil
}

// itemID reads the {id} of an item request.
func itemID(r *http.Request) (int64, error) { return parseID(r.PathValue("id")) }

// itemHandler serves an item request: op gets ?gallery and the {id}, and
// its answer is the JSON body.
func itemHandler[T any](s *Server, op func(galleryName string, id int64) (T, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id, err := itemID(r)
		if err == nil {
			var resp T
			if resp, err = op(r.URL.Query().Get("gallery"), id); err == nil {
				writeJSON(w, http.StatusOK, resp)
				return
			}
		}
		s.fail(w, r, err)
	}
}

// getItem is the work of GET /v1/gallery/items/{id} and gRPC GetItem.
func (s *Server) getItem(galleryName string, id int64) (api.Item, error) {
	e, err := s.gallery(galleryName)
	if err != nil {
		return api.Item{}, err
	}
	it, err := e.g.Get(id)
	if err != nil {
		return api.Item{}, err
	}
	return toAPIItem(it), nil
}

// deleteItem is the work of DELETE /v1/gallery/items/{id} and gRPC DeleteItem.
func (s *Server) deleteItem(galleryName string, id int64) (api.RemoveResponse, error) {
	e, err := s.gallery(galleryName)
	if err != nil {
		return api.RemoveResponse{}, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.Timeout)
	defer cancel()
	n, version, err := s.sys.RemoveFrom(ctx, e.g, id)
	if err != nil {
		return api.RemoveResponse{}, err
	}
	if n == 0 {
		return api.RemoveResponse{}, fmt.Errorf("%w: id %d", gallery.ErrNotFound, id)
	}
	return api.RemoveResponse{Removed: n, GalleryVersion: version}, nil
}

func (s *Server) handleDeleteLabel(w http.ResponseWriter, r *http.Request) {
	resp, err := s.deleteLabel(r.URL.Query().Get("gallery"), r.PathValue("label"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, resp)
}

// deleteLabel is the work of DELETE /v1/gallery/labels/{label} and gRPC DeleteLabel.
func (s *Server) deleteLabel(galleryName, label string) (api.RemoveResponse, error) {
	e, err := s.gallery(galleryName)
	if err != nil {
		return api.RemoveResponse{}, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.Timeout)
	defer cancel()
	n, version, err := s.sys.RemoveLabelFrom(ctx, e.g, label)
	if err != nil {
		return api.RemoveResponse{}, err
	}
	if n == 0 {
		return api.RemoveResponse{}, fmt.Errorf("%w: no item has label %q", gallery.ErrNotFound, label)
	}
	return api.RemoveResponse{Removed: n, GalleryVersion: version}, nil
}

func (s *Server) galleryInfo(e *entry, counts bool) api.GalleryInfo {
	st := e.g.Stats()
	gi := api.GalleryInfo{Name: e.name, Items: st.Items, Labels: st.Labels, Dims: st.Dims, Metric: st.Metric,
		Method: st.Method, Binary: st.Binary, Model: st.Model, Version: st.Version, DiskBytes: st.DiskBytes}
	if counts {
		gi.Counts = e.g.Labels()
	}
	return gi
}

func (s *Server) handleGalleryInfo(w http.ResponseWriter, r *http.Request) {
	e, err := s.gallery(r.URL.Query().Get("gallery"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, s.galleryInfo(e, r.URL.Query().Get("counts") == "true"))
}

func (s *Server) handleGalleries(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.galleryInfos())
}

// galleryInfos is the work of GET /v1/galleries and gRPC ListGalleries.
func (s *Server) galleryInfos() []api.GalleryInfo {
	var out []api.GalleryInfo
	for _, n := range s.Galleries() {
		if e, err := s.gallery(n); err == nil {
			out = append(out, s.galleryInfo(e, false))
		}
	}
	return out
}
