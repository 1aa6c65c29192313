package cli

import (
	"context"
	"fmt"
	"image"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/shitu-go/shitu/internal/synthdata"
	"github.com/shitu-go/shitu/models"
)

type demoCmd struct {
	modelsRoot
	Dir     string        `default:"demo-out" type:"path" help:"Work folder: config, gallery, visualisations."`
	Mirror  string        `env:"SHITU_MIRROR" help:"Local folder or base URL with the official tarballs (offline machines)."`
	Offline bool          `help:"Do not try the official downloads; use synthesized networks and generated images."`
	Timeout time.Duration `default:"20s" help:"How long to try the official servers before going offline."`
}

// The quick start of PaddleClas (ppshitu-pipeline.md §1, §18.3), in Go:
// models → gallery → recognition → visualisations.
func (c *demoCmd) Run(g *Globals) error {
	dir, err := filepath.Abs(c.Dir)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	root := c.dir()
	det, rec, data, source := "", "", "", ""
	if !c.Offline {
		det, rec, data, err = c.pull(g, root)
		if err != nil {
			where := "the official download servers"
			if c.Mirror != "" {
				where = "the mirror " + c.Mirror
			}
			fmt.Fprintf(g.stdout, "demo: %s cannot be reached (%v); running the same flow on synthesized networks (seeded weights) and a generated image set, labelled SYNTHETIC\n", where, shortErr(err))
			det, rec = "", ""
		} else if c.Mirror != "" {
			source = "models from mirror " + c.Mirror
		} else {
			source = "official PP-ShiTuV2 models"
		}
	}
	if det == "" {
		fmt.Fprintln(g.stdout, "demo: [SYNTHETIC] writing PP-ShiTuV2 networks with seeded weights")
		inst, err := models.Synth(filepath.Join(dir, "models"), 1)
		if err != nil {
			return err
		}
		for _, in := range inst {
			if in.Manifest.Role == models.RoleDetector {
				det = in.Dir
			} else {
				rec = in.Dir
			}
		}
		source = "SYNTHETIC networks (seeded weights, not the official ones)"
	}
	var cfgPath string
	if data != "" {
		cfgPath, err = writeDemoConfig(dir, det, rec,
			filepath.Join(data, "gallery"), filepath.Join(data, "gallery", "drink_label.txt"), filepath.Join(dir, "index"), filepath.Join(data, "test_images"))
	} else {
		fmt.Fprintln(g.stdout, "demo: [SYNTHETIC] rendering a gallery of 12 products and query images")
		gal, list, queries, err2 := writeDemoImages(dir)
		if err2 != nil {
			return err2
		}
		cfgPath, err = writeDemoConfig(dir, det, rec, gal, list, filepath.Join(dir, "index"), queries)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(g.stdout, "demo: %s; config %s\n", source, cfgPath)
	flags := configFlags{Config: cfgPath}
	fmt.Fprintln(g.stdout, "demo: building the gallery")
	if err := (&galleryBuildCmd{configFlags: flags}).Run(g); err != nil {
		return fmt.Errorf("gallery build: %w", err)
	}
	fmt.Fprintln(g.stdout, "demo: recognising the query images (PaddleClas output format)")
	pc := &predictCmd{configFlags: flags, Format: "paddleclas", Draw: true, Whole: "always"}
	if err := pc.Run(g); err != nil {
		return fmt.Errorf("predict: %w", err)
	}
	fmt.Fprintf(g.stdout, "demo: visualisations in %s\n", filepath.Join(dir, "output"))
	return nil
}

func shortErr(err error) string {
	s := err.Error()
	if len(s) > 160 {
		s = s[:160] + "…"
	}
	return s
}

// pull installs the detector, the extractor and the drink data set.
func (c *demoCmd) pull(g *Globals, root string) (det, rec, data string, err error) {
	ctx, cancel := context.WithTimeout(g.ctx, c.Timeout)
	defer cancel()
	opts := models.PullOptions{Root: root, Mirror: c.Mirror, Attempts: 1, Converter: models.PaddleConverter, Log: g.stderr}
	for _, name := range []string{"det", "rec"} {
		bar := newProgress(g.stderr, "pull "+name)
		opts.Progress = bar.set
		in, err := models.Pull(ctx, name, opts)
		bar.done()
		if err != nil {
			return "", "", "", err
		}
		if name == "det" {
			det = in.Dir
		} else {
			rec = in.Dir
		}
		ctx, cancel = context.WithTimeout(g.ctx, 30*time.Minute) // reachable: allow the real download time
		defer cancel()
	}
	bar := newProgress(g.stderr, "pull drink_dataset_v2.0")
	opts.Progress = bar.set
	in, err := models.Pull(ctx, "drink", opts)
	bar.done()
	if err != nil {
		fmt.Fprintf(g.stdout, "demo: the drink data set is not available (%v); using a generated image set\n", shortErr(err))
		return det, rec, "", nil
	}
	return det, rec, in.Dir, nil
}

// demoConfig is a PaddleClas inference config (inference_general.yaml
// layout); the first %s is its header comment.
const demoConfig = `# %s
Global:
  infer_imgs: %q
  det_inference_model_dir: %q
  rec_inference_model_dir: %q
  rec_nms_thresold: 0.05
  batch_size: 1
  image_shape: [3, 640, 640]
  threshold: 0.2
  max_det_results: 5
  label_list:
    - foreground
  output_dir: %q

DetPreProcess:
  transform_ops:
    - DetResize:
        interp: 2
        keep_ratio: false
        target_size: [640, 640]
    - DetNormalizeImage:
        is_scale: true
        mean: [0.485, 0.456, 0.406]
        std: [0.229, 0.224, 0.225]
    - DetPermute: {}

DetPostProcess: {}

RecPreProcess:
  transform_ops:
    - ResizeImage:
        size: [224, 224]
        return_numpy: False
        interpolation: bilinear
        backend: cv2
    - NormalizeImage:
        scale: 1.0/255.0
        mean: [0.485, 0.456, 0.406]
        std: [0.229, 0.224, 0.225]
        order: hwc
    - ToCHWImage:

RecPostProcess: null

IndexProcess:
  index_method: "HNSW32"
  image_root: %q
  index_dir: %q
  data_file: %q
  index_operation: "new"
  delimiter: "\t"
  dist_type: "IP"
  embedding_size: 512
  batch_size: 32
  return_k: 5
  score_thres: %s
`

func writeDemoConfig(dir, det, rec, imageRoot, dataFile, indexDir, queries string) (string, error) {
	// Random-weight features of different renderings are closer than real
	// ones; the synthetic demo accepts at a higher threshold.
	thres := "0.5"
	if strings.HasPrefix(imageRoot, dir) {
		thres = "0.9"
	}
	p := filepath.Join(dir, "inference_demo.yaml")
	body := fmt.Sprintf(demoConfig, "shitu demo config, written by 'shitu demo' (PaddleClas inference_general.yaml layout)",
		queries, det, rec, filepath.Join(dir, "output"), imageRoot, indexDir, dataFile, thres)
	return p, os.WriteFile(p, []byte(body), 0o644)
}

// DrinkConfig is the config `shitu models pull drink` writes into the
// models folder.
const DrinkConfig = "inference_drink.yaml"

// writeDrinkConfig writes root/inference_drink.yaml: PaddleClas's
// inference_drink.yaml with the paths of the detector, the extractor and the
// drink data set as `shitu models pull det rec drink` installs them in
// root (absolute, so it works from any folder); the gallery index goes to
// drink_dataset_v2.0/index and visualisations to ./output as PaddleClas's do.
func writeDrinkConfig(root string) (string, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return "", err
	}
	name := func(alias string) string {
		e, err := models.Lookup(alias)
		if err != nil {
			return alias
		}
		return e.Name
	}
	data := filepath.Join(abs, name("drink"))
	p := filepath.Join(abs, DrinkConfig)
	body := fmt.Sprintf(demoConfig, "PaddleClas inference_drink.yaml for the models and data set in this folder (written by 'shitu models pull drink')",
		filepath.Join(data, "test_images"), filepath.Join(abs, name("det")), filepath.Join(abs, name("rec")), "./output",
		filepath.Join(data, "gallery"), filepath.Join(data, "index"), filepath.Join(data, "gallery", "drink_label.txt"), "0.4")
	return p, writeFileAtomic(p, []byte(body))
}

func writeFileAtomic(p string, b []byte) error {
	tmp := p + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, p)
}

// writeDemoImages renders the synthetic gallery (12 products × 3 views),
// its list file and query images: perturbed single products, one product
// that is not in the gallery, and two shelf scenes.
func writeDemoImages(dir string) (galleryRoot, list, queries string, err error) {
	galleryRoot = filepath.Join(dir, "synthetic", "gallery")
	queries = filepath.Join(dir, "synthetic", "query")
	ps := synthdata.Products(13, 2026)
	known, stranger := ps[:12], ps[12]
	var lines []string
	for _, p := range known {
		for v := 0; v < 3; v++ {
			rel := fmt.Sprintf("%s/%d.jpg", p.Label, v)
			b, err := synthdata.EncodeJPEG(p.Render(240, 320, v), 92)
			if err != nil {
				return "", "", "", err
			}
			if err := synthdata.WriteFile(filepath.Join(galleryRoot, rel), b); err != nil {
				return "", "", "", err
			}
			lines = append(lines, rel+"\t"+p.Label)
		}
	}
	list = filepath.Join(galleryRoot, "label.txt")
	if err := os.WriteFile(list, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		return "", "", "", err
	}
	write := func(name string, img image.Image) error {
		b, err := synthdata.EncodeJPEG(img, 90)
		if err != nil {
			return err
		}
		return synthdata.WriteFile(filepath.Join(queries, name), b)
	}
	for i, p := range known[:4] {
		if err := write(fmt.Sprintf("query_%d_%s.jpg", i, p.Label), synthdata.Perturb(p.Render(240, 320, 0), 2, 1, 8)); err != nil {
			return "", "", "", err
		}
	}
	if err := write("query_unknown.jpg", stranger.Render(240, 320, 0)); err != nil {
		return "", "", "", err
	}
	for i := 0; i < 2; i++ {
		scene, _ := synthdata.Scene(1280, 720, known[i*4:i*4+4], uint64(i+1))
		if err := write(fmt.Sprintf("shelf_%d.jpg", i), scene); err != nil {
			return "", "", "", err
		}
	}
	return galleryRoot, list, queries, nil
}

// prepareSynthetic writes synthesized models, a generated gallery and its
// config into dir and builds the gallery; it returns the config path.
func prepareSynthetic(g *Globals, dir string) (string, error) {
	inst, err := models.Synth(filepath.Join(dir, "models"), 1)
	if err != nil {
		return "", err
	}
	var det, rec string
	for _, in := range inst {
		if in.Manifest.Role == models.RoleDetector {
			det = in.Dir
		} else {
			rec = in.Dir
		}
	}
	gal, list, queries, err := writeDemoImages(dir)
	if err != nil {
		return "", err
	}
	cfgPath, err := writeDemoConfig(dir, det, rec, gal, list, filepath.Join(dir, "index"), queries)
	if err != nil {
		return "", err
	}
	quiet := *g
	quiet.stdout = io.Discard
	if err := (&galleryBuildCmd{configFlags: configFlags{Config: cfgPath}}).Run(&quiet); err != nil {
		return "", fmt.Errorf("gallery build: %w", err)
	}
	return cfgPath, nil
}
