package imaging

import (
	"math"

	"github.com/shitu-go/shitu/imaging/internal/simd"
)

// resizeNearest is cv2.INTER_NEAREST: source index floor(d·scale) in
// double, clamped to the last pixel.
func resizeNearest(src, dst *Image, sx, sy float64) {
	cn := src.Channels()
	xofs := make([]int, dst.W)
	for x := range xofs {
		xofs[x] = min(int(math.Floor(float64(x)*sx)), src.W-1) * cn
	}
	ss, ds := src.W*cn, dst.W*cn
	for y := 0; y < dst.H; y++ {
		r := min(int(math.Floor(float64(y)*sy)), src.H-1)
		s := src.Pix[r*ss : (r+1)*ss]
		d := dst.Pix[y*ds : (y+1)*ds]
		if cn == 3 {
			for x, o := range xofs {
				d[3*x], d[3*x+1], d[3*x+2] = s[o], s[o+1], s[o+2]
			}
		} else {
			for x, o := range xofs {
				d[x] = s[o]
			}
		}
	}
}

// resizeAreaFast is OpenCV's INTER_AREA path for integer downscale
// factors kx, ky: the mean of each kx×ky block. The 2×2 case rounds half
// up, (a+b+c+d+2)>>2 (go-stack.md §4.4 rule 6); other factors multiply the
// sum by float32(1/(kx·ky)) and round half to even. Blocks that stick out
// of the source average only the pixels inside.
func resizeAreaFast(src, dst *Image, kx, ky int) {
	cn := src.Channels()
	ss, ds := src.W*cn, dst.W*cn
	area := kx * ky
	scale := 1 / float32(area)
	if kx == 2 && ky == 2 && src.W == 2*dst.W && src.H == 2*dst.H {
		areaFast2(src, dst)
		return
	}
	for dy := 0; dy < dst.H; dy++ {
		sy0 := dy * ky
		d := dst.Pix[dy*ds : (dy+1)*ds]
		if sy0 >= src.H {
			clear(d)
			continue
		}
		full := sy0+ky <= src.H
		for dx := 0; dx < dst.W; dx++ {
			sx0 := dx * kx
			for c := 0; c < cn; c++ {
				var sum, count int32
				for yy := sy0; yy < min(sy0+ky, src.H); yy++ {
					row := src.Pix[yy*ss:]
					for xx := sx0; xx < min(sx0+kx, src.W); xx++ {
						sum += int32(row[xx*cn+c])
						count++
					}
				}
				switch {
				case count == 0:
					d[dx*cn+c] = 0
				case full && sx0+kx <= src.W && area == 4 && kx == 2:
					d[dx*cn+c] = uint8((sum + 2) >> 2)
				case full && sx0+kx <= src.W:
					d[dx*cn+c] = sat8(roundEven32(float32(sum) * scale))
				default:
					d[dx*cn+c] = sat8(roundEven32(float32(sum) / float32(count)))
				}
			}
		}
	}
}

// areaTap is one weighted source sample of an INTER_AREA output sample.
type areaTap struct {
	di, si int
	alpha  float32
}

// areaTable lists, for each destination index, the source samples it
// covers and their coverage weights (OpenCV's computeResizeAreaTab,
// computed in double and stored as float32).
func areaTable(ssize, dsize, cn int, scale float64) []areaTap {
	tab := make([]areaTap, 0, 2*ssize+2*dsize)
	for dx := 0; dx < dsize; dx++ {
		// float64() keeps arm64 from fusing dx·scale+scale into one FMA.
		f1 := float64(float64(dx) * scale)
		f2 := f1 + scale
		cell := math.Min(scale, float64(ssize)-f1)
		s1, s2 := int(math.Ceil(f1)), int(math.Floor(f2))
		s2 = min(s2, ssize-1)
		s1 = min(s1, s2)
		if float64(s1)-f1 > 1e-3 {
			tab = append(tab, areaTap{dx * cn, (s1 - 1) * cn, float32((float64(s1) - f1) / cell)})
		}
		for s := s1; s < s2; s++ {
			tab = append(tab, areaTap{dx * cn, s * cn, float32(1 / cell)})
		}
		if f2-float64(s2) > 1e-3 {
			tab = append(tab, areaTap{dx * cn, s2 * cn, float32(math.Min(math.Min(f2-float64(s2), 1), cell) / cell)})
		}
	}
	return tab
}

// resizeArea is OpenCV's INTER_AREA for non-integer downscale factors: a
// float32 coverage-weighted mean, rounded half to even.
func resizeArea(src, dst *Image, sx, sy float64) {
	cn := src.Channels()
	W := dst.W * cn
	xt := areaTable(src.W, dst.W, cn, sx)
	yt := areaTable(src.H, dst.H, 1, sy)
	buf := make([]float32, W)
	sum := make([]float32, W)
	flush := func(dy int) {
		d := dst.Pix[dy*W : (dy+1)*W]
		for i, v := range sum {
			d[i] = sat8(roundEven32(v))
		}
	}
	prev := yt[0].di
	ss := src.W * cn
	for _, y := range yt {
		s := src.Pix[y.si*ss : (y.si+1)*ss]
		clear(buf)
		for _, x := range xt {
			for c := 0; c < cn; c++ {
				buf[x.di+c] += float32(float32(s[x.si+c]) * x.alpha)
			}
		}
		beta := y.alpha
		if y.di != prev {
			flush(prev)
			for i := range sum {
				sum[i] = float32(beta * buf[i])
			}
			prev = y.di
		} else {
			for i := range sum {
				sum[i] += float32(beta * buf[i])
			}
		}
	}
	flush(prev)
}

// areaFast2 is the exact 2×2 case: (a+b+c+d+2)>>2 for every channel.
func areaFast2(src, dst *Image) {
	cn := src.Channels()
	ss, ds := src.W*cn, dst.W*cn
	for dy := 0; dy < dst.H; dy++ {
		r0 := src.Pix[2*dy*ss : (2*dy+1)*ss]
		r1 := src.Pix[(2*dy+1)*ss : (2*dy+2)*ss]
		d := dst.Pix[dy*ds : (dy+1)*ds]
		start := 0 // first output element left to the Go loops
		if simd.AVX2 {
			if cn == 1 && ss >= 16 && ds >= 8 {
				n := min((ss-16)/16+1, (ds-8)/8+1)
				simd.Area2(&r0[0], &r1[0], &d[0], n, 1)
				start = 8 * n
			} else if cn == 3 && ss >= 16 && ds >= 8 {
				n := min((ss-16)/12+1, (ds-8)/6+1)
				simd.Area2(&r0[0], &r1[0], &d[0], n, 3)
				start = 6 * n
			}
		}
		if cn == 1 {
			r0, r1 = r0[:2*len(d)], r1[:2*len(d)]
			for x := start; x < len(d); x++ {
				d[x] = uint8((uint32(r0[2*x]) + uint32(r0[2*x+1]) + uint32(r1[2*x]) + uint32(r1[2*x+1]) + 2) >> 2)
			}
			continue
		}
		for x := start; x+3 <= len(d); x += 3 {
			a := r0[2*x : 2*x+6 : 2*x+6]
			b := r1[2*x : 2*x+6 : 2*x+6]
			q := d[x : x+3 : x+3]
			q[0] = uint8((uint32(a[0]) + uint32(a[3]) + uint32(b[0]) + uint32(b[3]) + 2) >> 2)
			q[1] = uint8((uint32(a[1]) + uint32(a[4]) + uint32(b[1]) + uint32(b[4]) + 2) >> 2)
			q[2] = uint8((uint32(a[2]) + uint32(a[5]) + uint32(b[2]) + uint32(b[5]) + 2) >> 2)
		}
	}
}
