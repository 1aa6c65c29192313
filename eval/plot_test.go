package eval

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"testing"

	"golang.org/x/image/font/basicfont"
)

// roundTrip encodes img as PNG and decodes it back.
func roundTrip(t *testing.T, img image.Image) image.Image {
	t.Helper()
	var buf bytes.Buffer
	if err := WritePNG(&buf, img); err != nil {
		t.Fatal(err)
	}
	out, err := png.Decode(&buf)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func rgba(img image.Image, p image.Point) color.RGBA {
	r, g, b, a := img.At(p.X, p.Y).RGBA()
	return color.RGBA{uint8(r >> 8), uint8(g >> 8), uint8(b >> 8), uint8(a >> 8)}
}

func countColor(img image.Image, r image.Rectangle, c color.RGBA) int {
	n := 0
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			if rgba(img, image.Pt(x, y)) == c {
				n++
			}
		}
	}
	return n
}

// checkSeries asserts that every point of every series shows the series'
// colour, except where a later-drawn series passes within 4 px.
func checkSeries(t *testing.T, img image.Image, f Frame, ss []Series) {
	t.Helper()
	for si, s := range ss {
		if s.Dashed { // dashes: count the colour along the segment instead
			a, b := f.Px(s.X[0], s.Y[0]), f.Px(s.X[len(s.X)-1], s.Y[len(s.Y)-1])
			r := image.Rect(min(a.X, b.X)-1, min(a.Y, b.Y)-1, max(a.X, b.X)+2, max(a.Y, b.Y)+2)
			if n := countColor(img, r, s.Color); n < (r.Dx()+r.Dy())/3 {
				t.Errorf("dashed series %q: %d pixels of its colour", s.Name, n)
			}
			continue
		}
		checked := 0
		for i := range s.X {
			if math.IsNaN(s.Y[i]) {
				continue
			}
			p := f.Px(s.X[i], s.Y[i])
			covered := false
			for _, later := range ss[si+1:] {
				for j := range later.X {
					q := f.Px(later.X[j], later.Y[j])
					if abs(q.Y-p.Y) <= 4 && abs(q.X-p.X) <= 30 || later.Dashed && abs(q.Y-p.Y) <= 4 {
						covered = true
					}
				}
			}
			if covered {
				continue
			}
			checked++
			if got := rgba(img, p); got != s.Color {
				t.Errorf("series %q point %d (%v,%v) at %v: colour %v, want %v", s.Name, i, s.X[i], s.Y[i], p, got, s.Color)
			}
		}
		if checked == 0 {
			t.Errorf("series %q: no point could be checked", s.Name)
		}
	}
}

func TestLinePlot(t *testing.T) {
	p := LinePlot{
		Title: "test", XLabel: "x", YLabel: "y",
		Series: []Series{
			{Name: "up", Color: ColorPrecision, X: []float64{0, 1, 2, 3, 4}, Y: []float64{0, 1, 2, 3, 4}},
			{Name: "down", Color: ColorRecall, X: []float64{0, 1, 2, 3, 4}, Y: []float64{4, 3, math.NaN(), 1, 0}},
		},
		VLines: []Marker{{X: 1.5, Label: "m", Color: ColorMarker}},
	}
	img, f, err := p.Render()
	if err != nil {
		t.Fatal(err)
	}
	dec := roundTrip(t, img)
	if dec.Bounds().Dx() != 900 || dec.Bounds().Dy() != 560 {
		t.Fatalf("size %v", dec.Bounds())
	}
	if f.XMin != 0 || f.XMax != 4 || f.YMin != 0 || f.YMax != 4 {
		t.Fatalf("frame from data: %+v", f)
	}
	checkSeries(t, dec, f, p.Series)
	// the NaN leaves a gap: halfway between x=1 and x=2 on "down" is empty
	gap := f.Px(1.5, 2.5)
	if got := rgba(dec, gap); got == ColorRecall {
		t.Errorf("NaN gap drawn at %v", gap)
	}
	// legend swatches above the plot area
	legend := image.Rect(0, 30, 900, f.Plot.Min.Y)
	for _, s := range p.Series {
		if countColor(dec, legend, s.Color) < 20 {
			t.Errorf("legend swatch of %q missing", s.Name)
		}
	}
	// the marker line is dashed grey inside the plot
	mx := f.Px(1.5, 0).X
	if n := countColor(dec, image.Rect(mx, f.Plot.Min.Y, mx+1, f.Plot.Max.Y), ColorMarker); n < f.Plot.Dy()/3 {
		t.Errorf("marker has %d pixels", n)
	}
	// tick labels: dark text pixels under the x axis and left of the y axis
	if n := countColor(dec, image.Rect(f.Plot.Min.X-10, f.Plot.Max.Y+6, f.Plot.Max.X+10, f.Plot.Max.Y+22), colorText); n < 30 {
		t.Errorf("x tick labels missing (%d px)", n)
	}
	if n := countColor(dec, image.Rect(0, f.Plot.Min.Y, f.Plot.Min.X-6, f.Plot.Max.Y), colorText); n < 30 {
		t.Errorf("y tick labels missing (%d px)", n)
	}
	if _, _, err := (LinePlot{Series: []Series{{X: []float64{1}}}}).Render(); err == nil {
		t.Error("ragged series accepted")
	}
}

func TestBarChart(t *testing.T) {
	ls := []LabelRecall{{Label: "good", Queries: 4, Hits: 4}, {Label: "mid", Queries: 5, Hits: 3},
		{Label: "bad", Queries: 4, Hits: 1}, {Label: "none", NoRelevant: 2}}
	b := RecallChart("recall", ls, 0, "")
	img, f, err := b.Render()
	if err != nil {
		t.Fatal(err)
	}
	dec := roundTrip(t, img)
	// worst first, no-data last
	want := []struct {
		label string
		v     float64
		c     color.RGBA
	}{{"bad", 0.25, ColorBarLow}, {"mid", 0.6, ColorBarMid}, {"good", 1, ColorBarHigh}}
	// the label without data gets a 3-pixel grey stub and its note, no bar
	if b.Bars[3].Label != "none" {
		t.Fatalf("bar 3 is %q", b.Bars[3].Label)
	}
	stub := f.BarRect(3, 0)
	stub.Max.X = stub.Min.X + 3
	if n := countColor(dec, stub, ColorBarNone); n != stub.Dx()*stub.Dy() {
		t.Errorf("no-data stub has %d grey pixels", n)
	}
	if n := countColor(dec, f.BarRect(3, 1), ColorBarNone); n != stub.Dx()*stub.Dy() {
		t.Errorf("no-data bar drawn long: %d grey pixels", n)
	}
	if n := countColor(dec, f.BarRect(3, 0.5), ColorMarker); n < 1 {
		t.Errorf("no-data note missing")
	}
	for i, w := range want {
		if b.Bars[i].Label != w.label {
			t.Fatalf("bar %d is %q, want %q", i, b.Bars[i].Label, w.label)
		}
		r := f.BarRect(i, w.v)
		if n := countColor(dec, r, w.c); n != r.Dx()*r.Dy() {
			t.Errorf("bar %q: %d of %d pixels have colour %v", w.label, n, r.Dx()*r.Dy(), w.c)
		}
		// nothing of the bar's colour just beyond its end
		after := image.Rect(r.Max.X+1, r.Min.Y, r.Max.X+4, r.Max.Y)
		if n := countColor(dec, after, w.c); n != 0 {
			t.Errorf("bar %q overruns its length by %d px", w.label, n)
		}
		// its label is drawn left of the axis
		row := image.Rect(0, r.Min.Y-4, f.Area.Min.X-2, r.Max.Y+4)
		if n := countColor(dec, row, colorText); n < 10 {
			t.Errorf("label of %q missing", w.label)
		}
	}
	many := make([]LabelRecall, 100)
	for i := range many {
		many[i] = LabelRecall{Label: string(rune('A' + i%26)), Queries: 1}
	}
	if c := RecallChart("x", many, 10, ""); len(c.Bars) != 10 {
		t.Errorf("max bars not applied: %d", len(c.Bars))
	}
	if _, _, err := (BarChart{}).Render(); err == nil {
		t.Error("empty chart accepted")
	}
}

func TestCJKFont(t *testing.T) {
	if faceFor(DefaultCJKFont, "cola") != basicfont.Face7x13 {
		t.Error("ASCII text should use basicfont")
	}
	if faceFor("/nonexistent.ttc", "光明") != basicfont.Face7x13 {
		t.Error("missing font must fall back to basicfont")
	}
	if _, err := os.Stat(DefaultCJKFont); err != nil {
		t.Skipf("Noto Sans CJK not installed (%s): apt-get install fonts-noto-cjk", DefaultCJKFont)
	}
	if faceFor(DefaultCJKFont, "光明") == basicfont.Face7x13 {
		t.Fatal("CJK label should use Noto Sans CJK")
	}
	img, f, err := RecallChart("中文", []LabelRecall{{Label: "光明", Queries: 2, Hits: 1}}, 0, "").Render()
	if err != nil {
		t.Fatal(err)
	}
	r := f.BarRect(0, 0.5)
	ink := 0
	for y := r.Min.Y - 4; y < r.Max.Y+4; y++ {
		for x := 0; x < f.Area.Min.X-2; x++ {
			if rgba(img, image.Pt(x, y)) != colorBG {
				ink++
			}
		}
	}
	if ink < 40 {
		t.Errorf("CJK label drew %d pixels", ink)
	}
}
