// Package synthdata renders seeded image sets for tests, benchmarks and the
// offline demo: "products" with distinctive procedural textures, their
// gallery views, perturbed query views (shifted, brightened, re-encoded as
// JPEG) and shelf scenes that place several products on a background.
//
// The images are not photographs: they exercise the pipeline's mechanics
// (decode, crop, resize, embed, search, threshold, NMS) with features that
// a random-weight network maps stably, not recognition accuracy.
package synthdata

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
)

// Product is one rendered object class.
type Product struct {
	Label string
	seed  uint64
}

// Products returns n products with labels "product_00", "product_01", ...
func Products(n int, seed uint64) []Product {
	ps := make([]Product, n)
	for i := range ps {
		ps[i] = Product{Label: fmt.Sprintf("product_%02d", i), seed: seed*1000003 + uint64(i)*7919 + 1}
	}
	return ps
}

// Render draws the product into a w×h RGBA image. view selects a slightly
// different framing (0 is the canonical view).
func (p Product) Render(w, h int, view int) *image.RGBA {
	rng := rand.New(rand.NewPCG(p.seed, 42))
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	bg := randColor(rng)
	fill(img, img.Bounds(), bg)
	// Large shapes: the product's identity.
	kind := rng.IntN(3)
	nShapes := 4 + rng.IntN(4)
	vr := rand.New(rand.NewPCG(p.seed, uint64(view)+1000))
	jx, jy := 0.0, 0.0
	if view != 0 {
		jx, jy = (vr.Float64()-0.5)*0.06, (vr.Float64()-0.5)*0.06
	}
	for s := 0; s < nShapes; s++ {
		c := randColor(rng)
		cx := (rng.Float64() + jx) * float64(w)
		cy := (rng.Float64() + jy) * float64(h)
		r := (0.12 + 0.25*rng.Float64()) * float64(min(w, h))
		switch (kind + s) % 3 {
		case 0:
			disc(img, cx, cy, r, c)
		case 1:
			fill(img, image.Rect(int(cx-r), int(cy-r/2), int(cx+r), int(cy+r/2)), c)
		default:
			stripes(img, int(cx-r), int(cy-r), int(cx+r), int(cy+r), 4+rng.IntN(10), c)
		}
	}
	return img
}

// Perturb returns a query view of img: shifted by (dx, dy) pixels with edge
// replication and brightened by delta levels.
func Perturb(img *image.RGBA, dx, dy, delta int) *image.RGBA {
	b := img.Bounds()
	out := image.NewRGBA(b)
	for y := b.Min.Y; y < b.Max.Y; y++ {
		sy := min(max(y-dy, b.Min.Y), b.Max.Y-1)
		for x := b.Min.X; x < b.Max.X; x++ {
			sx := min(max(x-dx, b.Min.X), b.Max.X-1)
			c := img.RGBAAt(sx, sy)
			out.SetRGBA(x, y, color.RGBA{clamp(int(c.R) + delta), clamp(int(c.G) + delta), clamp(int(c.B) + delta), 255})
		}
	}
	return out
}

// Placement is where a product sits in a scene (pixel box, x2/y2 exclusive).
type Placement struct {
	Label          string
	X1, Y1, X2, Y2 int
}

// Scene renders a w×h shelf with the given products laid out left to
// right without overlap, on a plain textured background.
func Scene(w, h int, products []Product, seed uint64) (*image.RGBA, []Placement) {
	rng := rand.New(rand.NewPCG(seed, 7))
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	fill(img, img.Bounds(), color.RGBA{200, 200, 195, 255})
	for y := 0; y < h; y += 40 {
		fill(img, image.Rect(0, y, w, y+2), color.RGBA{170, 170, 165, 255})
	}
	var ps []Placement
	n := len(products)
	if n == 0 {
		return img, nil
	}
	slot := w / n
	for i, p := range products {
		pw := slot * (60 + rng.IntN(25)) / 100
		ph := h * (45 + rng.IntN(35)) / 100
		x1 := i*slot + (slot-pw)/2
		y1 := (h - ph) / 2
		obj := p.Render(pw, ph, 0)
		for y := 0; y < ph; y++ {
			copy(img.Pix[(y1+y)*img.Stride+x1*4:], obj.Pix[y*obj.Stride:y*obj.Stride+pw*4])
		}
		ps = append(ps, Placement{Label: p.Label, X1: x1, Y1: y1, X2: x1 + pw, Y2: y1 + ph})
	}
	return img, ps
}

// EncodeJPEG encodes with the given quality (1–100).
func EncodeJPEG(img image.Image, quality int) ([]byte, error) {
	var b bytes.Buffer
	err := jpeg.Encode(&b, img, &jpeg.Options{Quality: quality})
	return b.Bytes(), err
}

// EncodePNG encodes losslessly.
func EncodePNG(img image.Image) ([]byte, error) {
	var b bytes.Buffer
	err := png.Encode(&b, img)
	return b.Bytes(), err
}

// WriteFile writes data to path, creating its folder.
func WriteFile(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, data, 0o644)
}

func randColor(rng *rand.Rand) color.RGBA {
	return color.RGBA{uint8(rng.IntN(256)), uint8(rng.IntN(256)), uint8(rng.IntN(256)), 255}
}

func clamp(v int) uint8 { return uint8(min(max(v, 0), 255)) }

func fill(img *image.RGBA, r image.Rectangle, c color.RGBA) {
	r = r.Intersect(img.Bounds())
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			img.SetRGBA(x, y, c)
		}
	}
}

func disc(img *image.RGBA, cx, cy, r float64, c color.RGBA) {
	b := image.Rect(int(cx-r), int(cy-r), int(cx+r)+1, int(cy+r)+1).Intersect(img.Bounds())
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			if math.Hypot(float64(x)-cx, float64(y)-cy) <= r {
				img.SetRGBA(x, y, c)
			}
		}
	}
}

func stripes(img *image.RGBA, x1, y1, x2, y2, period int, c color.RGBA) {
	b := image.Rect(x1, y1, x2, y2).Intersect(img.Bounds())
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			if ((x+y)/period)%2 == 0 {
				img.SetRGBA(x, y, c)
			}
		}
	}
}
