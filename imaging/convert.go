package imaging

import (
	"fmt"
	"image"
	"image/color"
)

// fromStdImage converts a decoded Go image to RGB with OpenCV's rules:
// straight (non-premultiplied) colour with alpha dropped, 16-bit → high
// byte, gray replicated.
func fromStdImage(m image.Image) (*Image, error) {
	b := m.Bounds()
	w, h := b.Dx(), b.Dy()
	if w <= 0 || h <= 0 {
		return nil, fmt.Errorf("%w: empty image", ErrFormat)
	}
	out := &Image{W: w, H: h, C: 3, Pix: make([]uint8, w*h*3)}
	p := out.Pix
	switch s := m.(type) {
	case *image.NRGBA:
		copyRGB4(p, s.Pix, s.Stride, w, h, 1)
	case *image.RGBA:
		// Opaque in practice (PNG truecolour, BMP 24-bit); premultiplied
		// translucent pixels are un-premultiplied below.
		copyRGB4(p, s.Pix, s.Stride, w, h, 1)
		unpremultiply(p, s.Pix, s.Stride, w, h)
	case *image.NRGBA64:
		copyRGB4(p, s.Pix, s.Stride, w, h, 2)
	case *image.RGBA64:
		copyRGB4(p, s.Pix, s.Stride, w, h, 2)
	case *image.Gray:
		for y := 0; y < h; y++ {
			for x, v := range s.Pix[y*s.Stride : y*s.Stride+w] {
				i := 3 * (y*w + x)
				p[i], p[i+1], p[i+2] = v, v, v
			}
		}
	case *image.Gray16:
		for y := 0; y < h; y++ {
			row := s.Pix[y*s.Stride : y*s.Stride+2*w]
			for x := 0; x < w; x++ {
				v := row[2*x]
				i := 3 * (y*w + x)
				p[i], p[i+1], p[i+2] = v, v, v
			}
		}
	case *image.Paletted:
		var lut [256][3]uint8
		for i, c := range s.Palette {
			lut[i] = straightRGB(c)
		}
		for y := 0; y < h; y++ {
			for x, v := range s.Pix[y*s.Stride : y*s.Stride+w] {
				i := 3 * (y*w + x)
				p[i], p[i+1], p[i+2] = lut[v][0], lut[v][1], lut[v][2]
			}
		}
	case *image.YCbCr:
		ycbcrToRGB(p, s)
	case *image.NYCbCrA:
		ycbcrToRGB(p, &s.YCbCr)
	default:
		i := 0
		for y := b.Min.Y; y < b.Max.Y; y++ {
			for x := b.Min.X; x < b.Max.X; x++ {
				c := straightRGB(m.At(x, y))
				p[i], p[i+1], p[i+2] = c[0], c[1], c[2]
				i += 3
			}
		}
	}
	return out, nil
}

// copyRGB4 copies R, G, B out of 4-channel rows with bytesPer bytes per
// sample (2 = 16-bit big-endian: the high byte is taken, as OpenCV does).
func copyRGB4(dst, src []uint8, stride, w, h, bytesPer int) {
	for y := 0; y < h; y++ {
		row := src[y*stride:]
		d := dst[y*w*3 : (y+1)*w*3]
		for x := 0; x < w; x++ {
			s := row[4*bytesPer*x:]
			d[3*x], d[3*x+1], d[3*x+2] = s[0], s[bytesPer], s[2*bytesPer]
		}
	}
}

func unpremultiply(dst, src []uint8, stride, w, h int) {
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			a := uint32(src[y*stride+4*x+3])
			if a == 255 || a == 0 {
				continue
			}
			d := dst[3*(y*w+x):]
			for c := 0; c < 3; c++ {
				d[c] = uint8(min(255, (uint32(d[c])*255+a/2)/a))
			}
		}
	}
}

func straightRGB(c color.Color) [3]uint8 {
	n := color.NRGBAModel.Convert(c).(color.NRGBA)
	return [3]uint8{n.R, n.G, n.B}
}

func ycbcrToRGB(p []uint8, s *image.YCbCr) {
	b := s.Rect
	i := 0
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			yi, ci := s.YOffset(x, y), s.COffset(x, y)
			r, g, bb := color.YCbCrToRGB(s.Y[yi], s.Cb[ci], s.Cr[ci])
			p[i], p[i+1], p[i+2] = r, g, bb
			i += 3
		}
	}
}
