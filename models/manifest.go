package models

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// File names inside a model folder.
const (
	// ManifestFile describes the folder (written by Pull, Resolve, Synth).
	ManifestFile = "shitu-model.json"
	// ConvertedFile is the ONNX conversion of the folder's Paddle files.
	ConvertedFile = "shitu.onnx"
)

// ManifestFormat and ManifestVersion identify the manifest JSON.
const (
	ManifestFormat  = "shitu-model-manifest"
	ManifestVersion = 1
)

// FileDigest is one file of a model folder.
type FileDigest struct {
	Path   string `json:"path"` // slash-separated, relative to the folder
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// Conversion records the cached ONNX conversion of a Paddle folder.
type Conversion struct {
	// Path is the ONNX file relative to the folder holding the manifest
	// (ConvertedFile): the model folder, or its cache folder
	// (ResolveOptions.CacheDir/<source sha256>) when that cannot be written.
	Path   string `json:"path"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
	// SourceSHA256 is the key of the cache: the sha256 over the sorted
	// (name, sha256) pairs of the source files (Layout.Sources).
	SourceSHA256 string `json:"source_sha256"`
	// Converter names the converter (e.g. "shitu paddle").
	Converter string `json:"converter,omitempty"`
	// Form is "plain", "raw-head" (detector cut where the head outputs
	// leave the network; decoded in Go) or "nms" (NMS in the graph).
	Form string `json:"form,omitempty"`
	// Ops is the op inventory of the Paddle program (type → count).
	Ops map[string]int `json:"ops,omitempty"`
}

// Manifest describes one model folder (or, for data sets, one data folder).
type Manifest struct {
	Format      string `json:"format"`
	Version     int    `json:"version"`
	Name        string `json:"name"`
	Role        Role   `json:"role,omitempty"`
	Description string `json:"description,omitempty"`
	// Source is where the tarball came from (URL or mirror path) or, for a
	// folder resolved in place, the folder.
	Source string `json:"source,omitempty"`
	// Synthetic is true for networks with seeded weights (Synth); Note then
	// says "synthetic: seeded weights".
	Synthetic bool   `json:"synthetic"`
	Note      string `json:"note,omitempty"`
	Seed      *int64 `json:"seed,omitempty"`
	// TarballSize and TarballSHA256 describe the downloaded tarball,
	// recorded on download (not invented when the catalogue has no pin).
	TarballSize   int64  `json:"tarball_size,omitempty"`
	TarballSHA256 string `json:"tarball_sha256,omitempty"`
	// Kind is the kind of model files (paddle, paddle-pir, onnx, ...).
	Kind Kind `json:"kind,omitempty"`
	// Files are the folder's files with their digests (not the manifest).
	Files []FileDigest `json:"files,omitempty"`
	// ONNX is the conversion of Paddle files; nil for ONNX folders.
	ONNX *Conversion `json:"onnx,omitempty"`
	// Model is the ONNX file to run, relative to the folder when inside it.
	Model string `json:"model,omitempty"`
	// Form is the form of that ONNX model: "plain", "raw-head" (detector
	// head outputs, decoded by detect) or "nms" (NMS in the graph); empty
	// when unknown.
	Form string `json:"form,omitempty"`
	// Inputs and Outputs are those of the ONNX model to run.
	Inputs  []Tensor `json:"inputs,omitempty"`
	Outputs []Tensor `json:"outputs,omitempty"`
	// Preprocess is what the network expects (from the catalogue, else
	// from a PaddleDetection infer_cfg.yml in the folder).
	Preprocess *Preprocess `json:"preprocess,omitempty"`
	// Labels are the class names of a detector (infer_cfg.yml label_list).
	Labels  []string  `json:"labels,omitempty"`
	Created time.Time `json:"created"`
}

func newManifest(name string) *Manifest {
	return &Manifest{Format: ManifestFormat, Version: ManifestVersion, Name: name, Created: time.Now().UTC().Truncate(time.Second)}
}

// ReadManifest reads dir/ManifestFile.
func ReadManifest(dir string) (*Manifest, error) {
	b, err := os.ReadFile(filepath.Join(dir, ManifestFile))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrManifest, err)
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrManifest, dir, err)
	}
	if m.Format != ManifestFormat {
		return nil, fmt.Errorf("%w: %s: format %q, want %q", ErrManifest, dir, m.Format, ManifestFormat)
	}
	if m.Version < 1 || m.Version > ManifestVersion {
		return nil, fmt.Errorf("%w: %s: version %d not supported (this build reads up to %d)", ErrManifest, dir, m.Version, ManifestVersion)
	}
	return &m, nil
}

// WriteManifest writes m to dir/ManifestFile atomically.
func WriteManifest(dir string, m *Manifest) error {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return fmt.Errorf("%w: %v", ErrManifest, err)
	}
	return writeAtomic(filepath.Join(dir, ManifestFile), append(b, '\n'))
}

// writeAtomic writes a file through a temporary file and a rename.
func writeAtomic(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp, 0o644)
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
	}
	return err
}

// digestTree lists the regular files under dir with their digests, skipping
// the manifest, temporary files and partial downloads.
func digestTree(dir string) ([]FileDigest, error) {
	var out []FileDigest
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.Type().IsRegular() {
			return nil
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		base := d.Name()
		if rel == ManifestFile || rel == ConvertedFile || (len(base) > 0 && base[0] == '.') {
			return nil
		}
		size, sum, err := hashFile(p)
		if err != nil {
			return err
		}
		out = append(out, FileDigest{Path: filepath.ToSlash(rel), Size: size, SHA256: sum})
		return nil
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, err
}

// Verify checks the files of an installed folder against its manifest:
// every listed file present with its size and sha256, and the converted
// ONNX intact. It returns nil or an error wrapping ErrChecksum (or
// ErrManifest) that names every problem.
func Verify(dir string) error {
	m, err := ReadManifest(dir)
	if err != nil {
		return err
	}
	var problems []string
	check := func(rel string, size int64, sum string) {
		n, got, err := hashFile(filepath.Join(dir, filepath.FromSlash(rel)))
		switch {
		case err != nil:
			problems = append(problems, fmt.Sprintf("%s: %v", rel, err))
		case n != size || got != sum:
			problems = append(problems, fmt.Sprintf("%s: %d bytes sha256 %s, manifest says %d bytes sha256 %s", rel, n, got, size, sum))
		}
	}
	for _, f := range m.Files {
		check(f.Path, f.Size, f.SHA256)
	}
	if m.ONNX != nil && !filepath.IsAbs(m.ONNX.Path) {
		check(m.ONNX.Path, m.ONNX.Size, m.ONNX.SHA256)
	}
	if len(problems) > 0 {
		return fmt.Errorf("%w: %s: %s", ErrChecksum, dir, strings.Join(problems, "; "))
	}
	return nil
}
