package server

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/shitu-go/shitu/api"
	"github.com/shitu-go/shitu/gallery"
	"github.com/shitu-go/shitu/gallery/replica"
	"github.com/shitu-go/shitu/imaging"
	"github.com/shitu-go/shitu/recognize"
)

// Errors of the service itself; the rest come from the packages below.
var (
	errBadRequest  = errors.New("bad request")
	errMediaType   = errors.New("unsupported content type")
	errNoGallery   = errors.New("no such gallery")
	errNoRoute     = errors.New("no such endpoint")
	errAuth        = errors.New("a valid API key is required for this endpoint")
	errBusy        = errors.New("server busy: the work queue is full, retry later")
	errUnsupported = errors.New("not supported by this server")
	errConflict    = errors.New("conflict")
	errQuota       = errors.New("storage limit reached")
	errFetch       = errors.New("image URL not fetched")
	errMethod      = errors.New("method not allowed")
)

// classify maps an error to its HTTP status and a short machine-readable
// kind. Every handler's error goes through here: this is the one place
// that decides statuses.
func classify(err error) (int, string) {
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		return http.StatusRequestEntityTooLarge, "body_too_large"
	case errors.Is(err, replica.ErrTooLarge):
		return http.StatusRequestEntityTooLarge, "change_too_large"
	case errors.Is(err, imaging.ErrTooLarge):
		return http.StatusRequestEntityTooLarge, "image_too_large"
	case errors.Is(err, errMediaType):
		return http.StatusUnsupportedMediaType, "unsupported_media_type"
	case errors.Is(err, imaging.ErrFormat), errors.Is(err, imaging.ErrUnsupported), errors.Is(err, imaging.ErrSize):
		return http.StatusUnprocessableEntity, "bad_image"
	case errors.Is(err, errBadRequest), errors.Is(err, recognize.ErrOptions), errors.Is(err, gallery.ErrListLine),
		errors.Is(err, gallery.ErrLabel):
		return http.StatusBadRequest, "bad_request"
	case errors.Is(err, errAuth):
		return http.StatusUnauthorized, "unauthorized"
	case errors.Is(err, gallery.ErrNotFound), errors.Is(err, errNoGallery), errors.Is(err, errNoRoute):
		return http.StatusNotFound, "not_found"
	case errors.Is(err, gallery.ErrDims), errors.Is(err, gallery.ErrKind), errors.Is(err, errConflict),
		errors.Is(err, gallery.ErrClosed):
		return http.StatusConflict, "conflict"
	case errors.Is(err, replica.ErrBehind):
		return http.StatusServiceUnavailable, "version_not_reached"
	case errors.Is(err, replica.ErrUnavailable):
		return http.StatusServiceUnavailable, "cluster_unavailable"
	case errors.Is(err, errMethod):
		return http.StatusMethodNotAllowed, "method_not_allowed"
	case errors.Is(err, errQuota):
		return http.StatusInsufficientStorage, "quota"
	case errors.Is(err, errFetch):
		return http.StatusBadGateway, "fetch_failed"
	case errors.Is(err, errBusy):
		return http.StatusTooManyRequests, "busy"
	case errors.Is(err, errUnsupported):
		return http.StatusNotImplemented, "not_implemented"
	case errors.Is(err, context.DeadlineExceeded):
		return http.StatusServiceUnavailable, "timeout"
	case errors.Is(err, context.Canceled):
		return 499, "canceled"
	}
	return http.StatusInternalServerError, "internal"
}

func writeError(w http.ResponseWriter, r *http.Request, err error) {
	code, kind := classify(err)
	if code == http.StatusTooManyRequests {
		w.Header().Set("Retry-After", "1")
	}
	msg := err.Error()
	if code == http.StatusInternalServerError {
		msg = "internal error: " + msg
	}
	writeJSON(w, code, api.ErrorBody{Error: api.ErrorDetail{Code: kind, Message: msg}})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.Encode(v)
}
