package imaging

import (
	"encoding/binary"
	"errors"
	"math"
	"path/filepath"
	"testing"
)

func floatBytes(f []float32) []byte {
	b := make([]byte, 4*len(f))
	for i, v := range f {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(v))
	}
	return b
}

// The PaddleClas det and rec preprocessing of one image, compared with
// the float32 tensors numpy computes (max abs diff 0: same sha256).
func TestPreprocessMatchesPaddleClas(t *testing.T) {
	m := loadManifest(t)
	img, err := DecodeFile(filepath.Join("testdata", "bench_1080p.jpg"), DecodeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if JPEGBackend != "libjpeg-turbo" {
		t.Skip("needs cgo: image/jpeg pixels differ from cv2.imread")
	}
	for _, c := range m.Preprocess {
		t.Run(c.Name, func(t *testing.T) {
			var r *Image
			var o NormOptions
			switch {
			case c.Name == "det_640_cubic":
				// DetResize keep_ratio false, interp 2: fx = 640/W, fy = 640/H.
				r, err = ResizeScale(img, 640/float64(img.W), 640/float64(img.H), Cubic)
				o = NormOptions{Det: true}
			default:
				r, err = Resize(img, 224, 224, Linear)
				o = NormOptions{Scale: c.Scale}
			}
			if err != nil {
				t.Fatal(err)
			}
			ten, err := Normalize(r, o)
			if err != nil {
				t.Fatal(err)
			}
			got := ten.Data().([]float32)
			for i, v := range c.First {
				if got[i] != v {
					t.Errorf("value %d: got %v, want %v", i, got[i], v)
				}
			}
			if sh := ten.Shape(); len(sh) != 3 || sh[0] != c.Shape[0] || sh[1] != c.Shape[1] || sh[2] != c.Shape[2] {
				t.Fatalf("shape %v, want %v", sh, c.Shape)
			}
			if h := sha256Hex(floatBytes(got)); h != c.SHA256 {
				t.Fatalf("sha256 %s, want %s", h, c.SHA256)
			}
		})
	}
}

func TestNormalizeLayoutsAndBatch(t *testing.T) {
	img := patternImage(5, 4, 3, 3)
	chw, err := Normalize(img, NormOptions{})
	if err != nil {
		t.Fatal(err)
	}
	hwc, err := Normalize(img, NormOptions{Layout: HWC})
	if err != nil {
		t.Fatal(err)
	}
	c, h := chw.Data().([]float32), hwc.Data().([]float32)
	for y := 0; y < 4; y++ {
		for x := 0; x < 5; x++ {
			for k := 0; k < 3; k++ {
				v := img.Pix[(y*5+x)*3+k]
				want := (float32(float32(v)*float32(1.0/255.0)) - float32(ImageNetMean[k])) / float32(ImageNetStd[k])
				if c[k*20+y*5+x] != want || h[(y*5+x)*3+k] != want {
					t.Fatalf("(%d,%d,%d): chw %v hwc %v want %v", x, y, k, c[k*20+y*5+x], h[(y*5+x)*3+k], want)
				}
			}
		}
	}
	img2 := patternImage(5, 4, 3, 4)
	b, err := Batch([]*Image{img, img2}, NormOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if sh := b.Shape(); len(sh) != 4 || sh[0] != 2 || sh[1] != 3 || sh[2] != 4 || sh[3] != 5 {
		t.Fatalf("batch shape %v", sh)
	}
	second, _ := Normalize(img2, NormOptions{})
	bd, sd := b.Data().([]float32), second.Data().([]float32)
	for i := range sd {
		if bd[60+i] != sd[i] || bd[i] != c[i] {
			t.Fatalf("batch element %d differs", i)
		}
	}
	gray := &Image{W: 5, H: 4, C: 1, Pix: make([]uint8, 20)}
	gray.Pix[7] = 200
	g, err := Normalize(gray, NormOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rgb, _ := Normalize(ToRGB(gray), NormOptions{})
	for i, v := range rgb.Data().([]float32) {
		if g.Data().([]float32)[i] != v {
			t.Fatalf("gray differs from replicated RGB at %d", i)
		}
	}
}

func TestNormalizeErrors(t *testing.T) {
	img := patternImage(5, 4, 3, 3)
	if err := NormalizeInto(make([]float32, 10), img, NormOptions{}); !errors.Is(err, ErrSize) {
		t.Fatalf("short buffer: %v", err)
	}
	if _, err := Normalize(img, NormOptions{Std: [3]float64{1, 0, 1}, Mean: [3]float64{1, 1, 1}}); !errors.Is(err, ErrSize) {
		t.Fatalf("zero std: %v", err)
	}
	if _, err := Batch(nil, NormOptions{}); !errors.Is(err, ErrSize) {
		t.Fatalf("empty batch: %v", err)
	}
	if _, err := Batch([]*Image{img, patternImage(4, 4, 3, 1)}, NormOptions{}); !errors.Is(err, ErrSize) {
		t.Fatalf("mixed sizes: %v", err)
	}
}

func TestCrop(t *testing.T) {
	img := patternImage(6, 5, 3, 2)
	c, err := Crop(img, -3, 1, 4, 99)
	if err != nil {
		t.Fatal(err)
	}
	if c.W != 4 || c.H != 4 {
		t.Fatalf("got %dx%d", c.W, c.H)
	}
	for y := 0; y < 4; y++ {
		for x := 0; x < 4; x++ {
			for k := 0; k < 3; k++ {
				if c.Pix[(y*4+x)*3+k] != img.Pix[((y+1)*6+x)*3+k] {
					t.Fatalf("pixel (%d,%d) differs", x, y)
				}
			}
		}
	}
	for _, b := range [][4]int{{3, 3, 3, 4}, {7, 0, 9, 5}, {2, 2, 1, 1}} {
		if _, err := Crop(img, b[0], b[1], b[2], b[3]); !errors.Is(err, ErrSize) {
			t.Errorf("%v: %v", b, err)
		}
	}
}
