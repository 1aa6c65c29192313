package imaging

import (
	"errors"
	"github.com/shitu-go/shitu/imaging/internal/simd"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

var interpNames = map[string]Interp{"nearest": Nearest, "linear": Linear, "cubic": Cubic, "area": Area}

func TestResizeMatchesOpenCV(t *testing.T) {
	testResizeFixtures(t)
	avx2, avx512 := simd.AVX2, simd.AVX512
	defer func() { simd.AVX2, simd.AVX512 = avx2, avx512 }()
	if avx512 {
		// The AVX2 kernels on a CPU that has AVX-512.
		simd.AVX512 = false
		t.Run("avx2", testResizeFixtures)
	}
	if avx2 {
		noLin3 = true
		t.Run("gather", testResizeFixtures)
		noLin3 = false
		// The same fixtures through the pure-Go kernels.
		simd.AVX2, simd.AVX512 = false, false
		t.Run("go", testResizeFixtures)
	}
}

// TestResizeKernelsAgree compares every kernel set this CPU has (AVX-512,
// AVX2 with and without the 3-channel linear kernel) with the pure-Go
// kernels on random sizes, both ways of scaling, 1 and 3 channels: the
// bytes must be the same (the Go kernels are the ones checked against
// OpenCV by TestResizeMatchesOpenCV).
func TestResizeKernelsAgree(t *testing.T) {
	if !simd.AVX2 {
		t.Skip("no assembly kernels on this CPU/build")
	}
	avx2, avx512 := simd.AVX2, simd.AVX512
	defer func() { simd.AVX2, simd.AVX512, noLin3 = avx2, avx512, false }()
	r := rand.New(rand.NewPCG(18, 512))
	n := 60
	if testing.Short() {
		n = 20
	}
	for i := 0; i < n; i++ {
		sw, sh := 1+r.IntN(400), 1+r.IntN(60)
		dw, dh := 1+r.IntN(400), 1+r.IntN(60)
		cn := 1 + 2*r.IntN(2)
		interp := []Interp{Linear, Cubic, Area}[r.IntN(3)]
		img := patternImage(sw, sh, cn, uint32(i))
		simd.AVX2, simd.AVX512, noLin3 = false, false, false
		want, err := Resize(img, dw, dh, interp)
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range []struct {
			name                string
			avx2, avx512, nolin bool
		}{{"avx512", true, true, false}, {"avx2", true, false, false}, {"gather", true, false, true}} {
			if k.avx512 && !avx512 {
				continue
			}
			simd.AVX2, simd.AVX512, noLin3 = k.avx2, k.avx512, k.nolin
			got, err := Resize(img, dw, dh, interp)
			if err != nil {
				t.Fatal(err)
			}
			if n, maxd := diffCount(got.Pix, want.Pix); n != 0 {
				t.Fatalf("%s: %dx%dx%d → %dx%d %v: %d bytes differ from the Go kernels (max %d)", k.name, sw, sh, cn, dw, dh, interp, n, maxd)
			}
		}
	}
}

func testResizeFixtures(t *testing.T) {
	m := loadManifest(t)
	srcs := map[[4]uint32]*Image{}
	for _, c := range m.Resize {
		t.Run(c.Name, func(t *testing.T) {
			key := [4]uint32{uint32(c.SrcW), uint32(c.SrcH), uint32(c.Cn), c.Seed}
			src := srcs[key]
			if src == nil {
				src = patternImage(c.SrcW, c.SrcH, c.Cn, c.Seed)
				srcs[key] = src
			}
			got, err := Resize(src, c.W, c.H, interpNames[c.Interp])
			if err != nil {
				t.Fatal(err)
			}
			if got.W != c.W || got.H != c.H || got.Channels() != c.Cn {
				t.Fatalf("got %dx%dx%d", got.W, got.H, got.Channels())
			}
			if c.Want != "" {
				want, err := os.ReadFile(filepath.Join("testdata", c.Want))
				if err != nil {
					t.Fatal(err)
				}
				if n, maxd := diffCount(got.Pix, want); n != 0 {
					t.Fatalf("%d of %d bytes differ from cv2.resize (max %d)", n, len(want), maxd)
				}
			}
			if h := sha256Hex(got.Pix); h != c.SHA256 {
				t.Fatalf("sha256 %s differs from cv2.resize's %s", h, c.SHA256)
			}
		})
	}
}

func TestResizeErrors(t *testing.T) {
	img := patternImage(10, 10, 3, 1)
	for _, tc := range []struct {
		name   string
		img    *Image
		w, h   int
		interp Interp
		want   error
	}{
		{"zero width", img, 0, 5, Linear, ErrSize},
		{"negative", img, 5, -1, Cubic, ErrSize},
		{"nil", nil, 5, 5, Linear, ErrSize},
		{"short pixels", &Image{W: 10, H: 10, Pix: make([]uint8, 10)}, 5, 5, Linear, ErrSize},
		{"lanczos", img, 5, 5, Lanczos4, ErrUnsupported},
		{"bad code", img, 5, 5, Interp(9), ErrUnsupported},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Resize(tc.img, tc.w, tc.h, tc.interp); !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
	if _, err := InterpFromCode(5); !errors.Is(err, ErrUnsupported) {
		t.Fatalf("code 5: %v", err)
	}
	if it, err := InterpFromCode(2); err != nil || it != Cubic {
		t.Fatalf("code 2: %v %v", it, err)
	}
}
