// Package imaging decodes images to 8-bit RGB exactly as cv2.imread does,
// resizes them with OpenCV's uint8 rules bit for bit, crops, normalises
// them into float32 CHW tensors as PaddleClas does, and draws boxes and
// CJK labels for visualisations.
//
// JPEG goes through libjpeg-turbo when cgo is on (identical to cv2.imread,
// go-stack.md §4.1) and through image/jpeg otherwise. PNG, BMP, WebP, TIFF
// and GIF go through the Go decoders. Pixel data is always RGB
// interleaved (or single-channel gray from Resize of a gray image).
package imaging

import (
	"errors"
	"fmt"
)

// Errors returned by this package; they are wrapped with details.
var (
	// ErrFormat: the bytes are not an image this package can read, or are
	// corrupt or truncated.
	ErrFormat = errors.New("imaging: invalid or unsupported image data")
	// ErrTooLarge: the image has more pixels than DecodeOptions.MaxPixels.
	ErrTooLarge = errors.New("imaging: image too large")
	// ErrUnsupported: a valid request this package does not implement
	// (e.g. INTER_LANCZOS4).
	ErrUnsupported = errors.New("imaging: unsupported")
	// ErrSize: a size, box or buffer argument is invalid.
	ErrSize = errors.New("imaging: invalid size")
	// ErrFont: a font could not be loaded.
	ErrFont = errors.New("imaging: font")
)

// Image is an 8-bit image stored row by row with interleaved channels:
// C == 3 is RGB (the default), C == 1 is gray. A zero C means 3.
type Image struct {
	W, H int
	// C is the number of channels: 3 (RGB) or 1 (gray); 0 means 3.
	C   int
	Pix []uint8
}

// NewImage returns a zeroed image of the given size and channel count (1 or 3).
func NewImage(w, h, c int) (*Image, error) {
	if w <= 0 || h <= 0 || (c != 1 && c != 3) {
		return nil, fmt.Errorf("%w: %dx%d with %d channels", ErrSize, w, h, c)
	}
	if int64(w)*int64(h)*int64(c) > 1<<34 {
		return nil, fmt.Errorf("%w: %dx%d", ErrTooLarge, w, h)
	}
	return &Image{W: w, H: h, C: c, Pix: make([]uint8, w*h*c)}, nil
}

// Channels is C, with 0 read as 3.
func (m *Image) Channels() int {
	if m.C == 0 {
		return 3
	}
	return m.C
}

// Stride is the number of bytes in one row.
func (m *Image) Stride() int { return m.W * m.Channels() }

func (m *Image) check() error {
	if m == nil {
		return fmt.Errorf("%w: nil image", ErrSize)
	}
	c := m.Channels()
	if m.W <= 0 || m.H <= 0 || (c != 1 && c != 3) || len(m.Pix) < m.W*m.H*c {
		return fmt.Errorf("%w: image %dx%dx%d with %d bytes", ErrSize, m.W, m.H, c, len(m.Pix))
	}
	return nil
}

// Clone returns a deep copy.
func (m *Image) Clone() *Image {
	return &Image{W: m.W, H: m.H, C: m.C, Pix: append([]uint8(nil), m.Pix...)}
}

// Crop returns a copy of the pixels in [x0, x1) × [y0, y1). The box is
// clamped to the image (ppshitu-pipeline.md §20 gotcha 8: callers convert
// float boxes by truncation toward zero before calling); an empty result is
// an ErrSize error.
func Crop(img *Image, x0, y0, x1, y1 int) (*Image, error) {
	if err := img.check(); err != nil {
		return nil, err
	}
	x0, x1 = max(x0, 0), min(x1, img.W)
	y0, y1 = max(y0, 0), min(y1, img.H)
	if x1 <= x0 || y1 <= y0 {
		return nil, fmt.Errorf("%w: empty crop [%d,%d)x[%d,%d) of %dx%d", ErrSize, x0, x1, y0, y1, img.W, img.H)
	}
	c := img.Channels()
	out := &Image{W: x1 - x0, H: y1 - y0, C: c, Pix: make([]uint8, (x1-x0)*(y1-y0)*c)}
	rs, ss := out.W*c, img.W*c
	for y := y0; y < y1; y++ {
		copy(out.Pix[(y-y0)*rs:(y-y0+1)*rs], img.Pix[y*ss+x0*c:y*ss+x1*c])
	}
	return out, nil
}

// ToRGB returns img if it has 3 channels, else a copy with the gray value
// replicated to R, G and B.
func ToRGB(img *Image) *Image {
	if img.Channels() == 3 {
		return img
	}
	out := &Image{W: img.W, H: img.H, C: 3, Pix: make([]uint8, img.W*img.H*3)}
	for i, v := range img.Pix[:img.W*img.H] {
		out.Pix[3*i], out.Pix[3*i+1], out.Pix[3*i+2] = v, v, v
	}
	return out
}
