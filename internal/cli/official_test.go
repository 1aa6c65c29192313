package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shitu-go/shitu/config"
	"github.com/shitu-go/shitu/internal/testutil"
	"github.com/shitu-go/shitu/models"
)

// TestOfficialConfigAfterPull: `models pull det rec` installs into the
// models store, and a config naming the official "./models/<name>" folders
// (as inference_general.yaml does) then works unchanged; without the
// models it says where it looked.
func TestOfficialConfigAfterPull(t *testing.T) {
	testutil.ORTLib(t)
	tmp := t.TempDir()
	mirror := filepath.Join(tmp, "mirror")
	if _, err := models.SynthMirror(mirror, 1); err != nil {
		t.Fatal(err)
	}
	store := filepath.Join(tmp, "store")
	if out, errs, code := run(t, "models", "pull", "det", "rec", "--root", store, "--mirror", mirror); code != 0 {
		t.Fatalf("pull: exit %d\n%s\n%s", code, out, errs)
	}
	// models from a synthesized mirror keep saying so in models list
	if out, _, code := run(t, "models", "list", "--root", store); code != 0 || strings.Count(out, models.SynthNote) != 2 {
		t.Fatalf("models list of mirror-installed synthesized models:\n%s", out)
	}
	gal, list, queries, err := writeDemoImages(filepath.Join(tmp, "data"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(tmp, "inference_general.yaml")
	body := fmt.Sprintf(demoConfig, "official-style paths", queries, "./models/picodet_PPLCNet_x2_5_mainbody_lite_v1.0_infer",
		"./models/general_PPLCNetV2_base_pretrained_v1.0_infer", filepath.Join(tmp, "output"), gal, filepath.Join(tmp, "index"), list, "0.9")
	if err := os.WriteFile(cfg, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SHITU_MODELS", filepath.Join(tmp, "empty"))
	_, errs, code := run(t, "gallery", "build", "-c", cfg)
	if code == 0 || !strings.Contains(errs, "looked in ./models/general_PPLCNetV2_base_pretrained_v1.0_infer, "+
		filepath.Join(tmp, "models", "general_PPLCNetV2_base_pretrained_v1.0_infer")+", "+filepath.Join(tmp, "empty", "general_PPLCNetV2_base_pretrained_v1.0_infer")) {
		t.Fatalf("without the models: exit %d\n%s", code, errs)
	}
	t.Setenv("SHITU_MODELS", store)
	if out, errs, code := run(t, "gallery", "build", "-c", cfg); code != 0 || !strings.Contains(out, "36 added") {
		t.Fatalf("gallery build with the pulled models: exit %d\n%s\n%s", code, out, errs)
	}
	out, errs, code := run(t, "predict", "-c", cfg, "--no-draw", filepath.Join(queries, "query_1_product_01.jpg"))
	if code != 0 || !strings.Contains(out, `"label":"product_01"`) {
		t.Fatalf("predict with the pulled models: exit %d\n%s\n%s", code, out, errs)
	}
}

// TestDrinkConfig: the inference_drink.yaml that `models pull drink` writes
// names the store's folders and loads.
func TestDrinkConfig(t *testing.T) {
	root := t.TempDir()
	p, err := writeDrinkConfig(root)
	if err != nil {
		t.Fatal(err)
	}
	c, err := config.Load(p, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Global.DetInferenceModelDir != filepath.Join(root, "picodet_PPLCNet_x2_5_mainbody_lite_v1.0_infer") ||
		c.Global.RecInferenceModelDir != filepath.Join(root, "general_PPLCNetV2_base_pretrained_v1.0_infer") ||
		c.IndexProcess.DataFile != filepath.Join(root, "drink_dataset_v2.0", "gallery", "drink_label.txt") ||
		c.IndexProcess.IndexDir != filepath.Join(root, "drink_dataset_v2.0", "index") || c.IndexProcess.ScoreThres != 0.4 {
		t.Fatalf("drink config: %+v %+v", c.Global, c.IndexProcess)
	}
	if len(c.Warnings()) != 0 {
		t.Fatalf("warnings: %v", c.Warnings())
	}
}
