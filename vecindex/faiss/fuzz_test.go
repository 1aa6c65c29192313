package faiss

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

func addSeeds(f *testing.F) {
	names, _ := filepath.Glob(filepath.Join("testdata", "*.index"))
	for _, n := range names {
		b, err := os.ReadFile(n)
		if err == nil && len(b) < 40000 {
			f.Add(b)
		}
	}
}

// FuzzRead: any bytes give an index or an error, never a panic or a huge
// allocation.
func FuzzRead(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		idx, err := Read(bytes.NewReader(b))
		if err != nil {
			return
		}
		q := make([]float32, idx.Dims())
		if _, err := idx.Search(q, 3, nil); err != nil {
			t.Fatal(err)
		}
	})
}

// FuzzReadBinary: as FuzzRead for binary indexes.
func FuzzReadBinary(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		idx, err := ReadBinary(bytes.NewReader(b))
		if err != nil {
			return
		}
		q := make([]byte, idx.Dims()/8)
		if _, err := idx.Search(q, 3, nil); err != nil {
			t.Fatal(err)
		}
	})
}
