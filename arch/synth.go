package arch

import (
	"math"
	"math/rand/v2"
)

// synthImages draws n deterministic calibration images of side size, as a
// normalised NCHW batch (RGB/255, ImageNet mean/std — the models'
// preprocessing). Each is a photo stand-in: a two-colour gradient with
// multi-octave value noise (roughly the 1/f spectrum of photos), then 3–12
// filled ellipses or rectangles, textured by noise, stripes or checkers.
func synthImages(r *rand.Rand, n, size int) *fmap {
	mean := [3]float32{0.485, 0.456, 0.406}
	std := [3]float32{0.229, 0.224, 0.225}
	x := newFmap(n, 3, size, size)
	img := make([][3]float32, size*size)
	col := func() [3]float32 {
		return [3]float32{r.Float32(), r.Float32(), r.Float32()}
	}
	for b := range n {
		noise := valueNoise(r, size, 0.7+0.6*r.Float64())
		c0, c1 := col(), col()
		ang := r.Float64() * 2 * math.Pi
		dx, dy := math.Cos(ang), math.Sin(ang)
		amp := float32(0.1 + 0.3*r.Float64())
		for y := range size {
			for xx := range size {
				t := float32(0.5 + 0.5*((float64(xx)/float64(size)-0.5)*dx+(float64(y)/float64(size)-0.5)*dy))
				nz := amp * noise[y*size+xx]
				for c := range 3 {
					img[y*size+xx][c] = c0[c]*(1-t) + c1[c]*t + nz
				}
			}
		}
		for range 3 + r.IntN(10) {
			cc := col()
			cx, cy := r.Float64()*float64(size), r.Float64()*float64(size)
			rx := (0.03 + 0.3*r.Float64()) * float64(size)
			ry := (0.03 + 0.3*r.Float64()) * float64(size)
			ellipse := r.IntN(2) == 0
			tex := r.IntN(4) // 0 flat+noise, 1 stripes, 2 checkers, 3 strong noise
			freq := 0.1 + r.Float64()*0.9
			tamp := float32(0.2 + 0.5*r.Float64())
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
					switch tex {
					case 1:
						if math.Sin(float64(xx+y)*freq) < 0 {
							k = 1 - tamp
						}
					case 2:
						if (int(float64(xx)*freq/2)+int(float64(y)*freq/2))%2 == 0 {
							k = 1 - tamp
						}
					case 3:
						k = 1 + tamp*noise[(size-1-y)*size+xx]
					default:
						k = 1 + 0.2*noise[y*size+(size-1-xx)]
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

// valueNoise is a sum of bilinearly upsampled random grids at octaves
// 2, 4, 8, … cells, amplitude falling as cells^-beta; values in about [-1, 1].
func valueNoise(r *rand.Rand, size int, beta float64) []float32 {
	out := make([]float32, size*size)
	var total float64
	for cells := 2; cells <= size/2; cells *= 2 {
		a := math.Pow(float64(cells), -beta)
		total += a
		g := make([]float64, (cells+1)*(cells+1))
		for i := range g {
			g[i] = 2*r.Float64() - 1
		}
		for y := range size {
			fy := float64(y) * float64(cells) / float64(size)
			iy := int(fy)
			ty := fy - float64(iy)
			for xx := range size {
				fx := float64(xx) * float64(cells) / float64(size)
				ix := int(fx)
				tx := fx - float64(ix)
				v := g[iy*(cells+1)+ix]*(1-tx)*(1-ty) + g[iy*(cells+1)+ix+1]*tx*(1-ty) +
					g[(iy+1)*(cells+1)+ix]*(1-tx)*ty + g[(iy+1)*(cells+1)+ix+1]*tx*ty
				out[y*size+xx] += float32(a * v)
			}
		}
	}
	for i := range out {
		out[i] /= float32(total)
	}
	return out
}
