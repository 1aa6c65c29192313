package eval

import (
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"io"
	"math"
	"strconv"

	"golang.org/x/image/font"
	"golang.org/x/image/math/fixed"
)

// Series colours (the usual ten-colour palette's first entries).
var (
	ColorPrecision = color.RGBA{31, 119, 180, 255}
	ColorRecall    = color.RGBA{255, 127, 14, 255}
	ColorReject    = color.RGBA{44, 160, 44, 255}
	ColorTarget    = color.RGBA{214, 39, 40, 255}
	ColorMarker    = color.RGBA{90, 90, 90, 255}
	// Bar colours by recall band: < 0.5, < 0.8, ≥ 0.8, and no data.
	ColorBarLow  = color.RGBA{214, 39, 40, 255}
	ColorBarMid  = color.RGBA{255, 160, 40, 255}
	ColorBarHigh = color.RGBA{44, 160, 44, 255}
	ColorBarNone = color.RGBA{190, 190, 190, 255}

	colorBG   = color.RGBA{255, 255, 255, 255}
	colorText = color.RGBA{30, 30, 30, 255}
	colorAxis = color.RGBA{60, 60, 60, 255}
	colorGrid = color.RGBA{228, 228, 228, 255}
)

// Series is one line of a LinePlot.
type Series struct {
	Name  string
	Color color.RGBA
	X, Y  []float64 // NaN Y values leave a gap
	// Dashed draws the line dashed (used for reference lines).
	Dashed bool
}

// LinePlot is a line chart with axes, ticks, grid and a legend.
type LinePlot struct {
	Title, XLabel, YLabel string
	Series                []Series
	// XMin..YMax fix the axis ranges; when XMin == XMax (or YMin == YMax)
	// the range is taken from the data.
	XMin, XMax, YMin, YMax float64
	// VLines are vertical marker lines (e.g. the chosen threshold).
	VLines []Marker
	// Width and Height default to 900×560.
	Width, Height int
	// FontPath is used for non-ASCII text (default DefaultCJKFont).
	FontPath string
}

// Marker is a labelled vertical line.
type Marker struct {
	X     float64
	Label string
	Color color.RGBA
}

// Frame maps data coordinates to pixels of a rendered plot.
type Frame struct {
	Plot                   image.Rectangle // the data area
	XMin, XMax, YMin, YMax float64
}

// Px returns the pixel of data point (x, y).
func (f Frame) Px(x, y float64) image.Point {
	w, h := float64(f.Plot.Dx()-1), float64(f.Plot.Dy()-1)
	px := float64(f.Plot.Min.X) + (x-f.XMin)/(f.XMax-f.XMin)*w
	py := float64(f.Plot.Max.Y-1) - (y-f.YMin)/(f.YMax-f.YMin)*h
	return image.Pt(int(math.Round(px)), int(math.Round(py)))
}

type canvas struct {
	*image.RGBA
	face font.Face
}

func newCanvas(w, h int, face font.Face) *canvas {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	draw.Draw(img, img.Bounds(), image.NewUniform(colorBG), image.Point{}, draw.Src)
	return &canvas{img, face}
}

func (c *canvas) fill(r image.Rectangle, col color.RGBA) {
	draw.Draw(c.RGBA, r.Intersect(c.Bounds()), image.NewUniform(col), image.Point{}, draw.Src)
}

// dot paints a (2t+1)² square: lines are drawn without anti-aliasing so
// every pixel of a series has exactly its colour.
func (c *canvas) dot(x, y, t int, col color.RGBA) {
	c.fill(image.Rect(x-t, y-t, x+t+1, y+t+1), col)
}

func (c *canvas) line(a, b image.Point, t int, col color.RGBA, dashed bool) {
	dx, dy := b.X-a.X, b.Y-a.Y
	n := max(abs(dx), abs(dy))
	for i := 0; i <= n; i++ {
		if dashed && (i/6)%2 == 1 {
			continue
		}
		x, y := a.X, a.Y
		if n > 0 {
			x = a.X + int(math.Round(float64(dx*i)/float64(n)))
			y = a.Y + int(math.Round(float64(dy*i)/float64(n)))
		}
		c.dot(x, y, t, col)
	}
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

func (c *canvas) textWidth(s string) int { return font.MeasureString(c.face, s).Ceil() }

// text draws s with its baseline-left at (x, y); align -1 left, 0 centre,
// 1 right.
func (c *canvas) text(s string, x, y, align int, col color.RGBA) {
	switch align {
	case 0:
		x -= c.textWidth(s) / 2
	case 1:
		x -= c.textWidth(s)
	}
	d := font.Drawer{Dst: c.RGBA, Src: image.NewUniform(col), Face: c.face, Dot: fixed.P(x, y)}
	d.DrawString(s)
}

// vtext draws s rotated 90° counter-clockwise, centred on (x, y).
func (c *canvas) vtext(s string, x, y int, col color.RGBA) {
	w := c.textWidth(s)
	m := c.face.Metrics()
	h := (m.Ascent + m.Descent).Ceil()
	tmp := newCanvas(w, h, c.face)
	tmp.text(s, 0, m.Ascent.Ceil(), -1, col)
	x0, y0 := x-h/2, y-w/2
	for ty := range h {
		for tx := range w {
			p := tmp.RGBAAt(tx, ty)
			if p != colorBG {
				c.SetRGBA(x0+ty, y0+w-1-tx, p)
			}
		}
	}
}

// niceTicks returns about n round tick values covering [lo, hi].
func niceTicks(lo, hi float64, n int) []float64 {
	if !(hi > lo) {
		return []float64{lo}
	}
	raw := (hi - lo) / float64(n)
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	step := mag
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if m*mag >= raw {
			step = m * mag
			break
		}
	}
	var out []float64
	for v := math.Ceil(lo/step-1e-9) * step; v <= hi+step*1e-9; v += step {
		out = append(out, math.Round(v/step)*step)
	}
	return out
}

func fmtTick(v float64) string {
	if v == 0 {
		return "0"
	}
	return strconv.FormatFloat(v, 'g', 4, 64)
}

func dataRange(ss []Series, xs bool) (float64, float64) {
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, s := range ss {
		vs := s.Y
		if xs {
			vs = s.X
		}
		for _, v := range vs {
			if !math.IsNaN(v) && !math.IsInf(v, 0) {
				lo, hi = math.Min(lo, v), math.Max(hi, v)
			}
		}
	}
	if lo > hi {
		return 0, 1
	}
	if lo == hi {
		return lo - 0.5, hi + 0.5
	}
	return lo, hi
}

// Render draws the plot.
func (p LinePlot) Render() (*image.RGBA, Frame, error) {
	for _, s := range p.Series {
		if len(s.X) != len(s.Y) {
			return nil, Frame{}, fmt.Errorf("%w: series %q has %d x and %d y values", ErrMismatch, s.Name, len(s.X), len(s.Y))
		}
	}
	w, h := defInt(p.Width, 900), defInt(p.Height, 560)
	texts := []string{p.Title, p.XLabel, p.YLabel}
	for _, s := range p.Series {
		texts = append(texts, s.Name)
	}
	for _, m := range p.VLines {
		texts = append(texts, m.Label)
	}
	fp := p.FontPath
	if fp == "" {
		fp = DefaultCJKFont
	}
	c := newCanvas(w, h, faceFor(fp, texts...))
	f := Frame{XMin: p.XMin, XMax: p.XMax, YMin: p.YMin, YMax: p.YMax}
	if f.XMin == f.XMax {
		f.XMin, f.XMax = dataRange(p.Series, true)
	}
	if f.YMin == f.YMax {
		f.YMin, f.YMax = dataRange(p.Series, false)
	}
	f.Plot = image.Rect(78, 70, w-30, h-62)
	if f.Plot.Dx() < 50 || f.Plot.Dy() < 50 {
		return nil, Frame{}, fmt.Errorf("%w: plot size %dx%d is too small", ErrMismatch, w, h)
	}
	c.text(p.Title, w/2, 24, 0, colorText)
	// legend: one row under the title
	lx := f.Plot.Min.X
	for _, s := range p.Series {
		c.line(image.Pt(lx, 46), image.Pt(lx+26, 46), 1, s.Color, s.Dashed)
		c.text(s.Name, lx+32, 51, -1, colorText)
		lx += 32 + c.textWidth(s.Name) + 24
	}
	// grid, ticks and tick labels
	for _, v := range niceTicks(f.XMin, f.XMax, 10) {
		x := f.Px(v, f.YMin).X
		c.fill(image.Rect(x, f.Plot.Min.Y, x+1, f.Plot.Max.Y), colorGrid)
		c.fill(image.Rect(x, f.Plot.Max.Y, x+1, f.Plot.Max.Y+5), colorAxis)
		c.text(fmtTick(v), x, f.Plot.Max.Y+18, 0, colorText)
	}
	for _, v := range niceTicks(f.YMin, f.YMax, 8) {
		y := f.Px(f.XMin, v).Y
		c.fill(image.Rect(f.Plot.Min.X, y, f.Plot.Max.X, y+1), colorGrid)
		c.fill(image.Rect(f.Plot.Min.X-5, y, f.Plot.Min.X, y+1), colorAxis)
		c.text(fmtTick(v), f.Plot.Min.X-8, y+4, 1, colorText)
	}
	c.text(p.XLabel, (f.Plot.Min.X+f.Plot.Max.X)/2, h-18, 0, colorText)
	c.vtext(p.YLabel, 18, (f.Plot.Min.Y+f.Plot.Max.Y)/2, colorText)
	// axes
	c.fill(image.Rect(f.Plot.Min.X-1, f.Plot.Min.Y, f.Plot.Min.X, f.Plot.Max.Y+1), colorAxis)
	c.fill(image.Rect(f.Plot.Min.X-1, f.Plot.Max.Y, f.Plot.Max.X, f.Plot.Max.Y+1), colorAxis)
	for _, m := range p.VLines {
		if m.X < f.XMin || m.X > f.XMax {
			continue
		}
		x := f.Px(m.X, f.YMin).X
		c.line(image.Pt(x, f.Plot.Min.Y-4), image.Pt(x, f.Plot.Max.Y-1), 0, m.Color, true)
		// the label sits above the data area, so no series hides it
		tx := min(max(x, f.Plot.Min.X+c.textWidth(m.Label)/2), f.Plot.Max.X-c.textWidth(m.Label)/2)
		c.text(m.Label, tx, f.Plot.Min.Y-7, 0, m.Color)
	}
	// series last, in order, clipped to the plot area
	clip := image.Rect(f.Plot.Min.X-1, f.Plot.Min.Y-1, f.Plot.Max.X+1, f.Plot.Max.Y+1)
	sub := &canvas{c.SubImage(clip).(*image.RGBA), c.face}
	for _, s := range p.Series {
		var prev *image.Point
		for i := range s.X {
			if math.IsNaN(s.Y[i]) || math.IsNaN(s.X[i]) {
				prev = nil
				continue
			}
			pt := f.Px(s.X[i], s.Y[i])
			if prev != nil {
				sub.line(*prev, pt, 1, s.Color, s.Dashed)
			} else {
				sub.dot(pt.X, pt.Y, 1, s.Color)
			}
			prev = &pt
		}
	}
	return c.RGBA, f, nil
}

// Bar is one bar of a BarChart.
type Bar struct {
	Label string
	Value float64 // NaN draws a grey stub and the note (default "no data")
	// Note is printed after the bar (e.g. "5/6").
	Note  string
	Color color.RGBA
}

// BarChart is a horizontal bar chart with values in [0, Max].
type BarChart struct {
	Title, XLabel string
	Bars          []Bar
	// Max is the value of a full-length bar (default 1).
	Max float64
	// Width defaults to 900; the height follows the number of bars.
	Width    int
	FontPath string // for non-ASCII labels (default DefaultCJKFont)
}

// Bar rows are this many pixels high.
const barRow = 22

// BarFrame locates bars in a rendered BarChart.
type BarFrame struct {
	Area image.Rectangle // x from value 0 to Max; row i spans Area.Min.Y + i·barRow
	Max  float64
}

// BarRect returns the pixels of bar i at value v.
func (f BarFrame) BarRect(i int, v float64) image.Rectangle {
	y := f.Area.Min.Y + i*barRow + 4
	x1 := f.Area.Min.X + int(math.Round(v/f.Max*float64(f.Area.Dx())))
	return image.Rect(f.Area.Min.X, y, x1, y+barRow-8)
}

// Render draws the chart.
func (b BarChart) Render() (*image.RGBA, BarFrame, error) {
	if len(b.Bars) == 0 {
		return nil, BarFrame{}, fmt.Errorf("%w: bar chart without bars", ErrEmpty)
	}
	maxV := b.Max
	if maxV <= 0 {
		maxV = 1
	}
	texts := []string{b.Title, b.XLabel}
	for _, br := range b.Bars {
		texts = append(texts, br.Label, br.Note)
	}
	fp := b.FontPath
	if fp == "" {
		fp = DefaultCJKFont
	}
	w := defInt(b.Width, 900)
	face := faceFor(fp, texts...)
	probe := &canvas{face: face}
	labelW := 40
	for _, br := range b.Bars {
		labelW = max(labelW, probe.textWidth(br.Label))
	}
	labelW = min(labelW, w/3)
	h := 60 + len(b.Bars)*barRow + 50
	c := newCanvas(w, h, face)
	f := BarFrame{Area: image.Rect(labelW+20, 50, w-110, 50+len(b.Bars)*barRow), Max: maxV}
	if f.Area.Dx() < 50 {
		return nil, BarFrame{}, fmt.Errorf("%w: chart width %d is too small", ErrMismatch, w)
	}
	c.text(b.Title, w/2, 26, 0, colorText)
	for _, v := range niceTicks(0, maxV, 10) {
		x := f.Area.Min.X + int(math.Round(v/maxV*float64(f.Area.Dx())))
		c.fill(image.Rect(x, f.Area.Min.Y, x+1, f.Area.Max.Y), colorGrid)
		c.fill(image.Rect(x, f.Area.Max.Y, x+1, f.Area.Max.Y+5), colorAxis)
		c.text(fmtTick(v), x, f.Area.Max.Y+18, 0, colorText)
	}
	c.text(b.XLabel, (f.Area.Min.X+f.Area.Max.X)/2, h-12, 0, colorText)
	for i, br := range b.Bars {
		y := f.Area.Min.Y + i*barRow
		label := br.Label
		for c.textWidth(label) > labelW && len([]rune(label)) > 1 {
			r := []rune(label)
			label = string(r[:len(r)-2]) + "…"
		}
		c.text(label, f.Area.Min.X-8, y+barRow/2+5, 1, colorText)
		v := br.Value
		note := br.Note
		if math.IsNaN(v) {
			// no value: a short grey stub and the note, never a long bar
			// that could be read as a high value
			if note == "" {
				note = "no data"
			}
			r := f.BarRect(i, 0)
			c.fill(image.Rect(r.Min.X, r.Min.Y, r.Min.X+3, r.Max.Y), ColorBarNone)
			c.text(note, r.Min.X+9, y+barRow/2+5, -1, ColorMarker)
			continue
		}
		v = math.Max(0, math.Min(v, maxV))
		r := f.BarRect(i, v)
		if r.Dx() < 3 { // keep zero bars visible in their colour
			r.Max.X = r.Min.X + 3
		}
		c.fill(r, br.Color)
		note = strconv.FormatFloat(br.Value, 'f', 2, 64) + "  " + note
		c.text(note, r.Max.X+6, y+barRow/2+5, -1, colorText)
	}
	c.fill(image.Rect(f.Area.Min.X-1, f.Area.Min.Y, f.Area.Min.X, f.Area.Max.Y+1), colorAxis)
	return c.RGBA, f, nil
}

// WritePNG encodes img as PNG.
func WritePNG(w io.Writer, img image.Image) error {
	if err := png.Encode(w, img); err != nil {
		return fmt.Errorf("eval: png: %w", err)
	}
	return nil
}
