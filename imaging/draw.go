package imaging

import (
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"image/png"
	"io"
	"os"

	"golang.org/x/image/font"
	"golang.org/x/image/font/opentype"
	"golang.org/x/image/math/fixed"
)

// Color is an RGB colour.
type Color struct{ R, G, B uint8 }

// Colours PaddleClas' draw_bbox_results uses (ppshitu-pipeline.md §9.2).
var (
	Red        = Color{255, 0, 0}
	White      = Color{255, 255, 255}
	LabelBlue  = Color{0, 102, 255}
	LabelBlack = Color{0, 0, 0}
)

func (m *Image) set(x, y int, c Color) {
	if x < 0 || y < 0 || x >= m.W || y >= m.H {
		return
	}
	if m.Channels() == 1 {
		// ITU-R BT.601 luma, as cv2.cvtColor RGB2GRAY rounds it.
		m.Pix[y*m.W+x] = uint8((int(c.R)*4899 + int(c.G)*9617 + int(c.B)*1868 + 8192) >> 14)
		return
	}
	i := 3 * (y*m.W + x)
	m.Pix[i], m.Pix[i+1], m.Pix[i+2] = c.R, c.G, c.B
}

// FillRect fills the inclusive rectangle (x0, y0)–(x1, y1), clipped to the
// image, as PIL's ImageDraw.rectangle(fill=...) does.
func FillRect(img *Image, x0, y0, x1, y1 int, c Color) {
	if img.check() != nil {
		return
	}
	x0, y0 = max(x0, 0), max(y0, 0)
	x1, y1 = min(x1, img.W-1), min(y1, img.H-1)
	for y := y0; y <= y1; y++ {
		for x := x0; x <= x1; x++ {
			img.set(x, y, c)
		}
	}
}

// DrawRect draws the outline of the inclusive rectangle (x0, y0)–(x1, y1)
// with the given line width (≤ 0 means 1) growing inward, as PIL's
// ImageDraw.rectangle(outline=..., width=...) does. Parts outside the
// image are clipped.
func DrawRect(img *Image, x0, y0, x1, y1 int, c Color, width int) {
	if img.check() != nil || x1 < x0 || y1 < y0 {
		return
	}
	width = max(width, 1)
	for i := 0; i < width; i++ {
		a, b, e, f := x0+i, y0+i, x1-i, y1-i
		if a > e || b > f {
			break
		}
		FillRect(img, a, b, e, b, c)
		FillRect(img, a, f, e, f, c)
		FillRect(img, a, b, a, f, c)
		FillRect(img, e, b, e, f, c)
	}
}

// Default font: Noto Sans CJK from Debian's fonts-noto-cjk; index 2 of
// the collection is the Simplified Chinese face (go-stack.md §4.5).
const (
	DefaultFontPath  = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"
	DefaultFontIndex = 2
	DefaultFontSize  = 18 // PaddleClas draws labels at 18 px
)

// Font is a loaded face at one pixel size. It is not safe for concurrent
// use; load one per goroutine.
type Font struct {
	face   font.Face
	ascent int
	height int
}

// LoadFont loads face index of the OpenType font or collection at path at
// size pixels. Empty path means DefaultFontPath; index < 0 means
// DefaultFontIndex for collections (0 for single fonts); size ≤ 0 means
// DefaultFontSize. A missing file is an ErrFont error naming the path and
// the Debian package that provides the default.
func LoadFont(path string, index int, size float64) (*Font, error) {
	if path == "" {
		path = DefaultFontPath
	}
	if size <= 0 {
		size = DefaultFontSize
	}
	b, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%w: %s not found (install fonts-noto-cjk or set the font path)", ErrFont, path)
		}
		return nil, fmt.Errorf("%w: %v", ErrFont, err)
	}
	coll, err := opentype.ParseCollection(b)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrFont, path, err)
	}
	if index < 0 {
		index = 0
		if coll.NumFonts() > DefaultFontIndex {
			index = DefaultFontIndex
		}
	}
	if index >= coll.NumFonts() {
		return nil, fmt.Errorf("%w: %s has %d fonts, no index %d", ErrFont, path, coll.NumFonts(), index)
	}
	f, err := coll.Font(index)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrFont, path, err)
	}
	face, err := opentype.NewFace(f, &opentype.FaceOptions{Size: size, DPI: 72, Hinting: font.HintingNone})
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrFont, path, err)
	}
	m := face.Metrics()
	return &Font{face: face, ascent: m.Ascent.Ceil(), height: m.Height.Ceil()}, nil
}

// Close releases the face.
func (f *Font) Close() error { return f.face.Close() }

// Measure returns the advance width of text in pixels (PIL's getlength).
func (f *Font) Measure(text string) int {
	return font.MeasureString(f.face, text).Ceil()
}

// Height is the line height in pixels.
func (f *Font) Height() int { return f.height }

// DrawText draws UTF-8 text with its top-left corner at (x, y) (the
// baseline sits one ascent lower, as PIL places text), anti-aliased over
// the image. Glyphs the font lacks are skipped; nothing outside the image
// is touched.
func DrawText(img *Image, f *Font, x, y int, text string, c Color) {
	if img.check() != nil || f == nil {
		return
	}
	dot := fixed.P(x, y+f.ascent)
	prev := rune(-1)
	for _, r := range text {
		if prev >= 0 {
			dot.X += f.face.Kern(prev, r)
		}
		dr, mask, mp, adv, ok := f.face.Glyph(dot, r)
		if ok {
			blendMask(img, dr, mask, mp, c)
		}
		dot.X += adv
		prev = r
	}
}

func blendMask(img *Image, dr image.Rectangle, mask image.Image, mp image.Point, c Color) {
	dr = dr.Intersect(image.Rect(0, 0, img.W, img.H))
	cn := img.Channels()
	for y := dr.Min.Y; y < dr.Max.Y; y++ {
		for x := dr.Min.X; x < dr.Max.X; x++ {
			_, _, _, a := mask.At(mp.X+x-dr.Min.X, mp.Y+y-dr.Min.Y).RGBA()
			if a == 0 {
				continue
			}
			if a == 0xffff {
				img.set(x, y, c)
				continue
			}
			if cn == 1 {
				continue // only fully covered pixels on gray images
			}
			i := 3 * (y*img.W + x)
			for k, v := range [3]uint8{c.R, c.G, c.B} {
				old := uint32(img.Pix[i+k])
				img.Pix[i+k] = uint8((uint32(v)*a + old*(0xffff-a) + 0x7fff) / 0xffff)
			}
		}
	}
}

// toRGBA converts to an opaque *image.RGBA for the Go encoders.
func toRGBA(img *Image) (*image.RGBA, error) {
	if err := img.check(); err != nil {
		return nil, err
	}
	out := image.NewRGBA(image.Rect(0, 0, img.W, img.H))
	n := img.W * img.H
	if img.Channels() == 1 {
		for i, v := range img.Pix[:n] {
			out.Pix[4*i], out.Pix[4*i+1], out.Pix[4*i+2], out.Pix[4*i+3] = v, v, v, 255
		}
		return out, nil
	}
	for i := 0; i < n; i++ {
		out.Pix[4*i], out.Pix[4*i+1], out.Pix[4*i+2], out.Pix[4*i+3] = img.Pix[3*i], img.Pix[3*i+1], img.Pix[3*i+2], 255
	}
	return out, nil
}

// EncodeJPEG writes img as a baseline JPEG; quality ≤ 0 means 95 (what
// PaddleClas saves visualisations with), values above 100 are 100.
func EncodeJPEG(w io.Writer, img *Image, quality int) error {
	if quality <= 0 {
		quality = 95
	}
	m, err := toRGBA(img)
	if err != nil {
		return err
	}
	if err := jpeg.Encode(w, m, &jpeg.Options{Quality: min(quality, 100)}); err != nil {
		return fmt.Errorf("imaging: encode jpeg: %w", err)
	}
	return nil
}

// EncodePNG writes img as an 8-bit RGB (or gray) PNG.
func EncodePNG(w io.Writer, img *Image) error {
	if err := img.check(); err != nil {
		return err
	}
	var m image.Image
	if img.Channels() == 1 {
		m = &image.Gray{Pix: img.Pix[:img.W*img.H], Stride: img.W, Rect: image.Rect(0, 0, img.W, img.H)}
	} else {
		var err error
		if m, err = toRGBA(img); err != nil {
			return err
		}
	}
	if err := png.Encode(w, m); err != nil {
		return fmt.Errorf("imaging: encode png: %w", err)
	}
	return nil
}
