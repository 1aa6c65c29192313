package models

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// PullOptions configure Pull. Root is required; the zero value of every
// other field means: official URLs, digest from the catalogue (none
// pinned today: the digest is only recorded), no conversion at pull time,
// http.DefaultClient, 4 attempts, no progress, no log, keep an installed
// copy, delete the tarball after install.
type PullOptions struct {
	// Root is the models root; models install in Root/<name>.
	Root string
	// Mirror replaces the official servers: a local folder or a base URL
	// (http, https or file) holding the same tarballs under their file
	// names (Entry.File, e.g. <mirror>/drink_dataset_v2.0.tar).
	Mirror string
	// SHA256 is the expected tarball digest; it overrides the catalogue.
	SHA256 string
	// Converter converts Paddle models at pull time (nil: Resolve converts
	// on first use).
	Converter Converter
	// Client, Attempts and Backoff are passed to Fetch.
	Client   *http.Client
	Attempts int
	Backoff  time.Duration
	// Progress is told about downloaded bytes.
	Progress Progress
	// Log receives one line per stage ("downloading ...", "converting ...").
	Log io.Writer
	// Force replaces an installed copy, or a folder of that name without a
	// manifest (refused with ErrExists otherwise).
	Force bool
	// KeepTarball keeps the tarball in Root/.downloads after installing.
	KeepTarball bool
	// Extract are the caps of the unpacking.
	Extract ExtractOptions
}

// Installed is one model folder under a models root.
type Installed struct {
	Dir      string
	Manifest *Manifest
	// Fresh is true when Pull installed it now (false: it was there).
	Fresh bool
}

// Pull installs the catalogue model called name (see Lookup) under
// o.Root. See PullEntry.
func Pull(ctx context.Context, name string, o PullOptions) (*Installed, error) {
	e, err := Lookup(name)
	if err != nil {
		return nil, err
	}
	return PullEntry(ctx, e, o)
}

// Source is where PullEntry fetches e from: <Mirror>/<File> when a mirror
// is set, else the official URL (empty when neither is known).
func Source(e Entry, mirror string) string {
	if mirror == "" {
		return e.URL
	}
	if strings.HasPrefix(mirror, "http://") || strings.HasPrefix(mirror, "https://") || strings.HasPrefix(mirror, "file://") {
		return strings.TrimRight(mirror, "/") + "/" + url.PathEscape(e.File)
	}
	return filepath.Join(mirror, e.File)
}

// PullEntry downloads e's tarball (resuming an interrupted download,
// checking size and sha256 where known), unpacks it safely into a
// temporary folder, converts it when o.Converter is set, writes the
// manifest (source, tarball digest, every file's digest, inputs, outputs,
// preprocessing) and renames the folder into place. An installed model
// with a manifest is kept unless o.Force is set.
func PullEntry(ctx context.Context, e Entry, o PullOptions) (*Installed, error) {
	if o.Root == "" {
		return nil, fmt.Errorf("%w: no models root", ErrDownload)
	}
	logf := func(format string, args ...any) {
		if o.Log != nil {
			fmt.Fprintf(o.Log, format+"\n", args...)
		}
	}
	dest := filepath.Join(o.Root, e.Name)
	// One pull per model and root at a time: a second process waits, then
	// finds the model installed.
	if err := os.MkdirAll(filepath.Join(o.Root, ".downloads"), 0o755); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrDownload, err)
	}
	unlock, err := lockFile(filepath.Join(o.Root, ".downloads", e.File+".lock"))
	if err != nil {
		return nil, err
	}
	defer unlock()
	if !o.Force {
		if m, err := ReadManifest(dest); err == nil {
			logf("%s: already installed in %s", e.Name, dest)
			return &Installed{Dir: dest, Manifest: m}, nil
		}
		if _, err := os.Lstat(dest); err == nil {
			// Not ours (no manifest): never replace it silently.
			return nil, fmt.Errorf("%w: %s exists without a manifest (use Force to replace it)", ErrExists, dest)
		}
	}
	src := Source(e, o.Mirror)
	if src == "" {
		return nil, fmt.Errorf("%w: %s has no official download URL; use a mirror", ErrDownload, e.Name)
	}
	want := o.SHA256
	if want == "" {
		want = e.SHA256
	}
	tarball := filepath.Join(o.Root, ".downloads", e.File)
	fr, err := reuseTarball(tarball, e.Size, want)
	if err == nil {
		logf("%s: reusing %s", e.Name, tarball)
	} else {
		logf("%s: downloading %s", e.Name, src)
		fr, err = Fetch(ctx, src, tarball, FetchOptions{Client: o.Client, Attempts: o.Attempts, Backoff: o.Backoff,
			Size: e.Size, SHA256: want, Progress: o.Progress})
		if err != nil {
			return nil, err
		}
	}
	logf("%s: %d bytes, sha256 %s", e.Name, fr.Size, fr.SHA256)
	inst, err := installTarball(ctx, e, src, tarball, fr, o, logf)
	if err != nil {
		if errors.Is(err, ErrUnsafeArchive) || errors.Is(err, ErrArchive) {
			os.Remove(tarball) // a bad tarball is not worth keeping
		}
		// Otherwise (conversion failed) the tarball stays for the next try.
		return nil, err
	}
	if !o.KeepTarball {
		os.Remove(tarball)
	}
	return inst, nil
}

// reuseTarball accepts a complete tarball left by an earlier pull (Fetch
// renames only complete downloads) when it passes the known checks.
func reuseTarball(path string, size int64, want string) (FetchResult, error) {
	n, sum, err := hashFile(path)
	if err != nil {
		return FetchResult{}, err
	}
	if (size > 0 && n != size) || (want != "" && !strings.EqualFold(sum, want)) {
		os.Remove(path)
		return FetchResult{}, ErrChecksum
	}
	return FetchResult{Path: path, Size: n, SHA256: sum}, nil
}

// installTarball unpacks, describes, converts and installs a downloaded
// tarball.
func installTarball(ctx context.Context, e Entry, src, tarball string, fr FetchResult, o PullOptions, logf func(string, ...any)) (*Installed, error) {
	dest := filepath.Join(o.Root, e.Name)

	tmp, err := os.MkdirTemp(o.Root, ".pull-"+e.Name+"-")
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrArchive, err)
	}
	defer os.RemoveAll(tmp)
	f, err := os.Open(tarball)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrArchive, err)
	}
	logf("%s: unpacking", e.Name)
	err = Extract(f, tmp, o.Extract)
	f.Close()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", e.Name, err)
	}
	folder, err := modelFolder(tmp, e.Name)
	if err != nil {
		return nil, err
	}

	m := newManifest(e.Name)
	m.Role, m.Description, m.Source = e.Role, e.Description, src
	m.TarballSize, m.TarballSHA256 = fr.Size, fr.SHA256
	m.Preprocess = e.Preprocess
	if e.Role != RoleDataset {
		describe(m, folder)
		l, err := DetectLayout(folder)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", e.Name, err)
		}
		m.Kind = l.Kind
		if l.Kind == KindONNX {
			m.Model = filepath.Base(l.Model)
			if b, err := os.ReadFile(l.Model); err == nil {
				m.Inputs, m.Outputs, _ = onnxIO(b)
			}
		}
	}
	if m.Files, err = digestTree(folder); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrArchive, err)
	}
	if err := WriteManifest(folder, m); err != nil {
		return nil, err
	}
	if e.Role != RoleDataset && m.Kind != KindONNX && o.Converter != nil {
		logf("%s: converting to ONNX", e.Name)
		r, err := Resolve(ctx, folder, ResolveOptions{Converter: o.Converter, Force: true})
		if err != nil {
			return nil, fmt.Errorf("%s: %w", e.Name, err)
		}
		m = r.Manifest
	}

	if err := install(folder, dest); err != nil {
		return nil, err
	}
	logf("%s: installed in %s", e.Name, dest)
	return &Installed{Dir: dest, Manifest: m, Fresh: true}, nil
}

// modelFolder picks the folder a tarball unpacked into: tmp/<name>, else
// the only top-level folder, else tmp itself.
func modelFolder(tmp, name string) (string, error) {
	if st, err := os.Lstat(filepath.Join(tmp, name)); err == nil && st.IsDir() {
		return filepath.Join(tmp, name), nil
	}
	entries, err := os.ReadDir(tmp)
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrArchive, err)
	}
	if len(entries) == 1 && entries[0].IsDir() {
		return filepath.Join(tmp, entries[0].Name()), nil
	}
	return tmp, nil
}

// install moves folder to dest, replacing what is there: the old copy is
// first renamed aside, so dest is never half-written.
func install(folder, dest string) error {
	old := ""
	if _, err := os.Lstat(dest); err == nil {
		old = filepath.Join(filepath.Dir(dest), fmt.Sprintf(".old-%s-%d", filepath.Base(dest), time.Now().UnixNano()))
		if err := os.Rename(dest, old); err != nil {
			return fmt.Errorf("%w: replacing %s: %v", ErrArchive, dest, err)
		}
	}
	if err := os.Rename(folder, dest); err != nil {
		if old != "" {
			os.Rename(old, dest)
		}
		return fmt.Errorf("%w: installing %s: %v", ErrArchive, dest, err)
	}
	if old != "" {
		os.RemoveAll(old)
	}
	return nil
}

// List returns the model folders under root that carry a manifest, sorted
// by name. A missing root is an empty list. Folders whose manifest cannot
// be read are listed with a nil Manifest.
func List(root string) ([]Installed, error) {
	entries, err := os.ReadDir(root)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrManifest, err)
	}
	var out []Installed
	for _, e := range entries {
		if !e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		dir := filepath.Join(root, e.Name())
		if _, err := os.Stat(filepath.Join(dir, ManifestFile)); err != nil {
			continue
		}
		m, err := ReadManifest(dir)
		if err != nil {
			m = nil
		}
		out = append(out, Installed{Dir: dir, Manifest: m})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Dir < out[j].Dir })
	return out, nil
}
