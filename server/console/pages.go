package console

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/shitu-go/shitu/gallery"
	"github.com/shitu-go/shitu/imaging"
	"github.com/shitu-go/shitu/recognize"
)

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

type candView struct {
	ID    int64
	Label string
	Score float32
}

type objView struct {
	N                  int
	X, Y, BW, BH       int
	Label              string // top-1 label
	Known              bool
	Score, Threshold   float32
	Whole              bool
	Cands              []candView
	TextX, TextY, Font int
}

type resultView struct {
	Gallery   string
	Version   uint64
	W, H      int
	Image     any // template.URL
	Objects   []objView
	Threshold float32 // the slider's start
	Binary    bool
	Queued    int
}

func (c *Console) pageRecognize(w http.ResponseWriter, r *http.Request) error {
	v := c.view(w, r, "recognize", "Recognise")
	c.render(w, r, http.StatusOK, "recognize", "", v)
	return nil
}

// formFile reads the first file of a multipart field.
func formFile(r *http.Request, field string) ([]byte, string, error) {
	if r.MultipartForm == nil || len(r.MultipartForm.File[field]) == 0 {
		return nil, "", fmt.Errorf("%w: choose an image first", ErrInput)
	}
	fh := r.MultipartForm.File[field][0]
	b, err := readPart(fh)
	return b, fh.Filename, err
}

func readPart(fh *multipart.FileHeader) ([]byte, error) {
	f, err := fh.Open()
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInput, err)
	}
	defer f.Close()
	b, err := io.ReadAll(f)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInput, err)
	}
	if len(b) == 0 {
		return nil, fmt.Errorf("%w: %s is empty", ErrInput, fh.Filename)
	}
	return b, nil
}

func (c *Console) doRecognize(w http.ResponseWriter, r *http.Request) error {
	name, g, err := c.gallery(r)
	if err != nil {
		return err
	}
	data, _, err := formFile(r, "image")
	if err != nil {
		return err
	}
	res, img, err := c.srv.Recognize(r.Context(), name, data, nil)
	if err != nil {
		return err
	}
	rv := resultView{Gallery: name, Version: res.GalleryVersion, W: img.W, H: img.H, Binary: g.Binary()}
	rv.Queued = c.observe(name, img, res, false)
	if jpg, err := shrinkJPEG(img, 1024, 85); err == nil {
		rv.Image = dataURL(jpg)
	}
	font := max(12, max(img.W, img.H)/32)
	for i, o := range res.Objects {
		ov := objView{N: i + 1, X: o.Box[0], Y: o.Box[1], BW: o.Box[2] - o.Box[0], BH: o.Box[3] - o.Box[1],
			Known: o.Known(), Score: o.Score, Threshold: o.Threshold, Whole: o.WholeImage, Font: font}
		ov.TextX, ov.TextY = ov.X+font/4, ov.Y+font
		if len(o.Candidates) > 0 {
			ov.Label = o.Candidates[0].Label
		}
		for _, cd := range o.Candidates {
			ov.Cands = append(ov.Cands, candView(cd))
		}
		rv.Objects = append(rv.Objects, ov)
	}
	rv.Threshold = 0.5
	if gl, _, ok, _ := g.Thresholds(); ok {
		rv.Threshold = gl
	} else if len(res.Objects) > 0 {
		rv.Threshold = res.Objects[0].Threshold
	}
	v := c.view(w, r, "recognize", "Recognise")
	v.Data = rv
	c.render(w, r, http.StatusOK, "recognize", "result", v)
	return nil
}

// shrinkJPEG encodes img as JPEG, scaled down to fit side×side.
func shrinkJPEG(img *imaging.Image, side, quality int) ([]byte, error) {
	img, err := shrink(img, side)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	if err := imaging.EncodeJPEG(&b, img, quality); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// shrink scales img down to fit side×side (img itself when it fits).
func shrink(img *imaging.Image, side int) (*imaging.Image, error) {
	s := max(img.W, img.H)
	if s <= side {
		return img, nil
	}
	w, h := max(1, img.W*side/s), max(1, img.H*side/s)
	small, err := imaging.Resize(img, w, h, imaging.Area)
	if err != nil {
		if small, err = imaging.Resize(img, w, h, imaging.Linear); err != nil {
			return nil, err
		}
	}
	return small, nil
}

// labelsPerPage and thumbsPerLabel shape the gallery browser.
const (
	labelsPerPage  = 24
	thumbsPerLabel = 6
	itemsPerPage   = 60
)

type labelView struct {
	Label     string
	Count     int
	Threshold float32
	HasThr    bool
	Items     []gallery.Item
	More      bool
}

type calibView struct {
	OK       bool
	Global   float32
	PerLabel int
	Min, Max float32
	Bars     []barView
}

type barView struct {
	X, H  int
	Label string
}

type galleryView struct {
	Stats    gallery.Stats
	Q        string
	Page     int
	Pages    int
	Matches  int
	Labels   []labelView
	Calib    calibView
	MaxBatch int
	MaxBody  int64
}

func (c *Console) pageGalleries(w http.ResponseWriter, r *http.Request) error {
	_, g, err := c.gallery(r)
	if err != nil {
		return err
	}
	q := strings.TrimSpace(r.URL.Query().Get("q"))
	page, _ := strconv.Atoi(r.URL.Query().Get("page"))
	counts := g.Labels()
	names := make([]string, 0, len(counts))
	lq := strings.ToLower(q)
	for l := range counts {
		if q == "" || strings.Contains(strings.ToLower(l), lq) {
			names = append(names, l)
		}
	}
	sort.Strings(names)
	gv := galleryView{Stats: g.Stats(), Q: q, Matches: len(names), MaxBatch: c.srv.Limits().MaxBatch, MaxBody: c.srv.Limits().MaxBodyBytes}
	gv.Pages = max(1, (len(names)+labelsPerPage-1)/labelsPerPage)
	gv.Page = min(max(page, 1), gv.Pages)
	lo := (gv.Page - 1) * labelsPerPage
	names = names[lo:min(lo+labelsPerPage, len(names))]
	by := g.ByLabel(names, thumbsPerLabel)
	glob, per, ok, _ := g.Thresholds()
	for _, l := range names {
		lv := labelView{Label: l, Count: counts[l], Items: by[l], More: counts[l] > thumbsPerLabel}
		if ok {
			lv.Threshold, lv.HasThr = glob, true
			if t, has := per[l]; has {
				lv.Threshold = t
			}
		}
		gv.Labels = append(gv.Labels, lv)
	}
	gv.Calib = calibration(glob, per, ok)
	v := c.view(w, r, "galleries", "Galleries")
	v.Data = gv
	c.render(w, r, http.StatusOK, "galleries", "", v)
	return nil
}

// calibration summarises stored thresholds, with a histogram of the
// per-label ones (20 bins over [min, max]) for the page's plot.
func calibration(glob float32, per map[string]float32, ok bool) calibView {
	cv := calibView{OK: ok, Global: glob, PerLabel: len(per)}
	if !ok || len(per) == 0 {
		return cv
	}
	first := true
	for _, t := range per {
		if first || t < cv.Min {
			cv.Min = t
		}
		if first || t > cv.Max {
			cv.Max = t
		}
		first = false
	}
	const bins = 20
	var h [bins]int
	for _, t := range per {
		i := 0
		if cv.Max > cv.Min {
			i = min(bins-1, int(float32(bins)*(t-cv.Min)/(cv.Max-cv.Min)))
		}
		h[i]++
	}
	top := 1
	for _, n := range h {
		top = max(top, n)
	}
	for i, n := range h {
		lo := cv.Min + (cv.Max-cv.Min)*float32(i)/bins
		cv.Bars = append(cv.Bars, barView{X: i * 10, H: 60 * n / top, Label: fmt.Sprintf("%d labels ≥ %.3f", n, lo)})
	}
	return cv
}

type labelPage struct {
	Stats gallery.Stats
	Label string
	Count int
	Items []gallery.Item
	Page  int
	Pages int
}

func (c *Console) pageLabel(w http.ResponseWriter, r *http.Request) error {
	_, g, err := c.gallery(r)
	if err != nil {
		return err
	}
	label := r.URL.Query().Get("label")
	page, _ := strconv.Atoi(r.URL.Query().Get("page"))
	lp := labelPage{Stats: g.Stats(), Label: label, Page: max(page, 1)}
	lp.Items, lp.Count = g.LabelPage(label, (lp.Page-1)*itemsPerPage, itemsPerPage)
	lp.Pages = max(1, (lp.Count+itemsPerPage-1)/itemsPerPage)
	if lp.Page > lp.Pages { // past the end: the last page
		lp.Page = lp.Pages
		lp.Items, lp.Count = g.LabelPage(label, (lp.Page-1)*itemsPerPage, itemsPerPage)
	}
	v := c.view(w, r, "galleries", label)
	v.Data = lp
	c.render(w, r, http.StatusOK, "label", "", v)
	return nil
}

// checkVersion refuses an edit made from a page of an older version of
// the gallery: someone else changed it meanwhile.
func checkVersion(r *http.Request, g *gallery.Gallery) error {
	seen, err := strconv.ParseUint(r.PostFormValue("version"), 10, 64)
	if err != nil {
		return fmt.Errorf("%w: the form has no gallery version", ErrInput)
	}
	if now := g.Version(); now != seen {
		return fmt.Errorf("%w: you saw version %d, it is now version %d; reload the page to see the changes, then try again", ErrStale, seen, now)
	}
	return nil
}

func galleryPage(name string) string { return "/ui/galleries?g=" + urlQueryEscape(name) }

func (c *Console) doAdd(w http.ResponseWriter, r *http.Request) error {
	name, g, err := c.gallery(r)
	if err != nil {
		return err
	}
	label := strings.TrimSpace(r.PostFormValue("label"))
	if err := gallery.CheckLabel(label); err != nil {
		return fmt.Errorf("%w: %v", ErrInput, err)
	}
	var files []*multipart.FileHeader
	if r.MultipartForm != nil {
		files = r.MultipartForm.File["images"]
	}
	if len(files) == 0 {
		return fmt.Errorf("%w: choose one or more images", ErrInput)
	}
	if mb := c.srv.Limits().MaxBatch; len(files) > mb {
		return fmt.Errorf("%w: %d images at once; this server takes up to %d per add (--max-batch)", ErrInput, len(files), mb)
	}
	imgs := make([]gallery.NewImage, len(files))
	for i, fh := range files {
		b, err := readPart(fh)
		if err != nil {
			return err
		}
		imgs[i] = gallery.NewImage{Label: label, Data: b, Meta: map[string]string{"file": clip(filepath.Base(fh.Filename), 200), "added_by": "console"}}
	}
	items, err := c.srv.AddImages(r.Context(), name, imgs)
	if err != nil {
		return err
	}
	for i, it := range items {
		c.saveThumb(g, it.SHA256, imgs[i].Data)
	}
	v := c.view(w, r, "galleries", "Added")
	v.Done = fmt.Sprintf("Added %d image(s) under %q; the gallery is now version %d.", len(items), label, g.Version())
	v.Data = map[string]any{"Label": label, "Items": items, "Gallery": name}
	c.render(w, r, http.StatusOK, "galleries", "added", v)
	return nil
}

func clip(s string, n int) string {
	for len(s) > n {
		_, size := lastRune(s)
		s = s[:len(s)-size]
	}
	return strings.ToValidUTF8(s, "")
}

func lastRune(s string) (rune, int) {
	for i := len(s) - 1; i >= 0; i-- {
		if s[i]&0xC0 != 0x80 {
			return rune(s[i]), len(s) - i
		}
	}
	return 0, len(s)
}

func (c *Console) doRemove(w http.ResponseWriter, r *http.Request) error {
	name, g, err := c.gallery(r)
	if err != nil {
		return err
	}
	id, err := strconv.ParseInt(r.PostFormValue("id"), 10, 64)
	if err != nil {
		return fmt.Errorf("%w: item id %q", ErrInput, r.PostFormValue("id"))
	}
	if err := checkVersion(r, g); err != nil {
		return err
	}
	n, v, err := c.srv.RemoveItems(r.Context(), name, id)
	if err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("%w: item %d is not in the gallery (now version %d)", ErrStale, id, v)
	}
	redirectDone(w, r, backTo(r, name), fmt.Sprintf("Removed item %d; the gallery is now version %d.", id, v))
	return nil
}

// backTo is the page an edit returns to: the form's "back" when local.
func backTo(r *http.Request, name string) string {
	if b := r.PostFormValue("back"); strings.HasPrefix(b, "/ui/") && !strings.Contains(b, "done=") {
		return b
	}
	return galleryPage(name)
}

func (c *Console) doRemoveLabel(w http.ResponseWriter, r *http.Request) error {
	name, g, err := c.gallery(r)
	if err != nil {
		return err
	}
	label := r.PostFormValue("label")
	if err := checkVersion(r, g); err != nil {
		return err
	}
	n, v, err := c.srv.RemoveLabel(r.Context(), name, label)
	if err != nil {
		return err
	}
	redirectDone(w, r, galleryPage(name), fmt.Sprintf("Removed %d item(s) of %q; the gallery is now version %d.", n, label, v))
	return nil
}

// maxRelabel bounds the items one relabel changes, as the server bounds
// the ids of one remove request.
const maxRelabel = 10000

func (c *Console) doRelabel(w http.ResponseWriter, r *http.Request) error {
	name, g, err := c.gallery(r)
	if err != nil {
		return err
	}
	label, to := r.PostFormValue("label"), strings.TrimSpace(r.PostFormValue("to"))
	if err := gallery.CheckLabel(to); err != nil {
		return fmt.Errorf("%w: %v", ErrInput, err)
	}
	if err := checkVersion(r, g); err != nil {
		return err
	}
	var ids []int64
	for _, it := range g.ByLabel([]string{label}, maxRelabel+1)[label] {
		ids = append(ids, it.ID)
	}
	if len(ids) == 0 {
		return fmt.Errorf("%w: no item has label %q (the gallery is now version %d)", ErrStale, label, g.Version())
	}
	if len(ids) > maxRelabel {
		return fmt.Errorf("%w: label %q has more than %d items; one relabel changes at most %d", ErrInput, label, maxRelabel, maxRelabel)
	}
	_, v, err := c.srv.Relabel(r.Context(), name, to, ids...)
	if err != nil {
		return err
	}
	redirectDone(w, r, galleryPage(name)+"&q="+urlQueryEscape(to), fmt.Sprintf("Relabelled %d item(s) %q → %q; the gallery is now version %d.", len(ids), label, to, v))
	return nil
}

// firstCandidate is the suggestion of a box: its best candidate's label.
func firstCandidate(o recognize.Object) string {
	if len(o.Candidates) == 0 {
		return ""
	}
	return o.Candidates[0].Label
}
