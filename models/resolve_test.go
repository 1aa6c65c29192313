package models

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestDetectLayout(t *testing.T) {
	onnxBytes := string(tinyONNX("x", "y"))
	tests := []struct {
		name    string
		files   map[string]string
		kind    Kind
		model   string
		params  string
		vars    int
		wantErr error
	}{
		{"combined", map[string]string{"inference.pdmodel": "P", "inference.pdiparams": "W", "inference.pdiparams.info": "i"},
			KindPaddle, "inference.pdmodel", "inference.pdiparams", 0, nil},
		{"paddledetection names", map[string]string{"model.pdmodel": "P", "model.pdiparams": "W", "infer_cfg.yml": "c"},
			KindPaddle, "model.pdmodel", "model.pdiparams", 0, nil},
		{"int8 first", map[string]string{"inference.pdmodel": "P", "inference.pdiparams": "W",
			"inference_int8.pdmodel": "P8", "inference_int8.pdiparams": "W8"},
			KindPaddle, "inference_int8.pdmodel", "inference_int8.pdiparams", 0, nil},
		{"paddle 1.x", map[string]string{"__model__": "P", "__params__": "W"}, KindPaddle, "__model__", "__params__", 0, nil},
		{"uncombined", map[string]string{"__model__": "P", "conv1_weights": "a", "conv1_bias": "b", "README.md": "r"},
			KindPaddleUncombined, "__model__", "", 2, nil},
		{"pir", map[string]string{"inference.json": `{"base_code":{"magic":"pir"}}`, "inference.pdiparams": "W"},
			KindPIR, "inference.json", "inference.pdiparams", 0, nil},
		{"paddle wins over onnx", map[string]string{"inference.pdmodel": "P", "inference.pdiparams": "W", "shitu.onnx": onnxBytes, "other.onnx": onnxBytes},
			KindPaddle, "inference.pdmodel", "inference.pdiparams", 0, nil},
		{"onnx", map[string]string{"rec.onnx": onnxBytes, "shitu-model.json": "{}"}, KindONNX, "rec.onnx", "", 0, nil},
		{"onnx preferred name", map[string]string{"a.onnx": onnxBytes, "inference.onnx": onnxBytes}, KindONNX, "inference.onnx", "", 0, nil},
		{"two onnx", map[string]string{"a.onnx": onnxBytes, "b.onnx": onnxBytes}, "", "", "", 0, ErrNoModel},
		{"empty", map[string]string{"README.md": "r"}, "", "", "", 0, ErrNoModel},
		{"pir without params", map[string]string{"inference.json": `{"base_code":{"magic":"pir"}}`}, "", "", "", 0, ErrNoModel},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			writeFiles(t, dir, tc.files)
			l, err := DetectLayout(dir)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err = %v, want %v", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if l.Kind != tc.kind || filepath.Base(l.Model) != tc.model || len(l.VarFiles) != tc.vars {
				t.Fatalf("layout %+v", l)
			}
			if (tc.params == "" && l.Params != "") || (tc.params != "" && filepath.Base(l.Params) != tc.params) {
				t.Fatalf("params %q, want %q", l.Params, tc.params)
			}
		})
	}
	// An .onnx path is accepted as it is.
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"m.onnx": onnxBytes})
	if l, err := DetectLayout(filepath.Join(dir, "m.onnx")); err != nil || l.Kind != KindONNX {
		t.Fatalf("onnx path: %+v %v", l, err)
	}
	if _, err := DetectLayout(filepath.Join(dir, "none")); !errors.Is(err, ErrNoModel) {
		t.Fatalf("missing folder: %v", err)
	}
}

func TestResolveConvertsOnceAndCaches(t *testing.T) {
	dir := filepath.Join(t.TempDir(), recName)
	writeFiles(t, dir, map[string]string{"inference.pdmodel": "P", "inference.pdiparams": "W1"})
	fc := &fakeConverter{}
	ctx := context.Background()
	o := ResolveOptions{Converter: fc.convert}

	r, err := Resolve(ctx, dir, o)
	if err != nil {
		t.Fatal(err)
	}
	if !r.Converted || fc.calls != 1 || r.Path != filepath.Join(dir, ConvertedFile) {
		t.Fatalf("first: %+v calls %d", r, fc.calls)
	}
	m, err := ReadManifest(dir)
	if err != nil {
		t.Fatal(err)
	}
	if m.Name != recName || m.Role != RoleExtractor || m.ONNX.Converter != "fake" || m.Outputs[0].Name != "feat1" || len(m.Files) != 2 {
		t.Fatalf("manifest %+v", m)
	}
	// Same sources: cached.
	if r, err = Resolve(ctx, dir, o); err != nil || r.Converted || fc.calls != 1 {
		t.Fatalf("second: %+v %v calls %d", r, err, fc.calls)
	}
	// No converter needed for a valid cache.
	if _, err = Resolve(ctx, dir, ResolveOptions{}); err != nil {
		t.Fatal(err)
	}
	// Changed params: converted again.
	writeFiles(t, dir, map[string]string{"inference.pdiparams": "W2"})
	if r, err = Resolve(ctx, dir, o); err != nil || !r.Converted || fc.calls != 2 || r.Manifest.Outputs[0].Name != "feat2" {
		t.Fatalf("after change: %+v %v calls %d", r, err, fc.calls)
	}
	// A damaged conversion is redone.
	writeFiles(t, dir, map[string]string{ConvertedFile: "junk"})
	if r, err = Resolve(ctx, dir, o); err != nil || !r.Converted || fc.calls != 3 {
		t.Fatalf("after damage: %+v %v calls %d", r, err, fc.calls)
	}
	// Force always converts.
	o.Force = true
	if r, err = Resolve(ctx, dir, o); err != nil || !r.Converted || fc.calls != 4 {
		t.Fatalf("force: %v calls %d", err, fc.calls)
	}
}

func TestResolveReadOnlyFolderUsesCache(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("running as root: read-only folders are writable")
	}
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"inference.pdmodel": "P", "inference.pdiparams": "W"})
	if err := os.Chmod(dir, 0o555); err != nil {
		t.Fatal(err)
	}
	defer os.Chmod(dir, 0o755)
	fc := &fakeConverter{}
	if _, err := Resolve(context.Background(), dir, ResolveOptions{Converter: fc.convert}); !errors.Is(err, ErrConvert) {
		t.Fatalf("no cache folder: %v", err)
	}
	cache := t.TempDir()
	o := ResolveOptions{Converter: fc.convert, CacheDir: cache}
	r, err := Resolve(context.Background(), dir, o)
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Dir(filepath.Dir(r.Path)) != cache {
		t.Fatalf("path %s not in cache %s", r.Path, cache)
	}
	calls := fc.calls
	if r, err = Resolve(context.Background(), dir, o); err != nil || r.Converted || fc.calls != calls {
		t.Fatalf("cached: %+v %v", r, err)
	}
}

func TestResolveCacheOnly(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"inference.pdmodel": "P", "inference.pdiparams": "W"})
	fc := &fakeConverter{}
	if _, err := Resolve(context.Background(), dir, ResolveOptions{Converter: fc.convert, CacheOnly: true}); !errors.Is(err, ErrConvert) {
		t.Fatalf("CacheOnly without CacheDir: %v", err)
	}
	cache := t.TempDir()
	o := ResolveOptions{Converter: fc.convert, CacheDir: cache, CacheOnly: true}
	r, err := Resolve(context.Background(), dir, o)
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Dir(filepath.Dir(r.Path)) != cache || r.Manifest.Files[0].Path != "inference.pdiparams" {
		t.Fatalf("path %s not in cache %s (%+v)", r.Path, cache, r.Manifest.Files)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 2 {
		t.Fatalf("the model folder was written: %d entries", len(entries))
	}
	if r, err = Resolve(context.Background(), dir, o); err != nil || r.Converted || fc.calls != 1 {
		t.Fatalf("cached: %+v %v", r, err)
	}
}

func TestResolveErrors(t *testing.T) {
	ctx := context.Background()
	paddleDir := t.TempDir()
	writeFiles(t, paddleDir, map[string]string{"inference.pdmodel": "P", "inference.pdiparams": "W"})
	failing := func(context.Context, Layout) (*Converted, error) { return nil, errors.New("op foo unsupported") }
	empty := func(context.Context, Layout) (*Converted, error) { return &Converted{}, nil }
	tests := []struct {
		name    string
		dir     string
		o       ResolveOptions
		wantErr error
	}{
		{"no converter", paddleDir, ResolveOptions{}, ErrNoConverter},
		{"converter fails", paddleDir, ResolveOptions{Converter: failing}, ErrConvert},
		{"converter returns nothing", paddleDir, ResolveOptions{Converter: empty}, ErrConvert},
		{"empty folder", t.TempDir(), ResolveOptions{}, ErrNoModel},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Resolve(ctx, tc.dir, tc.o); !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
		})
	}
}

func TestResolveONNXFolder(t *testing.T) {
	dir := filepath.Join(t.TempDir(), detName)
	writeFiles(t, dir, map[string]string{"model.onnx": string(tinyONNX("image", "scores"))})
	fc := &fakeConverter{}
	r, err := Resolve(context.Background(), dir, ResolveOptions{Converter: fc.convert})
	if err != nil {
		t.Fatal(err)
	}
	if r.Path != filepath.Join(dir, "model.onnx") || fc.calls != 0 || r.Converted {
		t.Fatalf("%+v", r)
	}
	m := r.Manifest
	if m.Role != RoleDetector || len(m.Inputs) != 1 || m.Inputs[0].Name != "image" || m.Inputs[0].DType != "float32" {
		t.Fatalf("manifest %+v", m)
	}
	if got := m.Inputs[0].Shape; len(got) != 4 || got[0] != -1 || got[3] != 224 {
		t.Fatalf("shape %v", got)
	}
	if _, err := os.Stat(filepath.Join(dir, ManifestFile)); err == nil {
		t.Fatal("Resolve wrote into an ONNX folder")
	}
}

func TestManifestRoundTrip(t *testing.T) {
	dir := t.TempDir()
	seed := int64(7)
	m := newManifest("x")
	m.Synthetic, m.Note, m.Seed = true, "synthetic: seeded weights", &seed
	if err := WriteManifest(dir, m); err != nil {
		t.Fatal(err)
	}
	got, err := ReadManifest(dir)
	if err != nil || !got.Synthetic || *got.Seed != 7 || !got.Created.Equal(m.Created) {
		t.Fatalf("%+v %v", got, err)
	}
	for name, body := range map[string]string{
		"not json":       "{",
		"other format":   `{"format":"x","version":1}`,
		"future version": `{"format":"shitu-model-manifest","version":99}`,
	} {
		writeFiles(t, dir, map[string]string{ManifestFile: body})
		if _, err := ReadManifest(dir); !errors.Is(err, ErrManifest) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestPaddleConverterRefusesPIR(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"inference.json": `{"base_code":{"magic":"pir","version":1},"program":{}}`, "inference.pdiparams": ""})
	_, err := Resolve(context.Background(), dir, ResolveOptions{Converter: PaddleConverter})
	if !errors.Is(err, ErrConvert) || !strings.Contains(err.Error(), "PIR") {
		t.Fatalf("err = %v", err)
	}
}

func TestPaddleConverterBadProgram(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"inference.pdmodel": "\xff\xff\xff", "inference.pdiparams": ""})
	_, err := Resolve(context.Background(), dir, ResolveOptions{Converter: PaddleConverter})
	if !errors.Is(err, ErrConvert) || !strings.Contains(err.Error(), "paddle:") {
		t.Fatalf("err = %v", err)
	}
}

func TestResolveDescribesFromInferCfg(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "my_detector")
	writeFiles(t, dir, map[string]string{"model.onnx": string(tinyONNX("image", "out")),
		"infer_cfg.yml": "Preprocess:\n- type: Resize\n  target_size: [320, 256]\n  interp: 1\n  keep_ratio: false\n- type: NormalizeImage\n  is_scale: false\n  mean: [0, 0, 0]\n  std: [1, 1, 1]\nlabel_list: [a, b]\n"})
	r, err := Resolve(context.Background(), dir, ResolveOptions{})
	if err != nil {
		t.Fatal(err)
	}
	m := r.Manifest
	if m.Role != RoleDetector || m.Preprocess == nil || m.Preprocess.Height != 320 || m.Preprocess.Width != 256 ||
		m.Preprocess.Interp != "linear" || m.Preprocess.Scale != 1 || len(m.Labels) != 2 {
		t.Fatalf("manifest %+v, preprocess %+v", m, m.Preprocess)
	}
}
