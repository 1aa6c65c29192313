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
	for i := 0; i < 64*64; i++ { // one colour: a short file whose middle is still in the Huffman tables
		src.Set(i%64, i/64, color.RGBA{220, 30, 30, 255})
	}
	var b bytes.Buffer
	if err := jpeg.Encode(&b, src, &jpeg.Options{Quality: 95}); err != nil {
		t.Fatal(err)
	}
	good := b.Bytes()
	for i := 0; i < 20; i++ {
		_, err := Decode(good[:len(good)/2], DecodeOptions{})
		if err == nil {
			t.Fatal("truncated JPEG decoded without error")
		}
		if i == 0 {
			t.Log(err)
		}
		if _, err := Decode(good, DecodeOptions{}); err != nil {
			t.Fatalf("round %d: good JPEG after a corrupt one: %v", i, err)
		}
	}
}
