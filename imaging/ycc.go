package imaging

import "image"

// libjpeg's YCbCr→RGB tables (jdcolor.c, 16-bit fixed point), so the
// pure-Go JPEG path converts colour exactly as cv2.imread does; only
// image/jpeg's IDCT (±1) still differs.
var yccTab = func() (t struct{ crR, cbB, crG, cbG [256]int32 }) {
	const half = 1 << 15
	fix := func(x float64) int32 { return int32(x*65536 + 0.5) }
	for i := 0; i < 256; i++ {
		x := int32(i - 128)
		t.crR[i] = (fix(1.40200)*x + half) >> 16
		t.cbB[i] = (fix(1.77200)*x + half) >> 16
		t.crG[i] = -fix(0.71414) * x
		t.cbG[i] = -fix(0.34414)*x + half
	}
	return
}()

func clampRGB(v int32) uint8 {
	return sat8(v)
}

// jfifToRGB converts a JPEG's YCbCr planes to RGB with libjpeg's "fancy"
// (triangular) chroma upsampling for 4:2:0 and 4:2:2 (jdsample.c), the
// default cv2.imread uses; other subsamplings replicate chroma.
func jfifToRGB(p []uint8, s *image.YCbCr) {
	w, h := s.Rect.Dx(), s.Rect.Dy()
	cw := (w + 1) / 2
	cb := make([]int32, 2*cw) // upsampled chroma for one output row, per plane
	cr := make([]int32, 2*cw)
	for y := 0; y < h; y++ {
		yrow := s.Y[y*s.YStride : y*s.YStride+w]
		var cbRow, crRow []uint8
		switch s.SubsampleRatio {
		case image.YCbCrSubsampleRatio420:
			// Vertical pass: 3/4 of this chroma row, 1/4 of the row above
			// (even output rows) or below (odd), edges replicated.
			ch := (h + 1) / 2
			ci := y / 2
			cj := ci - 1
			if y%2 == 1 {
				cj = ci + 1
			}
			cj = min(max(cj, 0), ch-1)
			fancyRow(cb, s.Cb[ci*s.CStride:], s.Cb[cj*s.CStride:], cw)
			fancyRow(cr, s.Cr[ci*s.CStride:], s.Cr[cj*s.CStride:], cw)
			convertRow(p[3*y*w:3*(y+1)*w], yrow, cb, cr)
			continue
		case image.YCbCrSubsampleRatio422:
			cbRow, crRow = s.Cb[y*s.CStride:], s.Cr[y*s.CStride:]
			fancyH(cb, cbRow, cw)
			fancyH(cr, crRow, cw)
			convertRow(p[3*y*w:3*(y+1)*w], yrow, cb, cr)
			continue
		}
		for x := 0; x < w; x++ {
			ci := s.COffset(x+s.Rect.Min.X, y+s.Rect.Min.Y)
			cb[0], cr[0] = int32(s.Cb[ci]), int32(s.Cr[ci])
			convertRow(p[3*(y*w+x):3*(y*w+x)+3], yrow[x:x+1], cb[:1], cr[:1])
		}
	}
}

// fancyRow is libjpeg's h2v2_fancy_upsample for one output row: column
// sums c = 3·near + far, then (3·c[i] + c[i∓1] + 8 or 7) >> 4.
func fancyRow(out []int32, near, far []uint8, cw int) {
	col := func(i int) int32 {
		i = min(max(i, 0), cw-1)
		return 3*int32(near[i]) + int32(far[i])
	}
	for i := 0; i < cw; i++ {
		c := 3 * col(i)
		out[2*i] = (c + col(i-1) + 8) >> 4
		out[2*i+1] = (c + col(i+1) + 7) >> 4
	}
}

// fancyH is libjpeg's h2v1_fancy_upsample: (3·c[i] + c[i∓1] + 1 or 2) >> 2.
func fancyH(out []int32, in []uint8, cw int) {
	at := func(i int) int32 { return int32(in[min(max(i, 0), cw-1)]) }
	for i := 0; i < cw; i++ {
		c := 3 * at(i)
		out[2*i] = (c + at(i-1) + 1) >> 2
		out[2*i+1] = (c + at(i+1) + 2) >> 2
	}
}

func convertRow(d []uint8, y []uint8, cb, cr []int32) {
	t := &yccTab
	for x, yv := range y {
		Y := int32(yv)
		b, r := cb[x], cr[x]
		d[3*x] = clampRGB(Y + t.crR[r])
		d[3*x+1] = clampRGB(Y + (t.cbG[b]+t.crG[r])>>16)
		d[3*x+2] = clampRGB(Y + t.cbB[b])
	}
}
