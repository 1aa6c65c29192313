package detect

import (
	"fmt"
	"math"

	"github.com/shitu-go/shitu/imaging"
	"github.com/shitu-go/shitu/tensor"
)

// PreConfig is the detector's preprocessing, PaddleClas' DetPreProcess
// (ppshitu-pipeline.md §4.1): DetResize, DetNormalizeImage, DetPermute and
// optionally DetPadStride, applied in that order. Start from DefaultPre.
type PreConfig struct {
	// TargetSize is DetResize.target_size as [h, w] (shipped: 640×640).
	TargetSize [2]int
	// KeepRatio is DetResize.keep_ratio (shipped: false).
	KeepRatio bool
	// Interp is DetResize.interp, an OpenCV code (shipped: 2, bicubic).
	Interp imaging.Interp
	// Mean and Std are DetNormalizeImage's, RGB (shipped: ImageNet's; all
	// zeros also mean ImageNet's).
	Mean, Std [3]float64
	// NoScale is DetNormalizeImage.is_scale: false (shipped: is_scale true,
	// divide by 255 first).
	NoScale bool
	// PadStride is DetPadStride.stride: zero-pad the bottom and right of the
	// CHW tensor up to a multiple (shipped: 0, none). im_shape is not
	// changed by the padding.
	PadStride int
}

// DefaultPre returns the DetPreProcess of every shipped PaddleClas config:
// DetResize{interp: 2, keep_ratio: false, target_size: [640, 640]},
// DetNormalizeImage{is_scale: true, ImageNet mean/std}, DetPermute.
func DefaultPre() PreConfig {
	return PreConfig{
		TargetSize: [2]int{640, 640},
		Interp:     imaging.Cubic,
		Mean:       imaging.ImageNetMean,
		Std:        imaging.ImageNetStd,
	}
}

// Input is one preprocessed image: the model inputs of §4.2.
type Input struct {
	// Image is the float32 [1, 3, h, w] tensor.
	Image *tensor.Tensor
	// ImShape is im_shape: the RESIZED (h, w), not the original size.
	ImShape [2]float32
	// Scale is scale_factor: (scale_y, scale_x) = resized / original.
	Scale [2]float32
	// OrigW and OrigH are the original image size.
	OrigW, OrigH int
}

// Preprocess runs DetPreProcess on an RGB image (ppshitu-pipeline.md §4.1).
// Without keep_ratio, scale_y = th/H and scale_x = tw/W (float64) and the
// image is resized by those factors as cv2.resize(fx, fy) does (output
// size = the rounded products, 640×640 here); with keep_ratio one factor
// s = min_target/min(H, W) is used, reduced to max_target/max(H, W) when
// round(s·max(H, W)) exceeds max_target. Normalisation is
// DetNormalizeImage's arithmetic, then HWC → CHW.
func Preprocess(img *imaging.Image, p PreConfig) (*Input, error) {
	if img == nil || img.W <= 0 || img.H <= 0 {
		return nil, fmt.Errorf("%w: empty image", ErrInput)
	}
	if p.TargetSize[0] <= 0 || p.TargetSize[1] <= 0 {
		return nil, fmt.Errorf("%w: target size %v", ErrInput, p.TargetSize)
	}
	th, tw := float64(p.TargetSize[0]), float64(p.TargetSize[1])
	h, w := float64(img.H), float64(img.W)
	sy, sx := th/h, tw/w
	if p.KeepRatio {
		tmin, tmax := math.Min(th, tw), math.Max(th, tw)
		s := tmin / math.Min(h, w)
		if math.RoundToEven(s*math.Max(h, w)) > tmax {
			s = tmax / math.Max(h, w)
		}
		sy, sx = s, s
	}
	norm := imaging.NormOptions{Det: true, Mean: p.Mean, Std: p.Std}
	if p.NoScale {
		norm.Scale = 1
	}
	// The resized size is cv2.resize's: the rounded products.
	fw, fh := math.RoundToEven(w*sx), math.RoundToEven(h*sy)
	if !(fw >= 1 && fh >= 1 && fw <= 1<<20 && fh <= 1<<20) {
		return nil, fmt.Errorf("detect: resize: %w: %dx%d by %v, %v", imaging.ErrSize, img.W, img.H, sx, sy)
	}
	rw, rh := int(fw), int(fh)
	ph, pw := rh, rw
	if s := p.PadStride; s > 0 {
		ph = (rh + s - 1) / s * s
		pw = (rw + s - 1) / s * s
	}
	// The bound of imaging's resize, checked before the input is allocated.
	if int64(pw)*int64(ph) > 1<<31 {
		return nil, fmt.Errorf("detect: resize: %w: %dx%d", imaging.ErrTooLarge, pw, ph)
	}
	// Resize, normalise and CHW in one pass (issue 18); the padding stays zero.
	buf := make([]float32, 3*ph*pw)
	if _, _, err := imaging.ResizeScaleNormalizeInto(buf, pw, ph, img, sx, sy, p.Interp, norm); err != nil {
		return nil, fmt.Errorf("detect: resize and normalise: %w", err)
	}
	t, err := tensor.New([]int{1, 3, ph, pw}, buf)
	if err != nil {
		return nil, err
	}
	return &Input{
		Image:   t,
		ImShape: [2]float32{float32(rh), float32(rw)},
		Scale:   [2]float32{float32(sy), float32(sx)},
		OrigW:   img.W,
		OrigH:   img.H,
	}, nil
}
