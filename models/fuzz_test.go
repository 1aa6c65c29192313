package models

import (
	"archive/tar"
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzExtract feeds arbitrary bytes to Extract: it must never panic, never
// write outside the target folder and fail only with ErrArchive or
// ErrUnsafeArchive.
func FuzzExtract(f *testing.F) {
	f.Add(officialTar(f, "m", true))
	f.Add(makeTar(f, true, tarEntry{name: "a/b", body: "x"}, tarEntry{name: "a/l", typ: tar.TypeSymlink, link: "b"}))
	f.Add(makeTar(f, false, tarEntry{name: "../x", body: "x"}))
	f.Add(makeTar(f, false, tarEntry{name: "a/h", typ: tar.TypeLink, link: "a/b"}))
	f.Add([]byte{0x1f, 0x8b, 8, 0})
	base := f.TempDir()
	f.Fuzz(func(t *testing.T, b []byte) {
		outer, err := os.MkdirTemp(base, "x")
		if err != nil {
			t.Fatal(err)
		}
		defer os.RemoveAll(outer)
		dir := filepath.Join(outer, "in")
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		err = Extract(bytes.NewReader(b), dir, ExtractOptions{MaxTotal: 1 << 20, MaxFile: 1 << 20, MaxEntries: 100})
		if err != nil && !errors.Is(err, ErrArchive) && !errors.Is(err, ErrUnsafeArchive) {
			t.Fatalf("unexpected error class: %v", err)
		}
		entries, _ := os.ReadDir(outer)
		if len(entries) != 1 {
			t.Fatalf("Extract wrote beside the folder: %d entries", len(entries))
		}
		filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
			if err != nil || d.Type()&os.ModeSymlink == 0 {
				return nil
			}
			target, err := filepath.EvalSymlinks(p)
			if err == nil {
				rel, _ := filepath.Rel(dir, target)
				if strings.HasPrefix(rel, "..") {
					t.Fatalf("link %s points outside: %s", p, target)
				}
			}
			return nil
		})
	})
}

// FuzzONNXIO feeds arbitrary bytes to the ONNX input/output reader.
func FuzzONNXIO(f *testing.F) {
	f.Add(tinyONNX("x", "y"))
	f.Add([]byte{0x3a, 0x02, 0x5a, 0x00})
	f.Fuzz(func(t *testing.T, b []byte) {
		in, out, err := onnxIO(b)
		if err != nil && (in != nil || out != nil) {
			t.Fatal("values returned with an error")
		}
	})
}

// FuzzParseContentRange checks the Content-Range parser never panics.
func FuzzParseContentRange(f *testing.F) {
	f.Add("bytes 1-2/3")
	f.Add("bytes */9")
	f.Fuzz(func(t *testing.T, s string) {
		parseContentRange(s)
	})
}
