package train

import (
	"bufio"
	"encoding/hex"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/shitu-go/shitu/imaging"
)

// rotate matches OpenCV 4.6's warpAffine byte for byte
// (testdata/rotate_cv2.txt, made by testdata/gen_rotate.py).
func TestRotateMatchesOpenCV(t *testing.T) {
	const w, h = 37, 29
	img := &imaging.Image{W: w, H: h, C: 3, Pix: make([]uint8, w*h*3)}
	for y := range h {
		for x := range w {
			for c := range 3 {
				img.Pix[(y*w+x)*3+c] = uint8((x*37 + y*91 + c*53 + x*y*7) % 256)
			}
		}
	}
	f, err := os.Open("testdata/rotate_cv2.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	n := 0
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			continue
		}
		fs := strings.Fields(line)
		angle, err := strconv.ParseFloat(fs[0], 64)
		if err != nil {
			t.Fatal(err)
		}
		want, err := hex.DecodeString(fs[1])
		if err != nil {
			t.Fatal(err)
		}
		got := rotate(img, angle, 0)
		diff := 0
		for i := range want {
			if got.Pix[i] != want[i] {
				diff++
			}
		}
		if diff != 0 {
			t.Errorf("angle %v: %d of %d bytes differ from OpenCV", angle, diff, len(want))
		}
		n++
	}
	if n < 8 {
		t.Fatalf("%d fixtures read", n)
	}
}

// The training transforms of the yaml: flip, pad, crop and rotation land
// on a model-sized image, and the same random source gives the same view.
func TestTransformsDeterministic(t *testing.T) {
	rc := loadRecipe(t, nil)
	img := &imaging.Image{W: 300, H: 200, C: 3, Pix: make([]uint8, 300*200*3)}
	for i := range img.Pix {
		img.Pix[i] = uint8(i * 7 % 251)
	}
	a, w, h, err := apply(rc.Transforms, img, viewRand(1, 2, 3))
	if err != nil || w != 224 || h != 224 || len(a) != 3*224*224 {
		t.Fatalf("%v %dx%d", err, w, h)
	}
	b, _, _, _ := apply(rc.Transforms, img, viewRand(1, 2, 3))
	c, _, _, _ := apply(rc.Transforms, img, viewRand(1, 2, 4))
	same := func(x, y []float32) bool {
		for i := range x {
			if x[i] != y[i] {
				return false
			}
		}
		return true
	}
	if !same(a, b) || same(a, c) {
		t.Error("views are not a function of (seed, image, view)")
	}
	// Pad + RandCropImageV2's inclusive bounds: crops may come out one
	// pixel short (the second ResizeImage restores the size).
	r := rand.New(rand.NewPCG(1, 1))
	for range 50 {
		out, w, h, err := apply([]Transform{{Name: "Pad", Padding: 10}, {Name: "RandCropImageV2", W: 300, H: 200},
			{Name: "NormalizeImage", Norm: imaging.NormOptions{}}}, img, r)
		if err != nil || w < 299 || h < 199 || w > 300 || h > 200 || len(out) != 3*w*h {
			t.Fatalf("crop %dx%d: %v", w, h, err)
		}
	}
}
