package models

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Converted is what a Converter returns.
type Converted struct {
	// ONNX is the serialized ONNX model.
	ONNX []byte
	// Form is "plain", "raw-head" or "nms" (see Conversion.Form).
	Form string
	// Ops is the op inventory of the source program (type → count).
	Ops map[string]int
	// Converter names the converter and its version, for the manifest.
	Converter string
}

// Converter turns the Paddle model a Layout points at into ONNX. The paddle
// package provides the real one; tests use fakes. It must not keep
// references to the layout's files after returning.
type Converter func(ctx context.Context, l Layout) (*Converted, error)

// ResolveOptions configure Resolve. The zero value means: no converter
// (Paddle folders without a valid cached conversion fail with
// ErrNoConverter), no fallback cache folder, reuse valid conversions.
type ResolveOptions struct {
	// Converter converts Paddle files (nil: only cached conversions work).
	Converter Converter
	// CacheDir receives conversions of folders that cannot be written
	// (read-only model folders), under CacheDir/<source sha256>/. Empty
	// means such folders fail.
	CacheDir string
	// CacheOnly never writes beside the model: conversions go only to
	// CacheDir (which is then required). Use it for shared or pristine
	// model folders.
	CacheOnly bool
	// Force re-converts even when a valid conversion is cached.
	Force bool
}

// Resolved is the ONNX model a folder stands for.
type Resolved struct {
	// Path is the ONNX file to load.
	Path string
	// Layout is what the folder holds.
	Layout Layout
	// Manifest describes the folder (written next to the conversion; for
	// ONNX folders without a manifest it is built in memory only).
	Manifest *Manifest
	// Converted is true when this call ran the converter.
	Converted bool
}

// Resolve finds the ONNX model for a PaddleClas model folder
// (det_inference_model_dir / rec_inference_model_dir) or an .onnx path.
// ONNX folders are used as they are. Paddle folders are converted once:
// the ONNX goes to dir/shitu.onnx with a manifest keyed by the sha256 of
// the Paddle files, and later calls reuse it until those files change
// (then it converts again). A folder that cannot be written caches in
// o.CacheDir instead.
func Resolve(ctx context.Context, dir string, o ResolveOptions) (*Resolved, error) {
	l, err := DetectLayout(dir)
	if err != nil {
		return nil, err
	}
	if l.Kind == KindONNX {
		return resolveONNX(l)
	}
	key, err := sourceKey(l)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNoModel, err)
	}
	var cacheDirs []string
	if !o.CacheOnly {
		cacheDirs = append(cacheDirs, l.Dir)
	}
	if o.CacheDir != "" {
		cacheDirs = append(cacheDirs, filepath.Join(o.CacheDir, key))
	}
	if len(cacheDirs) == 0 {
		return nil, fmt.Errorf("%w: CacheOnly needs a CacheDir", ErrConvert)
	}
	if !o.Force {
		for _, d := range cacheDirs {
			if r := cached(d, l, key); r != nil {
				return r, nil
			}
		}
	}
	if o.Converter == nil {
		return nil, fmt.Errorf("%w: %s holds %s files", ErrNoConverter, l.Dir, l.Kind)
	}
	conv, err := o.Converter(ctx, l)
	if err != nil {
		if errors.Is(err, ErrConvert) {
			return nil, err
		}
		return nil, fmt.Errorf("%w: %s: %w", ErrConvert, l.Dir, err)
	}
	if conv == nil || len(conv.ONNX) == 0 {
		return nil, fmt.Errorf("%w: %s: converter returned no model", ErrConvert, l.Dir)
	}
	var lastErr error
	for _, d := range cacheDirs {
		if d != l.Dir {
			if err := os.MkdirAll(d, 0o755); err != nil {
				lastErr = err
				continue
			}
		}
		r, err := storeConversion(d, l, key, conv)
		if err == nil {
			return r, nil
		}
		lastErr = err
		if !errors.Is(err, fs.ErrPermission) && !errors.Is(err, fs.ErrExist) && !isReadOnly(err) {
			break
		}
	}
	return nil, fmt.Errorf("%w: cannot store the conversion of %s: %v (set a cache folder for read-only model folders)", ErrConvert, l.Dir, lastErr)
}

func isReadOnly(err error) bool {
	return strings.Contains(err.Error(), "read-only file system")
}

// cached returns the conversion stored in d if it matches the key and the
// ONNX file is intact, else nil.
func cached(d string, l Layout, key string) *Resolved {
	m, err := ReadManifest(d)
	if err != nil || m.ONNX == nil || m.ONNX.SourceSHA256 != key {
		return nil
	}
	p := m.ONNX.Path
	if !filepath.IsAbs(p) {
		p = filepath.Join(d, filepath.FromSlash(p))
	}
	size, sum, err := hashFile(p)
	if err != nil || size != m.ONNX.Size || sum != m.ONNX.SHA256 {
		return nil
	}
	return &Resolved{Path: p, Layout: l, Manifest: m}
}

// storeConversion writes the ONNX and the manifest into d, keeping what an
// existing manifest of d says about the model's origin.
func storeConversion(d string, l Layout, key string, c *Converted) (*Resolved, error) {
	onnxPath := filepath.Join(d, ConvertedFile)
	if err := writeAtomic(onnxPath, c.ONNX); err != nil {
		return nil, err
	}
	m, err := ReadManifest(d)
	if err != nil {
		if m, err = ReadManifest(l.Dir); err != nil {
			m = newManifest(filepath.Base(filepath.Clean(l.Dir)))
			m.Source = l.Dir
		}
	}
	sum := sha256.Sum256(c.ONNX)
	m.Kind = l.Kind
	m.ONNX = &Conversion{Path: ConvertedFile, Size: int64(len(c.ONNX)), SHA256: hex.EncodeToString(sum[:]),
		SourceSHA256: key, Converter: c.Converter, Form: c.Form, Ops: c.Ops}
	m.Model, m.Form = ConvertedFile, c.Form
	m.Inputs, m.Outputs, _ = onnxIO(c.ONNX)
	describe(m, l.Dir)
	if m.Role == RoleDetector && c.Form == "plain" {
		// A detector program without post-processing (the raw-head export of
		// models-and-formats.md §B.5) outputs the head tensors.
		m.Form = "raw-head"
	}
	if d == l.Dir {
		if m.Files, err = digestTree(d); err != nil {
			return nil, err
		}
	} else if m.Files, err = digestFiles(l.Dir, l.Sources()); err != nil {
		return nil, err
	}
	if err := WriteManifest(d, m); err != nil {
		return nil, err
	}
	return &Resolved{Path: onnxPath, Layout: l, Manifest: m, Converted: true}, nil
}

// resolveONNX uses an ONNX file as it is.
func resolveONNX(l Layout) (*Resolved, error) {
	m, err := ReadManifest(l.Dir)
	if err != nil {
		m = newManifest(filepath.Base(filepath.Clean(l.Dir)))
		m.Source = l.Dir
		m.Kind = KindONNX
		describe(m, l.Dir)
	}
	if m.Inputs == nil {
		if b, err := os.ReadFile(l.Model); err == nil {
			if in, out, err := onnxIO(b); err == nil {
				m.Inputs, m.Outputs = in, out
			} else {
				return nil, fmt.Errorf("%w: %s: %v", ErrNoModel, l.Model, err)
			}
		}
	}
	if m.Model == "" {
		m.Model = filepath.Base(l.Model)
	}
	return &Resolved{Path: l.Model, Layout: l, Manifest: m}, nil
}

// describe fills role, description, preprocessing and labels from the
// catalogue (known names) and from dir/infer_cfg.yml.
func describe(m *Manifest, dir string) {
	fillFromCatalogue(m)
	markSynthetic(m, dir)
	pre, labels := readInferCfg(dir)
	if m.Preprocess == nil {
		m.Preprocess = pre
	}
	if m.Labels == nil {
		m.Labels = labels
	}
	if m.Role == "" && pre != nil {
		m.Role = RoleDetector
	}
}

// fillFromCatalogue adds role, description and preprocessing for known
// model names.
func fillFromCatalogue(m *Manifest) {
	e, err := Lookup(m.Name)
	if err != nil {
		return
	}
	if m.Role == "" {
		m.Role = e.Role
	}
	if m.Description == "" {
		m.Description = e.Description
	}
	if m.Preprocess == nil {
		m.Preprocess = e.Preprocess
	}
}

// sourceKey is the sha256 over "name\x00sha256\n" lines of the source
// files, sorted by name.
func sourceKey(l Layout) (string, error) {
	files, err := digestFiles(l.Dir, l.Sources())
	if err != nil {
		return "", err
	}
	h := sha256.New()
	for _, f := range files {
		fmt.Fprintf(h, "%s\x00%s\n", f.Path, f.SHA256)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func digestFiles(dir string, paths []string) ([]FileDigest, error) {
	out := make([]FileDigest, 0, len(paths))
	for _, p := range paths {
		size, sum, err := hashFile(p)
		if err != nil {
			return nil, err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			rel = filepath.Base(p)
		}
		out = append(out, FileDigest{Path: filepath.ToSlash(rel), Size: size, SHA256: sum})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, nil
}
