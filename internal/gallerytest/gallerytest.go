// Package gallerytest holds test helpers shared by the gallery packages:
// a fake extractor and list-file fixtures. It imports no gallery code, so
// gallery's own tests can use it.
package gallerytest

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shitu-go/shitu/imaging"
)

// Extractor derives a unit vector of Dims values from each file's bytes
// (same bytes, same vector); files whose content starts with "bad" fail
// to decode. It implements gallery.FileExtractor.
type Extractor struct {
	Dims  int
	Calls int // images extracted
}

// Extract is not used: builds go through ExtractFiles.
func (f *Extractor) Extract(context.Context, []*imaging.Image) ([][]float32, error) {
	return nil, errors.New("gallerytest: Extract is not used")
}

// ExtractFiles reads each file and embeds its bytes.
func (f *Extractor) ExtractFiles(ctx context.Context, paths []string, each func(int, []float32, error) error) error {
	for i, p := range paths {
		b, err := os.ReadFile(p)
		var v []float32
		if err == nil && strings.HasPrefix(string(b), "bad") {
			err = errors.New("cannot decode")
		}
		if err == nil {
			f.Calls++
			h := sha256.Sum256(b)
			v = UnitVec(rand.New(rand.NewPCG(binary.LittleEndian.Uint64(h[:]), 1)), f.Dims)
		}
		if err := each(i, v, err); err != nil {
			return err
		}
	}
	return nil
}

// UnitVec is a random unit vector of d values.
func UnitVec(r *rand.Rand, d int) []float32 {
	v := make([]float32, d)
	var n float64
	for i := range v {
		v[i] = float32(r.NormFloat64())
		n += float64(v[i]) * float64(v[i])
	}
	s := float32(1 / math.Sqrt(n))
	for i := range v {
		v[i] *= s
	}
	return v
}

// ListFixture is a folder of image files, a list file naming them and a
// gallery folder.
type ListFixture struct {
	Dir, Root, List string
}

// NewListFixture writes files (name → content) under Root and the list lines.
func NewListFixture(t *testing.T, files map[string]string, lines ...string) ListFixture {
	t.Helper()
	d := t.TempDir()
	f := ListFixture{Dir: filepath.Join(d, "gallery"), Root: filepath.Join(d, "images"), List: filepath.Join(d, "list.txt")}
	os.MkdirAll(f.Root, 0o755)
	for name, content := range files {
		p := filepath.Join(f.Root, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, []byte(content), 0o644)
	}
	f.WriteList(t, lines...)
	return f
}

// WriteList replaces the list file.
func (f ListFixture) WriteList(t *testing.T, lines ...string) {
	t.Helper()
	if err := os.WriteFile(f.List, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
}
