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
	if err := p.load(); err != nil {
		return nil, err
	}
	out := imaging.ToRGB(img).Clone()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, o := range objs {
		box := imaging.Red
		if !o.Known() {
			box = grey
		}
		imaging.DrawRect(out, o.Box[0], o.Box[1], o.Box[2], o.Box[3], box, 2)
	}
	for _, l := range p.layout(objs, out.W, out.H) {
		imaging.FillRect(out, l.r.x0, l.r.y0, l.r.x1, l.r.y1, l.band)
		imaging.DrawText(out, p.font, l.r.x0+1, l.r.y0, l.text, imaging.White)
	}
	if p.Mark != "" {
		text, tw := p.fit(p.Mark, out.W-2)
		y := max(out.H-imaging.DefaultFontSize, 0)
		imaging.FillRect(out, 0, y, tw+2, y+imaging.DefaultFontSize, imaging.Red)
		imaging.DrawText(out, p.font, 1, y, text, imaging.White)
	}
	return out, nil
}

func (p *Painter) load() error {
	p.once.Do(func() { p.font, p.err = imaging.LoadFont(p.path, -1, imaging.DefaultFontSize) })
	return p.err
}

// label is one label band as Draw paints it.
type label struct {
	text string
	band imaging.Color
	r    rect
}

// layout places the label of every object in a w×h image (the font is
// loaded and p.mu held).
func (p *Painter) layout(objs []Object, w, h int) []label {
	out := make([]label, 0, len(objs))
	var placed []rect
	for _, o := range objs {
		text, band := fmt.Sprintf("%s, %.2f", o.Label, o.Score), imaging.LabelBlue
		if !o.Known() {
			text, band = fmt.Sprintf("unknown, %.2f", o.Score), grey
		}
		text, tw := p.fit(text, w-2)
		x, y := placeLabel(o.Box, tw+1, imaging.DefaultFontSize, w, h, placed)
		r := rect{x, y, x + tw + 1, y + imaging.DefaultFontSize}
		placed = append(placed, r)
		out = append(out, label{text: text, band: band, r: r})
	}
	return out
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
