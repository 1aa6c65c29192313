package feature

import (
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/shitu-go/shitu/imaging"
	"github.com/shitu-go/shitu/infer"
	"github.com/shitu-go/shitu/tensor"
)

// fakeSession is a "model" whose feature of an image is its three channel
// plane sums and the sum of the first row of the R plane, so tests can
// check batching, order and normalisation exactly.
type fakeSession struct {
	batch  int64 // fixed batch dim, or -1
	mu     sync.Mutex
	sizes  []int
	closed bool
}

func (f *fakeSession) Inputs() []infer.ValueInfo {
	return []infer.ValueInfo{{Name: "x", DType: tensor.Float32, Shape: []int64{f.batch, 3, -1, -1}}}
}
func (f *fakeSession) Outputs() []infer.ValueInfo {
	return []infer.ValueInfo{{Name: "y", DType: tensor.Float32, Shape: []int64{f.batch, 4}}}
}
func (f *fakeSession) Close() error { f.closed = true; return nil }
func (f *fakeSession) Run(ctx context.Context, in map[string]*tensor.Tensor) ([]*tensor.Tensor, error) {
	x := in["x"]
	if x == nil {
		return nil, infer.ErrInput
	}
	s := x.Shape()
	n, hw := s[0], s[2]*s[3]
	f.mu.Lock()
	f.sizes = append(f.sizes, n)
	f.mu.Unlock()
	d := x.Float32s()
	out := make([]float32, 4*n)
	for i := range n {
		for c := range 3 {
			var sum float32
			for _, v := range d[(i*3+c)*hw : (i*3+c+1)*hw] {
				sum += v
			}
			out[4*i+c] = sum
		}
		for _, v := range d[i*3*hw : i*3*hw+s[3]] {
			out[4*i+3] += v
		}
	}
	return []*tensor.Tensor{tensor.Must([]int{n, 4}, out)}, nil
}

// want computes the fake model's normalised feature of an image already at
// the target size.
func want(t *testing.T, cfg Config, img *imaging.Image) []float32 {
	t.Helper()
	cfg = cfg.withDefaults()
	buf := make([]float32, 3*img.W*img.H)
	if err := cfg.Preprocess(img, buf); err != nil {
		t.Fatal(err)
	}
	x := tensor.Must([]int{1, 3, img.H, img.W}, buf)
	out, _ := (&fakeSession{batch: -1}).Run(context.Background(), map[string]*tensor.Tensor{"x": x})
	v := out[0].Float32s()
	Normalize(v)
	return v
}

func testImage(seed, w, h int) *imaging.Image {
	img, _ := imaging.NewImage(w, h, 3)
	for i := range img.Pix {
		img.Pix[i] = uint8((i*7 + seed*31 + i*i*seed) % 251)
	}
	return img
}

func writePNG(t *testing.T, path string, img *imaging.Image) {
	t.Helper()
	m := image.NewNRGBA(image.Rect(0, 0, img.W, img.H))
	for y := range img.H {
		for x := range img.W {
			p := img.Pix[3*(y*img.W+x):]
			m.Set(x, y, color.NRGBA{p[0], p[1], p[2], 255})
		}
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := png.Encode(f, m); err != nil {
		t.Fatal(err)
	}
}

func TestNormalizeCHWExact(t *testing.T) {
	img := testImage(1, 4, 3)
	cfg := Config{Width: 4, Height: 3}
	buf := make([]float32, 36)
	if err := cfg.Preprocess(img, buf); err != nil {
		t.Fatal(err)
	}
	scale := float32(1.0 / 255.0)
	for c := range 3 {
		for i := range 12 {
			p := img.Pix[3*i+c]
			w := float32(float32(float32(p)*scale)-ImageNetMean[c]) / ImageNetStd[c]
			if got := buf[c*12+i]; got != w {
				t.Fatalf("channel %d pixel %d: %v, want %v", c, i, got, w)
			}
		}
	}
	// float32(1/255) is 0x3B808081 (§2.3).
	if math.Float32bits(Config{}.withDefaults().Scale) != 0x3B808081 {
		t.Fatalf("default scale bits %x", math.Float32bits(Config{}.withDefaults().Scale))
	}
}

func TestTargetSize(t *testing.T) {
	for _, c := range []struct {
		cfg        Config
		w, h       int
		wantW, wan int
	}{
		{Config{}, 640, 480, 224, 224},
		{Config{Width: 300, Height: 200}, 50, 50, 300, 200},
		{Config{ResizeShort: 256}, 640, 480, 341, 256},
		{Config{ResizeShort: 3}, 5, 2, 8, 3}, // 7.5 rounds to even 8
		{Config{ResizeShort: 2}, 5, 4, 2, 2}, // 2.5 rounds to even 2
		{Config{ResizeShort: 10}, 4, 100, 10, 250},
	} {
		w, h := c.cfg.TargetSize(c.w, c.h)
		if w != c.wantW || h != c.wan {
			t.Errorf("%+v on %dx%d: %dx%d, want %dx%d", c.cfg, c.w, c.h, w, h, c.wantW, c.wan)
		}
	}
}

func TestBinarizeSignMSBFirst(t *testing.T) {
	v := []float32{1, 0, -1, 0.5, float32(math.NaN()), -0, 2, 3, 0, 0, 0, 0, 0, 0, 0, 1e-30}
	got := Binarize(v)
	if len(got) != 2 || got[0] != 0b10010011 || got[1] != 0b00000001 {
		t.Fatalf("Binarize = %08b", got)
	}
}

func TestNormalize(t *testing.T) {
	v := []float32{3, 4}
	Normalize(v)
	if v[0] != 0.6 || v[1] != 0.8 {
		t.Fatalf("%v", v)
	}
	z := []float32{0, 0}
	Normalize(z)
	if z[0] != 0 || z[1] != 0 {
		t.Fatalf("zero vector became %v", z)
	}
}

func TestExtractBatches(t *testing.T) {
	for _, fixed := range []int64{-1, 2} {
		t.Run(fmt.Sprint("batch", fixed), func(t *testing.T) {
			s := &fakeSession{batch: fixed}
			cfg := Config{Width: 6, Height: 5, BatchSize: 3}
			e, err := New(s, cfg)
			if err != nil {
				t.Fatal(err)
			}
			var imgs []*imaging.Image
			for i := range 7 {
				imgs = append(imgs, testImage(i, 6, 5))
			}
			feats, err := e.Extract(context.Background(), imgs)
			if err != nil {
				t.Fatal(err)
			}
			for i, f := range feats {
				w := want(t, cfg, imgs[i])
				for j := range w {
					if f[j] != w[j] {
						t.Fatalf("image %d: %v, want %v", i, f, w)
					}
				}
			}
			wantSizes := []int{3, 3, 1}
			if fixed == 2 {
				wantSizes = []int{2, 2, 2, 1}
			}
			if fmt.Sprint(s.sizes) != fmt.Sprint(wantSizes) {
				t.Fatalf("batch sizes %v, want %v", s.sizes, wantSizes)
			}
			if e.Dims() != 4 || e.Stats().Images != 7 {
				t.Fatalf("dims %d stats %+v", e.Dims(), e.Stats())
			}
		})
	}
}

func TestNewRejectsBadModels(t *testing.T) {
	if _, err := New(&fakeSession{batch: -1}, Config{Interp: "cubic-ish"}); !errors.Is(err, ErrConfig) {
		t.Fatalf("bad interp: %v", err)
	}
	if _, err := New(&fakeSession{batch: -1}, Config{Std: [3]float32{1, 0, 1}}); !errors.Is(err, ErrConfig) {
		t.Fatalf("zero std: %v", err)
	}
}

func TestExtractFilesOrderAndErrors(t *testing.T) {
	dir := t.TempDir()
	cfg := Config{Width: 6, Height: 5, BatchSize: 4, Workers: 3}
	var paths []string
	var imgs []*imaging.Image
	for i := range 23 {
		p := filepath.Join(dir, fmt.Sprintf("%02d.png", i))
		img := testImage(i, 6, 5)
		switch i {
		case 4:
			os.WriteFile(p, []byte("not an image"), 0o644)
			img = nil
		case 9:
			img = nil // missing file
		default:
			writePNG(t, p, img)
		}
		paths = append(paths, p)
		imgs = append(imgs, img)
	}
	s := &fakeSession{batch: -1}
	e, err := New(s, cfg)
	if err != nil {
		t.Fatal(err)
	}
	next := 0
	err = e.ExtractFiles(context.Background(), paths, func(i int, vec []float32, err error) error {
		if i != next {
			t.Fatalf("each(%d) out of order, want %d", i, next)
		}
		next++
		if imgs[i] == nil {
			if !errors.Is(err, ErrImage) || vec != nil {
				t.Fatalf("image %d: want ErrImage, got %v %v", i, vec, err)
			}
			return nil
		}
		if err != nil {
			t.Fatalf("image %d: %v", i, err)
		}
		w := want(t, cfg, imgs[i])
		for j := range w {
			if vec[j] != w[j] {
				t.Fatalf("image %d: %v, want %v", i, vec, w)
			}
		}
		return nil
	})
	if err != nil || next != 23 {
		t.Fatalf("ExtractFiles: %v after %d", err, next)
	}
	st := e.Stats()
	for _, n := range s.sizes {
		if n < 1 || n > 4 {
			t.Fatalf("batch of %d (batch size 4)", n)
		}
	}
	if st.Images != 21 || st.Batches < 6 || st.Batches > 21 || st.Wall <= 0 || st.BusyShare() <= 0 || st.BusyShare() > 1 {
		t.Fatalf("stats %+v", st)
	}
	// A callback error stops the run and is returned.
	stop := errors.New("stop")
	n := 0
	err = e.ExtractFiles(context.Background(), paths, func(i int, vec []float32, err error) error {
		if n++; n == 5 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || n != 5 {
		t.Fatalf("callback stop: %v after %d", err, n)
	}
	// Cancellation.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := e.ExtractFiles(ctx, paths, func(int, []float32, error) error { return nil }); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v", err)
	}
}

func TestFingerprint(t *testing.T) {
	m := []byte("model bytes")
	base := Fingerprint(m, Config{})
	if base != Fingerprint(m, Config{Width: 224, Height: 224, Interp: "bilinear", Scale: float32(1.0 / 255.0), BatchSize: 8}) {
		t.Fatal("explicit defaults changed the fingerprint")
	}
	for _, other := range []string{
		Fingerprint([]byte("model bytez"), Config{}),
		Fingerprint(m, Config{Width: 256, Height: 256}),
		Fingerprint(m, Config{ResizeShort: 224}),
		Fingerprint(m, Config{Interp: "bicubic"}),
		Fingerprint(m, Config{Scale: 0.00392157}),
	} {
		if other == base {
			t.Fatal("a different model or preprocessing gave the same fingerprint")
		}
	}
}
