package cli

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/shitu-go/shitu/models"
	"github.com/shitu-go/shitu/onnx"
)

type modelsCmd struct {
	Synth       modelsSynthCmd       `cmd:"" help:"Write both PP-ShiTuV2 networks with seeded weights (ONNX) plus manifests."`
	Info        modelsInfoCmd        `cmd:"" help:"Count parameters and multiply-accumulates of an ONNX model."`
	List        modelsListCmd        `cmd:"" help:"List the installed models."`
	Pull        modelsPullCmd        `cmd:"" help:"Download, check, unpack and convert an official model."`
	Convert     modelsConvertCmd     `cmd:"" help:"Convert a Paddle inference model folder to ONNX (cached next to it); the converted ops are listed in docs/paddle-ops.md."`
	Mirror      modelsMirrorCmd      `cmd:"" help:"Write a mirror folder of official-layout tarballs of the synthesized networks (for offline pull and demo tests)."`
	Quantize    modelsQuantizeCmd    `cmd:"" help:"Write an int8 twin of a det or rec model, calibrated on images (ONNX QDQ for ONNX Runtime's int8 kernels)."`
	Compare     modelsCompareCmd     `cmd:"" help:"Accuracy of a model's int8 twin against the float model on synthetic images (cosine, gallery top-1, boxes)."`
	SynthImages modelsSynthImagesCmd `cmd:"" name:"synth-images" help:"Write synthetic product crops or shelf scenes (calibration images)."`
}

type modelsMirrorCmd struct {
	Out  string `required:"" type:"path" help:"Mirror folder to write."`
	Seed int64  `default:"1" help:"Weight seed."`
}

func (c *modelsMirrorCmd) Run(g *Globals) error {
	files, err := models.SynthMirror(c.Out, c.Seed)
	if err != nil {
		return err
	}
	for _, f := range files {
		fmt.Fprintf(g.stdout, "wrote %s (Paddle inference model, %s)\n", f, models.SynthNote)
	}
	fmt.Fprintf(g.stdout, "use it with: SHITU_MIRROR=%s shitu models pull det rec\n", c.Out)
	return nil
}

// modelsRoot is --root, SHITU_MODELS, or the per-user cache.
type modelsRoot struct {
	Root string `env:"SHITU_MODELS" help:"Models folder (default: the user cache folder's shitu/models)."`
}

func (m modelsRoot) dir() string {
	if m.Root != "" {
		return m.Root
	}
	c, _ := os.UserCacheDir()
	return models.DefaultRoot(c)
}

type modelsSynthCmd struct {
	Out  string `required:"" type:"path" help:"Folder to write into."`
	Seed int64  `default:"1" help:"Weight seed."`
}

func (c *modelsSynthCmd) Run(g *Globals) error {
	inst, err := models.Synth(c.Out, c.Seed)
	if err != nil {
		return err
	}
	for _, in := range inst {
		fmt.Fprintf(g.stdout, "%s\t%s\n", in.Dir, in.Manifest.Note)
	}
	return nil
}

type modelsInfoCmd struct {
	File      string `arg:"" type:"existingfile" help:"ONNX model file."`
	ByOp      bool   `help:"Break parameters and MACs down by op type."`
	InputSize string `name:"input-size" placeholder:"HxW" help:"Count MACs at this image size for image inputs with a dynamic height and width (converted models have them), e.g. 224x224."`
}

func (c *modelsInfoCmd) Run(g *Globals) error {
	m, err := onnx.ReadFile(c.File)
	if err != nil {
		return err
	}
	shapes := map[string][]int64{}
	dynImage := false
	for _, vi := range m.GetGraph().GetInput() {
		if s := onnx.ShapeOf(vi); len(s) == 4 && (s[2] < 0 || s[3] < 0) {
			dynImage = true
		}
	}
	if c.InputSize != "" {
		var h, w int64
		if _, err := fmt.Sscanf(c.InputSize, "%dx%d", &h, &w); err != nil || h <= 0 || w <= 0 || h > 16384 || w > 16384 {
			return fmt.Errorf("--input-size %q: want HxW with sides 1..16384, e.g. 224x224", c.InputSize)
		}
		for _, vi := range m.GetGraph().GetInput() {
			if s := onnx.ShapeOf(vi); len(s) == 4 && (s[2] < 0 || s[3] < 0) {
				shapes[vi.GetName()] = []int64{s[0], s[1], h, w}
			}
		}
	}
	info, err := onnx.AnalyzeShapes(m, shapes)
	if err != nil {
		return err
	}
	w := g.stdout
	fmt.Fprintf(w, "model:      %s (IR %d, opset %d, producer %q)\n", c.File, info.IRVersion, info.Opset, info.Producer)
	for _, in := range info.Inputs {
		fmt.Fprintf(w, "input:      %s %v %v\n", in.Name, in.Type, in.Shape)
	}
	for _, out := range info.Outputs {
		fmt.Fprintf(w, "output:     %s %v %v\n", out.Name, out.Type, out.Shape)
	}
	fmt.Fprintf(w, "parameters: %d values in %d tensors (%.2f M)\n", info.Params, info.ParamTensors, float64(info.Params)/1e6)
	fmt.Fprintf(w, "MACs:       %d (%.3f G, batch 1)\n", info.MACs, float64(info.MACs)/1e9)
	if dynImage && c.InputSize == "" {
		fmt.Fprintf(w, "warning:    the image input has a dynamic height and width: only nodes whose size does not depend on it are counted (--input-size HxW counts at that size)\n")
	}
	var ops []string
	for op, n := range info.Nodes {
		ops = append(ops, fmt.Sprintf("%s×%d", op, n))
	}
	sort.Strings(ops)
	fmt.Fprintf(w, "nodes:      %s\n", strings.Join(ops, " "))
	if len(info.Unresolved) > 0 {
		fmt.Fprintf(w, "warning:    MACs of %d nodes unknown (dynamic shapes): %s\n", len(info.Unresolved), strings.Join(info.Unresolved, ", "))
	}
	if c.ByOp {
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "op\tparams\tMACs\t")
		keys := map[string]bool{}
		for k := range info.ParamsByOp {
			keys[k] = true
		}
		for k := range info.MACsByOp {
			keys[k] = true
		}
		var ks []string
		for k := range keys {
			ks = append(ks, k)
		}
		sort.Strings(ks)
		for _, k := range ks {
			fmt.Fprintf(tw, "%s\t%d\t%d\t\n", k, info.ParamsByOp[k], info.MACsByOp[k])
		}
		tw.Flush()
	}
	return nil
}

type modelsListCmd struct {
	modelsRoot
}

func (c *modelsListCmd) Run(g *Globals) error {
	list, err := models.List(c.dir())
	if err != nil {
		return err
	}
	if len(list) == 0 {
		fmt.Fprintf(g.stdout, "no models under %s (try `shitu models pull NAME`; known: %s)\n", c.dir(), catalogNames())
		return nil
	}
	tw := tabwriter.NewWriter(g.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tROLE\tSOURCE\tNOTE")
	for _, in := range list {
		m := in.Manifest
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", m.Name, m.Role, m.Source, m.Note)
	}
	return tw.Flush()
}

func catalogNames() string {
	var n []string
	for _, e := range models.Catalog() {
		n = append(n, e.Name)
	}
	return strings.Join(n, ", ")
}

type modelsPullCmd struct {
	modelsRoot
	Names  []string `arg:"" help:"Catalogue names (see shitu models list)."`
	Mirror string   `env:"SHITU_MIRROR" help:"A local folder or base URL holding the official tarballs (for offline machines)."`
	SHA256 string   `name:"sha256" help:"Expected sha256 of the tarball (one name only)."`
	Force  bool     `help:"Replace an installed copy."`
}

func (c *modelsPullCmd) Run(g *Globals) error {
	if c.SHA256 != "" && len(c.Names) != 1 {
		return errors.New("--sha256 goes with exactly one name")
	}
	for _, name := range c.Names {
		bar := newProgress(g.stderr, "pull "+name)
		in, err := models.Pull(g.ctx, name, models.PullOptions{Root: c.dir(), Mirror: c.Mirror, SHA256: c.SHA256,
			Force: c.Force, Progress: bar.set, Log: g.stderr, Converter: models.PaddleConverter})
		bar.done()
		if err != nil {
			return pullError(name, c.Mirror, err)
		}
		state := "already installed"
		if in.Fresh {
			state = "installed"
		}
		fmt.Fprintf(g.stdout, "%s: %s in %s\n", name, state, in.Dir)
		if e, err := models.Lookup(name); err == nil && e.Role == models.RoleDataset && strings.HasPrefix(e.Name, "drink_dataset") {
			p, err := writeDrinkConfig(c.dir())
			if err != nil {
				return err
			}
			fmt.Fprintf(g.stdout, "%s: wrote %s (use it with -c; it names the det and rec models in the same folder)\n", name, p)
		}
	}
	return nil
}

type modelsConvertCmd struct {
	Dir           string `arg:"" type:"existingdir" help:"Paddle inference model folder (inference.pdmodel + inference.pdiparams)."`
	Force         bool   `help:"Convert again even when a valid conversion is cached (conversions made before image sizes became dynamic keep their fixed size until then)."`
	Cache         string `help:"Folder for conversions of read-only model folders."`
	PinInputShape bool   `name:"pin-input-shape" help:"Keep the image input size stored in the program (e.g. 3x32x100) instead of a dynamic height and width; implies --force."`
}

func (c *modelsConvertCmd) Run(g *Globals) error {
	conv := models.PaddleConverter
	if c.PinInputShape {
		conv = models.PaddleConverterPinned
	}
	r, err := models.Resolve(g.ctx, c.Dir, models.ResolveOptions{Converter: conv, Force: c.Force || c.PinInputShape, CacheDir: c.Cache})
	if err != nil {
		return err
	}
	state := "cached"
	if r.Converted {
		state = "converted"
	}
	fmt.Fprintf(g.stdout, "%s: %s → %s\n", c.Dir, state, r.Path)
	if g.Verbose && r.Manifest != nil {
		fmt.Fprintf(g.stdout, "manifest: %s\n", filepath.Join(filepath.Dir(r.Path), "manifest.json"))
	}
	return nil
}

// pullError says how to pull offline when a download failed without a
// mirror.
func pullError(name, mirror string, err error) error {
	if errors.Is(err, models.ErrDownload) && mirror == "" {
		return fmt.Errorf("pull %s: %w\n(offline? put the official tarballs in a folder and set SHITU_MIRROR=/that/folder or pass --mirror; `shitu models mirror --out DIR` writes synthesized ones to try it)", name, err)
	}
	return fmt.Errorf("pull %s: %w", name, err)
}
