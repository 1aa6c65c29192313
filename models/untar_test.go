package models

import (
	"archive/tar"
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestExtract(t *testing.T) {
	big := string(make([]byte, 2000))
	tests := []struct {
		name    string
		gz      bool
		entries []tarEntry
		opts    ExtractOptions
		wantErr error
		files   map[string]string // expected regular files (relative) → content
	}{
		{name: "official layout", entries: []tarEntry{
			{name: "m/", typ: tar.TypeDir},
			{name: "m/inference.pdmodel", body: "P"},
			{name: "m/inference.pdiparams", body: "W"},
		}, files: map[string]string{"m/inference.pdmodel": "P", "m/inference.pdiparams": "W"}},
		{name: "gzip", gz: true, entries: []tarEntry{{name: "a/b.txt", body: "hi"}},
			files: map[string]string{"a/b.txt": "hi"}},
		{name: "dot slash names", entries: []tarEntry{{name: "./a/./b.txt", body: "x"}},
			files: map[string]string{"a/b.txt": "x"}},
		{name: "internal symlink", entries: []tarEntry{
			{name: "m/real.txt", body: "r"},
			{name: "m/alias.txt", typ: tar.TypeSymlink, link: "real.txt"},
		}, files: map[string]string{"m/real.txt": "r", "m/alias.txt": "r"}},
		{name: "hard link to earlier file", entries: []tarEntry{
			{name: "m/real.txt", body: "r"},
			{name: "m/copy.txt", typ: tar.TypeLink, link: "m/real.txt"},
		}, files: map[string]string{"m/real.txt": "r", "m/copy.txt": "r"}},
		{name: "dotdot", entries: []tarEntry{{name: "../evil.txt", body: "x"}}, wantErr: ErrUnsafeArchive},
		{name: "dotdot inside", entries: []tarEntry{{name: "m/../../evil.txt", body: "x"}}, wantErr: ErrUnsafeArchive},
		{name: "absolute", entries: []tarEntry{{name: "/tmp/evil.txt", body: "x"}}, wantErr: ErrUnsafeArchive},
		{name: "backslash dotdot", entries: []tarEntry{{name: "m\\..\\..\\evil.txt", body: "x"}}, wantErr: ErrUnsafeArchive},
		{name: "symlink out", entries: []tarEntry{{name: "m/l", typ: tar.TypeSymlink, link: "../../etc"}}, wantErr: ErrUnsafeArchive},
		{name: "symlink absolute", entries: []tarEntry{{name: "m/l", typ: tar.TypeSymlink, link: "/etc/passwd"}}, wantErr: ErrUnsafeArchive},
		{name: "write through symlink", entries: []tarEntry{
			{name: "m/sub/", typ: tar.TypeDir},
			{name: "m/l", typ: tar.TypeSymlink, link: "sub"},
			{name: "m/l/x.txt", body: "x"},
		}, wantErr: ErrUnsafeArchive},
		{name: "overwrite symlink", entries: []tarEntry{
			{name: "m/a.txt", body: "a"},
			{name: "m/l", typ: tar.TypeSymlink, link: "a.txt"},
			{name: "m/l", body: "x"},
		}, wantErr: ErrUnsafeArchive},
		{name: "hard link out", entries: []tarEntry{{name: "m/h", typ: tar.TypeLink, link: "../../etc/passwd"}}, wantErr: ErrUnsafeArchive},
		{name: "hard link to unknown", entries: []tarEntry{{name: "m/h", typ: tar.TypeLink, link: "m/none"}}, wantErr: ErrUnsafeArchive},
		{name: "char device", entries: []tarEntry{{name: "m/dev", typ: tar.TypeChar}}, wantErr: ErrUnsafeArchive},
		{name: "fifo", entries: []tarEntry{{name: "m/fifo", typ: tar.TypeFifo}}, wantErr: ErrUnsafeArchive},
		{name: "file cap", entries: []tarEntry{{name: "m/big", body: big}}, opts: ExtractOptions{MaxFile: 1000}, wantErr: ErrUnsafeArchive},
		{name: "total cap", entries: []tarEntry{{name: "a", body: big}, {name: "b", body: big}},
			opts: ExtractOptions{MaxTotal: 3000}, wantErr: ErrUnsafeArchive},
		{name: "entry cap", entries: []tarEntry{{name: "a", body: "1"}, {name: "b", body: "2"}},
			opts: ExtractOptions{MaxEntries: 1}, wantErr: ErrUnsafeArchive},
		{name: "empty", entries: nil, wantErr: ErrArchive},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			outer := t.TempDir()
			dir := filepath.Join(outer, "a", "b")
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			err := Extract(bytes.NewReader(makeTar(t, tc.gz, tc.entries...)), dir, tc.opts)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err = %v, want %v", err, tc.wantErr)
				}
				// Nothing may appear outside dir.
				for _, p := range []string{filepath.Join(outer, "evil.txt"), filepath.Join(outer, "a", "evil.txt")} {
					if _, err := os.Lstat(p); err == nil {
						t.Fatalf("%s was written outside the folder", p)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for rel, want := range tc.files {
				got, err := os.ReadFile(filepath.Join(dir, rel))
				if err != nil {
					t.Fatal(err)
				}
				if string(got) != want {
					t.Errorf("%s = %q, want %q", rel, got, want)
				}
			}
		})
	}
}

func TestExtractTruncated(t *testing.T) {
	b := makeTar(t, false, tarEntry{name: "m/inference.pdiparams", body: string(make([]byte, 5000))})
	err := Extract(bytes.NewReader(b[:1500]), t.TempDir(), ExtractOptions{})
	if !errors.Is(err, ErrArchive) {
		t.Fatalf("err = %v, want ErrArchive", err)
	}
}

func TestExtractModes(t *testing.T) {
	dir := t.TempDir()
	b := makeTar(t, false, tarEntry{name: "run.sh", body: "#!", mode: 0o4777}, tarEntry{name: "data", body: "d", mode: 0o666})
	if err := Extract(bytes.NewReader(b), dir, ExtractOptions{}); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]os.FileMode{"run.sh": 0o755, "data": 0o644} {
		st, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm()&^want != 0 || st.Mode()&os.ModeSetuid != 0 {
			t.Errorf("%s mode %v, want at most %v", name, st.Mode(), want)
		}
	}
}
