package cli

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"sort"

	"github.com/shitu-go/shitu/detect"
	"github.com/shitu-go/shitu/feature"
	"github.com/shitu-go/shitu/imaging"
	"github.com/shitu-go/shitu/infer"
	"github.com/shitu-go/shitu/internal/synthdata"
	"github.com/shitu-go/shitu/models"
	"github.com/shitu-go/shitu/quant"
	"github.com/shitu-go/shitu/tensor"
)

type modelsCompareCmd struct {
	Float    string  `arg:"" type:"existingdir" help:"Float32 model folder."`
	Int8     string  `arg:"" type:"existingdir" help:"Its int8 twin (shitu models quantize)."`
	Crops    int     `default:"500" help:"Recognition: query crops (5 views of Crops/5 products, gallery = canonical views)."`
	Scenes   int     `default:"50" help:"Detection: shelf scenes (or text pages for models without a role)."`
	IoU      float64 `default:"0.9" help:"IoU at which two boxes match."`
	MaxDet   int     `default:"5" help:"Detection: boxes kept per image (Global.max_det_results; the pipeline's default 5)."`
	Thresh   float32 `default:"0.2" help:"Detection: score threshold (Global.threshold; negative keeps every score)."`
	Size     string  `help:"Input HxW for models without fixed or manifest sizes."`
	Text     bool    `help:"Use rendered text lines/pages instead of products (OCR models)."`
	Seed     uint64  `default:"2026" help:"Image seed (calibration images use others)."`
	Threads  int     `default:"2" help:"ONNX Runtime threads."`
	FontPath string  `default:"/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc" help:"Font of --text images."`
}

func (c *modelsCompareCmd) Run(g *Globals) error {
	b, err := g.backend()
	if err != nil {
		return err
	}
	var sess [2]infer.Session
	var man *models.Manifest
	for i, dir := range []string{c.Float, c.Int8} {
		r, err := models.Resolve(g.ctx, dir, models.ResolveOptions{Converter: models.PaddleConverter})
		if err != nil {
			return err
		}
		if i == 0 {
			man = r.Manifest
		}
		data, err := os.ReadFile(r.Path)
		if err != nil {
			return err
		}
		if sess[i], err = b.Open(data, infer.Options{IntraOpThreads: c.Threads}); err != nil {
			return err
		}
		defer sess[i].Close()
	}
	prep, err := newModelPrep(man, c.Size)
	if err != nil {
		return err
	}
	switch {
	case c.Text:
		return c.text(g, prep, sess)
	case prep.isDet:
		return c.det(g, prep, sess)
	default:
		return c.rec(g, prep, sess)
	}
}

// rec: feature cosine over the crops and top-1 agreement of a gallery
// search (each model searches a gallery it extracted itself).
func (c *modelsCompareCmd) rec(g *Globals, prep *modelPrep, sess [2]infer.Session) error {
	nProd := max(1, c.Crops/5)
	ps := synthdata.Products(nProd, c.Seed)
	rng := rand.New(rand.NewPCG(c.Seed, 5))
	var gal, qs []*imaging.Image
	var truth []int
	for i, p := range ps {
		w, h := 180+rng.IntN(120), 220+rng.IntN(120)
		gal = append(gal, fromRGBA(p.Render(w, h, 0)))
		for v := range 5 {
			img := synthdata.Perturb(p.Render(w, h, 1+v%3), rng.IntN(9)-4, rng.IntN(9)-4, rng.IntN(31)-15)
			qs = append(qs, fromRGBA(img))
			truth = append(truth, i)
		}
	}
	cfg := prep.rec
	cfg.BatchSize = 16
	var feats, gfeats [2][][]float32
	for i, s := range sess {
		e, err := feature.New(s, cfg)
		if err != nil {
			return err
		}
		if feats[i], err = e.Extract(g.ctx, qs); err != nil {
			return err
		}
		if gfeats[i], err = e.Extract(g.ctx, gal); err != nil {
			return err
		}
	}
	var sum float64
	worst := 1.0
	for i := range qs {
		cs := quant.Cosine(feats[0][i], feats[1][i])
		sum += cs
		worst = min(worst, cs)
	}
	top1 := func(m, q int) int {
		best, bi := math.Inf(-1), -1
		for j, gv := range gfeats[m] {
			if d := dot(feats[m][q], gv); d > best {
				best, bi = d, j
			}
		}
		return bi
	}
	agree, right := 0, [2]int{}
	for q := range qs {
		a, b := top1(0, q), top1(1, q)
		if a == b {
			agree++
		}
		if a == truth[q] {
			right[0]++
		}
		if b == truth[q] {
			right[1]++
		}
	}
	n := float64(len(qs))
	fmt.Fprintf(g.stdout, "feature cosine int8 vs fp32 over %d crops: mean %.5f, worst %.5f\n", len(qs), sum/n, worst)
	fmt.Fprintf(g.stdout, "gallery top-1 (%d products, each model its own gallery): agreement %d/%d = %.2f%%; accuracy fp32 %.2f%%, int8 %.2f%%\n",
		nProd, agree, len(qs), 100*float64(agree)/n, 100*float64(right[0])/n, 100*float64(right[1])/n)
	return nil
}

func dot(a, b []float32) float64 {
	var s float64
	for i := range a {
		s += float64(a[i]) * float64(b[i])
	}
	return s
}

// det: detector boxes (decode + NMS, every score) matched at IoU ≥ c.IoU.
func (c *modelsCompareCmd) det(g *Globals, prep *modelPrep, sess [2]infer.Session) error {
	det := func(s infer.Session) (*detect.Detector, error) {
		return detect.New(s, detect.Options{Pre: prep.det})
	}
	var imgs []*imaging.Image
	for i := range c.Scenes {
		imgs = append(imgs, fromRGBA(synthImage("scenes", i, c.Seed)))
	}
	if err := c.outputCosine(g, prep, sess, imgs); err != nil {
		return err
	}
	// The pipeline's boxes of both models, and the int8 model's top 100
	// at any score (does int8 still propose the fp32 boxes at all?).
	var boxes [3][][]detect.Box
	for i, cfg := range []struct {
		s      infer.Session
		maxDet int
		thr    float64
	}{{sess[0], c.MaxDet, float64(c.Thresh)}, {sess[1], c.MaxDet, float64(c.Thresh)}, {sess[1], 100, -1}} {
		d, err := det(cfg.s)
		if err != nil {
			return err
		}
		for _, img := range imgs {
			bs, err := d.Detect(g.ctx, img)
			if err != nil {
				return err
			}
			// the selection recognize applies (top maxDet, then the threshold)
			boxes[i] = append(boxes[i], detect.SelectTop(bs, cfg.maxDet, cfg.thr))
		}
	}
	var nf, nq, nq100, matched, proposed int
	for k := range imgs {
		a, b, b100 := toRects(boxes[0][k]), toRects(boxes[1][k]), toRects(boxes[2][k])
		nf, nq, nq100 = nf+len(a), nq+len(b), nq100+len(b100)
		matched += matchBoxes(a, b, c.IoU)
		proposed += matchBoxes(a, b100, c.IoU)
	}
	reportBoxes(g, fmt.Sprintf("detector boxes (top %d, score ≥ %g)", c.MaxDet, c.Thresh), len(imgs), nf, nq, matched, c.IoU)
	var lo, hi float64 = 1, 0
	for _, bs := range boxes[0] {
		for _, b := range bs {
			lo, hi = min(lo, float64(b.Score)), max(hi, float64(b.Score))
		}
	}
	fmt.Fprintf(g.stdout, "fp32 scores of those boxes: %.4f … %.4f\n", lo, hi)
	fmt.Fprintf(g.stdout, "fp32 boxes found among the int8 model's top 100 at any score (IoU ≥ %.2f): %d of %d (%.2f%%)\n",
		c.IoU, proposed, nf, 100*float64(proposed)/float64(max(nf, 1)))
	return nil
}

type rect struct {
	x1, y1, x2, y2, score float64
	class                 int
}

func toRects(bs []detect.Box) []rect {
	out := make([]rect, len(bs))
	for i, b := range bs {
		out[i] = rect{float64(b.X1), float64(b.Y1), float64(b.X2), float64(b.Y2), float64(b.Score), b.Class}
	}
	return out
}

func iou(a, b rect) float64 {
	w := math.Min(a.x2, b.x2) - math.Max(a.x1, b.x1)
	h := math.Min(a.y2, b.y2) - math.Max(a.y1, b.y1)
	if w <= 0 || h <= 0 {
		return 0
	}
	in := w * h
	return in / ((a.x2-a.x1)*(a.y2-a.y1) + (b.x2-b.x1)*(b.y2-b.y1) - in)
}

// matchBoxes pairs boxes of a (by descending score) with the unused box of
// b of the same class with the highest IoU, counting pairs at ≥ thr.
func matchBoxes(a, b []rect, thr float64) int {
	sort.SliceStable(a, func(i, j int) bool { return a[i].score > a[j].score })
	used := make([]bool, len(b))
	n := 0
	for _, x := range a {
		best, bi := 0.0, -1
		for j, y := range b {
			if !used[j] && y.class == x.class {
				if v := iou(x, y); v > best {
					best, bi = v, j
				}
			}
		}
		if bi >= 0 && best >= thr {
			used[bi] = true
			n++
		}
	}
	return n
}

func reportBoxes(g *Globals, what string, images, nf, nq, matched int, thr float64) {
	pct := func(a, b int) float64 {
		if b == 0 {
			return 100
		}
		return 100 * float64(a) / float64(b)
	}
	fmt.Fprintf(g.stdout, "%s over %d images: fp32 %d, int8 %d, matched at IoU ≥ %.2f: %d (%.2f%% of fp32, %.2f%% of int8)\n",
		what, images, nf, nq, thr, matched, pct(matched, nf), pct(matched, nq))
}

// outputCosine runs the raw model outputs of both sessions on the images
// and prints their cosine per sample.
func (c *modelsCompareCmd) outputCosine(g *Globals, prep *modelPrep, sess [2]infer.Session, imgs []*imaging.Image) error {
	_, err := c.outputs(g, prep, sess, imgs)
	return err
}

func (c *modelsCompareCmd) outputs(g *Globals, prep *modelPrep, sess [2]infer.Session, imgs []*imaging.Image) ([2][][]*tensor.Tensor, error) {
	var outs [2][][]*tensor.Tensor
	feeds, err := prep.feeds(imgs, 8)
	if err != nil {
		return outs, err
	}
	for i, s := range sess {
		for _, f := range feeds {
			o, err := s.Run(g.ctx, f)
			if err != nil {
				return outs, err
			}
			outs[i] = append(outs[i], o)
		}
	}
	sc := quant.Compare(outs[0], outs[1])
	fmt.Fprintf(g.stdout, "raw output cosine int8 vs fp32 over %d images (per sample and output): mean %.5f, worst %.5f\n", len(imgs), sc.Mean, sc.Worst)
	return outs, nil
}

// text: OCR models. Images are rendered text pages (or lines); a
// probability-map output [N,1,H,W] gives boxes (connected regions above
// 0.3), a class output [N,C] gives top-1 agreement.
func (c *modelsCompareCmd) text(g *Globals, prep *modelPrep, sess [2]infer.Session) error {
	f, err := imaging.LoadFont(c.FontPath, 0, 22)
	if err != nil {
		return err
	}
	defer f.Close()
	w, h := prep.rec.Width, prep.rec.Height
	n := c.Scenes
	if w/h >= 3 { // a line classifier: many small images
		n = c.Crops
	}
	imgs := textImages(f, n, w/h >= 3, c.Seed)
	outs, err := c.outputs(g, prep, sess, imgs)
	if err != nil {
		return err
	}
	var nf, nq, matched, agree, total int
	for k := range outs[0] {
		a, b := outs[0][k][0], outs[1][k][0]
		s := a.Shape()
		switch {
		case len(s) == 4 && s[1] == 1:
			per := s[2] * s[3]
			for r := range s[0] {
				ra := regions(a.Float32s()[r*per:(r+1)*per], s[3], s[2], 0.3)
				rb := regions(b.Float32s()[r*per:(r+1)*per], s[3], s[2], 0.3)
				nf, nq = nf+len(ra), nq+len(rb)
				matched += matchBoxes(ra, rb, c.IoU)
			}
		case len(s) == 2:
			for r := range s[0] {
				x, y := a.Float32s()[r*s[1]:(r+1)*s[1]], b.Float32s()[r*s[1]:(r+1)*s[1]]
				if argmax(x) == argmax(y) {
					agree++
				}
				total++
			}
		}
	}
	if total > 0 {
		fmt.Fprintf(g.stdout, "top-1 class agreement over %d text lines: %d/%d = %.2f%%\n", total, agree, total, 100*float64(agree)/float64(total))
	}
	if nf+nq > 0 {
		reportBoxes(g, "text boxes (probability > 0.3, connected regions ≥ 16 px)", len(imgs), nf, nq, matched, c.IoU)
	}
	return nil
}

func argmax(v []float32) int {
	bi := 0
	for i := range v {
		if v[i] > v[bi] {
			bi = i
		}
	}
	return bi
}

// regions are the bounding boxes of the 4-connected regions of a w×h map
// above thr with at least 16 pixels.
func regions(p []float32, w, h int, thr float32) []rect {
	lab := make([]int32, len(p))
	var out []rect
	stack := []int{}
	for i := range p {
		if p[i] <= thr || lab[i] != 0 {
			continue
		}
		lab[i] = 1
		stack = append(stack[:0], i)
		x1, y1, x2, y2, n := w, h, 0, 0, 0
		for len(stack) > 0 {
			j := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			x, y := j%w, j/w
			x1, y1, x2, y2, n = min(x1, x), min(y1, y), max(x2, x+1), max(y2, y+1), n+1
			for _, k := range [4]int{j - 1, j + 1, j - w, j + w} {
				if k < 0 || k >= len(p) || (k == j-1 && x == 0) || (k == j+1 && x == w-1) {
					continue
				}
				if p[k] > thr && lab[k] == 0 {
					lab[k] = 1
					stack = append(stack, k)
				}
			}
		}
		if n >= 16 {
			out = append(out, rect{float64(x1), float64(y1), float64(x2), float64(y2), float64(n), 0})
		}
	}
	return out
}

// textImages renders n text pages (640×480, several lines) or single text
// lines (320×64, half of them upside down) in dark grey on light grey.
func textImages(f *imaging.Font, n int, lines bool, seed uint64) []*imaging.Image {
	rng := rand.New(rand.NewPCG(seed, 9))
	words := []string{"shitu", "PP-OCRv3", "识图", "商品", "2026", "int8", "ONNX", "量化", "paddle", "收银台", "price ¥12.50", "Go"}
	var imgs []*imaging.Image
	for range n {
		iw, ih, nl := 640, 480, 4+rng.IntN(8)
		if lines {
			iw, ih, nl = 320, 64, 1
		}
		img, _ := imaging.NewImage(iw, ih, 3)
		bg := uint8(200 + rng.IntN(56))
		for i := range img.Pix {
			img.Pix[i] = bg
		}
		for l := range nl {
			s := ""
			for range 1 + rng.IntN(4) {
				s += words[rng.IntN(len(words))] + " "
			}
			c := uint8(rng.IntN(80))
			y := 8 + l*(ih-16)/nl + rng.IntN(6)
			imaging.DrawText(img, f, 8+rng.IntN(iw/4), y, s, imaging.Color{R: c, G: c, B: c})
		}
		if lines && rng.IntN(2) == 0 { // upside down, for the 0°/180° classifier
			slices.Reverse(img.Pix)
		}
		imgs = append(imgs, img)
	}
	return imgs
}
