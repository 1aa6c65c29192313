//go:build !cgo || shitu_purejpeg

package imaging

import (
	"bytes"
	"fmt"
	"image"
	"image/jpeg"
)

// JPEGBackend names the JPEG decoder compiled in: "libjpeg-turbo" or
// "image/jpeg". This build has no cgo, so JPEGs decode through image/jpeg,
// which differs from cv2.imread by a few levels (go-stack.md §4.1).
const JPEGBackend = "image/jpeg"

func jpegInfo(b []byte) (w, h int, cmyk bool, err error) {
	cfg, err := jpeg.DecodeConfig(bytes.NewReader(b))
	if err != nil {
		return 0, 0, false, fmt.Errorf("%w: jpeg header: %v", ErrFormat, err)
	}
	return cfg.Width, cfg.Height, false, nil
}

func decodeJPEG(b []byte, opts DecodeOptions) (*Image, error) {
	w, h, _, err := jpegInfo(b)
	if err != nil {
		return nil, err
	}
	if err := opts.checkPixels(w, h); err != nil {
		return nil, err
	}
	m, err := jpeg.Decode(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("%w: jpeg: %v", ErrFormat, err)
	}
	if c, ok := m.(*image.CMYK); ok {
		// image/jpeg returns straight CMYK; libjpeg hands OpenCV inverted
		// (Adobe) values, so invert before OpenCV's conversion.
		buf := make([]uint8, w*h*4)
		for y := 0; y < h; y++ {
			row := c.Pix[y*c.Stride : y*c.Stride+4*w]
			for i, v := range row {
				buf[y*w*4+i] = 255 - v
			}
		}
		return cmykToRGB(w, h, buf), nil
	}
	if y, ok := m.(*image.YCbCr); ok {
		out := &Image{W: w, H: h, C: 3, Pix: make([]uint8, w*h*3)}
		jfifToRGB(out.Pix, y)
		return out, nil
	}
	return fromStdImage(m)
}
