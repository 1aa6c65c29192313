package console

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"

	"github.com/shitu-go/shitu/gallery"
	"github.com/shitu-go/shitu/imaging"
)

// Thumbnails. A gallery keeps each item's source path and the sha256 of
// its image bytes, not the image. The console keeps a small JPEG per
// image, named by that sha256, in the folder "thumbs" of the gallery's
// directory: written when the console adds an image (upload or review),
// and made on first view for items whose source path is a readable file
// with the recorded sha256 (a gallery built from a list). The hash check
// means a thumbnail only ever shows the very image the item was made
// from. Items with neither show a placeholder.
const (
	thumbDir  = "thumbs"
	thumbSide = 160
	// maxSourceBytes bounds a source file read to make a thumbnail.
	maxSourceBytes = 64 << 20
)

func thumbPath(g *gallery.Gallery, sha string) string {
	return filepath.Join(g.Dir(), thumbDir, sha[:2], sha+".jpg")
}

func validSHA(s string) bool {
	if len(s) != 64 {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil
}

// saveThumb writes the thumbnail of image bytes (best effort: a missing
// thumbnail shows the placeholder).
func (c *Console) saveThumb(g *gallery.Gallery, sha string, data []byte) []byte {
	if !validSHA(sha) {
		return nil
	}
	img, err := imaging.Decode(data, imaging.DecodeOptions{MaxPixels: c.srv.Limits().MaxPixels})
	if err != nil {
		return nil
	}
	jpg, err := shrinkJPEG(img, thumbSide, 80)
	if err != nil {
		return nil
	}
	p := thumbPath(g, sha)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err == nil {
		if err := gallery.WriteFileAtomic(p, func(w io.Writer) error { _, err := w.Write(jpg); return err }); err != nil {
			c.cfg.Logger.Warn("console thumbnail", "error", err.Error())
		}
	}
	return jpg
}

// placeholder is shown for items without a thumbnail.
const placeholder = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><rect width="16" height="16" fill="#e4e7eb"/><path d="M3 12l3-4 2 3 2-2 3 3z" fill="#9aa5b1"/></svg>`

func (c *Console) serveThumb(w http.ResponseWriter, r *http.Request) error {
	_, g, err := c.gallery(r)
	if err != nil {
		return err
	}
	id, err := strconv.ParseInt(r.URL.Query().Get("id"), 10, 64)
	if err != nil {
		return fmt.Errorf("%w: item id", ErrInput)
	}
	// Ids are never reused: an id's image never changes.
	w.Header().Set("Cache-Control", "private, max-age=86400")
	it, err := g.Get(id)
	if err != nil {
		return err
	}
	if validSHA(it.SHA256) {
		if b, err := os.ReadFile(thumbPath(g, it.SHA256)); err == nil {
			w.Header().Set("Content-Type", "image/jpeg")
			w.Write(b)
			return nil
		}
		b, err := c.makeThumb(r, g, it)
		if err != nil {
			w.Header().Del("Cache-Control")
			return err
		}
		if b != nil {
			w.Header().Set("Content-Type", "image/jpeg")
			w.Write(b)
			return nil
		}
	}
	w.Header().Set("Content-Type", "image/svg+xml")
	w.Write([]byte(placeholder))
	return nil
}

// maxThumbFailed bounds the remembered images whose thumbnail could not be
// made; past it the memory starts over.
const maxThumbFailed = 10000

// makeThumb makes the thumbnail of an item from its source file, at most
// cap(thumbSem) at a time (waiting as long as the request lasts); it
// returns nil at once for an image (sha256 and source path) whose
// thumbnail could not be made before.
func (c *Console) makeThumb(r *http.Request, g *gallery.Gallery, it gallery.Item) ([]byte, error) {
	key := it.SHA256 + "\x00" + it.Source
	if it.Source == "" || c.thumbFailed(key) {
		return nil, nil
	}
	select {
	case c.thumbSem <- struct{}{}:
	case <-r.Context().Done():
		return nil, r.Context().Err()
	}
	defer func() { <-c.thumbSem }()
	// Another request may have made it meanwhile.
	if b, err := os.ReadFile(thumbPath(g, it.SHA256)); err == nil {
		return b, nil
	}
	if c.thumbFailed(key) {
		return nil, nil
	}
	b := c.thumbFromSource(g, it)
	if b == nil {
		c.mu.Lock()
		if len(c.thumbFails) >= maxThumbFailed {
			clear(c.thumbFails)
		}
		c.thumbFails[key] = struct{}{}
		c.mu.Unlock()
	}
	return b, nil
}

func (c *Console) thumbFailed(key string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, ok := c.thumbFails[key]
	return ok
}

// thumbFromSource makes the thumbnail of an item from its source file when
// that file still holds the image the item was made from.
func (c *Console) thumbFromSource(g *gallery.Gallery, it gallery.Item) []byte {
	if it.Source == "" {
		return nil
	}
	f, err := os.Open(it.Source)
	if err != nil {
		return nil
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() || fi.Size() > maxSourceBytes {
		return nil
	}
	b, err := io.ReadAll(io.LimitReader(f, maxSourceBytes))
	if err != nil {
		return nil
	}
	sum := sha256.Sum256(b)
	if hex.EncodeToString(sum[:]) != it.SHA256 {
		return nil
	}
	return c.saveThumb(g, it.SHA256, b)
}
