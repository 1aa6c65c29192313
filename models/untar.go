package models

import (
	"archive/tar"
	"bufio"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// ExtractOptions are the caps of Extract. The zero value means: 4 GiB in
// total, 2 GiB per file, 100 000 entries.
type ExtractOptions struct {
	MaxTotal   int64 // bytes of all regular files (default 4 GiB)
	MaxFile    int64 // bytes of one file (default 2 GiB)
	MaxEntries int   // number of entries (default 100 000)
}

// Extract unpacks a tar stream (plain or gzip, detected from the bytes)
// into dir, which must exist. It refuses (ErrUnsafeArchive) absolute names,
// names with "..", symbolic links whose target leaves dir or is absolute,
// entries whose path runs through a symbolic link, hard links to anything
// but a regular file extracted earlier, device files and FIFOs, and
// archives beyond the caps. Modes are reduced to 0644/0755. On error, what
// was written stays in dir: extract into a temporary folder and remove it
// on failure (PullEntry does).
func Extract(r io.Reader, dir string, o ExtractOptions) error {
	if o.MaxTotal <= 0 {
		o.MaxTotal = 4 << 30
	}
	if o.MaxFile <= 0 {
		o.MaxFile = 2 << 30
	}
	if o.MaxEntries <= 0 {
		o.MaxEntries = 100000
	}
	br := bufio.NewReader(r)
	var src io.Reader = br
	if magic, err := br.Peek(2); err == nil && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return fmt.Errorf("%w: %v", ErrArchive, err)
		}
		defer zr.Close()
		src = zr
	}
	tr := tar.NewReader(src)
	var total int64
	regular := map[string]bool{} // cleaned names of regular files written
	for n := 0; ; n++ {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			if n == 0 {
				return fmt.Errorf("%w: empty archive", ErrArchive)
			}
			return nil
		}
		if err != nil {
			return fmt.Errorf("%w: %v", ErrArchive, err)
		}
		if n >= o.MaxEntries {
			return fmt.Errorf("%w: more than %d entries", ErrUnsafeArchive, o.MaxEntries)
		}
		name, err := safeName(h.Name)
		if err != nil {
			return err
		}
		if name == "." {
			continue
		}
		if err := noLinkInPath(dir, name); err != nil {
			return err
		}
		target := filepath.Join(dir, filepath.FromSlash(name))
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(target, 0o755); err != nil {
				return fmt.Errorf("%w: %v", ErrArchive, err)
			}
		case tar.TypeReg:
			if h.Size > o.MaxFile {
				return fmt.Errorf("%w: %s is %d bytes (cap %d)", ErrUnsafeArchive, name, h.Size, o.MaxFile)
			}
			total += h.Size
			if total > o.MaxTotal {
				return fmt.Errorf("%w: more than %d bytes in total", ErrUnsafeArchive, o.MaxTotal)
			}
			mode := os.FileMode(0o644)
			if h.Mode&0o111 != 0 {
				mode = 0o755
			}
			if err := writeFile(target, io.LimitReader(tr, h.Size), h.Size, mode); err != nil {
				return err
			}
			regular[name] = true
		case tar.TypeSymlink:
			if err := checkSymlink(name, h.Linkname); err != nil {
				return err
			}
			if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
				return fmt.Errorf("%w: %v", ErrArchive, err)
			}
			os.Remove(target)
			if err := os.Symlink(h.Linkname, target); err != nil {
				return fmt.Errorf("%w: %v", ErrArchive, err)
			}
		case tar.TypeLink:
			linked, err := safeName(h.Linkname)
			if err != nil {
				return err
			}
			if !regular[linked] {
				return fmt.Errorf("%w: hard link %s -> %s does not point to a file extracted earlier", ErrUnsafeArchive, name, h.Linkname)
			}
			// A copy, not a link: the installed folder owns its files.
			if err := copyFile(filepath.Join(dir, filepath.FromSlash(linked)), target); err != nil {
				return err
			}
			regular[name] = true
		case tar.TypeXGlobalHeader, tar.TypeXHeader, tar.TypeGNULongName, tar.TypeGNULongLink:
			// Metadata consumed by archive/tar.
		default:
			return fmt.Errorf("%w: %s has type %q (devices, FIFOs and sparse files are refused)", ErrUnsafeArchive, name, string(h.Typeflag))
		}
	}
}

// safeName cleans a tar name and refuses absolute names and "..".
func safeName(name string) (string, error) {
	n := strings.ReplaceAll(name, "\\", "/")
	if n == "" || strings.HasPrefix(n, "/") || (len(n) > 1 && n[1] == ':') {
		return "", fmt.Errorf("%w: absolute or empty entry name %q", ErrUnsafeArchive, name)
	}
	for _, part := range strings.Split(n, "/") {
		if part == ".." {
			return "", fmt.Errorf("%w: entry %q leaves the folder", ErrUnsafeArchive, name)
		}
	}
	if strings.ContainsRune(n, 0) {
		return "", fmt.Errorf("%w: entry name %q holds NUL", ErrUnsafeArchive, name)
	}
	return path.Clean(n), nil
}

// checkSymlink refuses absolute targets and targets that leave the folder.
func checkSymlink(name, link string) error {
	l := strings.ReplaceAll(link, "\\", "/")
	if l == "" || strings.HasPrefix(l, "/") || (len(l) > 1 && l[1] == ':') {
		return fmt.Errorf("%w: symbolic link %s -> %q is absolute", ErrUnsafeArchive, name, link)
	}
	resolved := path.Join(path.Dir(name), l)
	if resolved == ".." || strings.HasPrefix(resolved, "../") {
		return fmt.Errorf("%w: symbolic link %s -> %q leaves the folder", ErrUnsafeArchive, name, link)
	}
	return nil
}

// noLinkInPath refuses an entry whose parent folders include a symbolic
// link already on disk: writing through it could land anywhere.
func noLinkInPath(dir, name string) error {
	parts := strings.Split(name, "/")
	p := dir
	for _, part := range parts[:len(parts)-1] {
		p = filepath.Join(p, part)
		st, err := os.Lstat(p)
		if err != nil {
			return nil // does not exist yet: nothing to follow
		}
		if st.Mode()&os.ModeSymlink != 0 {
			return fmt.Errorf("%w: entry %s runs through a symbolic link", ErrUnsafeArchive, name)
		}
	}
	// The entry itself: never write a file through an existing link.
	if st, err := os.Lstat(filepath.Join(dir, filepath.FromSlash(name))); err == nil && st.Mode()&os.ModeSymlink != 0 {
		return fmt.Errorf("%w: entry %s replaces a symbolic link", ErrUnsafeArchive, name)
	}
	return nil
}

func writeFile(target string, r io.Reader, size int64, mode os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
		return fmt.Errorf("%w: %v", ErrArchive, err)
	}
	f, err := os.OpenFile(target, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, mode)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrArchive, err)
	}
	n, err := io.Copy(f, r)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("%w: %s: %v", ErrArchive, target, err)
	}
	if n != size {
		return fmt.Errorf("%w: %s truncated (%d of %d bytes)", ErrArchive, target, n, size)
	}
	return nil
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrArchive, err)
	}
	defer in.Close()
	st, err := in.Stat()
	if err != nil {
		return fmt.Errorf("%w: %v", ErrArchive, err)
	}
	return writeFile(dst, in, st.Size(), 0o644)
}
