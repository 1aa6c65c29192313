package imaging

import (
	"bytes"
	"fmt"
	"image"
	"image/gif"
	"image/png"
	"io"
	"os"

	"golang.org/x/image/bmp"
	"golang.org/x/image/tiff"
	"golang.org/x/image/webp"
)

// DefaultMaxPixels is the pixel limit used when DecodeOptions.MaxPixels is 0.
const DefaultMaxPixels = 100_000_000

// DecodeOptions tune Decode. The zero value decodes like cv2.imread
// (IMREAD_COLOR) with a 100-megapixel limit.
type DecodeOptions struct {
	// MaxPixels refuses images with more than this many pixels before any
	// pixel buffer is allocated. 0 means DefaultMaxPixels (100 MP); a
	// negative value disables the limit.
	MaxPixels int64
	// IgnoreOrientation skips the EXIF orientation (default false: applied,
	// as cv2.imread does; ppshitu-pipeline.md §3.2).
	IgnoreOrientation bool
}

func (o DecodeOptions) checkPixels(w, h int) error {
	if w <= 0 || h <= 0 {
		return fmt.Errorf("%w: image size %dx%d", ErrFormat, w, h)
	}
	limit := o.MaxPixels
	if limit == 0 {
		limit = DefaultMaxPixels
	}
	if limit > 0 && int64(w)*int64(h) > limit {
		return fmt.Errorf("%w: %dx%d is %d pixels, limit %d", ErrTooLarge, w, h, int64(w)*int64(h), limit)
	}
	return nil
}

// Format is an image container format recognised by its content.
type Format string

// The formats Decode reads.
const (
	JPEG Format = "jpeg"
	PNG  Format = "png"
	BMP  Format = "bmp"
	GIF  Format = "gif"
	WebP Format = "webp"
	TIFF Format = "tiff"
)

// Sniff returns the format of b from its first bytes (never from a file
// name: ppshitu-pipeline.md §20 gotcha 4), or "" when unknown.
func Sniff(b []byte) Format {
	switch {
	case len(b) >= 3 && b[0] == 0xFF && b[1] == 0xD8 && b[2] == 0xFF:
		return JPEG
	case bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")):
		return PNG
	case bytes.HasPrefix(b, []byte("BM")):
		return BMP
	case bytes.HasPrefix(b, []byte("GIF87a")) || bytes.HasPrefix(b, []byte("GIF89a")):
		return GIF
	case len(b) >= 12 && string(b[:4]) == "RIFF" && string(b[8:12]) == "WEBP":
		return WebP
	case bytes.HasPrefix(b, []byte("II*\x00")) || bytes.HasPrefix(b, []byte("MM\x00*")):
		return TIFF
	}
	return ""
}

// Config is what DecodeConfig reports: the format and the stored
// dimensions (before any EXIF rotation).
type Config struct {
	Format Format
	W, H   int
	// Orientation is the EXIF orientation 1–8 of a JPEG (1 when absent).
	Orientation int
}

// DecodeConfig reads only the header of b.
func DecodeConfig(b []byte) (Config, error) {
	f := Sniff(b)
	if len(b) == 0 {
		return Config{}, fmt.Errorf("%w: empty input", ErrFormat)
	}
	if f == JPEG {
		w, h, _, err := jpegInfo(b)
		if err != nil {
			return Config{}, err
		}
		return Config{Format: f, W: w, H: h, Orientation: jpegOrientation(b)}, nil
	}
	dc, err := configFunc(f)
	if err != nil {
		return Config{}, err
	}
	c, err := dc(bytes.NewReader(b))
	if err != nil {
		return Config{}, fmt.Errorf("%w: %s header: %v", ErrFormat, f, err)
	}
	return Config{Format: f, W: c.Width, H: c.Height, Orientation: 1}, nil
}

func configFunc(f Format) (func(io.Reader) (image.Config, error), error) {
	switch f {
	case PNG:
		return png.DecodeConfig, nil
	case BMP:
		return bmp.DecodeConfig, nil
	case GIF:
		return gif.DecodeConfig, nil
	case WebP:
		return webp.DecodeConfig, nil
	case TIFF:
		return tiff.DecodeConfig, nil
	}
	return nil, fmt.Errorf("%w: unknown image format", ErrFormat)
}

func decodeFunc(f Format) func(io.Reader) (image.Image, error) {
	switch f {
	case PNG:
		return png.Decode
	case BMP:
		return bmp.Decode
	case GIF:
		return gif.Decode // first frame
	case WebP:
		return webp.Decode
	case TIFF:
		return tiff.Decode
	}
	return nil
}

// Decode decodes an image to 8-bit RGB as cv2.imread(path, IMREAD_COLOR)
// followed by BGR→RGB does (ppshitu-pipeline.md §3.2): gray is replicated,
// palettes expanded, alpha dropped without compositing, 16-bit samples
// shifted right by 8, and a JPEG's EXIF orientation applied. The format is
// sniffed from the content. Dimensions are checked against
// opts.MaxPixels before decoding.
func Decode(b []byte, opts DecodeOptions) (img *Image, err error) {
	if len(b) == 0 {
		return nil, fmt.Errorf("%w: empty input", ErrFormat)
	}
	// The Go decoders are meant not to panic, but a decoder bug must not
	// take the process down with it.
	defer func() {
		if r := recover(); r != nil {
			img, err = nil, fmt.Errorf("%w: decoder panic: %v", ErrFormat, r)
		}
	}()
	f := Sniff(b)
	if f == JPEG {
		img, err := decodeJPEG(b, opts)
		if err != nil {
			return nil, err
		}
		if !opts.IgnoreOrientation {
			if o := jpegOrientation(b); o != 1 {
				img = Orient(img, o)
			}
		}
		return img, nil
	}
	cfg, err := DecodeConfig(b)
	if err != nil {
		return nil, err
	}
	if err := opts.checkPixels(cfg.W, cfg.H); err != nil {
		return nil, err
	}
	m, err := decodeFunc(f)(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrFormat, f, err)
	}
	if f == WebP {
		var y *image.YCbCr
		switch v := m.(type) {
		case *image.YCbCr:
			y = v
		case *image.NYCbCrA:
			y = &v.YCbCr
		}
		if y != nil && y.SubsampleRatio == image.YCbCrSubsampleRatio420 && y.Rect.Min == (image.Point{}) {
			out := &Image{W: cfg.W, H: cfg.H, C: 3, Pix: make([]uint8, cfg.W*cfg.H*3)}
			vp8ToRGB(out.Pix, y)
			return out, nil
		}
	}
	return fromStdImage(m)
}

// DecodeFile reads and decodes a file; see Decode.
func DecodeFile(path string, opts DecodeOptions) (*Image, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("imaging: %w", err)
	}
	img, err := Decode(b, opts)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return img, nil
}

// cmykToRGB converts libjpeg's (inverted, Adobe-style) CMYK as OpenCV's
// JPEG reader does for colour output.
func cmykToRGB(w, h int, cmyk []uint8) *Image {
	out := &Image{W: w, H: h, C: 3, Pix: make([]uint8, w*h*3)}
	for i := 0; i < w*h; i++ {
		c, m, y, k := int(cmyk[4*i]), int(cmyk[4*i+1]), int(cmyk[4*i+2]), int(cmyk[4*i+3])
		out.Pix[3*i] = uint8(k - ((255 - c) * k >> 8))
		out.Pix[3*i+1] = uint8(k - ((255 - m) * k >> 8))
		out.Pix[3*i+2] = uint8(k - ((255 - y) * k >> 8))
	}
	return out
}
