package cli

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/shitu-go/shitu/config"
	"github.com/shitu-go/shitu/train"
)

type trainCmd struct {
	Config      string   `short:"c" required:"" type:"existingfile" help:"PaddleClas training config (GeneralRecognitionV2_PPLCNetV2_base.yaml style: Loss, Optimizer, DataLoader.Train/Eval)."`
	Overrides   []string `short:"o" sep:"none" help:"Override a config key, PaddleClas style: -o Global.epochs=20 (repeatable; values may hold commas: -o Key=[64, 64])."`
	InferConfig string   `name:"infer-config" type:"existingfile" help:"Inference config whose Global.rec_inference_model_dir is the model to fine-tune (default: Global.rec_inference_model_dir of -c)."`
	Model       string   `help:"Recognition model folder or .onnx file to fine-tune (overrides both configs)."`
	Out         string   `help:"Output model folder (default: Global.save_inference_dir of -c)."`
	Threads     int      `help:"Intra-op threads of the backbone runs (default: all cores)."`
}

func (c *trainCmd) Run(g *Globals) error {
	text, err := os.ReadFile(c.Config)
	if err != nil {
		return err
	}
	cfg, err := config.Parse(text, c.Config, c.Overrides)
	if err != nil {
		return err
	}
	rc, err := train.RecipeFromConfig(cfg.Raw, c.Config)
	if err != nil {
		return err
	}
	base, basePath := rc.BaseModel, c.Config
	if c.InferConfig != "" {
		ic, err := config.Load(c.InferConfig, nil)
		if err != nil {
			return err
		}
		base, basePath = ic.Global.RecInferenceModelDir, c.InferConfig
	}
	if c.Model != "" {
		base, basePath = c.Model, ""
	}
	be, err := g.backend()
	if err != nil {
		return err
	}
	cache, _ := os.UserCacheDir()
	if cache != "" {
		cache = filepath.Join(cache, "shitu", "converted")
	}
	model, dir, err := train.LoadBase(g.ctx, base, basePath, cache)
	if err != nil {
		return err
	}
	res, err := train.Run(g.ctx, train.Options{Recipe: rc, ConfigPath: c.Config, ConfigText: text, BaseModel: model, BaseDir: dir,
		Backend: be, Threads: c.Threads, OutDir: c.Out, Log: g.stderr})
	if err != nil {
		return err
	}
	fmt.Fprint(g.stdout, res.Report.Text())
	fmt.Fprintf(g.stdout, "wrote %s (%s, Paddle inference files, %s, report)\n", res.Dir, train.ONNXFile, train.ManifestFile)
	fmt.Fprintf(g.stdout, "next: the model fingerprint changed, so rebuild galleries made with the old model and re-run calibration:\n"+
		"  shitu gallery build -c INFERENCE_CONFIG -o Global.rec_inference_model_dir=%s --sync\n"+
		"  shitu eval calibrate -c INFERENCE_CONFIG -o Global.rec_inference_model_dir=%s --leave-one-out --save\n", res.Dir, res.Dir)
	return nil
}
