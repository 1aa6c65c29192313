package train

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/shitu-go/shitu/models"
)

// LoadBase finds the recognition model to start from: a model folder
// (Paddle, converted once and cached like every model shitu loads) or an
// .onnx file. A relative path that does not exist from the working
// directory is tried beside the config file, as the inference configs'
// model paths are. cacheDir receives conversions of read-only folders.
func LoadBase(ctx context.Context, dir, configPath, cacheDir string) (onnxBytes []byte, resolved string, err error) {
	if dir == "" {
		return nil, "", fmt.Errorf("%w: no base model: set Global.rec_inference_model_dir (or give one)", ErrConfig)
	}
	cand := dir
	if _, err := os.Stat(cand); err != nil && !filepath.IsAbs(dir) && configPath != "" {
		alt := filepath.Join(filepath.Dir(configPath), dir)
		if _, err2 := os.Stat(alt); err2 == nil {
			cand = alt
		}
	}
	r, err := models.Resolve(ctx, cand, models.ResolveOptions{Converter: models.PaddleConverter, CacheDir: cacheDir})
	if err != nil {
		return nil, "", fmt.Errorf("%w: %v", ErrModel, err)
	}
	b, err := os.ReadFile(r.Path)
	if err != nil {
		return nil, "", fmt.Errorf("%w: %v", ErrModel, err)
	}
	return b, cand, nil
}
