package imaging

import (
	"os"
	"path/filepath"
	"testing"
)

func addSeeds(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "decode", "*"))
	for _, p := range files {
		if filepath.Ext(p) == ".rgb" {
			continue
		}
		if b, err := os.ReadFile(p); err == nil && len(b) < 64<<10 {
			f.Add(b)
		}
	}
	f.Add([]byte{})
	f.Add([]byte("\xff\xd8\xff\xe1\x00\x10Exif\x00\x00MM\x00*\x00\x00\x00\x08"))
}

// FuzzDecode: arbitrary bytes never panic, and a decoded image is
// consistent with its header and within the pixel limit.
func FuzzDecode(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		const limit = 1 << 20
		img, err := Decode(b, DecodeOptions{MaxPixels: limit})
		if err != nil {
			return
		}
		if img.W <= 0 || img.H <= 0 || img.Channels() != 3 || len(img.Pix) != img.W*img.H*3 {
			t.Fatalf("bad image %dx%dx%d with %d bytes", img.W, img.H, img.Channels(), len(img.Pix))
		}
		if int64(img.W)*int64(img.H) > limit {
			t.Fatalf("%dx%d exceeds the limit", img.W, img.H)
		}
		cfg, err := DecodeConfig(b)
		if err != nil {
			t.Fatalf("decoded but DecodeConfig fails: %v", err)
		}
		w, h := cfg.W, cfg.H
		if cfg.Orientation >= 5 {
			w, h = h, w
		}
		if cfg.Format != GIF && (w != img.W || h != img.H) {
			t.Fatalf("config %+v, image %dx%d", cfg, img.W, img.H)
		}
	})
}

// FuzzDecodeConfig: header parsing alone never panics.
func FuzzDecodeConfig(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := DecodeConfig(b)
		if err == nil && (c.Orientation < 1 || c.Orientation > 8) {
			t.Fatalf("orientation %d", c.Orientation)
		}
	})
}

// FuzzOrientation: the EXIF reader never panics and returns 1–8.
func FuzzOrientation(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		if o := jpegOrientation(b); o < 1 || o > 8 {
			t.Fatalf("orientation %d", o)
		}
		if o := tiffOrientation(b); o < 1 || o > 8 {
			t.Fatalf("tiff orientation %d", o)
		}
	})
}

// FuzzResize: any small size and method either fails cleanly or returns
// the requested size.
func FuzzResize(f *testing.F) {
	f.Add(uint8(7), uint8(5), uint8(3), uint8(9), uint8(1), true)
	f.Add(uint8(1), uint8(1), uint8(40), uint8(2), uint8(2), false)
	f.Fuzz(func(t *testing.T, sw, sh, dw, dh, interp uint8, color bool) {
		c := 1
		if color {
			c = 3
		}
		src := patternImage(int(sw%64)+1, int(sh%64)+1, c, 1)
		out, err := Resize(src, int(dw%96), int(dh%96), Interp(interp%6))
		if err != nil {
			return
		}
		if out.W != int(dw%96) || out.H != int(dh%96) || len(out.Pix) != out.W*out.H*c {
			t.Fatalf("got %dx%d", out.W, out.H)
		}
	})
}
