package gallery

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shitu-go/shitu/arch"
	"github.com/shitu-go/shitu/feature"
	"github.com/shitu-go/shitu/imaging"
	"github.com/shitu-go/shitu/infer"
	"github.com/shitu-go/shitu/infer/ort"
	"github.com/shitu-go/shitu/internal/testutil"
	"github.com/shitu-go/shitu/onnx"
	"github.com/shitu-go/shitu/vecindex"
)

// TestBuildWithRecModel builds galleries (float IP and binary Hamming)
// from real demo images with the synthesized recognition model through
// ONNX Runtime and feature.Extractor, then finds each gallery image as its
// own top hit; a second build with the same list extracts nothing.
func TestBuildWithRecModel(t *testing.T) {
	root := filepath.Join(testutil.SharedDir(t), "testdata", "images", "paddleclas-demo")
	be, err := ort.New(ort.Config{LibPath: testutil.ORTLib(t)})
	if errors.Is(err, infer.ErrUnavailable) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	m, err := arch.BuildRec(3, arch.RecOptions{})
	if err != nil {
		t.Fatal(err)
	}
	mb, _ := onnx.Marshal(m)
	sess, err := be.Open(mb, infer.Options{IntraOpThreads: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	ex, err := feature.New(sess, feature.Config{BatchSize: 4})
	if err != nil {
		t.Fatal(err)
	}
	names := []string{
		"product_demo__gallery__anmuxi__001.jpg", "product_demo__gallery__anmuxi__002.jpg",
		"drink_data_demo__test_images__100.jpeg", "drink_data_demo__test_images__youjia.jpeg",
		"images__wangzai.jpg", "logo_demo__gallery__logo_gallery_demo.png", "vehicle__cars.JPG",
	}
	var lines []string
	for i, n := range names {
		lines = append(lines, n+"\t"+[]string{"安慕希", "安慕希", "drink", "优加", "旺仔", "logo", "car"}[i])
	}
	lines = append(lines, "missing.jpg\tghost")
	list := filepath.Join(t.TempDir(), "list.txt")
	os.WriteFile(list, []byte(strings.Join(lines, "\n")+"\n"), 0o644)
	fp := feature.Fingerprint(mb, ex.Config())
	for _, metric := range []vecindex.Metric{vecindex.IP, vecindex.Hamming} {
		g, err := Create(filepath.Join(t.TempDir(), metric.String()), Options{Model: fp, Metric: metric, Method: MethodHNSW})
		if err != nil {
			t.Fatal(err)
		}
		s, err := g.Build(context.Background(), BuildOptions{List: list, ImageRoot: root, Extractor: ex})
		if err != nil {
			t.Fatal(err)
		}
		if s.Added != len(names) || len(s.Problems) != 1 || s.Problems[0].Line != len(names)+1 {
			t.Fatalf("%v: %v %v", metric, s, s.Problems)
		}
		for i, n := range names {
			feats, err := ex.Extract(context.Background(), mustDecode(t, filepath.Join(root, n)))
			if err != nil {
				t.Fatal(err)
			}
			h, err := g.Search(feats[0], 1, Query{})
			if err != nil || len(h) != 1 || h[0].ID != int64(i) {
				t.Fatalf("%v: query %s: %+v %v", metric, n, h, err)
			}
			if metric == vecindex.IP && h[0].Score < 0.9999 || metric == vecindex.Hamming && h[0].Score != 0 {
				t.Fatalf("%v: self score %v", metric, h[0].Score)
			}
		}
		before := ex.Stats().Images
		s, err = g.Build(context.Background(), BuildOptions{List: list, ImageRoot: root, Extractor: ex})
		if err != nil || s.Added != 0 || s.Unchanged != len(names) || ex.Stats().Images != before {
			t.Fatalf("rebuild: %v %v", s, err)
		}
		g.Close()
	}
}

func mustDecode(t *testing.T, path string) []*imaging.Image {
	t.Helper()
	img, err := imaging.DecodeFile(path, imaging.DecodeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return []*imaging.Image{img}
}
