package recognize

import (
	"bytes"
	"fmt"
	"sync"

	"github.com/shitu-go/shitu/imaging"
)

// Painter draws results as PaddleClas' draw_bbox_results does
// (ppshitu-pipeline.md §9.2) — label "<label>, <score .2f>" on a blue
// (0,102,255) band 18 px high above the box, white text, the box in red,
// 2 px wide, drawn inward — but with Noto Sans CJK instead of SimFang, and
// (where PaddleClas cuts labels off at the image's edges and lets them
// cover each other) every label kept inside the image and readable.
// Unknown boxes (kept with KeepUnknown) are drawn in grey as "unknown".
// A Painter is safe for concurrent use.
type Painter struct {
	// Mark, when set, is written in the image's lower left corner (e.g.
	// "SYNTHETIC" for answers of seeded networks).
	Mark string
	path string
	once sync.Once
	mu   sync.Mutex
	font *imaging.Font
	err  error
}

// NewPainter uses the font at path ("" = imaging.DefaultFontPath), loaded on first use.
func NewPainter(fontPath string) *Painter { return &Painter{path: fontPath} }

var defaultPainter = NewPainter("")

// VisualizeJPEG draws objs on a copy of img with the default font and
// encodes it as JPEG quality 95 (PaddleClas saves with quality 95).
func VisualizeJPEG(img *imaging.Image, objs []Object) ([]byte, error) {
	return defaultPainter.JPEG(img, objs)
}

var grey = imaging.Color{R: 128, G: 128, B: 128}

// Draw returns a copy of img with the objects drawn. Boxes are drawn
// first, then the labels, each kept inside the image (moved left at the
// right edge, below the box top at the upper edge, shortened with "…" when
// wider than the image) and placed where it covers no other label when
// there is such a place above, inside or below its box.
func (p *Painter) Draw(img *imaging.Image, objs []Object) (*imaging.Image, error) {
	p.once.Do(func() { p.font, p.err = imaging.LoadFont(p.path, -1, imaging.DefaultFontSize) })
	if p.err != nil {
		return nil, p.err
	}
	out := imaging.ToRGB(img).Clone()
	p.mu.Lock()
	defer p.mu.Unlock()
	type label struct {
		text     string
		band     imaging.Color
		x, y, tw int
	}
	labels := make([]label, 0, len(objs))
	for _, o := range objs {
		text, band, box := fmt.Sprintf("%s, %.2f", o.Label, o.Score), imaging.LabelBlue, imaging.Red
		if !o.Known() {
			text, band, box = fmt.Sprintf("unknown, %.2f", o.Score), grey, grey
		}
		imaging.DrawRect(out, o.Box[0], o.Box[1], o.Box[2], o.Box[3], box, 2)
		labels = append(labels, label{text: text, band: band})
	}
	var placed []rect
	for i, o := range objs {
		l := &labels[i]
		l.text, l.tw = p.fit(l.text, out.W-2)
		l.x, l.y = placeLabel(o.Box, l.tw+1, imaging.DefaultFontSize, out.W, out.H, placed)
		placed = append(placed, rect{l.x, l.y, l.x + l.tw + 1, l.y + imaging.DefaultFontSize})
	}
	for _, l := range labels {
		imaging.FillRect(out, l.x, l.y, l.x+l.tw+1, l.y+imaging.DefaultFontSize, l.band)
		imaging.DrawText(out, p.font, l.x+1, l.y, l.text, imaging.White)
	}
	if p.Mark != "" {
		text, tw := p.fit(p.Mark, out.W-2)
		y := max(out.H-imaging.DefaultFontSize, 0)
		imaging.FillRect(out, 0, y, tw+2, y+imaging.DefaultFontSize, imaging.Red)
		imaging.DrawText(out, p.font, 1, y, text, imaging.White)
	}
	return out, nil
}

// fit shortens text with "…" until it is at most w pixels wide.
func (p *Painter) fit(text string, w int) (string, int) {
	tw := p.font.Measure(text)
	if tw <= w {
		return text, tw
	}
	r := []rune(text)
	for n := len(r) - 1; n > 0; n-- {
		t := string(r[:n]) + "…"
		if tw = p.font.Measure(t); tw <= w {
			return t, tw
		}
	}
	return "…", p.font.Measure("…")
}

type rect struct{ x0, y0, x1, y1 int }

func (a rect) overlaps(b rect) bool { return a.x0 < b.x1 && b.x0 < a.x1 && a.y0 < b.y1 && b.y0 < a.y1 }

// placeLabel chooses where a w×h label band of a box goes: above the box
// (as PaddleClas draws it), else just inside its top, else below it, else
// further down inside the box — the first of those that is inside the
// image and overlaps no placed label; when none is free, above the box.
func placeLabel(box [4]int, w, h, imgW, imgH int, placed []rect) (int, int) {
	x := min(max(box[0]+1, 0), max(imgW-w, 0))
	clampY := func(y int) int { return min(max(y, 0), max(imgH-h, 0)) }
	cands := []int{box[1] - h, box[1] + 2, box[3]}
	for y := box[1] + 2 + h; y+h <= box[3]; y += h {
		cands = append(cands, y)
	}
	for _, y := range cands {
		if y < 0 || y+h > imgH {
			continue
		}
		r := rect{x, y, x + w, y + h}
		free := true
		for _, q := range placed {
			if r.overlaps(q) {
				free = false
				break
			}
		}
		if free {
			return x, y
		}
	}
	return x, clampY(box[1] - h)
}

// JPEG draws and encodes at quality 95.
func (p *Painter) JPEG(img *imaging.Image, objs []Object) ([]byte, error) {
	d, err := p.Draw(img, objs)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	if err := imaging.EncodeJPEG(&b, d, 95); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
