package recognize

import (
	"os"
	"strings"
	"testing"

	"github.com/shitu-go/shitu/imaging"
)

func TestPlaceLabel(t *testing.T) {
	// at the right edge the label moves left; at the top it goes inside
	if x, y := placeLabel([4]int{90, 0, 100, 50}, 40, 18, 100, 100, nil); x != 60 || y != 2 {
		t.Fatalf("corner label at %d,%d", x, y)
	}
	// two boxes with the same top: the second label does not cover the first
	first := rect{11, 22, 71, 40}
	x, y := placeLabel([4]int{10, 40, 200, 200}, 60, 18, 300, 300, []rect{first})
	if (rect{x, y, x + 60, y + 18}).overlaps(first) || y < 0 || y+18 > 300 {
		t.Fatalf("second label at %d,%d overlaps %v", x, y, first)
	}
	// no free place: above the box, clamped into the image
	if _, y := placeLabel([4]int{0, 5, 10, 10}, 10, 18, 10, 20, []rect{{0, 0, 10, 20}}); y != 0 {
		t.Fatalf("fallback y %d", y)
	}
}

// TestDrawKeepsLabelsInside: long labels at the right edge, a box at the
// top and two boxes with the same top all get readable labels inside the
// image, none covering another.
func TestDrawKeepsLabelsInside(t *testing.T) {
	if _, err := os.Stat(imaging.DefaultFontPath); err != nil {
		t.Skip("CJK font not installed (make setup installs fonts-noto-cjk)")
	}
	p := NewPainter("")
	img := &imaging.Image{W: 200, H: 120, C: 3, Pix: make([]uint8, 200*120*3)}
	objs := []Object{
		{Box: [4]int{150, 0, 200, 60}, Label: "元气森林 very long label that is wider than the image", Score: 0.77},
		{Box: [4]int{10, 60, 100, 110}, Label: "cola", Score: 0.9},
		{Box: [4]int{12, 60, 120, 115}, Label: "安慕希", Score: 0.8},
	}
	if _, err := p.Draw(img, objs); err != nil {
		t.Fatal(err)
	}
	// the layout Draw paints
	labels := p.layout(objs, img.W, img.H)
	if len(labels) != len(objs) {
		t.Fatalf("%d labels for %d objects", len(labels), len(objs))
	}
	for i, l := range labels {
		if r := l.r; r.x0 < 0 || r.y0 < 0 || r.x1 > img.W || r.y1 > img.H {
			t.Fatalf("label %q outside the image: %v", l.text, r)
		}
		if strings.HasPrefix(objs[i].Label, "元气森林 very long") && !strings.HasSuffix(l.text, "…") {
			t.Fatalf("a label wider than the image is not shortened: %q", l.text)
		}
		for _, q := range labels[:i] {
			if l.r.overlaps(q.r) {
				t.Fatalf("label %q at %v covers %q at %v", l.text, l.r, q.text, q.r)
			}
		}
	}
}

func TestDrawMark(t *testing.T) {
	if _, err := os.Stat(imaging.DefaultFontPath); err != nil {
		t.Skip("CJK font not installed (make setup installs fonts-noto-cjk)")
	}
	p := NewPainter("")
	p.Mark = "SYNTHETIC"
	img := &imaging.Image{W: 200, H: 100, C: 3, Pix: make([]uint8, 200*100*3)}
	d, err := p.Draw(img, nil)
	if err != nil {
		t.Fatal(err)
	}
	at := func(x, y int) [3]uint8 { i := 3 * (y*d.W + x); return [3]uint8{d.Pix[i], d.Pix[i+1], d.Pix[i+2]} }
	if c := at(0, 99); c != [3]uint8{imaging.Red.R, imaging.Red.G, imaging.Red.B} {
		t.Fatalf("no mark band in the lower left corner: %v", c)
	}
	if c := at(199, 0); c != [3]uint8{} {
		t.Fatalf("the mark drew elsewhere: %v", c)
	}
}
