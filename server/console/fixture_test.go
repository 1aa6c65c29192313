package console

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"image"
	"image/color"
	"image/png"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/shitu-go/shitu"
	"github.com/shitu-go/shitu/detect"
	"github.com/shitu-go/shitu/gallery"
	"github.com/shitu-go/shitu/gallery/paddleclas"
	"github.com/shitu-go/shitu/imaging"
	"github.com/shitu-go/shitu/recognize"
	"github.com/shitu-go/shitu/server"
	"github.com/shitu-go/shitu/vecindex"
)

// The test system: a "product" is a coloured rectangle on a white shelf.
// blockDetector finds each run of non-white columns; colourEmbedder maps a
// crop to its normalised mean colour (plus a constant), so similar colours
// score between 0 and 1 and the scores can be planned: with threshold
// 0.95, a red query scores 1 against red (known) and (200,60,120) scores
// 0.918 against red (unknown, inside the review band).

const dims = 4

type colourEmbedder struct{}

func (colourEmbedder) Extract(ctx context.Context, crops []*imaging.Image) ([][]float32, error) {
	out := make([][]float32, len(crops))
	for i, c := range crops {
		var s [3]float64
		n := c.W * c.H
		for p := 0; p < n; p++ {
			for k := 0; k < 3; k++ {
				s[k] += float64(c.Pix[3*p+k])
			}
		}
		v := []float64{s[0] / float64(n), s[1] / float64(n), s[2] / float64(n), 40}
		norm := math.Sqrt(v[0]*v[0] + v[1]*v[1] + v[2]*v[2] + v[3]*v[3])
		out[i] = make([]float32, dims)
		for k := range v {
			out[i][k] = float32(v[k] / norm)
		}
	}
	return out, nil
}

type blockDetector struct{}

func white(img *imaging.Image, x, y int) bool {
	p := img.Pix[3*(y*img.W+x):]
	return p[0] > 240 && p[1] > 240 && p[2] > 240
}

func (blockDetector) Detect(ctx context.Context, img *imaging.Image) ([]detect.Box, error) {
	var out []detect.Box
	x0 := -1
	for x := 0; x <= img.W; x++ {
		used := false
		if x < img.W {
			for y := 0; y < img.H && !used; y++ {
				used = !white(img, x, y)
			}
		}
		switch {
		case used && x0 < 0:
			x0 = x
		case !used && x0 >= 0:
			y0, y1 := img.H, 0
			for y := 0; y < img.H; y++ {
				for xx := x0; xx < x; xx++ {
					if !white(img, xx, y) {
						y0, y1 = min(y0, y), max(y1, y+1)
						break
					}
				}
			}
			out = append(out, detect.Box{X1: float32(x0), Y1: float32(y0), X2: float32(x), Y2: float32(y1), Score: 0.9})
			x0 = -1
		}
	}
	return out, nil
}

var (
	red    = color.RGBA{220, 30, 30, 255}
	green  = color.RGBA{30, 200, 40, 255}
	blue   = color.RGBA{30, 40, 220, 255}
	yellow = color.RGBA{230, 220, 30, 255}
	mauve  = color.RGBA{200, 60, 120, 255} // 0.918 against red: unsure
)

// shelf draws products side by side on white, each 60×80 with 20 px gaps.
func shelf(cs ...color.RGBA) *image.RGBA {
	w := 20 + 80*len(cs)
	img := image.NewRGBA(image.Rect(0, 0, w, 120))
	for i := range img.Pix {
		img.Pix[i] = 255
	}
	for i, c := range cs {
		for y := 20; y < 100; y++ {
			for x := 20 + 80*i; x < 80+80*i; x++ {
				img.SetRGBA(x, y, c)
			}
		}
	}
	return img
}

func solid(c color.RGBA, w, h int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for i := 0; i < w*h; i++ {
		img.Pix[4*i], img.Pix[4*i+1], img.Pix[4*i+2], img.Pix[4*i+3] = c.R, c.G, c.B, 255
	}
	return img
}

func pngBytes(t testing.TB, img image.Image) []byte {
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

type fixture struct {
	srv *server.Server
	con *Console
	ts  *httptest.Server
	g   *gallery.Gallery
	dir string
}

// newFixture serves a gallery holding red, green and blue (plus extra
// items, generated) with the console mounted.
func newFixture(t testing.TB, cfg server.Config, extra int) *fixture {
	t.Helper()
	return newFixtureMount(t, cfg, extra, true)
}

// newFixtureMount is newFixture, with the console mounted or not.
func newFixtureMount(t testing.TB, cfg server.Config, extra int, mount bool) *fixture {
	t.Helper()
	dir := t.TempDir()
	g, err := gallery.Create(dir+"/default", gallery.Options{Model: "fake", Dims: dims, Metric: vecindex.IP, Method: gallery.MethodFlat})
	if err != nil {
		t.Fatal(err)
	}
	emb := colourEmbedder{}
	var items []gallery.Item
	for i, c := range []color.RGBA{red, green, blue} {
		img, _ := imaging.Decode(pngBytes(t, solid(c, 8, 8)), imaging.DecodeOptions{})
		v, _ := emb.Extract(context.Background(), []*imaging.Image{img})
		items = append(items, gallery.Item{Label: []string{"red", "green", "blue"}[i], Vector: v[0]})
	}
	for i := 0; i < extra; i++ { // browsing fodder: 100 labels
		v := []float32{0.1, 0.1, 0.1, 1}
		items = append(items, gallery.Item{Label: "品类-" + string(rune('A'+i%26)) + string(rune('a'+(i/26)%4)), Vector: v,
			SHA256: hex.EncodeToString(sha256Of(i))})
	}
	for len(items) > 0 {
		n := min(len(items), 5000)
		if _, err := g.Add(items[:n]...); err != nil {
			t.Fatal(err)
		}
		items = items[n:]
	}
	sys, err := shitu.New(shitu.Parts{Extractor: emb, Detector: blockDetector{}, Model: "fake",
		Recognize:    recognize.Options{ScoreThreshold: 0.95, WholeImage: recognize.WholeFallback},
		Galleries:    map[string]*gallery.Gallery{"default": g},
		IndexProcess: paddleclas.IndexProcess{EmbeddingSize: dims, IndexMethod: gallery.MethodFlat, DistType: "IP"}}, shitu.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sys.Close() })
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	cfg.Recognize = sys.Options()
	srv, err := server.New(sys, cfg)
	if err != nil {
		t.Fatal(err)
	}
	var con *Console
	if mount {
		if con, err = Mount(srv, Config{ReviewAbove: 0.02, Logger: cfg.Logger}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { con.Close() }) // after the test server closes, before its folder goes
	}
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	return &fixture{srv: srv, con: con, ts: ts, g: g, dir: dir}
}

func sha256Of(i int) []byte {
	s := sha256.Sum256([]byte{byte(i), byte(i >> 8), byte(i >> 16)})
	return s[:]
}

// outDir is where browser tests put screenshots: $SHITU_TEST_OUT, else
// test-out/console at the repository root (gitignored; overwritten by each
// run). The path is printed in the test log.
func outDir(t testing.TB) string {
	d := os.Getenv("SHITU_TEST_OUT")
	if d == "" {
		d = filepath.Join("..", "..", "test-out", "console")
	}
	d, err := filepath.Abs(d)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(d, 0o755); err != nil {
		t.Fatal(err)
	}
	return d
}

func get(t testing.TB, c *http.Client, url string) (*http.Response, string) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}
