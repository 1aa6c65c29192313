package cli

import (
	"errors"
	"fmt"
	"os"

	"github.com/shitu-go/shitu"
	"github.com/shitu-go/shitu/config"
	"github.com/shitu-go/shitu/gallery"
)

// configFlags are -c and repeated -o, as PaddleClas' tools take them.
type configFlags struct {
	Config    string   `short:"c" required:"" type:"existingfile" help:"PaddleClas inference config (e.g. inference_general.yaml)."`
	Overrides []string `short:"o" sep:"none" help:"Override a config key, PaddleClas style: -o Global.threshold=0.3 (repeatable)."`
	Threads   int      `help:"Intra-op threads per model run (default: Global.cpu_num_threads, else all cores)."`
}

// load reads the config and prints its warnings (unknown keys, options
// shitu ignores) to stderr, once each per run.
func (c configFlags) load(g *Globals) (*config.Config, error) {
	cfg, err := config.Load(c.Config, c.Overrides)
	if err != nil {
		return nil, err
	}
	g.warnConfig(cfg)
	return cfg, nil
}

// warnConfig prints a config's warnings that were not printed yet.
func (g *Globals) warnConfig(cfg *config.Config) {
	for _, w := range cfg.Warnings() {
		if g.warned == nil {
			g.warned = map[string]bool{}
		}
		if !g.warned[w] {
			g.warned[w] = true
			fmt.Fprintln(g.stderr, "shitu: warning:", w)
		}
	}
}

// open opens the system a config describes with ONNX Runtime from
// --ort-lib; o.Threads defaults to --threads.
func (g *Globals) open(cfg *config.Config, threads int, o shitu.Options) (*shitu.System, error) {
	b, err := g.backend()
	if err != nil {
		return nil, err
	}
	o.Backend, o.WrapSession, o.RequireGPU = b, g.wrapSession, g.RequireGPU
	if o.Threads == 0 {
		o.Threads = threads
	}
	if o.ModelsRoot == "" { // where `shitu models pull` installs (SHITU_MODELS or the user cache)
		o.ModelsRoot = modelsRoot{Root: os.Getenv("SHITU_MODELS")}.dir()
	}
	sys, err := shitu.Open(g.ctx, cfg, o)
	if errors.Is(err, gallery.ErrLocked) {
		err = lockedError(cfg.IndexProcess.IndexDir, err)
	}
	if err == nil && sys.Synthetic() && !g.saidSynthetic {
		g.saidSynthetic = true
		fmt.Fprintln(g.stderr, "shitu: [SYNTHETIC] the models have seeded weights (architecture-faithful, not trained): the answers are not meaningful")
	}
	return sys, err
}

// openModels opens the models of a config without detector or gallery
// (gallery building, retrieval evaluation).
func (g *Globals) openModels(cfg *config.Config, threads int) (*shitu.System, error) {
	return g.open(cfg, threads, shitu.Options{NoDetector: true, NoGallery: true})
}
