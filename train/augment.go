package train

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/shitu-go/shitu/config"
	"github.com/shitu-go/shitu/imaging"
)

// Transform is one operator of a transform_ops list
// (ppcls/data/preprocess/ops/operators.py), with its parameters.
type Transform struct {
	Name string
	Line int
	// ResizeImage: size (W, H) or resize_short; interpolation.
	W, H, ResizeShort int
	Interp            imaging.Interp
	// RandFlipImage: flip_code (1 horizontal, 0 vertical, −1 both).
	FlipCode int
	// Pad: padding on every side, constant fill.
	Padding int
	Fill    uint8
	// RandomRotation: prob and degrees (angle uniform in [−deg, deg]).
	Prob, Degrees float64
	// NormalizeImage.
	Norm imaging.NormOptions
}

var interpNames = map[string]imaging.Interp{
	"nearest": imaging.Nearest, "bilinear": imaging.Linear, "bicubic": imaging.Cubic, "area": imaging.Area,
}

func (r *reader) transforms(root *config.Value, path string, train bool) []Transform {
	v := lookup(root, path)
	if v == nil {
		return nil
	}
	if v.Kind != config.List {
		r.fail(v, path, "want a list of operators")
		return nil
	}
	var out []Transform
	for i, it := range v.Items {
		key := fmt.Sprintf("%s.%d", path, i)
		if it.Kind != config.Map || len(it.Keys) != 1 {
			r.fail(it, key, "want {Operator: params}")
			continue
		}
		t := Transform{Name: it.Keys[0], Line: it.Line}
		p := it.Fields[t.Name]
		if p == nil || p.Kind == config.Null {
			p = config.NewMap()
		}
		key += "." + t.Name
		interp := func(def string) imaging.Interp {
			s := r.str(p, "interpolation", def)
			ip, ok := interpNames[s]
			if !ok {
				r.fail(lookup(p, "interpolation"), key+".interpolation", "want nearest, bilinear, bicubic or area, got %q", s)
			}
			return ip
		}
		switch t.Name {
		case "DecodeImage", "ToCHWImage":
		case "ResizeImage":
			t.Interp = interp("bilinear")
			if s := lookup(p, "size"); s != nil {
				t.W, t.H = r.size(s, key+".size")
			} else {
				t.ResizeShort = r.integer(p, "resize_short", 0, 1, 8192)
				if t.ResizeShort == 0 {
					r.fail(it, key, "size or resize_short is required")
				}
			}
		case "RandFlipImage":
			t.FlipCode = r.integer(p, "flip_code", 1, -1, 1)
		case "Pad":
			t.Padding = r.integer(p, "padding", 0, 0, 4096)
			t.Fill = uint8(r.integer(p, "fill", 0, 0, 255))
		case "RandCropImageV2":
			s := lookup(p, "size")
			if s == nil {
				r.fail(it, key+".size", "required")
				continue
			}
			t.W, t.H = r.size(s, key+".size")
		case "RandomRotation":
			t.Prob = r.num(p, "prob", 0.5)
			t.Degrees = r.num(p, "degrees", 0)
			t.Interp = interp("nearest")
			if t.Interp != imaging.Linear {
				r.fail(lookup(p, "interpolation"), key+".interpolation", "only bilinear rotation is implemented")
			}
			if t.Degrees < 0 || t.Degrees > 360 {
				r.fail(lookup(p, "degrees"), key+".degrees", "want 0..360")
			}
		case "NormalizeImage":
			t.Norm.Scale = r.num(p, "scale", 1.0/255)
			mean, std := lookup(p, "mean"), lookup(p, "std")
			t.Norm.Mean, t.Norm.Std = [3]float64{0.485, 0.456, 0.406}, [3]float64{0.229, 0.224, 0.225}
			if mean != nil {
				t.Norm.Mean = r.triple(mean, key+".mean")
			}
			if std != nil {
				t.Norm.Std = r.triple(std, key+".std")
			}
		default:
			if !train {
				r.fail(it, key, "unsupported operator")
				continue
			}
			r.fail(it, key, "unsupported operator (supported: DecodeImage, ResizeImage, RandFlipImage, Pad, RandCropImageV2, RandomRotation, NormalizeImage, ToCHWImage)")
			continue
		}
		out = append(out, t)
	}
	if len(out) > 0 && out[len(out)-1].Name != "NormalizeImage" && !(len(out) > 1 && out[len(out)-1].Name == "ToCHWImage" && out[len(out)-2].Name == "NormalizeImage") {
		r.fail(v, path, "the list must end with NormalizeImage")
	}
	return out
}

func (r *reader) size(v *config.Value, key string) (int, int) {
	if v.Kind == config.Int && v.Int > 0 && v.Int <= 8192 {
		return int(v.Int), int(v.Int)
	}
	if v.Kind == config.List && len(v.Items) == 2 && v.Items[0].Kind == config.Int && v.Items[1].Kind == config.Int {
		w, h := v.Items[0].Int, v.Items[1].Int
		if w > 0 && h > 0 && w <= 8192 && h <= 8192 {
			return int(w), int(h)
		}
	}
	r.fail(v, key, "want a size (int or [w, h], 1..8192), got %s", v.Repr())
	return 1, 1
}

func (r *reader) triple(v *config.Value, key string) [3]float64 {
	var out [3]float64
	if v.Kind != config.List || len(v.Items) != 3 {
		r.fail(v, key, "want 3 numbers, got %s", v.Repr())
		return out
	}
	for i, it := range v.Items {
		f, ok := it.Number()
		if !ok || it.Kind == config.Bool {
			r.fail(v, key, "want 3 numbers, got %s", v.Repr())
		}
		out[i] = f
	}
	return out
}

// defaultEvalTransform is the inference preprocessing of PP-ShiTuV2
// (RecPreProcess): resize to the model's size, bilinear, ImageNet normalisation.
func defaultEvalTransform(size int) []Transform {
	return []Transform{
		{Name: "ResizeImage", W: size, H: size, Interp: imaging.Linear},
		{Name: "NormalizeImage", Norm: imaging.NormOptions{Scale: 1.0 / 255, Mean: [3]float64{0.485, 0.456, 0.406}, Std: [3]float64{0.229, 0.224, 0.225}}},
	}
}

// apply runs the transforms on img (RGB) with r as the random source and
// writes the normalised CHW tensor into a new slice. It reports the final
// width and height.
func apply(ts []Transform, img *imaging.Image, r *rand.Rand) ([]float32, int, int, error) {
	img = imaging.ToRGB(img)
	var err error
	for _, t := range ts {
		switch t.Name {
		case "ResizeImage":
			w, h := t.W, t.H
			if t.ResizeShort > 0 {
				s := float64(t.ResizeShort) / float64(min(img.W, img.H))
				w, h = max(1, int(math.RoundToEven(float64(img.W)*s))), max(1, int(math.RoundToEven(float64(img.H)*s)))
			}
			if w != img.W || h != img.H {
				if img, err = imaging.Resize(img, w, h, t.Interp); err != nil {
					return nil, 0, 0, err
				}
			}
		case "RandFlipImage":
			// random.randint(0, 1) == 1
			if r.IntN(2) == 1 {
				img = flip(img, t.FlipCode)
			}
		case "Pad":
			img = pad(img, t.Padding, t.Fill)
		case "RandCropImageV2":
			// top ∈ randint(0, h−th+1), left ∈ randint(0, w−tw+1) (both
			// inclusive, as PaddleClas writes it), numpy-clipped slice.
			if img.H+1 < t.H || img.W+1 < t.W {
				return nil, 0, 0, fmt.Errorf("%w: RandCropImageV2 %dx%d is larger than the %dx%d image", ErrConfig, t.W, t.H, img.W, img.H)
			}
			if img.W == t.W && img.H == t.H {
				break
			}
			top := r.IntN(max(img.H-t.H+2, 1))
			left := r.IntN(max(img.W-t.W+2, 1))
			if img, err = imaging.Crop(img, left, top, min(left+t.W, img.W), min(top+t.H, img.H)); err != nil {
				return nil, 0, 0, err
			}
		case "RandomRotation":
			if r.Float64() < t.Prob {
				angle := -t.Degrees + 2*t.Degrees*r.Float64()
				img = rotate(img, angle, 0)
			}
		case "NormalizeImage":
			o := t.Norm
			o.Layout = imaging.CHW
			dst := make([]float32, 3*img.W*img.H)
			if err := imaging.NormalizeInto(dst, img, o); err != nil {
				return nil, 0, 0, err
			}
			return dst, img.W, img.H, nil
		}
	}
	return nil, 0, 0, fmt.Errorf("%w: transform_ops do not end with NormalizeImage", ErrConfig)
}

func flip(img *imaging.Image, code int) *imaging.Image {
	cn := img.Channels()
	out := &imaging.Image{W: img.W, H: img.H, C: img.C, Pix: make([]uint8, len(img.Pix))}
	for y := range img.H {
		sy := y
		if code <= 0 {
			sy = img.H - 1 - y
		}
		for x := range img.W {
			sx := x
			if code != 0 {
				sx = img.W - 1 - x
			}
			copy(out.Pix[(y*img.W+x)*cn:(y*img.W+x+1)*cn], img.Pix[(sy*img.W+sx)*cn:(sy*img.W+sx+1)*cn])
		}
	}
	return out
}

func pad(img *imaging.Image, p int, fill uint8) *imaging.Image {
	if p == 0 {
		return img
	}
	cn := img.Channels()
	w, h := img.W+2*p, img.H+2*p
	out := &imaging.Image{W: w, H: h, C: img.C, Pix: make([]uint8, w*h*cn)}
	if fill != 0 {
		for i := range out.Pix {
			out.Pix[i] = fill
		}
	}
	for y := range img.H {
		copy(out.Pix[((y+p)*w+p)*cn:], img.Pix[y*img.W*cn:(y+1)*img.W*cn])
	}
	return out
}
