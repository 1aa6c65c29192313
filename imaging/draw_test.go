package imaging

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestDrawRect(t *testing.T) {
	img, _ := NewImage(10, 8, 3)
	DrawRect(img, 1, 1, 6, 5, Red, 2)
	at := func(x, y int) Color {
		i := 3 * (y*img.W + x)
		return Color{img.Pix[i], img.Pix[i+1], img.Pix[i+2]}
	}
	for _, p := range [][2]int{{1, 1}, {6, 5}, {2, 2}, {5, 4}, {1, 3}, {6, 3}, {2, 3}, {5, 3}} {
		if at(p[0], p[1]) != Red {
			t.Errorf("(%d,%d) not drawn", p[0], p[1])
		}
	}
	for _, p := range [][2]int{{0, 0}, {3, 3}, {4, 3}, {7, 5}, {1, 6}} {
		if at(p[0], p[1]) != (Color{}) {
			t.Errorf("(%d,%d) drawn", p[0], p[1])
		}
	}
	// Clipped rectangles do not panic and draw the visible part.
	DrawRect(img, -5, -5, 100, 100, White, 1)
	FillRect(img, 8, 6, 20, 20, LabelBlue)
	if at(9, 7) != LabelBlue {
		t.Error("fill clipped wrongly")
	}
}

func TestDrawTextCJK(t *testing.T) {
	if _, err := os.Stat(DefaultFontPath); err != nil {
		t.Skipf("font %s absent (Debian fonts-noto-cjk)", DefaultFontPath)
	}
	f, err := LoadFont("", -1, 18)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	latin, cjk := f.Measure("ab"), f.Measure("可乐")
	if latin <= 0 || cjk < 30 || cjk > 40 {
		t.Fatalf("widths: latin %d, CJK %d (want ~36 for two 18 px ideographs)", latin, cjk)
	}
	img, _ := NewImage(120, 30, 3)
	DrawText(img, f, 2, 2, "可乐, 0.87", White)
	var lit, cols int
	colSeen := make([]bool, img.W)
	for y := 0; y < img.H; y++ {
		for x := 0; x < img.W; x++ {
			if img.Pix[3*(y*img.W+x)] > 128 {
				lit++
				colSeen[x] = true
			}
		}
	}
	for _, s := range colSeen {
		if s {
			cols++
		}
	}
	if lit < 60 || cols < 40 {
		t.Fatalf("text barely drawn: %d bright pixels in %d columns", lit, cols)
	}
	// Text off the image is clipped, not a panic.
	DrawText(img, f, 110, 25, "超出边界的文字", White)
}

func TestLoadFontErrors(t *testing.T) {
	if _, err := LoadFont(filepath.Join(t.TempDir(), "none.ttc"), 0, 10); !errors.Is(err, ErrFont) {
		t.Fatalf("missing: %v", err)
	}
	p := filepath.Join(t.TempDir(), "bad.ttf")
	os.WriteFile(p, []byte("not a font"), 0o644)
	if _, err := LoadFont(p, 0, 10); !errors.Is(err, ErrFont) {
		t.Fatalf("garbage: %v", err)
	}
	if _, err := os.Stat(DefaultFontPath); err == nil {
		if _, err := LoadFont(DefaultFontPath, 99, 10); !errors.Is(err, ErrFont) {
			t.Fatalf("bad index: %v", err)
		}
	}
}

func TestEncodeRoundTrip(t *testing.T) {
	img := patternImage(17, 9, 3, 5)
	var buf bytes.Buffer
	if err := EncodePNG(&buf, img); err != nil {
		t.Fatal(err)
	}
	back, err := Decode(buf.Bytes(), DecodeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(back.Pix, img.Pix) {
		t.Fatal("PNG round trip changed pixels")
	}
	gray := &Image{W: 4, H: 3, C: 1, Pix: []uint8{0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 255}}
	buf.Reset()
	if err := EncodePNG(&buf, gray); err != nil {
		t.Fatal(err)
	}
	back, err = Decode(buf.Bytes(), DecodeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(back.Pix, ToRGB(gray).Pix) {
		t.Fatal("gray PNG round trip changed pixels")
	}
	flat, _ := NewImage(32, 16, 3)
	FillRect(flat, 0, 0, 31, 15, Color{200, 120, 40})
	buf.Reset()
	if err := EncodeJPEG(&buf, flat, 95); err != nil {
		t.Fatal(err)
	}
	back, err = Decode(buf.Bytes(), DecodeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if n, maxd := diffCount(back.Pix, flat.Pix); maxd > 3 {
		t.Fatalf("JPEG round trip: %d bytes differ, max %d", n, maxd)
	}
	if err := EncodeJPEG(&buf, &Image{}, 90); !errors.Is(err, ErrSize) {
		t.Fatalf("empty image: %v", err)
	}
}
