package imaging

import (
	"bytes"
	"image"
	"image/color"
	"image/jpeg"
	"testing"
)

// TestDecodeAfterCorruptJPEG: a failed decode must not poison the decoder
// used for the next image (libjpeg-turbo handles are pooled).
func TestDecodeAfterCorruptJPEG(t *testing.T) {
	src := image.NewRGBA(image.Rect(0, 0, 64, 64))
	for i := range src.Pix {
		src.Pix[i] = uint8(i * 7)
	}
	src.Set(3, 3, color.RGBA{255, 0, 0, 255})
	var b bytes.Buffer
	if err := jpeg.Encode(&b, src, &jpeg.Options{Quality: 95}); err != nil {
		t.Fatal(err)
	}
	good := b.Bytes()
	for i := 0; i < 20; i++ {
		if _, err := Decode(good[:len(good)/2], DecodeOptions{}); err == nil {
			t.Fatal("truncated JPEG decoded without error")
		}
		if _, err := Decode(good, DecodeOptions{}); err != nil {
			t.Fatalf("round %d: good JPEG after a corrupt one: %v", i, err)
		}
	}
}
