package imaging_test

import (
	"fmt"
	"path/filepath"

	"github.com/shitu-go/shitu/imaging"
)

// The PP-ShiTuV2 detector input: decode, DetResize to 640×640 bicubic by
// scale factors, DetNormalizeImage, CHW.
func Example_detectorInput() {
	img, err := imaging.DecodeFile(filepath.Join("testdata", "bench_1080p.jpg"), imaging.DecodeOptions{})
	if err != nil {
		panic(err)
	}
	r, err := imaging.ResizeScale(img, 640/float64(img.W), 640/float64(img.H), imaging.Cubic)
	if err != nil {
		panic(err)
	}
	t, err := imaging.Normalize(r, imaging.NormOptions{Det: true})
	if err != nil {
		panic(err)
	}
	fmt.Println(img.W, img.H, t.Shape())
	// Output: 1920 1080 [3 640 640]
}
