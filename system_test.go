package shitu_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/shitu-go/shitu"
	"github.com/shitu-go/shitu/gallery"
	"github.com/shitu-go/shitu/imaging"
)

// TestSystemGalleryLifecycle drives a System through its gallery methods:
// create a named gallery, add image bytes, search, list, export, import
// the export under the same model, remove; the snapshot loop writes the
// changed gallery's snapshot; Close releases everything and is idempotent.
func TestSystemGalleryLifecycle(t *testing.T) {
	ctx := context.Background()
	sys, err := shitu.OpenFile(ctx, exampleConfig, nil, shitu.Options{ORTLib: ortLib, NoDetector: true, SnapshotEvery: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	def, err := sys.Gallery("")
	if err != nil || def.Model() != sys.Model() || def.Len() != 12 {
		t.Fatalf("default gallery: %v, model %q vs %q", err, def.Model(), sys.Model())
	}
	dir := t.TempDir()
	g, err := sys.CreateGallery("shelf", filepath.Join(dir, "shelf"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sys.CreateGallery("shelf", filepath.Join(dir, "other")); !errors.Is(err, shitu.ErrExists) {
		t.Errorf("second gallery under one name: %v", err)
	}
	q, err := os.ReadFile(exampleQuery)
	if err != nil {
		t.Fatal(err)
	}
	items, err := sys.Add(ctx, "shelf", []gallery.NewImage{{Data: q, Label: "product_01", Source: "q.jpg"}}, imaging.DecodeOptions{})
	if err != nil || len(items) != 1 || items[0].SHA256 == "" {
		t.Fatalf("add: %+v %v", items, err)
	}
	img, err := imaging.Decode(q, imaging.DecodeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	feats, err := sys.Embed(ctx, []*imaging.Image{img})
	if err != nil {
		t.Fatal(err)
	}
	hits, err := sys.Search("shelf", feats[0], 3, gallery.Query{})
	if err != nil || len(hits) != 1 || hits[0].ID != items[0].ID || hits[0].Score < 0.999 {
		t.Fatalf("search: %+v %v", hits, err)
	}
	res, err := sys.RecognizeWith(ctx, "shelf", img, sys.Options())
	if err != nil || len(res.Objects) != 1 || res.Objects[0].Label != "product_01" || res.GalleryVersion != g.Version() {
		t.Fatalf("recognize on the named gallery: %+v %v", res, err)
	}
	list, next, err := sys.List("shelf", gallery.ListOptions{})
	if err != nil || len(list) != 1 || next != -1 {
		t.Fatalf("list: %+v %d %v", list, next, err)
	}
	// The snapshot loop picks up the change.
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := os.Stat(filepath.Join(dir, "shelf", gallery.SnapshotFile)); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no snapshot written by the background loop")
		}
		time.Sleep(20 * time.Millisecond)
	}
	files, err := sys.Export("shelf", shitu.FormatPaddleX, filepath.Join(dir, "px"))
	if err != nil || len(files) != 2 {
		t.Fatalf("export: %v %v", files, err)
	}
	imp, err := sys.Import("imported", filepath.Join(dir, "px"), filepath.Join(dir, "imported"))
	if err != nil || imp.Len() != 1 || imp.Model() != sys.Model() {
		t.Fatalf("import: %v", err)
	}
	if n, err := sys.Remove("shelf", items[0].ID); err != nil || n != 1 || g.Len() != 0 {
		t.Fatalf("remove: %d %v", n, err)
	}
	if _, err := sys.Gallery("nope"); !errors.Is(err, shitu.ErrNoGallery) {
		t.Errorf("unknown gallery: %v", err)
	}
	if err := sys.Close(); err != nil {
		t.Fatal(err)
	}
	if err := sys.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, _, err := g.List(gallery.ListOptions{}); !errors.Is(err, gallery.ErrClosed) {
		t.Errorf("galleries stay open after Close: %v", err)
	}
	if _, err := sys.Gallery(""); !errors.Is(err, shitu.ErrClosed) {
		t.Errorf("Gallery after Close: %v", err)
	}
	// The imported gallery opens with the same config: one fingerprint.
	again, err := shitu.OpenFile(ctx, exampleConfig, []string{"IndexProcess.index_dir=" + filepath.Join(dir, "imported")},
		shitu.Options{ORTLib: ortLib, NoDetector: true})
	if err != nil {
		t.Fatalf("reopening the imported gallery with the same config: %v", err)
	}
	again.Close()
}
