package imaging

import "image"

// VP8 (lossy WebP) stores BT.601 limited-range YUV, which x/image/webp
// returns as an image.YCbCr; Go's YCbCr model would read it as full-range
// JFIF. vp8ToRGB converts with libwebp's 14-bit fixed-point formulas
// (VP8YUVToR/G/B) and its "fancy" chroma upsampler (9-3-3-1 weights),
// which is what cv2.imread gets from libwebp.
func vp8ToRGB(p []uint8, s *image.YCbCr) {
	w, h := s.Rect.Dx(), s.Rect.Dy()
	cw, ch := (w+1)/2, (h+1)/2
	u := make([]uint32, 2*cw)
	for y := 0; y < h; y++ {
		// Chroma row nearest to this luma row and the one on its other side.
		ci := y / 2
		cj := ci - 1
		if y%2 == 1 {
			cj = ci + 1
		}
		cj = min(max(cj, 0), ch-1)
		near := func(i int) uint32 {
			i = min(max(i, 0), cw-1)
			return uint32(s.Cb[ci*s.CStride+i]) | uint32(s.Cr[ci*s.CStride+i])<<16
		}
		far := func(i int) uint32 {
			i = min(max(i, 0), cw-1)
			return uint32(s.Cb[cj*s.CStride+i]) | uint32(s.Cr[cj*s.CStride+i])<<16
		}
		for i := 0; i < cw; i++ {
			// (9·a + 3·b + 3·c + d + 8) / 16 on both planes at once.
			for k, j := range [2]int{i - 1, i + 1} {
				v := (9*near(i) + 3*near(j) + 3*far(i) + far(j) + 0x00080008) >> 4
				u[2*i+k] = v
			}
		}
		row := p[3*y*w : 3*(y+1)*w]
		for x := 0; x < w; x++ {
			uv := u[x]
			yy := int32(s.Y[y*s.YStride+x])
			cb, cr := int32(uv&0xff), int32(uv>>16&0xff)
			row[3*x] = vp8Clip(mulHi(yy, 19077) + mulHi(cr, 26149) - 14234)
			row[3*x+1] = vp8Clip(mulHi(yy, 19077) - mulHi(cb, 6419) - mulHi(cr, 13320) + 8708)
			row[3*x+2] = vp8Clip(mulHi(yy, 19077) + mulHi(cb, 33050) - 17685)
		}
	}
}

func mulHi(v, c int32) int32 { return (v * c) >> 8 }

func vp8Clip(v int32) uint8 {
	if v&^(256<<6-1) == 0 {
		return uint8(v >> 6)
	}
	if v < 0 {
		return 0
	}
	return 255
}
