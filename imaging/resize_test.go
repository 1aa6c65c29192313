package imaging

import (
	"errors"
	"github.com/shitu-go/shitu/imaging/internal/simd"
	"os"
	"path/filepath"
	"testing"
)

var interpNames = map[string]Interp{"nearest": Nearest, "linear": Linear, "cubic": Cubic, "area": Area}

func TestResizeMatchesOpenCV(t *testing.T) {
	testResizeFixtures(t)
	if simd.AVX2 {
		noLin3 = true
		t.Run("gather", testResizeFixtures)
		noLin3 = false
		// The same fixtures through the pure-Go kernels.
		simd.AVX2 = false
		defer func() { simd.AVX2 = true }()
		t.Run("go", testResizeFixtures)
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
