package feature

import (
	"fmt"

	"github.com/shitu-go/shitu/imaging"
)

// resize is the resize step of Preprocess. TEMPORARY: nearest-neighbour
// until imaging.Resize (OpenCV-exact bilinear) lands; then this file calls it.
func resize(img *imaging.Image, w, h int, interp string) (*imaging.Image, error) {
	if _, err := interpOf(interp); err != nil {
		return nil, err
	}
	out, err := imaging.NewImage(w, h, 3)
	if err != nil {
		return nil, err
	}
	for y := range h {
		sy := min(y*img.H/h, img.H-1)
		for x := range w {
			sx := min(x*img.W/w, img.W-1)
			copy(out.Pix[3*(y*w+x):3*(y*w+x)+3], img.Pix[3*(sy*img.W+sx):])
		}
	}
	return out, nil
}

func interpOf(name string) (string, error) {
	switch name {
	case "", "bilinear", "nearest", "bicubic", "area", "lanczos":
		return name, nil
	}
	return "", fmt.Errorf("%w: interpolation %q", ErrConfig, name)
}
