package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/shitu-go/shitu"
	"github.com/shitu-go/shitu/api"
	"github.com/shitu-go/shitu/imaging"
	"github.com/shitu-go/shitu/recognize"
)

type predictCmd struct {
	configFlags
	Paths  []string `arg:"" optional:"" help:"Images or folders (default: Global.infer_imgs)."`
	Format string   `enum:"json,paddleclas" default:"json" help:"Output: json (one line per image) or paddleclas (what predict_system.py prints, except that rec_docs is the whole label: predict_system.py prints id_map[id].split()[1], a label with spaces cut at the first one)."`
	Draw   bool     `default:"true" negatable:"" help:"Write visualisations to Global.output_dir."`
	Whole  string   `name:"whole-image" enum:"always,fallback,never" default:"always" help:"When the whole image joins the detections: always (PaddleClas), fallback (PaddleX: only when nothing is detected), never."`
}

// PaddleClas' get_image_list extensions (ppshitu-pipeline.md §3.1); other
// files are taken when their content is an image.
var imageExts = map[string]bool{".jpg": true, ".jpeg": true, ".png": true, ".bmp": true}

// imageList expands files and folders (recursively, sorted).
func imageList(paths []string) ([]string, error) {
	var out []string
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil || !st.IsDir() {
			// A missing or unreadable file is reported where it is read,
			// like an undecodable one: an error line, the run goes on.
			out = append(out, p)
			continue
		}
		var found []string
		err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() {
				return nil
			}
			if imageExts[strings.ToLower(filepath.Ext(path))] || sniffFile(path) {
				found = append(found, path)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		sort.Strings(found)
		out = append(out, found...)
	}
	return out, nil
}

func sniffFile(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	head := make([]byte, 32)
	n, _ := f.Read(head)
	return imaging.Sniff(head[:n]) != ""
}

func (c *predictCmd) Run(g *Globals) error {
	cfg, err := c.load(g)
	if err != nil {
		return err
	}
	paths := c.Paths
	if len(paths) == 0 {
		if cfg.Global.InferImgs == "" {
			return fmt.Errorf("no images given and Global.infer_imgs is not set")
		}
		paths = []string{cfg.Global.InferImgs}
	}
	files, err := imageList(paths)
	if err != nil {
		return err
	}
	sys, err := g.open(cfg, c.Threads, shitu.Options{Recognize: func(o *recognize.Options) (err error) {
		o.WholeImage, err = recognize.ParseWholeImage(c.Whole)
		o.KeepUnknown = c.Format == "json"
		return err
	}})
	if err != nil {
		return err
	}
	defer sys.Close()
	gal, err := sys.Gallery(shitu.DefaultGallery)
	if err != nil {
		return err
	}
	outDir := cfg.Global.OutputDir
	painter := recognize.NewPainter("")
	if sys.Synthetic() {
		painter.Mark = "SYNTHETIC: seeded weights, not trained"
	}
	names := outputNames(files)
	failed := 0
	load := func(_ context.Context, i int) (*imaging.Image, error) {
		return imaging.DecodeFile(files[i], imaging.DecodeOptions{})
	}
	// The next file is decoded and preprocessed while this one is in the
	// models; lines come out in file order.
	err = sys.RecognizeStream(g.ctx, len(files), load, func(fr recognize.Frame, res *recognize.Result) error {
		f := files[fr.Index]
		line, err := c.one(g, sys, painter, f, filepath.Join(outDir, names[f]), fr, res)
		if err != nil {
			failed++
			fmt.Fprintf(g.stderr, "shitu: predict: %s: %s\n", f, errWithoutPath(err, f))
			return nil
		}
		if c.Format == "paddleclas" {
			fmt.Fprintln(g.stdout, recognize.FormatPaddleClas(res.Objects, gal.Binary()))
		} else {
			b, _ := json.Marshal(line)
			fmt.Fprintln(g.stdout, string(b))
		}
		return nil
	})
	if err != nil {
		return err
	}
	if failed > 0 {
		return exitError{code: 1, msg: fmt.Sprintf("%d of %d images could not be recognised", failed, len(files))}
	}
	return nil
}

// one finishes one file of the stream: its JSON answer (the type of
// /v1/recognize) and the visualisation, written to outPath.
func (c *predictCmd) one(g *Globals, sys *shitu.System, painter *recognize.Painter, path, outPath string, fr recognize.Frame, res *recognize.Result) (*api.RecognizeResponse, error) {
	if fr.Err != nil {
		return nil, fr.Err
	}
	img := fr.Image
	line := shitu.Response(shitu.DefaultGallery, img.W, img.H, res, fr.Load)
	line.Path, line.Synthetic = path, sys.Synthetic()
	if g.Verbose {
		t := line.TimingsMS
		fmt.Fprintf(g.stderr, "%s: decode %.1fms detect %.1fms crop %.1fms rec %.1fms search %.2fms nms %.2fms\n",
			path, t.Decode, t.Detect, t.Crop, t.Rec, t.Search, t.NMS)
	}
	if c.Draw && outPath != "" {
		out, err := savePainted(painter, img, res.Objects, outPath, c.Format == "paddleclas")
		if err != nil {
			return nil, err
		}
		line.Visualization = out
	}
	return &line, nil
}

// outputNames names each input's visualisation: its path relative to the
// folder all inputs share, so that one folder's files keep their base
// names, as PaddleClas names them (§9.2), and a/1.jpg and b/1.jpg do not
// overwrite each other.
func outputNames(files []string) map[string]string {
	out := make(map[string]string, len(files))
	if len(files) == 0 {
		return out
	}
	abs := make([]string, len(files))
	for i, f := range files {
		a, err := filepath.Abs(f)
		if err != nil {
			a = filepath.Clean(f)
		}
		abs[i] = a
	}
	common := filepath.Dir(abs[0])
	for _, a := range abs[1:] {
		for !strings.HasPrefix(a, common+string(filepath.Separator)) && common != filepath.Dir(common) {
			common = filepath.Dir(common)
		}
	}
	for i, f := range files {
		rel, err := filepath.Rel(common, abs[i])
		if err != nil || strings.HasPrefix(rel, "..") {
			rel = filepath.Base(f)
		}
		out[f] = rel
	}
	return out
}

// savePainted writes the visualisation to outPath (the folder is made) as
// PaddleClas does (§9.2): JPEG quality 95 for .jpg/.jpeg, PNG for .png,
// else JPEG with ".jpg" appended. Only accepted boxes are drawn in
// paddleclas mode.
func savePainted(p *recognize.Painter, img *imaging.Image, objs []recognize.Object, outPath string, knownOnly bool) (string, error) {
	if knownOnly {
		var k []recognize.Object
		for _, o := range objs {
			if o.Known() {
				k = append(k, o)
			}
		}
		objs = k
	}
	d, err := p.Draw(img, objs)
	if err != nil {
		return "", err
	}
	outDir, name := filepath.Split(outPath)
	if outDir != "" {
		if err := os.MkdirAll(outDir, 0o755); err != nil {
			return "", err
		}
	}
	var b bytes.Buffer
	switch strings.ToLower(filepath.Ext(name)) {
	case ".jpg", ".jpeg":
		err = imaging.EncodeJPEG(&b, d, 95)
	case ".png":
		err = imaging.EncodePNG(&b, d)
	default:
		name += ".jpg"
		err = imaging.EncodeJPEG(&b, d, 95)
	}
	if err != nil {
		return "", err
	}
	out := filepath.Join(outDir, name)
	return out, os.WriteFile(out, b.Bytes(), 0o644)
}

// errWithoutPath is err's message without the file name it repeats, for
// lines that name the file once already.
func errWithoutPath(err error, path string) string {
	var pe *fs.PathError
	if errors.As(err, &pe) && pe.Path == path {
		return pe.Err.Error()
	}
	return strings.ReplaceAll(err.Error(), path+": ", "")
}
