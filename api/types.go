// Package api holds the JSON wire types of shitu's HTTP service and a Go
// client for it. It imports only the standard library.
package api

// Box is [xmin, ymin, xmax, ymax] in image pixels.
type Box [4]int

// Candidate is one gallery hit.
type Candidate struct {
	ID    int64   `json:"id"`
	Label string  `json:"label"`
	Score float32 `json:"score"`
}

// Object is one recognised box.
type Object struct {
	BBox       Box         `json:"bbox"`
	DetScore   float32     `json:"det_score"`
	WholeImage bool        `json:"whole_image,omitempty"`
	Label      *string     `json:"label"` // null when unknown
	Score      float32     `json:"score"`
	Threshold  float32     `json:"threshold"`
	Candidates []Candidate `json:"candidates"`
}

// RecognizeOptions are the per-request knobs of POST /v1/recognize. In a
// multipart or raw-body request they are query parameters of the same names
// (labels comma-separated, metadata as key=value pairs separated by commas).
type RecognizeOptions struct {
	Gallery        string            `json:"gallery,omitempty"`
	TopK           int               `json:"topk,omitempty"`
	ScoreThreshold *float32          `json:"score_threshold,omitempty"`
	DetThreshold   *float64          `json:"det_threshold,omitempty"`
	HammingRadius  *float32          `json:"hamming_radius,omitempty"`
	WholeImage     string            `json:"whole_image,omitempty"` // always | fallback | never
	Labels         []string          `json:"labels,omitempty"`
	Metadata       map[string]string `json:"metadata,omitempty"`
	Visualize      bool              `json:"visualize,omitempty"`
	// MinVersion asks for an answer from a gallery at this version or
	// later (read-your-writes across replicas: a change's answer carries
	// its version); a replica behind it waits, bounded, then answers 503.
	// Also settable with the header X-Shitu-Min-Version.
	MinVersion uint64 `json:"min_version,omitempty"`
}

// RecognizeRequest is the JSON body form of POST /v1/recognize.
type RecognizeRequest struct {
	Image string `json:"image"` // base64 of the image file bytes
	RecognizeOptions
}

// Timings are stage durations in milliseconds.
type Timings struct {
	Decode float64 `json:"decode"`
	Detect float64 `json:"detect"`
	Crop   float64 `json:"crop"`
	Rec    float64 `json:"rec"`
	Search float64 `json:"search"`
	NMS    float64 `json:"nms"`
	Total  float64 `json:"total"`
}

// RecognizeResponse is the JSON answer for one image: the body of POST
// /v1/recognize and each line of `shitu predict`'s JSON output (one type,
// so an unknown box is "label": null in both).
type RecognizeResponse struct {
	// Path is the image file (predict only).
	Path           string   `json:"path,omitempty"`
	Objects        []Object `json:"objects"`
	Gallery        string   `json:"gallery"`
	GalleryVersion uint64   `json:"gallery_version"`
	Width          int      `json:"width"`
	Height         int      `json:"height"`
	TimingsMS      Timings  `json:"timings_ms"`
	Image          string   `json:"image,omitempty"` // base64 JPEG when visualize was asked
	// Visualization is the file the visualisation was written to (predict only).
	Visualization string `json:"visualization,omitempty"`
	// Synthetic is true when the models have seeded weights (shitu models
	// synth, a synthesized mirror): the answers are not meaningful.
	Synthetic bool `json:"synthetic,omitempty"`
}

// Item is one gallery entry.
type Item struct {
	ID       int64             `json:"id"`
	Label    string            `json:"label"`
	Source   string            `json:"source,omitempty"`
	SHA256   string            `json:"sha256,omitempty"`
	Metadata map[string]string `json:"metadata,omitempty"`
}

// NewItem is one image to add.
type NewItem struct {
	Image    string            `json:"image"` // base64 of the image file bytes
	Label    string            `json:"label"`
	Source   string            `json:"source,omitempty"`
	Metadata map[string]string `json:"metadata,omitempty"`
}

// AddItemsRequest is the JSON form of POST /v1/gallery/items: one item or
// a batch in Items.
type AddItemsRequest struct {
	NewItem
	Items   []NewItem `json:"items,omitempty"`
	Gallery string    `json:"gallery,omitempty"`
}

// AddItemsResponse lists the added items.
type AddItemsResponse struct {
	Items          []Item `json:"items"`
	GalleryVersion uint64 `json:"gallery_version"`
}

// ListItemsResponse is a page of items; Next is the start of the next page
// or -1.
type ListItemsResponse struct {
	Items []Item `json:"items"`
	Next  int64  `json:"next"`
}

// RemoveResponse says how many items went.
type RemoveResponse struct {
	Removed        int    `json:"removed"`
	GalleryVersion uint64 `json:"gallery_version"`
}

// GalleryInfo answers GET /v1/gallery.
type GalleryInfo struct {
	Name    string `json:"name"`
	Items   int    `json:"items"`
	Labels  int    `json:"labels"`
	Dims    int    `json:"dims"`
	Metric  string `json:"metric"`
	Method  string `json:"method"`
	Binary  bool   `json:"binary"`
	Model   string `json:"model"`
	Version uint64 `json:"version"`
	// DiskBytes is the gallery's store plus index snapshot on disk.
	DiskBytes int64          `json:"disk_bytes"`
	Counts    map[string]int `json:"label_counts,omitempty"`
}

// ErrorBody is every error answer: {"error": {"code": "...", "message": "..."}}.
type ErrorBody struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail names the kind of error and says what went wrong.
type ErrorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// ServingRequest is Paddle Serving's pipeline request (ppshitu-pipeline.md §13.3).
type ServingRequest struct {
	Key   []string `json:"key"`
	Value []string `json:"value"`
}

// ServingResponse is Paddle Serving's pipeline answer.
type ServingResponse struct {
	ErrNo   int      `json:"err_no"`
	ErrMsg  string   `json:"err_msg"`
	Key     []string `json:"key"`
	Value   []string `json:"value"`
	Tensors []any    `json:"tensors"`
}

// PaddleX serving shapes (ppshitu-pipeline.md §17).

// PXEnvelope wraps every PaddleX answer.
type PXEnvelope[T any] struct {
	LogID     string `json:"logId"`
	ErrorCode int    `json:"errorCode"`
	ErrorMsg  string `json:"errorMsg"`
	Result    *T     `json:"result,omitempty"`
}

// PXImageLabelPair is one gallery image of /shitu-index-build and -add.
type PXImageLabelPair struct {
	Image string `json:"image"`
	Label string `json:"label"`
}

// PXBuildRequest is POST /shitu-index-build.
type PXBuildRequest struct {
	ImageLabelPairs []PXImageLabelPair `json:"imageLabelPairs"`
}

// PXBuildResult answers /shitu-index-build: the new index's key and its
// ids with their labels.
type PXBuildResult struct {
	IndexKey string           `json:"indexKey"`
	IDMap    map[int64]string `json:"idMap"`
}

// PXAddRequest is POST /shitu-index-add (indexKey required).
type PXAddRequest struct {
	ImageLabelPairs []PXImageLabelPair `json:"imageLabelPairs"`
	IndexKey        string             `json:"indexKey"`
}

// PXRemoveRequest is POST /shitu-index-remove (ids and indexKey required).
type PXRemoveRequest struct {
	IDs      []int64 `json:"ids"`
	IndexKey string  `json:"indexKey"`
}

// PXIDMapResult answers /shitu-index-add and /shitu-index-remove: every
// id of the index after the change, with its label.
type PXIDMapResult struct {
	IDMap map[int64]string `json:"idMap"`
}

// PXInferRequest is POST /shitu-infer.
type PXInferRequest struct {
	Image         string   `json:"image"`
	IndexKey      string   `json:"indexKey,omitempty"`
	DetThreshold  *float64 `json:"detThreshold,omitempty"`
	RecThreshold  *float32 `json:"recThreshold,omitempty"`
	HammingRadius *float32 `json:"hammingRadius,omitempty"`
	TopK          *int     `json:"topk,omitempty"`
	// Visualize is shitu's own field: false leaves the image out, true
	// returns it even when the server was started without it.
	Visualize *bool `json:"visualize,omitempty"`
}

// PXRecResult is one label of a PaddleX detected object.
type PXRecResult struct {
	Label string  `json:"label"`
	Score float32 `json:"score"`
}

// PXObject is one PaddleX detected object.
type PXObject struct {
	BBox       [4]float32    `json:"bbox"`
	RecResults []PXRecResult `json:"recResults"`
	Score      float32       `json:"score"`
}

// PXInferResult answers /shitu-infer.
type PXInferResult struct {
	DetectedObjects []PXObject `json:"detectedObjects"`
	Image           *string    `json:"image,omitempty"` // base64 JPEG; absent, not null, when off
}

// CreateGalleryRequest is POST /v1/galleries.
type CreateGalleryRequest struct {
	Name string `json:"name"`
}

// DeleteGalleryResponse answers DELETE /v1/galleries/{name}.
type DeleteGalleryResponse struct {
	Deleted string `json:"deleted"`
}

// Thresholds is the body of PUT /v1/gallery/thresholds and the answer of
// GET: the acceptance thresholds stored with a gallery (as calibration
// stores them), a global score threshold and per-label overrides.
type Thresholds struct {
	Global   float32            `json:"global"`
	PerLabel map[string]float32 `json:"per_label,omitempty"`
	// Set is false in a GET answer when none are stored (the configured
	// score threshold applies).
	Set bool `json:"set"`
	// GalleryVersion is the gallery version after a PUT (a replicated
	// gallery's change moves it; a single-machine gallery's does not).
	GalleryVersion uint64 `json:"gallery_version"`
}
