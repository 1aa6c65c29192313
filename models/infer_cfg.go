package models

import (
	"os"
	"path/filepath"

	"go.yaml.in/yaml/v3"
)

// inferCfg is the part of a PaddleDetection infer_cfg.yml that describes
// preprocessing and labels.
type inferCfg struct {
	Arch       string           `yaml:"arch"`
	Preprocess []map[string]any `yaml:"Preprocess"`
	LabelList  []string         `yaml:"label_list"`
}

// readInferCfg reads dir/infer_cfg.yml (PaddleDetection exports). Resize
// target_size is [h, w] and interp a raw OpenCV code (ppshitu-pipeline.md
// §4.1); NormalizeImage is_scale means ×1/255. It returns nil when the file
// is absent or unreadable.
func readInferCfg(dir string) (*Preprocess, []string) {
	b, err := os.ReadFile(filepath.Join(dir, "infer_cfg.yml"))
	if err != nil {
		return nil, nil
	}
	var c inferCfg
	if err := yaml.Unmarshal(b, &c); err != nil {
		return nil, nil
	}
	p := &Preprocess{Interp: "linear", Scale: 1, Channels: "RGB", Layout: "NCHW"}
	seen := false
	for _, op := range c.Preprocess {
		switch op["type"] {
		case "Resize":
			seen = true
			if ts, ok := op["target_size"].([]any); ok && len(ts) == 2 {
				p.Height, p.Width = toInt(ts[0]), toInt(ts[1])
			}
			if k, ok := op["keep_ratio"].(bool); ok {
				p.KeepRatio = k
			}
			if _, ok := op["interp"]; ok {
				p.Interp = interpName(toInt(op["interp"]))
			}
		case "NormalizeImage":
			seen = true
			if s, ok := op["is_scale"].(bool); !ok || s {
				p.Scale = 1.0 / 255
			}
			p.Mean, p.Std = toFloats(op["mean"]), toFloats(op["std"])
		case "PadStride":
			p.PadStride = toInt(op["stride"])
		}
	}
	if !seen {
		return nil, c.LabelList
	}
	return p, c.LabelList
}

func interpName(code int) string {
	switch code {
	case 0:
		return "nearest"
	case 2:
		return "cubic"
	case 3:
		return "area"
	case 4:
		return "lanczos"
	}
	return "linear"
}

func toInt(v any) int {
	switch x := v.(type) {
	case int:
		return x
	case float64:
		return int(x)
	}
	return 0
}

func toFloats(v any) []float64 {
	xs, _ := v.([]any)
	out := make([]float64, 0, len(xs))
	for _, x := range xs {
		switch f := x.(type) {
		case float64:
			out = append(out, f)
		case int:
			out = append(out, float64(f))
		}
	}
	return out
}
