package cli

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/shitu-go/shitu"
	"github.com/shitu-go/shitu/api"
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
	Delete galleryDeleteCmd `cmd:"" help:"Delete a gallery (its store and index snapshot; exported PaddleClas files beside it are kept)."`
}

// galleryDir is --dir, or IndexProcess.index_dir of -c.
type galleryDir struct {
	Dir       string   `help:"Gallery folder (default: IndexProcess.index_dir of -c)."`
	Config    string   `short:"c" type:"existingfile" help:"PaddleClas config (for IndexProcess.index_dir)."`
	Overrides []string `short:"o" sep:"none" help:"Override a config key (repeatable)."`
}

func (d galleryDir) dir(g *Globals) (string, error) {
	if d.Dir != "" {
		return d.Dir, nil
	}
	if d.Config == "" {
		return "", fmt.Errorf("give --dir or -c CONFIG")
	}
	cfg, err := configFlags{Config: d.Config, Overrides: d.Overrides}.load(g)
	if err != nil {
		return "", err
	}
	if cfg.IndexProcess.IndexDir == "" {
		return "", fmt.Errorf("config: IndexProcess.index_dir is not set")
	}
	return cfg.IndexProcess.IndexDir, nil
}

func (d galleryDir) open(g *Globals) (*gallery.Gallery, error) {
	dir, err := d.dir(g)
	if err != nil {
		return nil, err
	}
	return openLocal(dir)
}

// openRead opens a gallery for a read-only command; when a running
// `shitu serve` has it open, it returns a client of that server instead.
func (d galleryDir) openRead(g *Globals) (*gallery.Gallery, *api.Client, string, error) {
	dir, err := d.dir(g)
	if err != nil {
		return nil, nil, "", err
	}
	gal, err := shitu.OpenGalleryDir(dir)
	if errors.Is(err, gallery.ErrLocked) {
		if c, name := servedClient(dir); c != nil {
			return nil, c, name, nil
		}
		return nil, nil, "", lockedError(dir, err)
	}
	return gal, nil, "", err
}

type galleryBuildCmd struct {
	configFlags
	Strict   bool `help:"Stop at the first bad line or unreadable image and leave the gallery unchanged."`
	Sync     bool `help:"Make the gallery hold exactly the list (index_operation new): also remove items whose lines disappeared."`
	NoExport bool `help:"Do not write vector.index + id_map.pkl for PaddleClas beside the gallery."`
}

func (c *galleryBuildCmd) Run(g *Globals) error {
	cfg, err := c.load(g)
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
	Images []string          `arg:"" help:"Image files or folders (searched recursively, as predict does)."`
}

func (c *galleryAddCmd) Run(g *Globals) error {
	cfg, err := c.load(g)
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
	if errors.Is(err, gallery.ErrLocked) {
		return lockedError(dir, err)
	}
	if err != nil {
		return err
	}
	files, err := imageList(c.Images) // folders as predict takes them
	if err != nil {
		return err
	}
	items, err := gal.AddFiles(g.ctx, sys.Extractor(), c.Label, c.Meta, files...)
	if err != nil {
		return err
	}
	for _, it := range items {
		fmt.Fprintf(g.stdout, "added %d\t%s\t%s\n", it.ID, c.Label, it.Source)
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
	gal, err := c.open(g)
	if err != nil {
		return err
	}
	defer gal.Close()
	total := 0
	var missing []string // what matched nothing: said, and the exit code is 1
	if len(c.IDs) > 0 {
		n, err := gal.Remove(c.IDs...)
		if err != nil {
			return err
		}
		if n < len(c.IDs) {
			missing = append(missing, fmt.Sprintf("%d of the %d ids", len(c.IDs)-n, len(c.IDs)))
		}
		total += n
	}
	for _, l := range c.Labels {
		n, err := gal.RemoveLabel(l)
		if err != nil {
			return err
		}
		if n == 0 {
			missing = append(missing, fmt.Sprintf("label %q", l))
		}
		total += n
	}
	for _, s := range c.Sources {
		n, err := gal.RemoveSource(s)
		if err != nil {
			return err
		}
		if n == 0 {
			missing = append(missing, fmt.Sprintf("source %q", s))
		}
		total += n
	}
	fmt.Fprintf(g.stdout, "removed %d items; gallery version %d, %d items\n", total, gal.Version(), gal.Len())
	if len(missing) > 0 {
		return exitError{code: 1, msg: "gallery remove: nothing matched " + strings.Join(missing, ", ")}
	}
	return nil
}

type galleryListCmd struct {
	galleryDir
	Label string `help:"Only this label."`
	Limit int    `default:"100" help:"Items to show (-1: all)."`
	Start int64  `help:"First id."`
}

func (c *galleryListCmd) Run(g *Globals) error {
	if c.Limit == 0 || c.Limit < -1 {
		return fmt.Errorf("gallery list: --limit %d: give a positive number, or -1 for all", c.Limit)
	}
	gal, client, name, err := c.openRead(g)
	if err != nil {
		return err
	}
	// Pages of at most 10 000 items, until --limit items or the end.
	page := func(start int64, n int) ([]gallery.Item, int64, error) {
		if client == nil {
			return gal.List(gallery.ListOptions{Label: c.Label, Limit: n, Start: start})
		}
		r, err := client.ListItems(g.ctx, name, c.Label, start, n)
		if err != nil {
			return nil, 0, err
		}
		items := make([]gallery.Item, len(r.Items))
		for i, it := range r.Items {
			items[i] = gallery.Item{ID: it.ID, Label: it.Label, Source: it.Source, Meta: it.Metadata}
		}
		return items, r.Next, nil
	}
	if gal != nil {
		defer gal.Close()
	}
	var items []gallery.Item
	next := c.Start
	for next >= 0 && (c.Limit < 0 || len(items) < c.Limit) {
		n := 10000
		if c.Limit > 0 {
			n = min(n, c.Limit-len(items))
		}
		got, nx, err := page(next, n)
		if err != nil {
			return err
		}
		items, next = append(items, got...), nx
	}
	rows := [][]string{{"ID", "LABEL", "SOURCE", "METADATA"}}
	for _, it := range items {
		var meta []string
		for k, v := range it.Meta {
			meta = append(meta, k+"="+v)
		}
		sort.Strings(meta)
		rows = append(rows, []string{strconv.FormatInt(it.ID, 10), it.Label, it.Source, strings.Join(meta, ",")})
	}
	writeTable(g.stdout, rows)
	if next >= 0 {
		fmt.Fprintf(g.stdout, "… more from --start %d\n", next)
	}
	return nil
}

type galleryStatsCmd struct {
	galleryDir
}

func (c *galleryStatsCmd) Run(g *Globals) error {
	gal, client, name, err := c.openRead(g)
	if err != nil {
		return err
	}
	if client != nil {
		s, err := client.Gallery(g.ctx, name)
		if err != nil {
			return err
		}
		fmt.Fprintf(g.stdout, "items:   %d\nlabels:  %d\ndims:    %d\nmetric:  %s\nmethod:  %s\nbinary:  %v\nmodel:   %s\nversion: %d\ndisk:    %d bytes\nserved:  %s (gallery %q)\n",
			s.Items, s.Labels, s.Dims, s.Metric, s.Method, s.Binary, s.Model, s.Version, s.DiskBytes, client.Base, s.Name)
		return nil
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
	gal, err := c.open(g)
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
	cfg, err := c.load(g)
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

type galleryDeleteCmd struct {
	galleryDir
	Yes bool `help:"Really delete (without it the command only says what it would delete)."`
}

func (c *galleryDeleteCmd) Run(g *Globals) error {
	dir, err := c.dir(g)
	if err != nil {
		return err
	}
	gal, err := openLocal(dir)
	if err != nil {
		return err
	}
	st := gal.Stats()
	gal.Close()
	if !c.Yes {
		return fmt.Errorf("gallery delete: %s holds %d items under %d labels; add --yes to delete it", dir, st.Items, st.Labels)
	}
	if err := gallery.Delete(dir); err != nil {
		return err
	}
	fmt.Fprintf(g.stdout, "deleted %s (%d items)\n", dir, st.Items)
	return nil
}
