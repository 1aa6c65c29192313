package imaging

import (
	"fmt"
	"github.com/shitu-go/shitu/imaging/internal/simd"
	"math"
	"runtime"
	"sync"
)

// Interp is an interpolation method, numbered as OpenCV's cv2.INTER_*
// codes, which is also how PaddleDetection's DetResize `interp` key is
// read (ppshitu-pipeline.md §4.1).
type Interp int

// The interpolation methods (OpenCV codes 0–4).
const (
	Nearest  Interp = 0 // cv2.INTER_NEAREST
	Linear   Interp = 1 // cv2.INTER_LINEAR (bilinear, half-pixel centres, no antialiasing)
	Cubic    Interp = 2 // cv2.INTER_CUBIC (Keys, A = -0.75)
	Area     Interp = 3 // cv2.INTER_AREA
	Lanczos4 Interp = 4 // cv2.INTER_LANCZOS4 (not implemented: ErrUnsupported)
)

// String returns the OpenCV name.
func (i Interp) String() string {
	switch i {
	case Nearest:
		return "INTER_NEAREST"
	case Linear:
		return "INTER_LINEAR"
	case Cubic:
		return "INTER_CUBIC"
	case Area:
		return "INTER_AREA"
	case Lanczos4:
		return "INTER_LANCZOS4"
	}
	return fmt.Sprintf("Interp(%d)", int(i))
}

// InterpFromCode maps an OpenCV / DetResize interpolation code (0–4) to an
// Interp; other codes are ErrUnsupported.
func InterpFromCode(code int) (Interp, error) {
	if code < 0 || code > 4 {
		return 0, fmt.Errorf("%w: interpolation code %d", ErrUnsupported, code)
	}
	return Interp(code), nil
}

// OpenCV's fixed-point weight precision for 8-bit resize
// (INTER_RESIZE_COEF_BITS, go-stack.md §4.4).
const (
	coefBits  = 11
	coefScale = 1 << coefBits
)

// Resize scales img to w×h exactly as cv2.resize(img, (w, h),
// interpolation=interp) does for uint8 images with 1 or 3 channels, bit
// for bit (go-stack.md §4.4). Lanczos4 returns ErrUnsupported.
func Resize(img *Image, w, h int, interp Interp) (*Image, error) {
	if err := img.check(); err != nil {
		return nil, err
	}
	if w <= 0 || h <= 0 {
		return nil, fmt.Errorf("%w: resize to %dx%d", ErrSize, w, h)
	}
	return resize(img, w, h, float64(w)/float64(img.W), float64(h)/float64(img.H), interp)
}

// ResizeScale scales img by factors fx, fy as cv2.resize(img, None, fx=fx,
// fy=fy, interpolation=interp) does: the output size is the rounded
// product and the sampling uses fx, fy themselves (DetResize,
// ppshitu-pipeline.md §4.1).
func ResizeScale(img *Image, fx, fy float64, interp Interp) (*Image, error) {
	if err := img.check(); err != nil {
		return nil, err
	}
	if !(fx > 0) || !(fy > 0) || math.IsInf(fx, 0) || math.IsInf(fy, 0) {
		return nil, fmt.Errorf("%w: resize factors %v, %v", ErrSize, fx, fy)
	}
	w, h := math.RoundToEven(float64(img.W)*fx), math.RoundToEven(float64(img.H)*fy)
	if w < 1 || h < 1 || w > 1<<20 || h > 1<<20 {
		return nil, fmt.Errorf("%w: resize %dx%d by %v, %v", ErrSize, img.W, img.H, fx, fy)
	}
	return resize(img, int(w), int(h), fx, fy, interp)
}

func resize(img *Image, w, h int, invx, invy float64, interp Interp) (*Image, error) {
	if int64(w)*int64(h) > 1<<31 {
		return nil, fmt.Errorf("%w: resize to %dx%d", ErrTooLarge, w, h)
	}
	if w == img.W && h == img.H {
		return img.Clone(), nil // OpenCV copies when the size does not change
	}
	if p := linearPlan(img, w, h, invx, invy, interp); p != nil {
		out := &Image{W: w, H: h, C: img.Channels(), Pix: make([]uint8, w*h*img.Channels())}
		p.run(img.Pix, out.Pix, nil)
		return out, nil
	}
	return resizeOther(img, w, h, invx, invy, interp)
}

// linearPlan returns the separable plan that resizes img to w×h with
// interp, or nil when OpenCV takes another path for these sizes (nearest,
// the area paths, an exact 2× linear downscale) or the size does not change.
func linearPlan(img *Image, w, h int, invx, invy float64, interp Interp) *plan {
	if w == img.W && h == img.H {
		return nil
	}
	sx, sy := 1/invx, 1/invy
	isx, isy := math.RoundToEven(sx), math.RoundToEven(sy)
	areaFast := math.Abs(sx-isx) < 0x1p-52 && math.Abs(sy-isy) < 0x1p-52
	switch interp {
	case Linear:
		if areaFast && isx == 2 && isy == 2 {
			return nil
		}
	case Cubic:
	case Area:
		if sx >= 1 && sy >= 1 {
			return nil
		}
	default:
		return nil
	}
	return cachedPlan(img.W, img.H, w, h, img.Channels(), sx, sy, invx, invy, interp)
}

func resizeOther(img *Image, w, h int, invx, invy float64, interp Interp) (*Image, error) {
	cn := img.Channels()
	out := &Image{W: w, H: h, C: cn, Pix: make([]uint8, w*h*cn)}
	sx, sy := 1/invx, 1/invy
	isx, isy := math.RoundToEven(sx), math.RoundToEven(sy)
	areaFast := math.Abs(sx-isx) < 0x1p-52 && math.Abs(sy-isy) < 0x1p-52
	switch interp {
	case Nearest:
		resizeNearest(img, out, sx, sy)
		return out, nil
	case Linear, Cubic:
		// OpenCV: an exact 2× linear downscale is the INTER_AREA fast path.
		if interp == Linear && areaFast && isx == 2 && isy == 2 {
			resizeAreaFast(img, out, 2, 2)
			return out, nil
		}
	case Area:
		if sx >= 1 && sy >= 1 {
			if areaFast {
				resizeAreaFast(img, out, int(isx), int(isy))
				return out, nil
			}
			resizeArea(img, out, sx, sy)
			return out, nil
		}
		// Upscaling with INTER_AREA is OpenCV's bilinear with area coefficients.
	default:
		return nil, fmt.Errorf("%w: %v", ErrUnsupported, interp)
	}
	p := cachedPlan(img.W, img.H, w, h, cn, sx, sy, invx, invy, interp)
	p.run(img.Pix, out.Pix, nil)
	return out, nil
}

// noLin3 turns the SSE 3-channel linear kernel off so tests and
// benchmarks can compare it with the gather kernel.
var noLin3 = false

// plan holds the precomputed taps of a separable linear or cubic resize.
type plan struct {
	sw, sh, dw, dh, cn int
	ks                 int     // taps per output sample: 2 or 4
	xofs               []int32 // dw*ks byte offsets of the tap pixels within a row, clamped
	alpha              []int16 // dw*ks horizontal weights (×2048)
	yofs               []int32 // dh*ks source rows, clamped
	beta               []int16 // dh*ks vertical weights (×2048)
	cubic              bool
	// With AVX2: per-element taps (ks planes of dw*cn) for the gather
	// kernel, which handles the first nsafe elements (a multiple of 8
	// whose taps can be read as dwords inside the row).
	eofs, ealpha []int32
	nsafe        int
	asm          bool
	// 3-channel linear: the first n3 pixels go through simd.HLinear3 with
	// pixel offsets pofs and weight vectors w3 (a0 a1 a0 a1 a0 a1 0 0).
	pofs []int32
	w3   []int16
	n3   int
	// With AVX-512: the whole horizontal pass in ng groups of up to 16
	// elements (simd.HGroups; buildGroups).
	ng    int
	gbase []int32
	gcnt  []int32
	gidx  []uint8
	gw    []int16
}

// planKey identifies a plan: plans depend only on sizes, scales and method.
type planKey struct {
	sw, sh, dw, dh, cn int
	sx, sy, invx, invy float64
	interp             Interp
	kernels            [3]bool // simd.AVX2, simd.AVX512, noLin3 when built
}

// plans caches coefficient tables: a service resizes to the same few sizes
// (640×640, 224×224) from the same few camera sizes over and over, and
// building the tables costs about a tenth of a small resize. Plans are
// read-only once built, so they are shared between goroutines.
var (
	planMu sync.Mutex
	plans  = map[planKey]*plan{}
)

// maxPlans bounds the cache; when full it starts over.
const maxPlans = 64

func cachedPlan(sw, sh, dw, dh, cn int, sx, sy, invx, invy float64, interp Interp) *plan {
	k := planKey{sw, sh, dw, dh, cn, sx, sy, invx, invy, interp, [3]bool{simd.AVX2, simd.AVX512, noLin3}}
	planMu.Lock()
	p := plans[k]
	planMu.Unlock()
	if p != nil {
		return p
	}
	p = newPlan(sw, sh, dw, dh, cn, sx, sy, invx, invy, interp)
	planMu.Lock()
	if len(plans) >= maxPlans {
		plans = map[planKey]*plan{}
	}
	plans[k] = p
	planMu.Unlock()
	return p
}

func newPlan(sw, sh, dw, dh, cn int, sx, sy, invx, invy float64, interp Interp) *plan {
	ks := 2
	if interp == Cubic {
		ks = 4
	}
	p := &plan{sw: sw, sh: sh, dw: dw, dh: dh, cn: cn, ks: ks, cubic: interp == Cubic,
		xofs: make([]int32, dw*ks), alpha: make([]int16, dw*ks),
		yofs: make([]int32, dh*ks), beta: make([]int16, dh*ks)}
	area := interp == Area
	var cb [4]float32
	for dx := 0; dx < dw; dx++ {
		s, f := srcCoord(dx, sx, invx, area)
		if !p.cubic {
			// ppshitu/go-stack §4.4 rule 3: in x the fraction is cleared at borders.
			if s < 0 {
				s, f = 0, 0
			}
			if s >= sw-1 {
				s, f = sw-1, 0
			}
		}
		weights(f, p.cubic, &cb)
		// Taps outside the row are clamped to the edge pixel of the same
		// channel, as OpenCV's HResizeCubic does.
		for t := 0; t < ks; t++ {
			tap := s + t
			if p.cubic {
				tap = s - 1 + t
			}
			tap = min(max(tap, 0), sw-1)
			p.xofs[dx*ks+t] = int32(tap * cn)
			p.alpha[dx*ks+t] = roundCoef(cb[t])
		}
	}
	if simd.AVX2 {
		p.asm = true
		if simd.AVX512 {
			p.buildGroups()
		}
	}
	if p.asm && p.ng == 0 {
		W := dw * cn
		p.eofs, p.ealpha = make([]int32, ks*W), make([]int32, ks*W)
		p.nsafe = W
		for dx := 0; dx < dw; dx++ {
			for c := 0; c < cn; c++ {
				j := dx*cn + c
				for t := 0; t < ks; t++ {
					o := p.xofs[dx*ks+t] + int32(c)
					p.eofs[t*W+j], p.ealpha[t*W+j] = o, int32(p.alpha[dx*ks+t])
					if int(o)+4 > sw*cn && j < p.nsafe {
						p.nsafe = j
					}
				}
			}
		}
		p.nsafe &^= 7
		if cn == 3 && ks == 2 && !noLin3 {
			p.pofs, p.w3 = make([]int32, dw), make([]int16, 8*dw)
			for dx := 0; dx < dw; dx++ {
				o0, o1 := p.xofs[2*dx], p.xofs[2*dx+1]
				if o1 != o0+3 || int(o0)+8 > sw*cn {
					break
				}
				a0, a1 := p.alpha[2*dx], p.alpha[2*dx+1]
				p.pofs[dx] = o0
				copy(p.w3[8*dx:], []int16{a0, a1, a0, a1, a0, a1, 0, 0})
				p.n3 = dx + 1
			}
		}
	}
	for dy := 0; dy < dh; dy++ {
		s, f := srcCoord(dy, sy, invy, area)
		// In y the fraction is kept and each row is clamped on its own.
		weights(f, p.cubic, &cb)
		for t := 0; t < ks; t++ {
			r := s + t
			if p.cubic {
				r = s - 1 + t
			}
			p.yofs[dy*ks+t] = int32(min(max(r, 0), sh-1))
			p.beta[dy*ks+t] = roundCoef(cb[t])
		}
	}
	return p
}

// srcCoord maps a destination index to a source index and fraction as
// OpenCV does: half-pixel centres computed in double then rounded to float
// (go-stack.md §4.4 rule 1), or the INTER_AREA upscaling rule.
func srcCoord(d int, scale, inv float64, area bool) (int, float32) {
	if area {
		s := int(math.Floor(float64(d) * scale))
		f := float32(float64(d+1) - float64(float64(s+1)*inv))
		if f <= 0 {
			f = 0
		} else {
			f -= float32(math.Floor(float64(f)))
		}
		return s, f
	}
	f := float32(float64((float64(d)+0.5)*scale) - 0.5)
	s := int(math.Floor(float64(f)))
	return s, f - float32(s)
}

// weights computes the float32 kernel weights; cubic is Keys' kernel with
// A = -0.75 evaluated in float32 without fused multiply-adds, as OpenCV's
// interpolateCubic (go-stack.md §4.4 rule 7). The float32() conversions
// force rounding after every product.
func weights(x float32, cubic bool, c *[4]float32) {
	if !cubic {
		c[0], c[1] = 1-x, x
		return
	}
	const A = float32(-0.75)
	x1 := x + 1
	c[0] = float32(float32(float32(float32(float32(A*x1)-5*A)*x1)+8*A)*x1) - 4*A
	c[1] = float32(float32(float32(float32((A+2)*x)-(A+3))*x)*x) + 1
	y := 1 - x
	c[2] = float32(float32(float32(float32((A+2)*y)-(A+3))*y)*y) + 1
	c[3] = 1 - c[0] - c[1] - c[2]
}

// roundCoef is saturate_cast<short>(w*2048): round half to even.
func roundCoef(w float32) int16 {
	v := math.RoundToEven(float64(w * coefScale))
	return int16(min(max(v, math.MinInt16), math.MaxInt16))
}

// parallelBytes is the output size from which run splits the rows across
// goroutines: a 640×640 detector input takes ~4 ms on one core, and a
// single image's preprocessing otherwise leaves the other cores idle.
const parallelBytes = 256 << 10

// run resizes src into dst. Large outputs are cut into bands of rows
// resized on separate goroutines; each output row depends only on its own
// coefficients, so the result is the same byte for byte.
// With f set, every output row goes to f instead of dst (nil).
func (p *plan) run(src, dst []uint8, f *normSink) {
	parts := min(runtime.GOMAXPROCS(0), 4, p.dh/16)
	if parts < 2 || p.dw*p.dh*p.cn < parallelBytes {
		p.runRows(src, dst, 0, p.dh, f)
		return
	}
	var wg sync.WaitGroup
	for i := 0; i < parts; i++ {
		y0, y1 := p.dh*i/parts, p.dh*(i+1)/parts
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.runRows(src, dst, y0, y1, f)
		}()
	}
	wg.Wait()
}

// runRows resizes output rows [y0, y1) with a cache of horizontally
// resized source rows, so each source row is filtered horizontally at most
// once per band.
func (p *plan) runRows(src, dst []uint8, y0, y1 int, f *normSink) {
	W := p.dw * p.cn
	ks := p.ks
	var line []uint8
	if f != nil {
		line = make([]uint8, W)
	}
	var rows [4][]int32
	var have [4]int
	for k := 0; k < ks; k++ {
		rows[k] = make([]int32, W+4)[:W] // slack for kernels that store 16 bytes
		have[k] = -1
	}
	var cur [4][]int32
	sstride := p.sw * p.cn
	for dy := y0; dy < y1; dy++ {
		var used [4]bool
		need := p.yofs[dy*ks : dy*ks+ks]
		var slot [4]int
		for k := 0; k < ks; k++ {
			slot[k] = -1
			for s := 0; s < ks; s++ {
				if have[s] == int(need[k]) && !used[s] {
					slot[k] = s
					used[s] = true
					break
				}
			}
		}
		for k := 0; k < ks; k++ {
			if slot[k] >= 0 {
				continue
			}
			// Reuse a slot already filled with the same row in this step.
			for j := 0; j < k; j++ {
				if need[j] == need[k] {
					slot[k] = slot[j]
					break
				}
			}
			if slot[k] >= 0 {
				continue
			}
			for s := 0; s < ks; s++ {
				if !used[s] {
					slot[k] = s
					used[s] = true
					break
				}
			}
			r := int(need[k])
			row := src[r*sstride : (r+1)*sstride]
			// The row filtered next: this step's next tap row, or
			// the next output row's first (a guess: it may be cached).
			nr := r
			if k+1 < ks {
				nr = int(need[k+1])
			} else if dy+1 < y1 {
				nr = int(p.yofs[(dy+1)*ks])
			}
			if nr == r && dy+1 < y1 {
				nr = int(p.yofs[(dy+1)*ks+ks-1])
			}
			p.hresize(row, src[nr*sstride:(nr+1)*sstride], rows[slot[k]])
			have[slot[k]] = r
		}
		for k := 0; k < ks; k++ {
			cur[k] = rows[slot[k]]
		}
		out := line
		if f == nil {
			out = dst[dy*W : (dy+1)*W]
		}
		b := p.beta[dy*ks : dy*ks+ks]
		if ks == 2 {
			vresizeLinear(cur[0], cur[1], out, int32(b[0]), int32(b[1]), p.asm)
		} else {
			vresizeCubic(&cur, out, b, p.asm)
		}
		if f != nil {
			f.row(dy, out)
		}
	}
}

// vresizeLinear is OpenCV's uint8 vertical linear pass, which mirrors the
// SSE2 mulhi path for every element (go-stack.md §4.4 rule 5):
// ((b0·(T0>>4))>>16 + (b1·(T1>>4))>>16 + 2) >> 2.
func vresizeLinear(t0, t1 []int32, out []uint8, b0, b1 int32, asm bool) {
	t0 = t0[:len(out)]
	t1 = t1[:len(out)]
	x0 := 0
	if asm && len(out) >= 8 {
		x0 = len(out) &^ 7
		simd.VLinear(&t0[0], &t1[0], &out[0], x0, b0, b1)
	}
	for x := x0; x < len(out); x++ {
		v := (((b0 * (t0[x] >> 4)) >> 16) + ((b1 * (t1[x] >> 4)) >> 16) + 2) >> 2
		out[x] = sat8(v)
	}
}

// vresizeCubic is OpenCV's uint8 vertical cubic pass (go-stack.md §4.4
// rule 7): blocks of 8 in float32 (no FMA, round half to even), the tail
// in integers.
func vresizeCubic(t *[4][]int32, out []uint8, b []int16, asm bool) {
	const s = 1.0 / (coefScale * coefScale)
	f0, f1, f2, f3 := float32(b[0])*s, float32(b[1])*s, float32(b[2])*s, float32(b[3])*s
	n := len(out)
	t0, t1, t2, t3 := t[0][:n], t[1][:n], t[2][:n], t[3][:n]
	x := 0
	if asm && n >= 8 {
		x = n &^ 7
		fb := [4]float32{f0, f1, f2, f3}
		simd.VCubic(&t0[0], &t1[0], &t2[0], &t3[0], &out[0], x, &fb)
	}
	// Whole blocks of 8 (one SSE2 register pair) take the float path.
	for nf := n &^ 7; x < nf; x++ {
		v3 := float32(float32(t3[x]) * f3)
		v2 := float32(float32(t2[x])*f2) + v3
		v1 := float32(float32(t1[x])*f1) + v2
		v := float32(float32(t0[x])*f0) + v1
		out[x] = sat8(roundEven32(v))
	}
	ib0, ib1, ib2, ib3 := int32(b[0]), int32(b[1]), int32(b[2]), int32(b[3])
	for ; x < n; x++ {
		v := t0[x]*ib0 + t1[x]*ib1 + t2[x]*ib2 + t3[x]*ib3
		out[x] = sat8((v + 1<<(2*coefBits-1)) >> (2 * coefBits))
	}
}

// roundEven32 rounds to the nearest integer, ties to even, as cvRound and
// SSE2 cvtps2dq do. Adding and removing 1.5·2²³ makes the float32 adder
// do the rounding; valid for |v| < 2²², which holds for every value the
// resize kernels produce (and the fallback covers the rest).
func roundEven32(v float32) int32 {
	const magic = float32(12582912)
	if v > -(1<<22) && v < 1<<22 {
		// float32(v): once inlined, v may be a product that arm64 would
		// otherwise fuse with the addition into one FMA.
		r := float32(v) + magic
		return int32(r - magic)
	}
	return int32(math.RoundToEven(float64(v)))
}

func sat8(v int32) uint8 {
	if uint32(v) > 255 {
		if v < 0 {
			return 0
		}
		return 255
	}
	return uint8(v)
}
