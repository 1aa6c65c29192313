package cli

import (
	"bufio"
	"bytes"
	"fmt"
	"image"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/shitu-go/shitu/detect"
	"github.com/shitu-go/shitu/feature"
	"github.com/shitu-go/shitu/imaging"
	"github.com/shitu-go/shitu/internal/synthdata"
	"github.com/shitu-go/shitu/models"
	"github.com/shitu-go/shitu/quant"
	"github.com/shitu-go/shitu/tensor"
)

type modelsQuantizeCmd struct {
	Dir        string   `arg:"" type:"existingdir" help:"Model folder (ONNX, or Paddle converted on the fly) of a det or rec model."`
	Calib      string   `required:"" type:"path" help:"Calibration images: a folder (searched recursively) or a text file listing image paths (relative to its folder)."`
	Out        string   `type:"path" help:"Folder to write (default: MODEL_DIR_int8 beside the model)."`
	Count      int      `default:"64" help:"Calibration images used (the first N in sorted order)."`
	Batch      int      `default:"8" help:"Images per calibration run for non-detector models."`
	Size       string   `help:"Input HxW for models without fixed or manifest sizes (e.g. 48x192)."`
	Methods    []string `default:"minmax,percentile,mse" help:"Activation range methods to try; the best on the calibration set is used."`
	Percentile float64  `default:"99.99" help:"Percentile of the percentile method."`
	Target     float64  `default:"0.995" help:"Mean cosine to float32 (calibration set) to reach; the most sensitive layers stay float32 until it is."`
	MaxFloat   float64  `default:"0.25" help:"Largest share of layers kept float32."`
	SensImages int      `default:"4" help:"Calibration runs per layer in the sensitivity analysis (-1: skip)."`
	Exclude    []string `help:"Conv nodes (optimised graph names) always kept float32."`
	QuantOuts  bool     `name:"quantize-outputs" help:"Quantize the layers that write the model's outputs too (default: float32)."`
	NoBiasCorr bool     `name:"no-bias-correction" help:"Do not correct biases for the mean shift of weight rounding."`
	Threads    int      `default:"2" help:"ONNX Runtime threads for calibration."`
	Force      bool     `help:"Replace an existing output folder."`
}

func (c *modelsQuantizeCmd) Run(g *Globals) error {
	b, err := g.backend()
	if err != nil {
		return err
	}
	r, err := models.Resolve(g.ctx, c.Dir, models.ResolveOptions{Converter: models.PaddleConverter})
	if err != nil {
		return err
	}
	out := c.Out
	if out == "" {
		out = filepath.Clean(c.Dir) + models.QuantizedSuffix
	}
	if _, err := os.Stat(out); err == nil && !c.Force {
		return fmt.Errorf("%w: %s (use --force to replace it)", models.ErrExists, out)
	}
	model, err := os.ReadFile(r.Path)
	if err != nil {
		return err
	}
	prep, err := newModelPrep(r.Manifest, c.Size)
	if err != nil {
		return err
	}
	paths, err := listImages(c.Calib)
	if err != nil {
		return err
	}
	if c.Count > 0 && len(paths) > c.Count {
		paths = paths[:c.Count]
	}
	fmt.Fprintf(g.stderr, "calibration: %d images from %s (%s)\n", len(paths), c.Calib, prep)
	feeds, err := prep.feedFiles(paths, c.Batch)
	if err != nil {
		return err
	}
	var methods []quant.Method
	for _, m := range c.Methods {
		methods = append(methods, quant.Method(m))
	}
	opts := quant.Options{
		Methods: methods, Percentile: c.Percentile, Target: c.Target, MaxFloat: c.MaxFloat,
		SensitivityInputs: c.SensImages, Exclude: c.Exclude, Threads: c.Threads, NoBiasCorrection: c.NoBiasCorr, QuantizeOutputs: c.QuantOuts,
		Progress: func(f string, a ...any) { fmt.Fprintf(g.stderr, f+"\n", a...) },
	}
	res, err := quant.Quantize(g.ctx, b, model, feeds, opts)
	if err != nil {
		return err
	}
	note := fmt.Sprintf("int8 QDQ (shitu quant): %s ranges, %d/%d layers int8, calibration %d images, %s",
		res.Method, len(res.Layers)-len(res.FloatLayers()), len(res.Layers), len(paths), res.Score)
	inst, err := models.WriteQuantized(r.Manifest, c.Dir, out, res.Model, note)
	if err != nil {
		return err
	}
	fmt.Fprint(g.stdout, res.Summary())
	if g.Verbose {
		for _, l := range res.Layers {
			fmt.Fprintf(g.stdout, "  %-40s %-10s sensitivity %.6f float32=%v\n", l.Name, l.Op, l.Sensitivity, l.Float)
		}
	}
	use := "load it in place of the float model"
	switch r.Manifest.Role {
	case models.RoleDetector:
		use = "select it with Global.det_inference_model_dir: " + inst.Dir
	case models.RoleExtractor:
		use = "select it with Global.rec_inference_model_dir: " + inst.Dir
	}
	fmt.Fprintf(g.stdout, "wrote %s (%d bytes, from %d); %s\n", inst.Dir, len(res.Model), len(model), use)
	return nil
}

// modelPrep turns images into the inputs of one model, as its manifest
// says (detector: DetPreProcess; others: resize + normalise + CHW).
type modelPrep struct {
	man    *models.Manifest
	input  string
	det    *detect.PreConfig
	rec    feature.Config
	isDet  bool
	extras []string // im_shape / scale_factor
}

func (p *modelPrep) String() string {
	if p.isDet {
		return fmt.Sprintf("detector input %s %dx%d (HxW)", p.input, p.det.TargetSize[0], p.det.TargetSize[1])
	}
	return fmt.Sprintf("input %s %dx%d (HxW)", p.input, p.rec.Height, p.rec.Width)
}

func newModelPrep(m *models.Manifest, size string) (*modelPrep, error) {
	p := &modelPrep{man: m}
	var img *models.Tensor
	for i, in := range m.Inputs {
		switch {
		case in.Name == "im_shape" || in.Name == "scale_factor":
			p.extras = append(p.extras, in.Name)
		case len(in.Shape) == 4 && img == nil:
			img = &m.Inputs[i]
		}
	}
	if img == nil {
		return nil, fmt.Errorf("%w: no [N,3,H,W] image input in %v", quant.ErrModel, m.Inputs)
	}
	p.input = img.Name
	// Size: --size, else the model's fixed input dims, else the manifest's.
	w, h := 0, 0
	pp := m.Preprocess
	if pp != nil && pp.Width > 0 && pp.Height > 0 {
		w, h = pp.Width, pp.Height
	}
	if img.Shape[2] > 0 && img.Shape[3] > 0 {
		h, w = int(img.Shape[2]), int(img.Shape[3])
	}
	if size != "" {
		hs, ws, ok := strings.Cut(strings.ToLower(size), "x")
		hh, err1 := strconv.Atoi(hs)
		ww, err2 := strconv.Atoi(ws)
		if !ok || err1 != nil || err2 != nil || hh <= 0 || ww <= 0 || hh > 4096 || ww > 4096 {
			return nil, fmt.Errorf("--size %q: want HxW, e.g. 48x192", size)
		}
		h, w = hh, ww
	}
	if w == 0 || h == 0 {
		return nil, fmt.Errorf("%w: input %s has no fixed size and the manifest none: give --size HxW", quant.ErrModel, img.Name)
	}
	mean, std, scale := imaging.ImageNetMean, imaging.ImageNetStd, 1.0/255
	if pp != nil && len(pp.Mean) == 3 && len(pp.Std) == 3 {
		mean, std = [3]float64{pp.Mean[0], pp.Mean[1], pp.Mean[2]}, [3]float64{pp.Std[0], pp.Std[1], pp.Std[2]}
		if pp.Scale > 0 {
			scale = pp.Scale
		}
	}
	interp := "linear"
	if pp != nil && pp.Interp != "" {
		interp = pp.Interp
	}
	if m.Role == models.RoleDetector || m.Form == "raw-head" || m.Form == "nms" {
		d := detect.DefaultPre()
		d.TargetSize = [2]int{h, w}
		d.Mean, d.Std = mean, std
		d.NoScale = scale == 1
		if interp == "linear" {
			d.Interp = imaging.Linear
		}
		if pp != nil {
			d.KeepRatio, d.PadStride = pp.KeepRatio, pp.PadStride
		}
		p.det, p.isDet = &d, true
		return p, nil
	}
	p.rec = feature.Config{Width: w, Height: h, Interp: map[string]string{"linear": "bilinear", "cubic": "bicubic"}[interp],
		Scale: float32(scale), BatchSize: 1}
	if p.rec.Interp == "" {
		p.rec.Interp = interp
	}
	for i := range 3 {
		p.rec.Mean[i], p.rec.Std[i] = float32(mean[i]), float32(std[i])
	}
	return p, nil
}

// feeds makes model inputs from images: one per image for detectors,
// batches of up to batch images otherwise.
func (p *modelPrep) feeds(imgs []*imaging.Image, batch int) ([]quant.Feed, error) {
	var out []quant.Feed
	if p.isDet {
		for _, img := range imgs {
			in, err := detect.Preprocess(img, *p.det)
			if err != nil {
				return nil, err
			}
			f := quant.Feed{p.input: in.Image}
			for _, e := range p.extras {
				v := in.ImShape
				if e == "scale_factor" {
					v = in.Scale
				}
				f[e] = tensor.Must([]int{1, 2}, []float32{v[0], v[1]})
			}
			out = append(out, f)
		}
		return out, nil
	}
	batch = max(batch, 1)
	per := 3 * p.rec.Width * p.rec.Height
	for i := 0; i < len(imgs); i += batch {
		n := min(batch, len(imgs)-i)
		data := make([]float32, n*per)
		for j := range n {
			if err := p.rec.Preprocess(imgs[i+j], data[j*per:(j+1)*per]); err != nil {
				return nil, err
			}
		}
		out = append(out, quant.Feed{p.input: tensor.Must([]int{n, 3, p.rec.Height, p.rec.Width}, data)})
	}
	return out, nil
}

func (p *modelPrep) feedFiles(paths []string, batch int) ([]quant.Feed, error) {
	imgs := make([]*imaging.Image, 0, len(paths))
	for _, path := range paths {
		img, err := imaging.DecodeFile(path, imaging.DecodeOptions{})
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %w", quant.ErrCalib, path, err)
		}
		imgs = append(imgs, imaging.ToRGB(img))
	}
	return p.feeds(imgs, batch)
}

var calibExts = map[string]bool{".jpg": true, ".jpeg": true, ".png": true, ".bmp": true, ".webp": true}

// listImages lists a folder's images (recursively, sorted) or the paths of
// a list file (one per line, relative to the file's folder; blank lines
// and #comments skipped; a second tab-separated column is ignored).
func listImages(src string) ([]string, error) {
	st, err := os.Stat(src)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", quant.ErrCalib, err)
	}
	var out []string
	if st.IsDir() {
		err = filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.Type().IsRegular() && calibExts[strings.ToLower(filepath.Ext(p))] {
				out = append(out, p)
			}
			return nil
		})
		sort.Strings(out)
	} else {
		var f *os.File
		if f, err = os.Open(src); err != nil {
			return nil, fmt.Errorf("%w: %w", quant.ErrCalib, err)
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			line := strings.TrimSpace(sc.Text())
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			line, _, _ = strings.Cut(line, "\t")
			if !filepath.IsAbs(line) {
				line = filepath.Join(filepath.Dir(src), line)
			}
			out = append(out, line)
		}
		err = sc.Err()
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %w", quant.ErrCalib, err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: no images in %s", quant.ErrCalib, src)
	}
	return out, nil
}

type modelsSynthImagesCmd struct {
	Out  string `required:"" type:"path" help:"Folder to write."`
	Kind string `enum:"crops,scenes,text-pages,text-lines" default:"crops" help:"crops: single products (recognition); scenes: shelves of 4 products (detection); text-pages, text-lines: rendered text (OCR models)."`
	Font string `default:"/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc" help:"Font of the text images."`
	N    int    `default:"64" help:"Number of images."`
	Seed uint64 `default:"7" help:"Seed (the compare command uses other seeds)."`
}

func (c *modelsSynthImagesCmd) Run(g *Globals) error {
	if c.N <= 0 || c.N > 100000 {
		return fmt.Errorf("--n %d outside 1..100000", c.N)
	}
	var texts []*imaging.Image
	if strings.HasPrefix(c.Kind, "text") {
		f, err := imaging.LoadFont(c.Font, 0, 22)
		if err != nil {
			return err
		}
		defer f.Close()
		texts = textImages(f, c.N, c.Kind == "text-lines", c.Seed)
	}
	for i := range c.N {
		var buf bytes.Buffer
		var err error
		if texts != nil {
			err = imaging.EncodePNG(&buf, texts[i])
		} else {
			var b []byte
			b, err = synthdata.EncodePNG(synthImage(c.Kind, i, c.Seed))
			buf.Write(b)
		}
		if err != nil {
			return err
		}
		b := buf.Bytes()
		if err := synthdata.WriteFile(filepath.Join(c.Out, fmt.Sprintf("%s_%05d.png", c.Kind, i)), b); err != nil {
			return err
		}
	}
	fmt.Fprintf(g.stdout, "wrote %d synthetic %s to %s (seed %d)\n", c.N, c.Kind, c.Out, c.Seed)
	return nil
}

// synthImage is the i-th synthetic crop or scene of a seed.
func synthImage(kind string, i int, seed uint64) *image.RGBA {
	if kind == "scenes" {
		ps := synthdata.Products(4, seed*7919+uint64(i))
		img, _ := synthdata.Scene(1280, 720, ps, seed+uint64(i))
		return img
	}
	ps := synthdata.Products(1, seed*7919+uint64(i))
	return ps[0].Render(160+(i*37)%160, 200+(i*53)%160, i%3)
}

// fromRGBA converts an RGBA image to an RGB imaging.Image.
func fromRGBA(img *image.RGBA) *imaging.Image {
	b := img.Bounds()
	out := &imaging.Image{W: b.Dx(), H: b.Dy(), C: 3, Pix: make([]uint8, 3*b.Dx()*b.Dy())}
	for y := range out.H {
		row := img.Pix[y*img.Stride:]
		for x := range out.W {
			copy(out.Pix[3*(y*out.W+x):3*(y*out.W+x)+3], row[4*x:4*x+3])
		}
	}
	return out
}
