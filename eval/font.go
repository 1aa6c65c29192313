package eval

import (
	"image"
	"os"
	"sync"
	"unicode/utf8"

	"golang.org/x/image/font"
	"golang.org/x/image/font/basicfont"
	"golang.org/x/image/font/opentype"
	"golang.org/x/image/math/fixed"
)

// DefaultCJKFont is where Debian's fonts-noto-cjk puts Noto Sans CJK.
const DefaultCJKFont = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"

var cjkFaces sync.Map // path → font.Face (nil when unusable)

// faceFor returns basicfont for ASCII text, and the CJK font at path (when
// it loads) for anything else, so Chinese labels don't render as boxes.
func faceFor(path string, texts ...string) font.Face {
	ascii := true
	for _, s := range texts {
		for i := 0; i < len(s); i++ {
			if s[i] >= utf8.RuneSelf {
				ascii = false
			}
		}
	}
	if ascii || path == "" {
		return basicfont.Face7x13
	}
	if f, ok := cjkFaces.Load(path); ok {
		if f == nil {
			return basicfont.Face7x13
		}
		return f.(font.Face)
	}
	f := loadFace(path)
	if f == nil {
		cjkFaces.Store(path, nil)
		return basicfont.Face7x13
	}
	cjkFaces.Store(path, f)
	return f
}

var faceMu sync.Mutex

func loadFace(path string) font.Face {
	faceMu.Lock()
	defer faceMu.Unlock()
	b, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	var f *opentype.Font
	if c, err := opentype.ParseCollection(b); err == nil && c.NumFonts() > 0 {
		f, _ = c.Font(0)
	} else if f, err = opentype.Parse(b); err != nil {
		return nil
	}
	if f == nil {
		return nil
	}
	face, err := opentype.NewFace(f, &opentype.FaceOptions{Size: 13, DPI: 72, Hinting: font.HintingFull})
	if err != nil {
		return nil
	}
	return &lockedFace{Face: face}
}

// lockedFace serialises glyph rasterisation: opentype faces are not safe
// for concurrent use.
type lockedFace struct {
	mu sync.Mutex
	font.Face
}

func (f *lockedFace) Glyph(dot fixed.Point26_6, r rune) (image.Rectangle, image.Image, image.Point, fixed.Int26_6, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.Face.Glyph(dot, r)
}

func (f *lockedFace) GlyphBounds(r rune) (fixed.Rectangle26_6, fixed.Int26_6, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.Face.GlyphBounds(r)
}

func (f *lockedFace) GlyphAdvance(r rune) (fixed.Int26_6, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.Face.GlyphAdvance(r)
}
