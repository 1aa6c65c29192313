package imaging

import (
	"fmt"

	"github.com/shitu-go/shitu/tensor"
)

// Layout is the memory order of a normalised image.
type Layout int

// The layouts.
const (
	CHW Layout = iota // channel planes (the models' input); the default
	HWC               // interleaved, as the image itself
)

// ImageNet mean and std in RGB order, PaddleClas' defaults.
var (
	ImageNetMean = [3]float64{0.485, 0.456, 0.406}
	ImageNetStd  = [3]float64{0.229, 0.224, 0.225}
)

// NormOptions say how pixels become floats. The zero value is PaddleClas
// NormalizeImage with its defaults (scale 1/255, ImageNet mean and std)
// written as CHW.
//
// PaddleClas NormalizeImage (ppshitu-pipeline.md §6.1) computes
// (float32(x)·scale − mean)/std entirely in float32, with scale, mean and
// std first rounded to float32. Its `order` key only says whether the
// image it gets is already CHW ('chw') or still HWC (anything else); the
// per-channel arithmetic is the same, so both forms are covered by
// choosing the output Layout.
//
// With Det set, the arithmetic is PaddleDetection's DetNormalizeImage
// (ppshitu-pipeline.md §4.1): float32(x)/255 in float32, then the mean is
// subtracted and the std divided in float64, rounding to float32 after
// each step.
type NormOptions struct {
	// Scale multiplies the pixel value; 0 means 1/255. In Det mode, 0 (or
	// 1/255) means is_scale: true (divide by 255.0) and 1 means is_scale:
	// false; other values multiply in float32.
	Scale float64
	// Mean and Std are per RGB channel; all-zero means ImageNetMean /
	// ImageNetStd.
	Mean, Std [3]float64
	// Det selects DetNormalizeImage arithmetic (default false: NormalizeImage).
	Det bool
	// Layout of the output (default CHW).
	Layout Layout
}

// lut returns the 3×256 table of normalised values: every uint8 input
// maps to one float32, so applying the table is exact by construction.
func (o NormOptions) lut() (*[3][256]float32, error) {
	mean, std := o.Mean, o.Std
	if mean == [3]float64{} {
		mean = ImageNetMean
	}
	if std == [3]float64{} {
		std = ImageNetStd
	}
	for c := 0; c < 3; c++ {
		if std[c] == 0 {
			return nil, fmt.Errorf("%w: std[%d] is 0", ErrSize, c)
		}
	}
	t := new([3][256]float32)
	for c := 0; c < 3; c++ {
		for v := 0; v < 256; v++ {
			x := float32(v)
			if o.Det {
				switch o.Scale {
				case 0, 1.0 / 255.0:
					x /= 255
				case 1:
				default:
					x *= float32(o.Scale)
				}
				y := float32(float64(x) - mean[c])
				t[c][v] = float32(float64(y) / std[c])
				continue
			}
			s := float32(o.Scale)
			if o.Scale == 0 {
				s = float32(1.0 / 255.0)
			}
			m, d := float32(mean[c]), float32(std[c])
			t[c][v] = float32(float32(x*s)-m) / d
		}
	}
	return t, nil
}

// NormalizeInto writes img (RGB; gray is replicated) normalised by o into
// dst, which must hold exactly 3·W·H floats. Batching code passes a slice
// of a [N,3,H,W] buffer so nothing is copied.
func NormalizeInto(dst []float32, img *Image, o NormOptions) error {
	if err := img.check(); err != nil {
		return err
	}
	n := img.W * img.H
	if len(dst) != 3*n {
		return fmt.Errorf("%w: destination holds %d floats, image needs %d", ErrSize, len(dst), 3*n)
	}
	t, err := o.lut()
	if err != nil {
		return err
	}
	normalizeLUT(dst, img, t, o.Layout)
	return nil
}

func normalizeLUT(dst []float32, img *Image, t *[3][256]float32, layout Layout) {
	n := img.W * img.H
	t0, t1, t2 := &t[0], &t[1], &t[2]
	if img.Channels() == 1 {
		src := img.Pix[:n]
		if layout == HWC {
			for i, v := range src {
				dst[3*i], dst[3*i+1], dst[3*i+2] = t0[v], t1[v], t2[v]
			}
			return
		}
		r, g, b := dst[:n], dst[n:2*n], dst[2*n:3*n]
		for i, v := range src {
			r[i], g[i], b[i] = t0[v], t1[v], t2[v]
		}
		return
	}
	src := img.Pix[:3*n]
	if layout == HWC {
		for i := 0; i < 3*n; i += 3 {
			dst[i], dst[i+1], dst[i+2] = t0[src[i]], t1[src[i+1]], t2[src[i+2]]
		}
		return
	}
	// Fused normalise + HWC→CHW.
	r, g, b := dst[:n], dst[n:2*n], dst[2*n:3*n]
	for i := range r {
		p := src[3*i : 3*i+3 : 3*i+3]
		r[i], g[i], b[i] = t0[p[0]], t1[p[1]], t2[p[2]]
	}
}

// Normalize returns img normalised by o as a float32 tensor of shape
// [3, H, W] (CHW) or [H, W, 3] (HWC).
func Normalize(img *Image, o NormOptions) (*tensor.Tensor, error) {
	if err := img.check(); err != nil {
		return nil, err
	}
	buf := make([]float32, 3*img.W*img.H)
	if err := NormalizeInto(buf, img, o); err != nil {
		return nil, err
	}
	shape := []int{3, img.H, img.W}
	if o.Layout == HWC {
		shape = []int{img.H, img.W, 3}
	}
	return tensor.New(shape, buf)
}

// Batch normalises images of one size into a [N, 3, H, W] (or
// [N, H, W, 3]) float32 tensor, writing each straight into its slot.
func Batch(imgs []*Image, o NormOptions) (*tensor.Tensor, error) {
	if len(imgs) == 0 {
		return nil, fmt.Errorf("%w: empty batch", ErrSize)
	}
	for i, img := range imgs {
		if err := img.check(); err != nil {
			return nil, fmt.Errorf("batch item %d: %w", i, err)
		}
		if img.W != imgs[0].W || img.H != imgs[0].H {
			return nil, fmt.Errorf("%w: batch item %d is %dx%d, item 0 is %dx%d", ErrSize, i, img.W, img.H, imgs[0].W, imgs[0].H)
		}
	}
	t, err := o.lut()
	if err != nil {
		return nil, err
	}
	w, h := imgs[0].W, imgs[0].H
	per := 3 * w * h
	buf := make([]float32, len(imgs)*per)
	for i, img := range imgs {
		normalizeLUT(buf[i*per:(i+1)*per], img, t, o.Layout)
	}
	shape := []int{len(imgs), 3, h, w}
	if o.Layout == HWC {
		shape = []int{len(imgs), h, w, 3}
	}
	return tensor.New(shape, buf)
}
