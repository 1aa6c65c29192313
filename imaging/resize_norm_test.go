package imaging

import (
	"errors"
	"math"
	"testing"
)

// TestResizeScaleNormalizeInto: the fused pass gives exactly the floats of
// ResizeScale followed by NormalizeInto, for every resize path (the
// separable plan, including its multi-goroutine bands, and the others),
// both normalisations, gray and colour, with and without padding.
func TestResizeScaleNormalizeInto(t *testing.T) {
	cases := []struct {
		w, h, c int
		fx, fy  float64
		interp  Interp
		pad     int
	}{
		{1920, 1080, 3, 640.0 / 1920, 640.0 / 1080, Cubic, 0}, // the detector's input; parallel bands
		{37, 23, 3, 64.0 / 37, 48.0 / 23, Cubic, 0},
		{37, 23, 3, 64.0 / 37, 48.0 / 23, Cubic, 32},
		{300, 200, 1, 0.7, 1.3, Linear, 0},
		{300, 200, 3, 0.5, 0.5, Linear, 0}, // exact 2×: the area path
		{300, 200, 3, 0.5, 0.5, Area, 0},
		{301, 199, 3, 0.37, 0.41, Area, 0},
		{50, 40, 3, 2.5, 1.5, Area, 0}, // area upscaling: bilinear with area weights
		{50, 40, 3, 1.7, 0.9, Nearest, 0},
		{64, 64, 3, 1, 1, Cubic, 0}, // same size: a copy
	}
	for _, tc := range cases {
		img := patternImage(tc.w, tc.h, tc.c, 5)
		for _, o := range []NormOptions{{Det: true}, {}, {Det: true, Scale: 1, Mean: [3]float64{1, 2, 3}, Std: [3]float64{4, 5, 6}}} {
			r, err := ResizeScale(img, tc.fx, tc.fy, tc.interp)
			if err != nil {
				t.Fatal(err)
			}
			want := make([]float32, 3*r.W*r.H)
			if err := NormalizeInto(want, r, o); err != nil {
				t.Fatal(err)
			}
			pw, ph := r.W, r.H
			if tc.pad > 0 {
				pw, ph = (pw+tc.pad-1)/tc.pad*tc.pad, (ph+tc.pad-1)/tc.pad*tc.pad
			}
			got := make([]float32, 3*pw*ph)
			w, h, err := ResizeScaleNormalizeInto(got, pw, ph, img, tc.fx, tc.fy, tc.interp, o)
			if err != nil {
				t.Fatalf("%+v: %v", tc, err)
			}
			if w != r.W || h != r.H {
				t.Fatalf("%+v: size %dx%d, want %dx%d", tc, w, h, r.W, r.H)
			}
			for c := 0; c < 3; c++ {
				for y := 0; y < ph; y++ {
					for x := 0; x < pw; x++ {
						g := got[(c*ph+y)*pw+x]
						var v float32
						if x < w && y < h {
							v = want[(c*h+y)*w+x]
						}
						if math.Float32bits(g) != math.Float32bits(v) {
							t.Fatalf("%+v %+v: c%d y%d x%d = %v, want %v", tc, o, c, y, x, g, v)
						}
					}
				}
			}
		}
	}
	img := patternImage(20, 10, 3, 1)
	if _, _, err := ResizeScaleNormalizeInto(make([]float32, 3*9*9), 9, 9, img, 0.5, 1, Linear, NormOptions{}); !errors.Is(err, ErrSize) {
		t.Errorf("too small a destination: %v", err)
	}
	if _, _, err := ResizeScaleNormalizeInto(make([]float32, 300), 10, 10, img, 0.5, 1, Linear, NormOptions{Layout: HWC}); !errors.Is(err, ErrUnsupported) {
		t.Errorf("HWC: %v", err)
	}
	if _, _, err := ResizeScaleNormalizeInto(make([]float32, 300), 10, 10, img, math.NaN(), 1, Linear, NormOptions{}); !errors.Is(err, ErrSize) {
		t.Errorf("NaN factor: %v", err)
	}
	if _, _, err := ResizeScaleNormalizeInto(make([]float32, 300), 10, 10, img, 0.5, 1, Lanczos4, NormOptions{}); !errors.Is(err, ErrUnsupported) {
		t.Errorf("Lanczos4: %v", err)
	}
}
