package console

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/shitu-go/shitu/gallery"
	"github.com/shitu-go/shitu/imaging"
	"github.com/shitu-go/shitu/recognize"
	"github.com/shitu-go/shitu/server"
)

// The review queue of a gallery lives next to its store, in the folder
// "review" of the gallery's directory: one <id>.jpg (the box's crop, at
// most reviewSide pixels a side) and one <id>.json (reviewEntry) per
// entry, written atomically. Ids grow with time, so the oldest entry is
// the lowest id; past Config.ReviewMax the oldest are deleted.
const (
	reviewDir  = "review"
	reviewSide = 512
	// maxPerImage bounds the entries one recognition can queue.
	maxPerImage = 4
)

type reviewCand struct {
	Label string  `json:"label"`
	Score float32 `json:"score"`
	ID    int64   `json:"id"`
}

// reviewFormat is the version of a review entry's JSON.
const reviewFormat = 1

type reviewEntry struct {
	Format     int          `json:"format"`
	ID         int64        `json:"id"`
	Time       time.Time    `json:"time"`
	Version    uint64       `json:"gallery_version"`
	Box        [4]int       `json:"box"`
	Score      float32      `json:"score"`
	Threshold  float32      `json:"threshold"`
	Suggested  string       `json:"suggested"`
	Candidates []reviewCand `json:"candidates"`
}

type queue struct {
	dir     string
	mu      sync.Mutex
	loaded  bool
	entries []reviewEntry // by id
	last    int64
}

func (c *Console) queueOf(g *gallery.Gallery) *queue {
	dir := filepath.Join(g.Dir(), reviewDir)
	c.mu.Lock()
	defer c.mu.Unlock()
	q, ok := c.queues[dir]
	if !ok {
		q = &queue{dir: dir}
		c.queues[dir] = q
	}
	return q
}

// loadLocked reads the queue's entries from disk once; q.mu is held.
func (q *queue) loadLocked() {
	if q.loaded {
		return
	}
	q.loaded = true
	des, _ := os.ReadDir(q.dir)
	for _, de := range des {
		n, ok := strings.CutSuffix(de.Name(), ".json")
		if !ok {
			continue
		}
		id, err := strconv.ParseInt(n, 10, 64)
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join(q.dir, de.Name()))
		var e reviewEntry
		if err != nil || len(b) > 1<<20 || json.Unmarshal(b, &e) != nil || e.ID != id || e.Format != reviewFormat {
			continue
		}
		q.entries = append(q.entries, e)
		q.last = max(q.last, id)
	}
	sort.Slice(q.entries, func(i, j int) bool { return q.entries[i].ID < q.entries[j].ID })
}

func (q *queue) path(id int64, ext string) string {
	return filepath.Join(q.dir, strconv.FormatInt(id, 10)+ext)
}

func (q *queue) size() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.loadLocked()
	return len(q.entries)
}

func (q *queue) list() []reviewEntry {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.loadLocked()
	out := make([]reviewEntry, len(q.entries))
	for i, e := range q.entries { // newest first
		out[len(out)-1-i] = e
	}
	return out
}

// add stores an entry and its crop; it returns how many old ones it dropped.
func (q *queue) add(e reviewEntry, jpg []byte, maxN int) (int, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.loadLocked()
	if err := os.MkdirAll(q.dir, 0o755); err != nil {
		return 0, err
	}
	e.ID = max(time.Now().UnixNano(), q.last+1)
	q.last = e.ID
	js, err := json.Marshal(e)
	if err != nil {
		return 0, err
	}
	for _, f := range []struct {
		ext string
		b   []byte
	}{{".jpg", jpg}, {".json", js}} { // the JSON last: it marks the entry complete
		b := f.b
		if err := gallery.WriteFileAtomic(q.path(e.ID, f.ext), func(w io.Writer) error { _, err := w.Write(b); return err }); err != nil {
			return 0, err
		}
	}
	q.entries = append(q.entries, e)
	dropped := 0
	for len(q.entries) > maxN {
		q.removeFiles(q.entries[0].ID)
		q.entries = q.entries[1:]
		dropped++
	}
	return dropped, nil
}

func (q *queue) removeFiles(id int64) {
	os.Remove(q.path(id, ".json"))
	os.Remove(q.path(id, ".jpg"))
}

// take removes an entry from the queue (not its files) and returns it
// with its crop; put gives it back.
func (q *queue) take(id int64) (reviewEntry, []byte, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.loadLocked()
	for i, e := range q.entries {
		if e.ID == id {
			jpg, err := os.ReadFile(q.path(id, ".jpg"))
			if err != nil {
				return e, nil, fmt.Errorf("%w: review entry %d has no image: %v", ErrInput, id, err)
			}
			q.entries = append(q.entries[:i:i], q.entries[i+1:]...)
			return e, jpg, nil
		}
	}
	return reviewEntry{}, nil, fmt.Errorf("%w: review entry %d was already decided (or dropped); the queue has moved on", ErrStale, id)
}

func (q *queue) put(e reviewEntry) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.entries = append(q.entries, e)
	sort.Slice(q.entries, func(i, j int) bool { return q.entries[i].ID < q.entries[j].ID })
}

// unsure reports whether a box's best score falls in the review band
// around the threshold that applied to it.
func (c *Console) unsure(o recognize.Object) bool {
	if len(o.Candidates) == 0 {
		return false
	}
	lo, hi := o.Threshold-max(c.cfg.ReviewBelow, 0), o.Threshold+max(c.cfg.ReviewAbove, 0)
	return o.Score >= lo && o.Score < hi
}

// observe queues the unsure boxes of a recognition for review and returns
// how many. The crops are cut and shrunk to reviewSide here; encoding and
// writing happen on the console's worker, and are dropped (counted), before
// any crop is cut, when it is behind. Binary
// galleries, whose scores are Hamming distances, are not reviewed.
// API recognitions (limited) pass ReviewRate's token bucket; the
// console's own, one person at a page, do not.
func (c *Console) observe(name string, img *imaging.Image, res *recognize.Result, limited bool) int {
	n := 0
	var g *gallery.Gallery
	for _, o := range res.Objects {
		if n == maxPerImage || !c.unsure(o) {
			continue
		}
		if g == nil {
			var err error
			if g, err = c.srv.Gallery(name); err != nil || g.Binary() {
				return 0
			}
		}
		if limited && !c.bucket.take(time.Now()) {
			c.dropped[dropRate].Add(1)
			continue
		}
		if len(c.work) == cap(c.work) { // behind: no crop is cut for nothing
			c.dropped[dropBusy].Add(1)
			continue
		}
		b := o.Box
		crop, err := imaging.Crop(img, b[0], b[1], b[2], b[3])
		if err != nil {
			continue
		}
		// The queue holds small images only: the crop is shrunk here, not
		// on the worker.
		if crop, err = shrink(crop, reviewSide); err != nil {
			continue
		}
		e := reviewEntry{Format: reviewFormat, Time: time.Now().UTC(), Version: res.GalleryVersion, Box: b, Score: o.Score,
			Threshold: o.Threshold, Suggested: firstCandidate(o)}
		for _, cd := range o.Candidates {
			e.Candidates = append(e.Candidates, reviewCand{Label: cd.Label, Score: cd.Score, ID: cd.ID})
		}
		q := c.queueOf(g)
		c.mu.Lock() // with Close: no Add after its Wait has begun
		if c.closed {
			c.mu.Unlock()
			return n
		}
		c.pending.Add(1)
		c.mu.Unlock()
		select {
		case c.work <- func() {
			jpg, err := shrinkJPEG(crop, reviewSide, 90)
			if err == nil {
				var d int
				d, err = q.add(e, jpg, c.cfg.ReviewMax)
				c.dropped[dropFull].Add(uint64(d))
			}
			if err != nil {
				c.cfg.Logger.Error("review queue", "gallery", name, "error", err.Error())
				return
			}
			c.queued.Add(1)
		}:
			n++
		default:
			c.pending.Done()
			c.dropped[dropBusy].Add(1)
		}
	}
	return n
}

type reviewView struct {
	Entries []reviewEntry
	Size    int
	Max     int
	Below   float32
	Above   float32
	Version uint64
}

func (c *Console) pageReview(w http.ResponseWriter, r *http.Request) error {
	_, g, err := c.gallery(r)
	if err != nil {
		return err
	}
	es := c.queueOf(g).list()
	rv := reviewView{Size: len(es), Max: c.cfg.ReviewMax, Below: c.cfg.ReviewBelow, Above: c.cfg.ReviewAbove, Version: g.Version()}
	if len(es) > 50 {
		es = es[:50]
	}
	rv.Entries = es
	v := c.view(w, r, "review", "Review")
	v.Data = rv
	c.render(w, r, http.StatusOK, "review", "", v)
	return nil
}

func (c *Console) serveReviewImage(w http.ResponseWriter, r *http.Request) error {
	_, g, err := c.gallery(r)
	if err != nil {
		return err
	}
	id, err := strconv.ParseInt(r.URL.Query().Get("id"), 10, 64)
	if err != nil {
		return fmt.Errorf("%w: review entry id", ErrInput)
	}
	b, err := os.ReadFile(c.queueOf(g).path(id, ".jpg"))
	if err != nil {
		return fmt.Errorf("%w: review entry %d has no image (decided or dropped)", gallery.ErrNotFound, id)
	}
	w.Header().Set("Content-Type", "image/jpeg")
	w.Header().Set("Cache-Control", "private, max-age=3600")
	w.Write(b)
	return nil
}

// Decisions, as counted in /metrics.
const (
	decAccept = iota
	decRelabel
	decDiscard
)

var decisionNames = [3]string{"accept", "relabel", "discard"}

// Why an unsure box was not kept, as counted in /metrics.
const (
	dropFull = iota
	dropRate
	dropBusy
)

var dropReasons = [3]string{"full", "rate", "busy"}

// tokens is a token bucket: take succeeds at most rate times a second on
// average, burst at once.
type tokens struct {
	mu          sync.Mutex
	rate, burst float64
	have        float64
	last        time.Time
}

func (b *tokens) take(now time.Time) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.last.IsZero() {
		b.have = b.burst
	} else {
		b.have = min(b.burst, b.have+now.Sub(b.last).Seconds()*b.rate)
	}
	b.last = now
	if b.have < 1 {
		return false
	}
	b.have--
	return true
}

func (c *Console) doDecide(w http.ResponseWriter, r *http.Request) error {
	name, g, err := c.gallery(r)
	if err != nil {
		return err
	}
	id, err := strconv.ParseInt(r.PostFormValue("id"), 10, 64)
	if err != nil {
		return fmt.Errorf("%w: review entry id", ErrInput)
	}
	action := r.PostFormValue("action")
	label := strings.TrimSpace(r.PostFormValue("label"))
	back := "/ui/review?g=" + urlQueryEscape(name)
	q := c.queueOf(g)
	switch action {
	case "discard":
		if _, _, err := q.take(id); err != nil {
			return err
		}
		q.removeFiles(id)
		c.decisions[decDiscard].Add(1)
		redirectDone(w, r, back, "Discarded.")
		return nil
	case "add":
	default:
		return fmt.Errorf("%w: unknown review action %q", ErrInput, action)
	}
	if err := gallery.CheckLabel(label); err != nil {
		return fmt.Errorf("%w: %v", ErrInput, err)
	}
	e, jpg, err := q.take(id)
	if err != nil {
		return err
	}
	items, err := c.srv.AddImages(r.Context(), name, []gallery.NewImage{{Label: label, Data: jpg,
		Meta: map[string]string{"added_by": "console review", "review_id": strconv.FormatInt(id, 10)}}})
	if err != nil {
		q.put(e)
		return err
	}
	q.removeFiles(id)
	for _, it := range items {
		c.saveThumb(g, it.SHA256, jpg)
	}
	if label == e.Suggested {
		c.decisions[decAccept].Add(1)
	} else {
		c.decisions[decRelabel].Add(1)
	}
	redirectDone(w, r, back, fmt.Sprintf("Added the crop under %q; the gallery is now version %d.", label, g.Version()))
	return nil
}

// writeMetrics adds the console's figures to /metrics.
func (c *Console) writeMetrics(w io.Writer) {
	fmt.Fprintf(w, "# HELP shitu_review_queue Recognitions waiting for review, per gallery.\n# TYPE shitu_review_queue gauge\n")
	for _, n := range c.srv.Galleries() {
		if g, err := c.srv.Gallery(n); err == nil {
			fmt.Fprintf(w, "shitu_review_queue{gallery=\"%s\"} %d\n", server.MetricLabel(n), c.queueOf(g).size())
		}
	}
	fmt.Fprintf(w, "# HELP shitu_review_queued_total Unsure recognitions queued for review.\n# TYPE shitu_review_queued_total counter\nshitu_review_queued_total %d\n", c.queued.Load())
	fmt.Fprintf(w, "# HELP shitu_review_dropped_total Unsure boxes not kept: the oldest past --review-max (full), over the rate (rate), writer behind (busy).\n# TYPE shitu_review_dropped_total counter\n")
	for i, n := range dropReasons {
		fmt.Fprintf(w, "shitu_review_dropped_total{reason=\"%s\"} %d\n", server.MetricLabel(n), c.dropped[i].Load())
	}
	fmt.Fprintf(w, "# HELP shitu_review_decisions_total Review decisions by kind.\n# TYPE shitu_review_decisions_total counter\n")
	for i, n := range decisionNames {
		fmt.Fprintf(w, "shitu_review_decisions_total{decision=\"%s\"} %d\n", server.MetricLabel(n), c.decisions[i].Load())
	}
}
