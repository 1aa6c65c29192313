package models

import (
	"bytes"
	"context"
	"errors"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func mirrorServer(t *testing.T) (*tarServer, *httptest.Server) {
	t.Helper()
	srv := &tarServer{files: map[string][]byte{
		detName + ".tar": officialTar(t, detName, true),
		recName + ".tar": officialTar(t, recName, false),
		"drink_dataset_v2.0.tar": makeTar(t, true,
			tarEntry{name: "drink_dataset_v2.0/gallery/drink_label.txt", body: "a/1.jpg\t元气森林\n"},
			tarEntry{name: "drink_dataset_v2.0/gallery/a/1.jpg", body: "jpeg"},
			tarEntry{name: "drink_dataset_v2.0/test_images/100.jpeg", body: "jpeg"}),
		"general_PPLCNet_x2_5_lite_binary_v1.0_infer.tar": makeTar(t, false,
			tarEntry{name: "general_PPLCNet_x2_5_lite_binary_v1.0_infer/inference.pdmodel", body: "P"},
			tarEntry{name: "general_PPLCNet_x2_5_lite_binary_v1.0_infer/../../escape.txt", body: "x"}),
	}, cutOnce: map[string]bool{}}
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	return srv, ts
}

func TestPullFromMirror(t *testing.T) {
	srv, ts := mirrorServer(t)
	srv.cutOnce[recName+".tar"] = true // the first download is interrupted
	root := t.TempDir()
	fc := &fakeConverter{}
	var log bytes.Buffer
	var progressCalls int
	opts := PullOptions{Root: root, Mirror: ts.URL + "/", Converter: fc.convert, Backoff: time.Millisecond,
		Log: &log, Progress: func(d, tot int64) { progressCalls++ }}
	got, err := Pull(context.Background(), "rec", opts)
	if err != nil {
		t.Fatal(err)
	}
	tarball := srv.files[recName+".tar"]
	if reqs := srv.log(); len(reqs) != 2 || !strings.HasPrefix(reqs[1], recName+".tar bytes=") {
		t.Fatalf("requests %q: want an interrupted request and a resumed one", reqs)
	}
	m := got.Manifest
	if !got.Fresh || got.Dir != filepath.Join(root, recName) || m.Name != recName || m.Role != RoleExtractor {
		t.Fatalf("installed %+v", got)
	}
	if m.TarballSHA256 != sha(tarball) || m.TarballSize != int64(len(tarball)) || m.Source != ts.URL+"/"+recName+".tar" {
		t.Fatalf("tarball record %d %s %s", m.TarballSize, m.TarballSHA256, m.Source)
	}
	if m.ONNX == nil || m.ONNX.Form != "plain" || m.Model != ConvertedFile || fc.calls != 1 {
		t.Fatalf("conversion record %+v, %d calls", m.ONNX, fc.calls)
	}
	if len(m.Inputs) != 1 || m.Inputs[0].Name != "x" || len(m.Outputs) != 1 || m.Outputs[0].Shape[1] != 512 {
		t.Fatalf("io %+v %+v", m.Inputs, m.Outputs)
	}
	if m.Preprocess == nil || m.Preprocess.Width != 224 || m.Preprocess.Interp != "linear" {
		t.Fatalf("preprocess %+v", m.Preprocess)
	}
	wantFiles := []string{"inference.pdiparams", "inference.pdiparams.info", "inference.pdmodel"}
	if len(m.Files) != len(wantFiles) {
		t.Fatalf("files %+v", m.Files)
	}
	for i, f := range m.Files {
		b, err := os.ReadFile(filepath.Join(got.Dir, f.Path))
		if err != nil || f.Path != wantFiles[i] || f.SHA256 != sha(b) {
			t.Fatalf("file %d %+v (%v)", i, f, err)
		}
	}
	if progressCalls == 0 || !strings.Contains(log.String(), "installed in") {
		t.Fatalf("progress %d, log %q", progressCalls, log.String())
	}
	if err := Verify(got.Dir); err != nil {
		t.Fatal(err)
	}
	writeFiles(t, got.Dir, map[string]string{"inference.pdiparams.info": "changed"})
	if err := Verify(got.Dir); !errors.Is(err, ErrChecksum) || !strings.Contains(err.Error(), "inference.pdiparams.info") {
		t.Fatalf("Verify after a change: %v", err)
	}
	// The manifest on disk is the one returned; the conversion resolves from cache.
	r, err := Resolve(context.Background(), got.Dir, ResolveOptions{Converter: fc.convert})
	if err != nil || r.Converted || fc.calls != 1 || r.Path != filepath.Join(got.Dir, ConvertedFile) {
		t.Fatalf("resolve after pull: %+v %v (calls %d)", r, err, fc.calls)
	}
	// Pulling again keeps the installed copy and downloads nothing.
	n := len(srv.log())
	again, err := Pull(context.Background(), recName, opts)
	if err != nil || again.Fresh || len(srv.log()) != n {
		t.Fatalf("second pull: %+v %v", again, err)
	}
	// Force re-installs.
	opts.Force = true
	if again, err = Pull(context.Background(), recName, opts); err != nil || !again.Fresh {
		t.Fatalf("forced pull: %+v %v", again, err)
	}
	assertClean(t, root)
}

func TestPullDetectorAndDataset(t *testing.T) {
	_, ts := mirrorServer(t)
	root := t.TempDir()
	opts := PullOptions{Root: root, Mirror: ts.URL, Backoff: time.Millisecond}
	det, err := Pull(context.Background(), "det", opts)
	if err != nil {
		t.Fatal(err)
	}
	// Without a converter the Paddle files are installed as they are.
	if det.Manifest.ONNX != nil || det.Manifest.Kind != KindPaddle || det.Manifest.Preprocess.Interp != "cubic" {
		t.Fatalf("det manifest %+v", det.Manifest)
	}
	if _, err := os.Stat(filepath.Join(det.Dir, "infer_cfg.yml")); err != nil {
		t.Fatal(err)
	}
	ds, err := Pull(context.Background(), "drink", opts)
	if err != nil {
		t.Fatal(err)
	}
	if ds.Manifest.Role != RoleDataset || len(ds.Manifest.Files) != 3 {
		t.Fatalf("dataset manifest %+v", ds.Manifest)
	}
	if b, _ := os.ReadFile(filepath.Join(ds.Dir, "gallery", "drink_label.txt")); !strings.Contains(string(b), "元气森林") {
		t.Fatalf("label file %q", b)
	}
	list, err := List(root)
	if err != nil || len(list) != 2 || list[0].Manifest.Name != "drink_dataset_v2.0" || list[1].Manifest.Name != detName {
		t.Fatalf("list %+v %v", list, err)
	}
	assertClean(t, root)
}

func TestPullRefusals(t *testing.T) {
	_, ts := mirrorServer(t)
	tests := []struct {
		name    string
		model   string
		opts    PullOptions
		wantErr error
	}{
		{"wrong sha256", "rec", PullOptions{SHA256: strings.Repeat("0", 64)}, ErrChecksum},
		{"path escape", "rec-binary", PullOptions{}, ErrUnsafeArchive},
		{"unknown name", "nope", PullOptions{}, ErrUnknownModel},
		{"missing on mirror", "rec-v1", PullOptions{Attempts: 1}, ErrDownload},
		{"binary without mirror", "rec-binary", PullOptions{Mirror: "-"}, ErrDownload},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root := filepath.Join(t.TempDir(), "models")
			o := tc.opts
			o.Root, o.Backoff = root, time.Millisecond
			switch o.Mirror {
			case "":
				o.Mirror = ts.URL
			case "-":
				o.Mirror = ""
			}
			_, err := Pull(context.Background(), tc.model, o)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if _, err := os.Stat(filepath.Join(filepath.Dir(root), "escape.txt")); err == nil {
				t.Fatal("archive wrote outside the root")
			}
			list, _ := List(root)
			if len(list) != 0 {
				t.Fatalf("something was installed: %+v", list)
			}
			assertClean(t, root)
		})
	}
}

func TestPullKeepsForeignFolder(t *testing.T) {
	_, ts := mirrorServer(t)
	root := t.TempDir()
	writeFiles(t, filepath.Join(root, recName), map[string]string{"mine.txt": "user data"})
	o := PullOptions{Root: root, Mirror: ts.URL}
	if _, err := Pull(context.Background(), "rec", o); !errors.Is(err, ErrExists) {
		t.Fatalf("err = %v, want ErrExists", err)
	}
	if _, err := os.Stat(filepath.Join(root, recName, "mine.txt")); err != nil {
		t.Fatal("a folder without a manifest was touched")
	}
	o.Force = true
	inst, err := Pull(context.Background(), "rec", o)
	if err != nil || !inst.Fresh {
		t.Fatalf("forced: %+v %v", inst, err)
	}
	if _, err := os.Stat(filepath.Join(root, recName, "mine.txt")); err == nil {
		t.Fatal("forced pull kept the old folder's files")
	}
	assertClean(t, root)
}

func TestPullConcurrent(t *testing.T) {
	srv, ts := mirrorServer(t)
	root := t.TempDir()
	const n = 3
	var wg sync.WaitGroup
	results := make([]*Installed, n)
	errs := make([]error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			results[i], errs[i] = Pull(context.Background(), "rec", PullOptions{Root: root, Mirror: ts.URL})
		}(i)
	}
	wg.Wait()
	fresh := 0
	for i := range results {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		if results[i].Fresh {
			fresh++
		}
	}
	if fresh != 1 || len(srv.log()) != 1 {
		t.Fatalf("%d fresh installs, %d downloads; want 1 and 1", fresh, len(srv.log()))
	}
	assertClean(t, root)
}

func TestPullLocalMirror(t *testing.T) {
	mirror := t.TempDir()
	tb := officialTar(t, recName, false)
	if err := os.WriteFile(filepath.Join(mirror, recName+".tar"), tb, 0o644); err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	got, err := Pull(context.Background(), recName, PullOptions{Root: root, Mirror: mirror, SHA256: sha(tb)})
	if err != nil {
		t.Fatal(err)
	}
	if got.Manifest.TarballSHA256 != sha(tb) || got.Manifest.Source != filepath.Join(mirror, recName+".tar") {
		t.Fatalf("manifest %+v", got.Manifest)
	}
}

// assertClean checks that no temporary folder, partial download or kept
// tarball is left in root.
func assertClean(t *testing.T, root string) {
	t.Helper()
	entries, _ := os.ReadDir(root)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".pull-") || strings.HasPrefix(e.Name(), ".old-") {
			t.Errorf("left behind: %s", e.Name())
		}
	}
	dl, _ := os.ReadDir(filepath.Join(root, ".downloads"))
	for _, e := range dl {
		if !strings.HasSuffix(e.Name(), ".lock") {
			t.Errorf("left in .downloads: %s", e.Name())
		}
	}
}

func TestSource(t *testing.T) {
	e, _ := Lookup("drink")
	tests := []struct{ mirror, want string }{
		{"", e.URL},
		{"http://host:8080/m/", "http://host:8080/m/drink_dataset_v2.0.tar"},
		{"file:///srv/m", "file:///srv/m/drink_dataset_v2.0.tar"},
		{"/srv/m", "/srv/m/drink_dataset_v2.0.tar"},
	}
	for _, tc := range tests {
		if got := Source(e, tc.mirror); got != tc.want {
			t.Errorf("Source(%q) = %q, want %q", tc.mirror, got, tc.want)
		}
	}
}

func TestCatalog(t *testing.T) {
	c := Catalog()
	if len(c) != 5 {
		t.Fatalf("%d entries", len(c))
	}
	for _, e := range c {
		if e.File != e.Name+".tar" || (e.Role != RoleDataset && e.Preprocess == nil) {
			t.Errorf("entry %+v", e)
		}
		if e.SHA256 != "" {
			t.Errorf("%s: digest pinned without verification", e.Name)
		}
		if got, err := Lookup(e.Name); err != nil || got.Name != e.Name {
			t.Errorf("Lookup(%s) = %v", e.Name, err)
		}
	}
	if _, err := Lookup("nope"); !errors.Is(err, ErrUnknownModel) {
		t.Fatal(err)
	}
}

func TestPullKeepsTarballWhenConversionFails(t *testing.T) {
	srv, ts := mirrorServer(t)
	root := t.TempDir()
	failing := func(context.Context, Layout) (*Converted, error) { return nil, errors.New("unsupported ops: foo×2") }
	o := PullOptions{Root: root, Mirror: ts.URL, Converter: failing}
	if _, err := Pull(context.Background(), "rec", o); !errors.Is(err, ErrConvert) || !strings.Contains(err.Error(), "foo×2") {
		t.Fatalf("err = %v", err)
	}
	if list, _ := List(root); len(list) != 0 {
		t.Fatalf("installed after a failed conversion: %+v", list)
	}
	n := len(srv.log())
	fc := &fakeConverter{}
	o.Converter = fc.convert
	inst, err := Pull(context.Background(), "rec", o)
	if err != nil {
		t.Fatal(err)
	}
	if len(srv.log()) != n || inst.Manifest.TarballSHA256 != sha(srv.files[recName+".tar"]) {
		t.Fatalf("the kept tarball was not reused: %d requests", len(srv.log())-n)
	}
	assertClean(t, root)
}

// TestSynthMirrorStaysSynthetic: models pulled from a SynthMirror folder
// have the official names and layout, and their manifests (and so `models
// list`) still say they are synthesized.
func TestSynthMirrorStaysSynthetic(t *testing.T) {
	mirror := t.TempDir()
	if _, err := SynthMirror(mirror, 7); err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	got, err := Pull(context.Background(), "rec", PullOptions{Root: root, Mirror: mirror})
	if err != nil {
		t.Fatal(err)
	}
	if m := got.Manifest; !m.Synthetic || m.Note != SynthNote || m.Seed == nil || *m.Seed != 7 {
		t.Fatalf("pulled manifest %+v", m)
	}
	list, err := List(root)
	if err != nil || len(list) != 1 || !list[0].Manifest.Synthetic || list[0].Manifest.Note != SynthNote {
		t.Fatalf("list: %v %+v", err, list)
	}
	// converted later (Resolve), the manifest keeps saying so
	r, err := Resolve(context.Background(), got.Dir, ResolveOptions{Converter: PaddleConverter, Force: true})
	if err != nil || !r.Manifest.Synthetic {
		t.Fatalf("resolved: %v %+v", err, r)
	}
}
