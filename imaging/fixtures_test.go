package imaging

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// manifest mirrors testdata/manifest.json written by testdata/gen_fixtures.py.
type manifest struct {
	Decode []struct {
		Name   string `json:"name"`
		Src    string `json:"src"`
		Shared string `json:"shared"`
		W      int    `json:"w"`
		H      int    `json:"h"`
		Want   string `json:"want"`
		SHA256 string `json:"sha256"`
		Exact  bool   `json:"exact"`
	} `json:"decode"`
	Resize []struct {
		Name   string `json:"name"`
		SrcW   int    `json:"src_w"`
		SrcH   int    `json:"src_h"`
		Cn     int    `json:"cn"`
		Seed   uint32 `json:"seed"`
		W      int    `json:"w"`
		H      int    `json:"h"`
		Interp string `json:"interp"`
		Want   string `json:"want"`
		SHA256 string `json:"sha256"`
	} `json:"resize"`
	Preprocess []struct {
		Name   string    `json:"name"`
		Src    string    `json:"src"`
		Scale  float64   `json:"scale"`
		Shape  []int     `json:"shape"`
		SHA256 string    `json:"sha256"`
		First  []float32 `json:"first"`
	} `json:"preprocess"`
}

func loadManifest(t testing.TB) *manifest {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m manifest
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return &m
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// patternImage mirrors pattern() in gen_fixtures.py: seeded hash noise.
func patternImage(w, h, c int, seed uint32) *Image {
	img := &Image{W: w, H: h, C: c, Pix: make([]uint8, w*h*c)}
	i := 0
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			for ch := 0; ch < c; ch++ {
				v := uint32(x)*0x9E3779B1 ^ uint32(y)*0x85EBCA77 ^ (uint32(ch)+seed)*0xC2B2AE3D
				v ^= v >> 15
				v *= 0x2C1B3C6D
				v ^= v >> 12
				img.Pix[i] = uint8(v >> 24)
				i++
			}
		}
	}
	return img
}

// diffCount returns how many bytes differ and the largest difference.
func diffCount(a, b []uint8) (n, maxd int) {
	for i := range a {
		d := int(a[i]) - int(b[i])
		if d < 0 {
			d = -d
		}
		if d != 0 {
			n++
			maxd = max(maxd, d)
		}
	}
	return n, maxd
}

func meanAbsDiff(a, b []uint8) float64 {
	var s int64
	for i := range a {
		d := int64(a[i]) - int64(b[i])
		s += max(d, -d)
	}
	return float64(s) / float64(max(len(a), 1))
}
