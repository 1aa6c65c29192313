package cli

import (
	"context"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shitu-go/shitu/internal/testutil"
)

// TestGalleryImportThenPredict is the regression of issue 12 (5): a
// gallery imported with a config must open with the same config. The
// import used to bind it to the sha256 of the model bytes while predict
// asks for the model + preprocessing fingerprint, so predict failed with
// "gallery was built with a different recognition model".
func TestGalleryImportThenPredict(t *testing.T) {
	testutil.ORTLib(t)
	tmp := t.TempDir()
	g := &Globals{ORTLib: testutil.ORTLibPath(), stdout: io.Discard, stderr: io.Discard, ctx: context.Background()}
	cfg, err := prepareSynthetic(g, tmp)
	if err != nil {
		t.Fatal(err)
	}
	exported := filepath.Join(tmp, "exported")
	if out, errs, code := run(t, "gallery", "export", "-c", cfg, "--out", exported); code != 0 {
		t.Fatalf("export: exit %d\n%s%s", code, out, errs)
	}
	imported := filepath.Join(tmp, "imported")
	out, errs, code := run(t, "gallery", "import", "-c", cfg, "--dir", imported, exported)
	if code != 0 || !strings.Contains(out, "imported 36 items") {
		t.Fatalf("import: exit %d\n%s%s", code, out, errs)
	}
	img := filepath.Join(tmp, "synthetic", "query", "query_1_product_01.jpg")
	out, errs, code = run(t, "predict", "-c", cfg, "-o", "IndexProcess.index_dir="+imported, "--no-draw", "--format", "paddleclas", img)
	if code != 0 || !strings.Contains(out, "'rec_docs': 'product_01'") {
		t.Fatalf("predict on the imported gallery: exit %d\nstdout %s\nstderr %s", code, out, errs)
	}
	// The stats show the fingerprint the library computes for the config.
	out, _, _ = run(t, "gallery", "stats", "--dir", imported)
	ref, _, _ := run(t, "gallery", "stats", "-c", cfg)
	model := func(s string) string {
		for _, l := range strings.Split(s, "\n") {
			if strings.HasPrefix(l, "model:") {
				return l
			}
		}
		return ""
	}
	if model(out) == "" || model(out) != model(ref) {
		t.Errorf("imported gallery %q, built gallery %q", model(out), model(ref))
	}
}
