package train

import (
	"math"

	"github.com/shitu-go/shitu/imaging"
)

// rotate turns img by angle degrees counter-clockwise about (w/2, h/2),
// keeping its size, with bilinear interpolation and a constant border of
// fill — paddle.vision's functional_cv2.rotate, i.e.
// cv2.warpAffine(img, cv2.getRotationMatrix2D((w/2, h/2), angle, 1),
// (w, h), flags=INTER_LINEAR, borderValue=fill). The arithmetic follows
// OpenCV's (4.6) fixed-point warpAffine: the inverse map in 10 fractional
// bits, rounded to 1/32 pixel, then 2×2 weights of 15 bits.
func rotate(img *imaging.Image, angle float64, fill uint8) *imaging.Image {
	w, h := img.W, img.H
	cx, cy := float64(w)/2, float64(h)/2
	// getRotationMatrix2D.
	a := angle * math.Pi / 180
	alpha, beta := math.Cos(a), math.Sin(a)
	m := [6]float64{alpha, beta, (1-alpha)*cx - beta*cy, -beta, alpha, beta*cx + (1-alpha)*cy}
	// warpAffine inverts the matrix (no WARP_INVERSE_MAP).
	d := m[0]*m[4] - m[1]*m[3]
	if d != 0 {
		d = 1 / d
	}
	a11, a22 := m[4]*d, m[0]*d
	a12, a21 := -m[1]*d, -m[3]*d
	b1 := -a11*m[2] - a12*m[5]
	b2 := -a21*m[2] - a22*m[5]
	inv := [6]float64{a11, a12, b1, a21, a22, b2}
	return warpAffineLinear(img, inv, fill)
}

const (
	abBits       = 10
	abScale      = 1 << abBits
	interBits    = 5
	interTabSize = 1 << interBits
	coefBits     = 15
	coefScale    = 1 << coefBits
)

// cvRound is OpenCV's saturate_cast<int>(double): round half to even.
func cvRound(v float64) int {
	r := math.RoundToEven(v)
	if r > math.MaxInt32 {
		return math.MaxInt32
	}
	if r < math.MinInt32 {
		return math.MinInt32
	}
	return int(r)
}

// warpAffineLinear maps every destination pixel (x, y) to the source point
// M·(x, y, 1) (M is the inverse map) with OpenCV's fixed-point bilinear
// remap and BORDER_CONSTANT. The output has the input's size; 3 or 1 channels.
func warpAffineLinear(src *imaging.Image, m [6]float64, fill uint8) *imaging.Image {
	w, h := src.W, src.H
	cn := src.Channels()
	dst := &imaging.Image{W: w, H: h, C: src.C, Pix: make([]uint8, len(src.Pix))}
	adelta := make([]int, w)
	bdelta := make([]int, w)
	for x := range w {
		adelta[x] = cvRound(m[0] * float64(x) * abScale)
		bdelta[x] = cvRound(m[3] * float64(x) * abScale)
	}
	// Bilinear weights of the 32×32 sub-pixel table: exact in 15 bits
	// because the fractions are multiples of 1/32.
	const roundDelta = abScale / interTabSize / 2
	stride := w * cn
	for y := range h {
		x0 := cvRound((m[1]*float64(y)+m[2])*abScale) + roundDelta
		y0 := cvRound((m[4]*float64(y)+m[5])*abScale) + roundDelta
		out := dst.Pix[y*stride : (y+1)*stride]
		for x := range w {
			X := (x0 + adelta[x]) >> (abBits - interBits)
			Y := (y0 + bdelta[x]) >> (abBits - interBits)
			sx, sy := X>>interBits, Y>>interBits
			fx, fy := X&(interTabSize-1), Y&(interTabSize-1)
			w00 := (interTabSize - fy) * (interTabSize - fx) * (coefScale / (interTabSize * interTabSize))
			w01 := (interTabSize - fy) * fx * (coefScale / (interTabSize * interTabSize))
			w10 := fy * (interTabSize - fx) * (coefScale / (interTabSize * interTabSize))
			w11 := fy * fx * (coefScale / (interTabSize * interTabSize))
			o := out[x*cn : (x+1)*cn]
			if sx >= w || sx+1 < 0 || sy >= h || sy+1 < 0 {
				for k := range o {
					o[k] = fill
				}
				continue
			}
			px := func(xx, yy, k int) int {
				if xx < 0 || xx >= w || yy < 0 || yy >= h {
					return int(fill)
				}
				return int(src.Pix[yy*stride+xx*cn+k])
			}
			for k := range o {
				v := px(sx, sy, k)*w00 + px(sx+1, sy, k)*w01 + px(sx, sy+1, k)*w10 + px(sx+1, sy+1, k)*w11
				v = (v + (1 << (coefBits - 1))) >> coefBits
				o[k] = uint8(min(max(v, 0), 255))
			}
		}
	}
	return dst
}
