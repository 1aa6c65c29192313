package feature

import (
	"fmt"

	"github.com/shitu-go/shitu/imaging"
)

// interpOf maps ResizeImage's interpolation names to OpenCV codes
// (ppshitu-pipeline.md §6.1: nearest 0, bilinear 1, bicubic 2, area 3,
// lanczos 4; none → bilinear).
func interpOf(name string) (imaging.Interp, error) {
	switch name {
	case "", "bilinear", "linear":
		return imaging.Linear, nil
	case "nearest":
		return imaging.Nearest, nil
	case "bicubic", "cubic":
		return imaging.Cubic, nil
	case "area":
		return imaging.Area, nil
	case "lanczos":
		return imaging.Lanczos4, nil
	}
	return 0, fmt.Errorf("%w: interpolation %q (want bilinear, nearest, bicubic, area or lanczos)", ErrConfig, name)
}

// resize is cv2.resize with the named interpolation, bit-exact (imaging).
func resize(img *imaging.Image, w, h int, interp string) (*imaging.Image, error) {
	in, err := interpOf(interp)
	if err != nil {
		return nil, err
	}
	return imaging.Resize(img, w, h, in)
}
