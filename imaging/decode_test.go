package imaging

import (
	"bytes"
	"errors"
	"image"
	"image/color"
	"image/gif"
	"os"
	"path/filepath"
	"testing"

	"github.com/shitu-go/shitu/internal/testutil"
)

func TestDecodeMatchesOpenCV(t *testing.T) {
	m := loadManifest(t)
	for _, c := range m.Decode {
		t.Run(c.Name, func(t *testing.T) {
			var path string
			if c.Shared != "" {
				path = filepath.Join(testutil.SharedDir(t), "testdata", "images", "paddleclas-demo", c.Shared)
			} else {
				path = filepath.Join("testdata", c.Src)
			}
			raw, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			img, err := Decode(raw, DecodeOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if img.W != c.W || img.H != c.H || img.Channels() != 3 {
				t.Fatalf("got %dx%dx%d, want %dx%dx3", img.W, img.H, img.Channels(), c.W, c.H)
			}
			// Without cgo, JPEGs go through image/jpeg, which is not bit-exact.
			exact := c.Exact && (JPEGBackend == "libjpeg-turbo" || Sniff(raw) != JPEG)
			if c.Want != "" {
				want, err := os.ReadFile(filepath.Join("testdata", c.Want))
				if err != nil {
					t.Fatal(err)
				}
				n, maxd := diffCount(img.Pix, want)
				if exact && n != 0 {
					t.Fatalf("%d bytes differ from cv2.imread (max %d)", n, maxd)
				}
				if !exact {
					// image/jpeg and x/image/webp upsample chroma by
					// replication: close, not equal (go-stack.md §4.1).
					mean := meanAbsDiff(img.Pix, want)
					t.Logf("inexact decoder: %d of %d bytes differ from cv2.imread (max %d, mean %.2f)", n, len(want), maxd, mean)
					if mean > 4 {
						t.Fatalf("mean difference %.2f is too large for a chroma-upsampling difference", mean)
					}
				}
				return
			}
			if got := sha256Hex(img.Pix); got != c.SHA256 {
				if exact {
					t.Fatalf("sha256 %s, want %s (cv2.imread)", got, c.SHA256)
				}
			}
		})
	}
}

func TestDecodeErrors(t *testing.T) {
	good, err := os.ReadFile(filepath.Join("testdata", "decode", "baseline_420.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	png, err := os.ReadFile(filepath.Join("testdata", "decode", "png_rgb8.png"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		in   []byte
		opts DecodeOptions
		want error
	}{
		{"empty", nil, DecodeOptions{}, ErrFormat},
		{"garbage", []byte("hello, world"), DecodeOptions{}, ErrFormat},
		{"jpeg truncated", good[:len(good)/2], DecodeOptions{}, ErrFormat},
		{"jpeg header only", good[:20], DecodeOptions{}, ErrFormat},
		{"png truncated", png[:len(png)-30], DecodeOptions{}, ErrFormat},
		{"jpeg too large", good, DecodeOptions{MaxPixels: 61*43 - 1}, ErrTooLarge},
		{"png too large", png, DecodeOptions{MaxPixels: 100}, ErrTooLarge},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			img, err := Decode(tc.in, tc.opts)
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, %v; want %v", img, err, tc.want)
			}
		})
	}
	if _, err := Decode(good, DecodeOptions{MaxPixels: 61 * 43}); err != nil {
		t.Fatalf("exactly at the limit: %v", err)
	}
	if _, err := Decode(good, DecodeOptions{MaxPixels: -1}); err != nil {
		t.Fatalf("no limit: %v", err)
	}
	if _, err := DecodeFile(filepath.Join(t.TempDir(), "missing.jpg"), DecodeOptions{}); err == nil {
		t.Fatal("missing file decoded")
	}
}

// A huge declared size is refused before any pixel buffer exists.
func TestDecodeTooLargeHeader(t *testing.T) {
	var buf bytes.Buffer
	g := &gif.GIF{Image: []*image.Paletted{image.NewPaletted(image.Rect(0, 0, 2, 2), color.Palette{color.Black, color.White})},
		Delay: []int{0}, Config: image.Config{Width: 60000, Height: 60000}}
	g.Image[0].Pix[1] = 1
	if err := gif.EncodeAll(&buf, g); err != nil {
		t.Fatal(err)
	}
	if _, err := Decode(buf.Bytes(), DecodeOptions{}); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("got %v, want ErrTooLarge", err)
	}
}

func TestDecodeGIFFirstFrame(t *testing.T) {
	pal := color.Palette{color.RGBA{10, 20, 30, 255}, color.RGBA{200, 100, 50, 255}}
	f0 := image.NewPaletted(image.Rect(0, 0, 3, 2), pal)
	f0.Pix = []uint8{0, 1, 0, 1, 1, 0}
	f1 := image.NewPaletted(image.Rect(0, 0, 3, 2), pal)
	var buf bytes.Buffer
	if err := gif.EncodeAll(&buf, &gif.GIF{Image: []*image.Paletted{f0, f1}, Delay: []int{0, 0}}); err != nil {
		t.Fatal(err)
	}
	img, err := Decode(buf.Bytes(), DecodeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := []uint8{10, 20, 30, 200, 100, 50, 10, 20, 30, 200, 100, 50, 200, 100, 50, 10, 20, 30}
	if !bytes.Equal(img.Pix, want) {
		t.Fatalf("got %v, want %v", img.Pix, want)
	}
}

func TestSniffAndConfig(t *testing.T) {
	for _, tc := range []struct {
		file string
		f    Format
		w, h int
		o    int
	}{
		{"decode/baseline_420.jpg", JPEG, 61, 43, 1},
		{"decode/exif_6.jpg", JPEG, 61, 43, 6},
		{"decode/exif_7.jpg", JPEG, 61, 43, 7},
		{"decode/png_rgba16.png", PNG, 23, 17, 1},
		{"decode/bmp_rgb.bmp", BMP, 23, 17, 1},
		{"decode/tiff_rgb.tiff", TIFF, 23, 17, 1},
		{"decode/webp_lossy.webp", WebP, 61, 43, 1},
	} {
		b, err := os.ReadFile(filepath.Join("testdata", tc.file))
		if err != nil {
			t.Fatal(err)
		}
		c, err := DecodeConfig(b)
		if err != nil {
			t.Fatal(err)
		}
		if c.Format != tc.f || c.W != tc.w || c.H != tc.h || c.Orientation != tc.o {
			t.Errorf("%s: got %+v", tc.file, c)
		}
	}
}

func TestOrientIgnored(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("testdata", "decode", "exif_6.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	img, err := Decode(b, DecodeOptions{IgnoreOrientation: true})
	if err != nil {
		t.Fatal(err)
	}
	if img.W != 61 || img.H != 43 {
		t.Fatalf("got %dx%d, want stored 61x43", img.W, img.H)
	}
}
