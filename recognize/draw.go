package recognize

import (
	"bytes"
	"fmt"
	"sync"

	"github.com/shitu-go/shitu/imaging"
)

// Painter draws results as PaddleClas' draw_bbox_results does
// (ppshitu-pipeline.md §9.2) — label "<label>, <score .2f>" on a blue
// (0,102,255) band 18 px high above the box, white text, then the box in
// red, 2 px wide, drawn inward — but with Noto Sans CJK instead of SimFang.
// Unknown boxes (kept with KeepUnknown) are drawn in grey as "unknown".
// A Painter is safe for concurrent use.
type Painter struct {
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

// Draw returns a copy of img with the objects drawn.
func (p *Painter) Draw(img *imaging.Image, objs []Object) (*imaging.Image, error) {
	p.once.Do(func() { p.font, p.err = imaging.LoadFont(p.path, -1, imaging.DefaultFontSize) })
	if p.err != nil {
		return nil, p.err
	}
	out := imaging.ToRGB(img).Clone()
	p.mu.Lock()
	defer p.mu.Unlock()
	const th = imaging.DefaultFontSize
	for _, o := range objs {
		x0, y0, x1, y1 := o.Box[0], o.Box[1], o.Box[2], o.Box[3]
		text, band, box := fmt.Sprintf("%s, %.2f", o.Label, o.Score), imaging.LabelBlue, imaging.Red
		if !o.Known() {
			text, band, box = fmt.Sprintf("unknown, %.2f", o.Score), grey, grey
		}
		tw := p.font.Measure(text)
		sy := max(0, y0-th)
		imaging.FillRect(out, x0+1, sy, x0+tw+1, sy+th, band)
		imaging.DrawText(out, p.font, x0+1, sy, text, imaging.White)
		imaging.DrawRect(out, x0, y0, x1, y1, box, 2)
	}
	return out, nil
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
