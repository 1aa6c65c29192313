package imaging

import (
	"fmt"
	"math"
)

// normSink receives the output rows of a resize and writes them
// normalised into CHW planes of width pw (the plane stride) and height ph.
type normSink struct {
	planes [3][]float32
	pw     int
	cn     int
	t      *[3][256]float32
}

func (f *normSink) row(y int, row []uint8) {
	o := y * f.pw
	t0, t1, t2 := &f.t[0], &f.t[1], &f.t[2]
	if f.cn == 1 {
		r, g, b := f.planes[0][o:o+len(row)], f.planes[1][o:o+len(row)], f.planes[2][o:o+len(row)]
		for i, v := range row {
			r[i], g[i], b[i] = t0[v], t1[v], t2[v]
		}
		return
	}
	n := len(row) / 3
	r, g, b := f.planes[0][o:o+n], f.planes[1][o:o+n], f.planes[2][o:o+n]
	for i := range r {
		p := row[3*i : 3*i+3 : 3*i+3]
		r[i], g[i], b[i] = t0[p[0]], t1[p[1]], t2[p[2]]
	}
}

// ResizeScaleNormalizeInto is ResizeScale(img, fx, fy, interp) followed
// by NormalizeInto with o (CHW only), in one pass where OpenCV's path is
// the separable linear or cubic one: each resized row is normalised and
// spread into the channel planes while it is in cache, and the resized
// image is never stored. The values are the same as those of the two
// calls, bit for bit (the same integer resize, the same table).
//
// dst holds three planes of ph rows of pw floats (the detector's
// DetPadStride pads them); the resized w×h image goes to the top-left of
// each plane and the rest of dst is left as it is. It returns the resized
// size, which must fit in pw×ph.
func ResizeScaleNormalizeInto(dst []float32, pw, ph int, img *Image, fx, fy float64, interp Interp, o NormOptions) (w, h int, err error) {
	if err := img.check(); err != nil {
		return 0, 0, err
	}
	if o.Layout != CHW {
		return 0, 0, fmt.Errorf("%w: fused resize and normalise writes CHW only", ErrUnsupported)
	}
	if !(fx > 0) || !(fy > 0) || math.IsInf(fx, 0) || math.IsInf(fy, 0) {
		return 0, 0, fmt.Errorf("%w: resize factors %v, %v", ErrSize, fx, fy)
	}
	fw, fh := math.RoundToEven(float64(img.W)*fx), math.RoundToEven(float64(img.H)*fy)
	if fw < 1 || fh < 1 || fw > 1<<20 || fh > 1<<20 {
		return 0, 0, fmt.Errorf("%w: resize %dx%d by %v, %v", ErrSize, img.W, img.H, fx, fy)
	}
	w, h = int(fw), int(fh)
	if int64(w)*int64(h) > 1<<31 {
		return 0, 0, fmt.Errorf("%w: resize to %dx%d", ErrTooLarge, w, h)
	}
	if w > pw || h > ph || pw <= 0 || ph <= 0 || len(dst) != 3*pw*ph {
		return 0, 0, fmt.Errorf("%w: %dx%d resized image in %d floats of %dx%d planes", ErrSize, w, h, len(dst), pw, ph)
	}
	t, err := o.lut()
	if err != nil {
		return 0, 0, err
	}
	n := pw * ph
	sink := &normSink{planes: [3][]float32{dst[:n], dst[n : 2*n], dst[2*n : 3*n]}, pw: pw, cn: img.Channels(), t: t}
	if p := linearPlan(img, w, h, fx, fy, interp); p != nil {
		p.run(img.Pix, nil, sink)
		return w, h, nil
	}
	// Other paths: resize, then normalise row by row.
	r, err := resize(img, w, h, fx, fy, interp)
	if err != nil {
		return 0, 0, err
	}
	stride := w * r.Channels()
	for y := 0; y < h; y++ {
		sink.row(y, r.Pix[y*stride:(y+1)*stride])
	}
	return w, h, nil
}
