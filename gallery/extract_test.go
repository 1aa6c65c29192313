package gallery

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/shitu-go/shitu/imaging"
	"github.com/shitu-go/shitu/vecindex"
)

// widthExtractor embeds a decoded image as a unit vector along axis
// (width mod dims); it implements only Extractor.
type widthExtractor struct {
	dims  int
	calls int
}

func (w *widthExtractor) Extract(_ context.Context, imgs []*imaging.Image) ([][]float32, error) {
	w.calls++
	out := make([][]float32, len(imgs))
	for i, im := range imgs {
		out[i] = make([]float32, w.dims)
		out[i][im.W%w.dims] = 1
	}
	return out, nil
}

func pngOf(t *testing.T, w, h int) []byte {
	t.Helper()
	img, err := imaging.NewImage(w, h, 3)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := imaging.EncodePNG(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestAddImages: bytes → decode → content hash → one batched embed → one
// durable change; a bad image adds nothing and is named by its index.
func TestAddImages(t *testing.T) {
	g, err := Create(t.TempDir(), Options{Model: "m", Dims: 8, Metric: vecindex.IP, Method: MethodFlat})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	ex := &widthExtractor{dims: 8}
	a, b := pngOf(t, 3, 2), pngOf(t, 5, 2)
	items, err := g.AddImages(context.Background(), ex, []NewImage{
		{Data: a, Label: "x", Source: "a.png", Meta: map[string]string{"k": "v"}},
		{Data: b, Label: "y"},
	}, imaging.DecodeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if ex.calls != 1 || len(items) != 2 || g.Version() != 1 {
		t.Fatalf("calls %d items %+v version %d", ex.calls, items, g.Version())
	}
	sum := sha256.Sum256(a)
	if items[0].SHA256 != hex.EncodeToString(sum[:]) || items[0].Source != "a.png" || items[0].Meta["k"] != "v" {
		t.Errorf("item 0 = %+v", items[0])
	}
	hits, err := g.Search([]float32{0, 0, 0, 0, 0, 1, 0, 0}, 1, Query{})
	if err != nil || len(hits) != 1 || hits[0].Label != "y" || hits[0].ID != items[1].ID {
		t.Errorf("hits %+v err %v", hits, err)
	}
	_, err = g.AddImages(context.Background(), ex, []NewImage{{Data: a, Label: "x"}, {Data: []byte("junk"), Label: "z"}}, imaging.DecodeOptions{})
	if err == nil || !bytes.Contains([]byte(err.Error()), []byte("item 1")) || g.Len() != 2 {
		t.Errorf("bad image: err %v, %d items", err, g.Len())
	}
	if _, err := g.AddImages(context.Background(), ex, []NewImage{{Data: pngOf(t, 64, 64), Label: "big"}},
		imaging.DecodeOptions{MaxPixels: 100}); !errors.Is(err, imaging.ErrTooLarge) {
		t.Errorf("pixel bound: %v", err)
	}
}

// TestExtractFilesPlain: an Extractor without a file path gets files
// decoded for it; an unreadable file is reported for that path only.
func TestExtractFilesPlain(t *testing.T) {
	dir := t.TempDir()
	var paths []string
	for i, w := range []int{1, 2, 3} {
		p := filepath.Join(dir, string(rune('a'+i))+".png")
		os.WriteFile(p, pngOf(t, w, 1), 0o644)
		paths = append(paths, p)
	}
	paths = append(paths[:1], append([]string{filepath.Join(dir, "missing.png")}, paths[1:]...)...)
	ex := &widthExtractor{dims: 4}
	var got []int
	err := ExtractFiles(context.Background(), ex, paths, func(i int, v []float32, err error) error {
		if (err != nil) != (i == 1) {
			t.Errorf("path %d: err %v", i, err)
		}
		if err == nil {
			for j, x := range v {
				if x == 1 {
					got = append(got, j)
				}
			}
		}
		return nil
	})
	if err != nil || ex.calls != 1 || len(got) != 3 || got[0] != 1 || got[2] != 3 {
		t.Errorf("err %v calls %d axes %v", err, ex.calls, got)
	}
}
