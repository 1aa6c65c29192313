package arch

import (
	"math"
	"math/rand/v2"
)

// synthImages draws n deterministic calibration images of side size, as a
// normalised NCHW batch (RGB/255, ImageNet mean/std — the models'
// preprocessing): a two-colour gradient background, 2–6 filled ellipses or
// rectangles, some striped, and mild noise. They stand in for photos when
// measuring activation statistics.
func synthImages(r *rand.Rand, n, size int) *fmap {
	mean := [3]float32{0.485, 0.456, 0.406}
	std := [3]float32{0.229, 0.224, 0.225}
	x := newFmap(n, 3, size, size)
	img := make([][3]float32, size*size)
	col := func() [3]float32 {
		return [3]float32{r.Float32(), r.Float32(), r.Float32()}
	}
	for b := range n {
		c0, c1 := col(), col()
		ang := r.Float64() * 2 * math.Pi
		dx, dy := math.Cos(ang), math.Sin(ang)
		for y := range size {
			for xx := range size {
				t := float32(0.5 + 0.5*((float64(xx)/float64(size)-0.5)*dx+(float64(y)/float64(size)-0.5)*dy))
				for c := range 3 {
					img[y*size+xx][c] = c0[c]*(1-t) + c1[c]*t
				}
			}
		}
		for range 2 + r.IntN(5) {
			cc := col()
			cx, cy := r.Float64()*float64(size), r.Float64()*float64(size)
			rx := (0.05 + 0.3*r.Float64()) * float64(size)
			ry := (0.05 + 0.3*r.Float64()) * float64(size)
			ellipse := r.IntN(2) == 0
			stripes := r.IntN(3) == 0
			freq := 0.2 + r.Float64()*0.8
			for y := range size {
				for xx := range size {
					u, v := (float64(xx)-cx)/rx, (float64(y)-cy)/ry
					in := math.Abs(u) <= 1 && math.Abs(v) <= 1
					if ellipse {
						in = u*u+v*v <= 1
					}
					if !in {
						continue
					}
					k := float32(1)
					if stripes && math.Sin(float64(xx+y)*freq) < 0 {
						k = 0.4
					}
					for c := range 3 {
						img[y*size+xx][c] = cc[c] * k
					}
				}
			}
		}
		for c := range 3 {
			p := x.plane(b, c)
			for i := range p {
				v := img[i][c] + float32(r.NormFloat64()*0.02)
				p[i] = (min(max(v, 0), 1) - mean[c]) / std[c]
			}
		}
	}
	return x
}
