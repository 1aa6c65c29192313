package api

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// Client talks to a shitu server.
type Client struct {
	// Base is the server's URL, e.g. "http://127.0.0.1:8080".
	Base string
	// APIKey is sent as a bearer token when set.
	APIKey string
	// HTTP is the client used (default http.DefaultClient).
	HTTP *http.Client
}

// Error is a non-2xx answer.
type Error struct {
	Status  int
	Code    string
	Message string
}

func (e *Error) Error() string {
	return fmt.Sprintf("shitu server: %d %s: %s", e.Status, e.Code, e.Message)
}

func (c *Client) do(ctx context.Context, method, path string, q url.Values, ctype string, body []byte, out any) error {
	u := strings.TrimRight(c.Base, "/") + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, bytes.NewReader(body))
	if err != nil {
		return err
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if c.APIKey != "" {
		req.Header.Set("Authorization", "Bearer "+c.APIKey)
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		var eb ErrorBody
		if json.Unmarshal(data, &eb) == nil && eb.Error.Code != "" {
			return &Error{Status: resp.StatusCode, Code: eb.Error.Code, Message: eb.Error.Message}
		}
		return &Error{Status: resp.StatusCode, Code: "http", Message: strings.TrimSpace(string(data))}
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("shitu client: decoding answer: %w", err)
	}
	return nil
}

func (c *Client) postJSON(ctx context.Context, path string, q url.Values, in, out any) error {
	b, err := json.Marshal(in)
	if err != nil {
		return err
	}
	return c.do(ctx, http.MethodPost, path, q, "application/json", b, out)
}

// Recognize sends image file bytes with options (JSON body form).
func (c *Client) Recognize(ctx context.Context, image []byte, opts RecognizeOptions) (*RecognizeResponse, error) {
	var out RecognizeResponse
	err := c.postJSON(ctx, "/v1/recognize", nil, RecognizeRequest{Image: base64.StdEncoding.EncodeToString(image), RecognizeOptions: opts}, &out)
	return &out, err
}

// RecognizeRaw sends the image bytes as the body with the given content type.
func (c *Client) RecognizeRaw(ctx context.Context, image []byte, contentType string, gallery string) (*RecognizeResponse, error) {
	var out RecognizeResponse
	q := url.Values{}
	if gallery != "" {
		q.Set("gallery", gallery)
	}
	err := c.do(ctx, http.MethodPost, "/v1/recognize", q, contentType, image, &out)
	return &out, err
}

// NewImageItem makes a NewItem from image file bytes.
func NewImageItem(image []byte, label string, meta map[string]string) NewItem {
	return NewItem{Image: base64.StdEncoding.EncodeToString(image), Label: label, Metadata: meta}
}

// AddItems adds one or more items in one durable change.
func (c *Client) AddItems(ctx context.Context, gallery string, items ...NewItem) (*AddItemsResponse, error) {
	var out AddItemsResponse
	err := c.postJSON(ctx, "/v1/gallery/items", nil, AddItemsRequest{Items: items, Gallery: gallery}, &out)
	return &out, err
}

func galleryQuery(g string) url.Values {
	q := url.Values{}
	if g != "" {
		q.Set("gallery", g)
	}
	return q
}

// ListItems lists a page of items (label may be empty; limit 0 = server default).
func (c *Client) ListItems(ctx context.Context, gallery, label string, start int64, limit int) (*ListItemsResponse, error) {
	q := galleryQuery(gallery)
	if label != "" {
		q.Set("label", label)
	}
	if start > 0 {
		q.Set("start", strconv.FormatInt(start, 10))
	}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	var out ListItemsResponse
	err := c.do(ctx, http.MethodGet, "/v1/gallery/items", q, "", nil, &out)
	return &out, err
}

// GetItem fetches one item.
func (c *Client) GetItem(ctx context.Context, gallery string, id int64) (*Item, error) {
	var out Item
	err := c.do(ctx, http.MethodGet, "/v1/gallery/items/"+strconv.FormatInt(id, 10), galleryQuery(gallery), "", nil, &out)
	return &out, err
}

// DeleteItem removes one item.
func (c *Client) DeleteItem(ctx context.Context, gallery string, id int64) (*RemoveResponse, error) {
	var out RemoveResponse
	err := c.do(ctx, http.MethodDelete, "/v1/gallery/items/"+strconv.FormatInt(id, 10), galleryQuery(gallery), "", nil, &out)
	return &out, err
}

// DeleteLabel removes every item of a label.
func (c *Client) DeleteLabel(ctx context.Context, gallery, label string) (*RemoveResponse, error) {
	var out RemoveResponse
	err := c.do(ctx, http.MethodDelete, "/v1/gallery/labels/"+url.PathEscape(label), galleryQuery(gallery), "", nil, &out)
	return &out, err
}

// CreateGallery creates an empty named gallery (kept across restarts).
func (c *Client) CreateGallery(ctx context.Context, name string) (*GalleryInfo, error) {
	var out GalleryInfo
	err := c.postJSON(ctx, "/v1/galleries", nil, CreateGalleryRequest{Name: name}, &out)
	return &out, err
}

// DeleteGallery deletes a gallery created through the API, with its files.
func (c *Client) DeleteGallery(ctx context.Context, name string) error {
	return c.do(ctx, http.MethodDelete, "/v1/galleries/"+url.PathEscape(name), nil, "", nil, nil)
}

// Gallery returns a gallery's figures.
func (c *Client) Gallery(ctx context.Context, gallery string) (*GalleryInfo, error) {
	var out GalleryInfo
	err := c.do(ctx, http.MethodGet, "/v1/gallery", galleryQuery(gallery), "", nil, &out)
	return &out, err
}

// Serving calls the Paddle Serving pipeline endpoint.
func (c *Client) Serving(ctx context.Context, image []byte) (*ServingResponse, error) {
	var out ServingResponse
	err := c.postJSON(ctx, "/recognition/prediction", nil, ServingRequest{Key: []string{"image"}, Value: []string{base64.StdEncoding.EncodeToString(image)}}, &out)
	return &out, err
}

// PXInfer calls PaddleX's /shitu-infer.
func (c *Client) PXInfer(ctx context.Context, req PXInferRequest) (*PXEnvelope[PXInferResult], error) {
	var out PXEnvelope[PXInferResult]
	err := c.postJSON(ctx, "/shitu-infer", nil, req, &out)
	return &out, err
}

// PXBuild calls PaddleX's /shitu-index-build.
func (c *Client) PXBuild(ctx context.Context, req PXBuildRequest) (*PXEnvelope[PXBuildResult], error) {
	var out PXEnvelope[PXBuildResult]
	err := c.postJSON(ctx, "/shitu-index-build", nil, req, &out)
	return &out, err
}

// PXAdd calls PaddleX's /shitu-index-add.
func (c *Client) PXAdd(ctx context.Context, req PXAddRequest) (*PXEnvelope[PXIDMapResult], error) {
	var out PXEnvelope[PXIDMapResult]
	err := c.postJSON(ctx, "/shitu-index-add", nil, req, &out)
	return &out, err
}

// PXRemove calls PaddleX's /shitu-index-remove.
func (c *Client) PXRemove(ctx context.Context, req PXRemoveRequest) (*PXEnvelope[PXIDMapResult], error) {
	var out PXEnvelope[PXIDMapResult]
	err := c.postJSON(ctx, "/shitu-index-remove", nil, req, &out)
	return &out, err
}
