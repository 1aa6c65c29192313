package cli

import (
	"fmt"
	"path/filepath"

	"github.com/shitu-go/shitu"
	"github.com/shitu-go/shitu/eval"
	"github.com/shitu-go/shitu/gallery"
	"github.com/shitu-go/shitu/imaging"
)

type evalCmd struct {
	Retrieval evalRetrievalCmd `cmd:"" help:"recall@k, mAP and precision@k of the feature extractor on PaddleClas list files."`
	Pipeline  evalPipelineCmd  `cmd:"" help:"Evaluate the whole pipeline as eval_shitu_pipeline.py does, and with shitu's deployed rules."`
	Calibrate evalCalibrateCmd `cmd:"" help:"Choose global and per-label acceptance thresholds for a target precision; optionally store them in the gallery."`
}

// evalOut is where reports go.
type evalOut struct {
	Out string `default:"eval-out" type:"path" help:"Folder for report.json, report.txt and the PNG plots."`
}

func (o evalOut) write(g *Globals, r *eval.Report) error {
	if err := r.WriteText(g.stdout); err != nil {
		return err
	}
	files, err := r.WriteFiles(o.Out)
	if err != nil {
		return err
	}
	for _, f := range files {
		fmt.Fprintf(g.stdout, "wrote %s\n", f)
	}
	return nil
}

type evalRetrievalCmd struct {
	configFlags
	evalOut
	Query       string `required:"" type:"existingfile" help:"Query list: 'path label [unique_id]' per line (space-separated, PaddleClas format; a line with TABs is split on TABs, so labels may hold spaces)."`
	Gallery     string `type:"existingfile" help:"Gallery list (default: the query list is also the gallery; a 3rd column then excludes self-matches)."`
	Root        string `help:"Folder the query paths are relative to (default: the list's folder)."`
	GalleryRoot string `help:"Folder the gallery paths are relative to (default: the list's folder)."`
	K           []int  `default:"1,5" help:"Cut-offs of recall@k and precision@k."`
}

func (c *evalRetrievalCmd) Run(g *Globals) error {
	cfg, err := c.load(g)
	if err != nil {
		return err
	}
	sys, err := g.openModels(cfg, c.Threads)
	if err != nil {
		return err
	}
	defer sys.Close()
	q, err := eval.ReadList(c.Query)
	if err != nil {
		return err
	}
	le := eval.ListEval{Query: q, QueryRoot: rootOf(c.Root, c.Query), Options: eval.RetrievalOptions{TopK: c.K}}
	if c.Gallery == "" && !hasUniqueIDs(q) {
		fmt.Fprintln(g.stderr, "shitu: eval: warning: the query list is also the gallery and has no unique_id column, so every query finds itself (recall@1 = 1), as in PaddleClas; add a 3rd column to exclude self-matches")
	}
	if c.Gallery != "" {
		if le.Gallery, err = eval.ReadList(c.Gallery); err != nil {
			return err
		}
		le.GalleryRoot = rootOf(c.GalleryRoot, c.Gallery)
	}
	bar := newCounter(g.stderr, "extracting")
	le.Progress = bar.setInt
	r, err := eval.EvaluateLists(g.ctx, sys.Extractor(), le)
	bar.done()
	if err != nil {
		return err
	}
	return c.write(g, &eval.Report{Name: filepath.Base(c.Query), Retrieval: r})
}

func rootOf(root, list string) string {
	if root != "" {
		return root
	}
	return filepath.Dir(list)
}

// evalSystem loads the models and the gallery of a config into a system.
func (g *Globals) evalSystem(c configFlags) (*shitu.System, *gallery.Gallery, error) {
	cfg, err := c.load(g)
	if err != nil {
		return nil, nil, err
	}
	sys, err := g.open(cfg, c.Threads, shitu.Options{})
	if err != nil {
		return nil, nil, err
	}
	gal, err := sys.Gallery(shitu.DefaultGallery)
	if err != nil {
		sys.Close()
		return nil, nil, err
	}
	return sys, gal, nil
}

type evalPipelineCmd struct {
	configFlags
	evalOut
	Query string `required:"" type:"existingfile" help:"Query list: 'path label' per line (path<TAB>label: the label may hold spaces)."`
	Root  string `help:"Folder the query paths are relative to (default: the list's folder)."`
}

func (c *evalPipelineCmd) Run(g *Globals) error {
	sys, gal, err := g.evalSystem(c.configFlags)
	if err != nil {
		return err
	}
	defer sys.Close()
	opts := sys.Options()
	q, err := eval.ReadList(c.Query)
	if err != nil {
		return err
	}
	labels := map[string]bool{}
	for l := range gal.Labels() {
		labels[l] = true
	}
	bar := newCounter(g.stderr, "recognising")
	qs, err := eval.RunPipeline(g.ctx, eval.SystemRecognizer(sys.RecognizerFor(gal), opts, imaging.DecodeOptions{}), q, rootOf(c.Root, c.Query), labels, bar.setInt)
	bar.done()
	if err != nil {
		return err
	}
	res, err := eval.Pipeline(qs)
	if err != nil {
		return err
	}
	return c.write(g, &eval.Report{Name: filepath.Base(c.Query), Pipeline: res})
}

type evalCalibrateCmd struct {
	configFlags
	evalOut
	Query      string  `type:"existingfile" help:"Labelled query list ('path label', or path<TAB>label with spaces in the label); queries whose label is not in the gallery count as unknowns."`
	Root       string  `help:"Folder the query paths are relative to (default: the list's folder)."`
	LOO        bool    `name:"leave-one-out" help:"Calibrate on the gallery itself: each item queries the others (labels with one image act as unknowns)."`
	Precision  float64 `default:"0.95" help:"Target precision of accepted answers."`
	MinSupport int     `default:"10" help:"Samples a label needs for its own threshold (else the global one)."`
	MinImages  int     `default:"3" help:"Labels with fewer gallery images are reported."`
	Save       bool    `help:"Store the thresholds in the gallery: predict and serve then answer unknown below them."`
}

func (c *evalCalibrateCmd) Run(g *Globals) error {
	if (c.Query == "") == !c.LOO {
		return fmt.Errorf("give either --query LIST or --leave-one-out")
	}
	sys, gal, err := g.evalSystem(c.configFlags)
	if err != nil {
		return err
	}
	defer sys.Close()
	opts := sys.Options()
	items, counts, err := eval.GalleryItems(gal)
	if err != nil {
		return err
	}
	var samples []eval.Sample
	rep := &eval.Report{MinImages: c.MinImages}
	if c.LOO {
		rep.Name = "leave-one-out"
		bar := newCounter(g.stderr, "leave-one-out")
		samples, err = eval.LeaveOneOut(items, eval.LeaveOneOutOptions{Progress: bar.setInt})
		bar.done()
	} else {
		rep.Name = filepath.Base(c.Query)
		var q []eval.ListEntry
		if q, err = eval.ReadList(c.Query); err != nil {
			return err
		}
		labels := map[string]bool{}
		for l := range counts {
			labels[l] = true
		}
		bar := newCounter(g.stderr, "recognising")
		var qs []eval.PipelineQuery
		qs, err = eval.RunPipeline(g.ctx, eval.SystemRecognizer(sys.RecognizerFor(gal), opts, imaging.DecodeOptions{}), q, rootOf(c.Root, c.Query), labels, bar.setInt)
		bar.done()
		if err == nil {
			samples = eval.PipelineSamples(qs)
		}
	}
	if err != nil {
		return err
	}
	cal, err := eval.Calibrate(samples, eval.CalibrateOptions{TargetPrecision: c.Precision, MinSupport: c.MinSupport,
		GalleryCounts: counts, MinImages: c.MinImages})
	if err != nil {
		return err
	}
	rep.Calibration = cal
	if err := c.write(g, rep); err != nil {
		return err
	}
	if c.Save {
		if err := eval.SaveThresholds(gal, cal.Thresholds); err != nil {
			return err
		}
		fmt.Fprintf(g.stdout, "stored thresholds in %s: global %.4f, %d per-label\n", gal.Dir(), cal.Thresholds.Global, len(cal.Thresholds.PerLabel))
	}
	return nil
}

func hasUniqueIDs(es []eval.ListEntry) bool {
	for _, e := range es {
		if e.UniqueID != "" {
			return true
		}
	}
	return false
}
