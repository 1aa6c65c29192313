package cli

import (
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/shitu-go/shitu"
	"github.com/shitu-go/shitu/config"
	"github.com/shitu-go/shitu/gallery"
)

type galleryCmd struct {
	Build  galleryBuildCmd  `cmd:"" help:"Build or update a gallery from IndexProcess (data_file, image_root, index_dir) of a PaddleClas config."`
	Add    galleryAddCmd    `cmd:"" help:"Add images under a label."`
	Remove galleryRemoveCmd `cmd:"" help:"Remove items by id, label or source path."`
	List   galleryListCmd   `cmd:"" help:"List items."`
	Stats  galleryStatsCmd  `cmd:"" help:"Counts, model fingerprint, index method, version."`
	Export galleryExportCmd `cmd:"" help:"Write vector.index + id_map.pkl (PaddleClas) or id_map.yaml (PaddleX)."`
	Import galleryImportCmd `cmd:"" help:"Create a gallery from a PaddleClas or PaddleX index_dir."`
}

// galleryDir is --dir, or IndexProcess.index_dir of -c.
type galleryDir struct {
	Dir       string   `help:"Gallery folder (default: IndexProcess.index_dir of -c)."`
	Config    string   `short:"c" type:"existingfile" help:"PaddleClas config (for IndexProcess.index_dir)."`
	Overrides []string `short:"o" help:"Override a config key (repeatable)."`
}

func (d galleryDir) dir() (string, error) {
	if d.Dir != "" {
		return d.Dir, nil
	}
	if d.Config == "" {
		return "", fmt.Errorf("give --dir or -c CONFIG")
	}
	cfg, err := config.Load(d.Config, d.Overrides)
	if err != nil {
		return "", err
	}
	if cfg.IndexProcess.IndexDir == "" {
		return "", fmt.Errorf("config: IndexProcess.index_dir is not set")
	}
	return cfg.IndexProcess.IndexDir, nil
}

func (d galleryDir) open() (*gallery.Gallery, error) {
	dir, err := d.dir()
	if err != nil {
		return nil, err
	}
	return shitu.OpenGalleryDir(dir)
}

type galleryBuildCmd struct {
	configFlags
	Strict   bool `help:"Stop at the first bad line or unreadable image and leave the gallery unchanged."`
	Sync     bool `help:"Make the gallery hold exactly the list (index_operation new): also remove items whose lines disappeared."`
	NoExport bool `help:"Do not write vector.index + id_map.pkl for PaddleClas beside the gallery."`
}

func (c *galleryBuildCmd) Run(g *Globals) error {
	cfg, err := c.load()
	if err != nil {
		return err
	}
	sys, err := g.openModels(cfg, c.Threads)
	if err != nil {
		return err
	}
	defer sys.Close()
	ip := sys.IndexProcess()
	bar := newCounter(g.stderr, "extracting")
	res, err := sys.Build(g.ctx, shitu.BuildOptions{Strict: c.Strict, Sync: c.Sync, NoExport: c.NoExport, Progress: bar.setInt})
	bar.done()
	for _, pr := range res.Problems {
		fmt.Fprintf(g.stderr, "shitu: gallery build: %s: %s\n", ip.DataFile, pr)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(g.stdout, "%s %s: %s\n", res.Operation, ip.IndexDir, res.Summary)
	if res.Recreated {
		fmt.Fprintln(g.stdout, "note: the old gallery was made with another model or index layout and was replaced")
	}
	for _, f := range res.Exported {
		fmt.Fprintf(g.stdout, "wrote %s\n", f)
	}
	return nil
}

type galleryAddCmd struct {
	configFlags
	Dir    string            `help:"Gallery folder (default: IndexProcess.index_dir)."`
	Label  string            `required:"" help:"Label of the images."`
	Meta   map[string]string `help:"Metadata key=value (repeatable)."`
	Images []string          `arg:"" help:"Image files."`
}

func (c *galleryAddCmd) Run(g *Globals) error {
	cfg, err := c.load()
	if err != nil {
		return err
	}
	dir := c.Dir
	if dir == "" {
		dir = cfg.IndexProcess.IndexDir
	}
	sys, err := g.openModels(cfg, c.Threads)
	if err != nil {
		return err
	}
	defer sys.Close()
	gal, err := sys.OpenGallery(shitu.DefaultGallery, dir)
	if err != nil {
		return err
	}
	items, err := gal.AddFiles(g.ctx, sys.Extractor(), c.Label, c.Meta, c.Images...)
	if err != nil {
		return err
	}
	for i, it := range items {
		fmt.Fprintf(g.stdout, "added %d\t%s\t%s\n", it.ID, c.Label, c.Images[i])
	}
	return nil
}

type galleryRemoveCmd struct {
	galleryDir
	IDs     []int64  `name:"id" help:"Item ids (repeatable)."`
	Labels  []string `name:"label" help:"Remove every item of these labels (repeatable)."`
	Sources []string `name:"source" help:"Remove the items of these source paths (repeatable)."`
}

func (c *galleryRemoveCmd) Run(g *Globals) error {
	if len(c.IDs)+len(c.Labels)+len(c.Sources) == 0 {
		return fmt.Errorf("say what to remove: --id, --label or --source")
	}
	gal, err := c.open()
	if err != nil {
		return err
	}
	defer gal.Close()
	total := 0
	if len(c.IDs) > 0 {
		n, err := gal.Remove(c.IDs...)
		if err != nil {
			return err
		}
		total += n
	}
	for _, l := range c.Labels {
		n, err := gal.RemoveLabel(l)
		if err != nil {
			return err
		}
		total += n
	}
	for _, s := range c.Sources {
		n, err := gal.RemoveSource(s)
		if err != nil {
			return err
		}
		total += n
	}
	fmt.Fprintf(g.stdout, "removed %d items; gallery version %d, %d items\n", total, gal.Version(), gal.Len())
	return nil
}

type galleryListCmd struct {
	galleryDir
	Label string `help:"Only this label."`
	Limit int    `default:"100" help:"Items to show (-1: all)."`
	Start int64  `help:"First id."`
}

func (c *galleryListCmd) Run(g *Globals) error {
	gal, err := c.open()
	if err != nil {
		return err
	}
	defer gal.Close()
	items, next, err := gal.List(gallery.ListOptions{Label: c.Label, Limit: c.Limit, Start: c.Start})
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(g.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tLABEL\tSOURCE\tMETADATA")
	for _, it := range items {
		var meta []string
		for k, v := range it.Meta {
			meta = append(meta, k+"="+v)
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\n", it.ID, it.Label, it.Source, strings.Join(meta, ","))
	}
	tw.Flush()
	if next >= 0 {
		fmt.Fprintf(g.stdout, "… more from --start %d\n", next)
	}
	return nil
}

type galleryStatsCmd struct {
	galleryDir
}

func (c *galleryStatsCmd) Run(g *Globals) error {
	gal, err := c.open()
	if err != nil {
		return err
	}
	defer gal.Close()
	s := gal.Stats()
	fmt.Fprintf(g.stdout, "items:   %d\nlabels:  %d\ndims:    %d\nmetric:  %s\nmethod:  %s\nbinary:  %v\nmodel:   %s\nversion: %d\ndisk:    %d bytes\n",
		s.Items, s.Labels, s.Dims, s.Metric, s.Method, s.Binary, s.Model, s.Version, s.DiskBytes)
	if global, per, ok, err := gal.Thresholds(); err == nil && ok {
		fmt.Fprintf(g.stdout, "thresholds: global %.4f, %d per-label\n", global, len(per))
	}
	return nil
}

type galleryExportCmd struct {
	galleryDir
	Format string `enum:"paddleclas,paddlex" default:"paddleclas" help:"paddleclas (vector.index + id_map.pkl) or paddlex (vector.index + id_map.yaml)."`
	Out    string `required:"" type:"path" help:"Folder to write into."`
}

func (c *galleryExportCmd) Run(g *Globals) error {
	gal, err := c.open()
	if err != nil {
		return err
	}
	defer gal.Close()
	files, err := shitu.Export(gal, c.Format, c.Out)
	if err != nil {
		return err
	}
	for _, f := range files {
		fmt.Fprintf(g.stdout, "wrote %s\n", f)
	}
	return nil
}

type galleryImportCmd struct {
	configFlags
	Src string `arg:"" type:"existingdir" help:"PaddleClas or PaddleX index_dir."`
	Dir string `required:"" type:"path" help:"New gallery folder."`
}

func (c *galleryImportCmd) Run(g *Globals) error {
	cfg, err := c.load()
	if err != nil {
		return err
	}
	sys, err := g.openModels(cfg, c.Threads)
	if err != nil {
		return err
	}
	defer sys.Close()
	gal, err := sys.Import(shitu.DefaultGallery, c.Src, c.Dir)
	if err != nil {
		return err
	}
	fmt.Fprintf(g.stdout, "imported %d items from %s into %s\n", gal.Len(), c.Src, c.Dir)
	return nil
}
