package detect

import (
	"errors"
	"testing"

	"github.com/shitu-go/shitu/imaging"
)

func uniform(w, h int, rgb [3]uint8) *imaging.Image {
	img := &imaging.Image{W: w, H: h, C: 3, Pix: make([]uint8, 3*w*h)}
	for i := 0; i < w*h; i++ {
		copy(img.Pix[3*i:], rgb[:])
	}
	return img
}

// detNorm is DetNormalizeImage written out (ppshitu-pipeline.md §4.1):
// /255 in float32, then − mean and / std in float64, rounded after each.
func detNorm(v uint8, c int) float32 {
	x := float32(v) / 255
	y := float32(float64(x) - imaging.ImageNetMean[c])
	return float32(float64(y) / imaging.ImageNetStd[c])
}

func TestPreprocess(t *testing.T) {
	rgb := [3]uint8{10, 128, 250}
	in, err := Preprocess(uniform(320, 160, rgb), DefaultPre())
	if err != nil {
		t.Fatal(err)
	}
	if s := in.Image.Shape(); len(s) != 4 || s[0] != 1 || s[1] != 3 || s[2] != 640 || s[3] != 640 {
		t.Fatalf("shape %v", s)
	}
	if in.ImShape != [2]float32{640, 640} || in.Scale != [2]float32{4, 2} || in.OrigW != 320 || in.OrigH != 160 {
		t.Errorf("im_shape %v scale_factor %v orig %dx%d", in.ImShape, in.Scale, in.OrigW, in.OrigH)
	}
	d := in.Image.Float32s()
	for c := 0; c < 3; c++ {
		want := detNorm(rgb[c], c)
		for _, i := range []int{0, 640*640 - 1, 12345} {
			if got := d[c*640*640+i]; got != want {
				t.Fatalf("channel %d pixel %d = %v, want %v", c, i, got, want)
			}
		}
	}
}

// TestPreprocessLayout checks the composition resize → normalise → CHW on
// a non-uniform image against the resize alone plus the formula.
func TestPreprocessLayout(t *testing.T) {
	img := &imaging.Image{W: 37, H: 23, C: 3, Pix: make([]uint8, 3*37*23)}
	for i := range img.Pix {
		img.Pix[i] = uint8(i*7 + i/3)
	}
	p := DefaultPre()
	p.TargetSize = [2]int{48, 64}
	in, err := Preprocess(img, p)
	if err != nil {
		t.Fatal(err)
	}
	r, err := imaging.ResizeScale(img, 64.0/37, 48.0/23, imaging.Cubic)
	if err != nil {
		t.Fatal(err)
	}
	if r.W != 64 || r.H != 48 {
		t.Fatalf("resized to %dx%d", r.W, r.H)
	}
	d := in.Image.Float32s()
	for c := 0; c < 3; c++ {
		for y := 0; y < 48; y++ {
			for x := 0; x < 64; x++ {
				want := detNorm(r.Pix[(y*64+x)*3+c], c)
				if got := d[(c*48+y)*64+x]; got != want {
					t.Fatalf("c%d y%d x%d = %v, want %v", c, y, x, got, want)
				}
			}
		}
	}
	if in.ImShape != [2]float32{48, 64} || in.Scale != [2]float32{float32(48.0 / 23), float32(64.0 / 37)} {
		t.Errorf("im_shape %v scale %v", in.ImShape, in.Scale)
	}
}

func TestPreprocessKeepRatioPad(t *testing.T) {
	p := DefaultPre()
	p.KeepRatio = true
	in, err := Preprocess(uniform(320, 160, [3]uint8{1, 2, 3}), p)
	if err != nil {
		t.Fatal(err)
	}
	// s = 640/160 = 4 would make the long side 1280 > 640, so s = 640/320.
	if in.Scale != [2]float32{2, 2} || in.ImShape != [2]float32{320, 640} {
		t.Errorf("keep_ratio: scale %v im_shape %v", in.Scale, in.ImShape)
	}
	p.TargetSize = [2]int{300, 300}
	p.PadStride = 32
	in, err = Preprocess(uniform(100, 50, [3]uint8{255, 255, 255}), p)
	if err != nil {
		t.Fatal(err)
	}
	s := in.Image.Shape()
	if s[2] != 160 || s[3] != 320 || in.ImShape != [2]float32{150, 300} || in.Scale != [2]float32{3, 3} {
		t.Fatalf("pad: shape %v im_shape %v scale %v", s, in.ImShape, in.Scale)
	}
	d := in.Image.Float32s()
	if got, want := d[149*320+299], detNorm(255, 0); got != want {
		t.Errorf("last image pixel = %v, want %v", got, want)
	}
	if d[150*320] != 0 || d[149*320+300] != 0 || d[2*160*320+159*320+319] != 0 {
		t.Error("padding is not zero")
	}
}

func TestPreprocessNoScale(t *testing.T) {
	p := DefaultPre()
	p.NoScale = true
	p.TargetSize = [2]int{4, 4}
	in, err := Preprocess(uniform(4, 4, [3]uint8{100, 100, 100}), p)
	if err != nil {
		t.Fatal(err)
	}
	want := float32(float64(float32(float64(100)-imaging.ImageNetMean[0])) / imaging.ImageNetStd[0])
	if got := in.Image.Float32s()[0]; got != want {
		t.Errorf("is_scale false: %v, want %v", got, want)
	}
}

func TestPreprocessErrors(t *testing.T) {
	if _, err := Preprocess(nil, DefaultPre()); !errors.Is(err, ErrInput) {
		t.Errorf("nil image: %v", err)
	}
	if _, err := Preprocess(uniform(4, 4, [3]uint8{}), PreConfig{}); !errors.Is(err, ErrInput) {
		t.Errorf("zero target: %v", err)
	}
	p := DefaultPre()
	p.Interp = imaging.Lanczos4
	if _, err := Preprocess(uniform(4, 4, [3]uint8{}), p); err == nil {
		t.Error("lanczos: want an error")
	}
}

// TestPreprocessTooLarge: a target the resize refuses is refused before
// the input tensor is allocated (it used to be allocated first: 12 TB).
func TestPreprocessTooLarge(t *testing.T) {
	p := DefaultPre()
	p.TargetSize = [2]int{1 << 20, 1 << 20}
	if _, err := Preprocess(uniform(8, 8, [3]uint8{1, 2, 3}), p); !errors.Is(err, imaging.ErrTooLarge) {
		t.Fatalf("err = %v, want ErrTooLarge", err)
	}
}
