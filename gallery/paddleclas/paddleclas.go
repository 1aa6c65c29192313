// Package paddleclas reads and writes PaddleClas and PaddleX index_dirs
// (vector.index with id_map.pkl or id_map.yaml, ppshitu-pipeline.md §11.6,
// §17) for shitu galleries, with a bounded reader for the pickles, and
// runs build_gallery.py's IndexProcess on a gallery.
package paddleclas

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/shitu-go/shitu/gallery"
	"github.com/shitu-go/shitu/vecindex"
	"go.yaml.in/yaml/v3"
)

// Files of a PaddleClas / PaddleX index_dir (ppshitu-pipeline.md §11.6, §17).
const (
	VectorIndexFile = "vector.index"
	IDMapPickle     = "id_map.pkl"
	IDMapYAML       = "id_map.yaml"
)

// IndexProcess is PaddleClas' IndexProcess config block (§2.3, §11). The
// CLI decodes it from the YAML config and passes it to RunIndexProcess.
type IndexProcess struct {
	IndexMethod    string  `yaml:"index_method"`    // HNSW32 (default), IVF, Flat
	ImageRoot      string  `yaml:"image_root"`      // prefix of list paths
	IndexDir       string  `yaml:"index_dir"`       // gallery directory
	DataFile       string  `yaml:"data_file"`       // the list file
	IndexOperation string  `yaml:"index_operation"` // new (default), append, remove
	Delimiter      string  `yaml:"delimiter"`       // default TAB
	DistType       string  `yaml:"dist_type"`       // IP (default), hamming, anything else → L2
	EmbeddingSize  int     `yaml:"embedding_size"`  // default 512
	BatchSize      int     `yaml:"batch_size"`      // extraction batch, default 32 (for the gallery.Extractor)
	ReturnK        int     `yaml:"return_k"`
	ScoreThres     float32 `yaml:"score_thres"`
	HammingRadius  int     `yaml:"hamming_radius"`
}

// gallery.Options turns the block into gallery options for a model fingerprint.
// Metric follows build_gallery.py: "IP" → IP, "hamming" → Hamming, any
// other value → L2 (§11.4).
func (ip IndexProcess) Options(model string) (gallery.Options, error) {
	o := gallery.Options{Model: model, Dims: ip.EmbeddingSize, Method: ip.IndexMethod}
	if o.Dims == 0 {
		o.Dims = 512
	}
	if o.Method == "" {
		o.Method = gallery.MethodHNSW
	}
	m, err := gallery.ParseMethod(o.Method)
	if err != nil {
		return o, err
	}
	o.Method = m
	switch ip.DistType {
	case "IP", "":
		o.Metric = vecindex.IP
	case "hamming":
		o.Metric = vecindex.Hamming
	default:
		o.Metric = vecindex.L2
	}
	return o, nil
}

// IndexRun are the run-time inputs of RunIndexProcess.
type IndexRun struct {
	Model     string            // recognition model fingerprint (required)
	Extractor gallery.Extractor // makes features of new images
	Strict    bool              // see gallery.BuildOptions.Strict
	Progress  func(done, total int)
	// NoExport skips writing vector.index + id_map.pkl for PaddleClas
	// beside the gallery (default: written after every operation).
	NoExport bool
}

// IndexResult is the outcome of RunIndexProcess.
type IndexResult struct {
	Operation string
	gallery.Summary
	// Recreated is set when "new" replaced a gallery made with another
	// model or index layout.
	Recreated bool
	// Exported lists the PaddleClas files written (empty when skipped or
	// unsupported for the index type).
	Exported []string
}

// RunIndexProcess performs build_gallery.py's job on a shitu gallery in
// IndexDir (§11), with shitu's semantics where PaddleClas' hurt:
//   - new: the gallery ends up holding exactly the list's lines (like a
//     fresh PaddleClas build) but unchanged images are not re-extracted; a
//     gallery of another model or layout is replaced.
//   - append: lines not yet in the gallery are added; re-running the same
//     list adds nothing (PaddleClas would duplicate every line).
//   - remove: items whose stored doc line equals a stripped list line
//     byte for byte, or whose (path, label) match it, are removed; this
//     works for every index type including HNSW32 (PaddleClas refuses).
func RunIndexProcess(ctx context.Context, ip IndexProcess, run IndexRun) (IndexResult, error) {
	op := strings.ToLower(ip.IndexOperation)
	if op == "" {
		op = "new"
	}
	res := IndexResult{Operation: op}
	if op != "new" && op != "append" && op != "remove" {
		return res, fmt.Errorf("%w: index_operation %q (want new, append or remove)", gallery.ErrConfig, ip.IndexOperation)
	}
	if ip.IndexDir == "" || ip.DataFile == "" {
		return res, fmt.Errorf("%w: IndexProcess needs index_dir and data_file", gallery.ErrConfig)
	}
	opts, err := ip.Options(run.Model)
	if err != nil {
		return res, err
	}
	g, recreated, err := openForIndexProcess(ip.IndexDir, opts, op == "new")
	if err != nil {
		return res, err
	}
	defer g.Close()
	res.Recreated = recreated
	if op == "remove" {
		res.Summary, err = g.RemoveListed(ip.DataFile, ip.Delimiter)
	} else {
		res.Summary, err = g.Build(ctx, gallery.BuildOptions{List: ip.DataFile, ImageRoot: ip.ImageRoot, Delimiter: ip.Delimiter,
			Sync: op == "new", Strict: run.Strict, Extractor: run.Extractor, Progress: run.Progress})
	}
	if err != nil {
		return res, err
	}
	if !run.NoExport {
		files, err := ExportPaddleClas(g, ip.IndexDir)
		if err != nil && !errors.Is(err, gallery.ErrUnsupported) {
			return res, err
		}
		res.Exported = files
	}
	return res, g.Close()
}

// openForIndexProcess opens or creates the gallery; for "new" a gallery of
// another model or layout is replaced.
func openForIndexProcess(dir string, o gallery.Options, fresh bool) (*gallery.Gallery, bool, error) {
	g, err := gallery.Open(dir, o)
	switch {
	case errors.Is(err, gallery.ErrNoGallery) && !fresh && hasIndexDir(dir):
		// A PaddleClas/PaddleX index_dir without a shitu gallery: adopt
		// its entries first, so append/remove edit them instead of
		// overwriting vector.index with the new lines only.
		if g, err = Import(dir, dir, o.Model); err != nil {
			return nil, false, err
		}
		if g.Dims() != o.Dims || g.Metric() != o.Metric {
			g.Close()
			os.Remove(filepath.Join(dir, gallery.DBFile))
			return nil, false, fmt.Errorf("%w: %s holds %d-dim %v vectors, the config asks for %d-dim %v", gallery.ErrConfig, dir, g.Dims(), g.Metric(), o.Dims, o.Metric)
		}
		return g, false, nil
	case errors.Is(err, gallery.ErrNoGallery):
		g, err = gallery.Create(dir, o)
		return g, false, err
	case err == nil && g.Dims() == o.Dims && g.Metric() == o.Metric && (!fresh || g.Method() == o.Method):
		// append/remove keep the gallery's own index method.
		return g, false, nil
	case err == nil:
		g.Close()
		if !fresh {
			return nil, false, fmt.Errorf("%w: %s holds a %d-dim %v %s gallery, the config asks for %d-dim %v %s; use index_operation new to rebuild it",
				gallery.ErrConfig, dir, g.Dims(), g.Metric(), g.Method(), o.Dims, o.Metric, o.Method)
		}
	case errors.Is(err, gallery.ErrModelMismatch):
		if !fresh {
			return nil, false, err
		}
	default:
		return nil, false, err
	}
	for _, f := range []string{gallery.DBFile, gallery.SnapshotFile} {
		if err := os.Remove(filepath.Join(dir, f)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, false, fmt.Errorf("gallery: %w", err)
		}
	}
	g, err = gallery.Create(dir, o)
	return g, true, err
}

func hasIndexDir(dir string) bool {
	if _, err := os.Stat(filepath.Join(dir, VectorIndexFile)); err != nil {
		return false
	}
	for _, f := range []string{IDMapPickle, IDMapYAML} {
		if _, err := os.Stat(filepath.Join(dir, f)); err == nil {
			return true
		}
	}
	return false
}

// docOf is the doc line PaddleClas stores for an item: the original line,
// else "source<TAB>label"; without a source the id stands in for the path
// so that predict_system.py's split()[1] still finds the label (§7.2).
func docOf(it *gallery.Item) string {
	if it.Doc != "" {
		return it.Doc
	}
	src := it.Source
	if src == "" {
		src = strconv.FormatInt(it.ID, 10)
	}
	return src + "\t" + it.Label
}

// labelOfDoc recovers the label of a PaddleClas doc line: the second TAB
// column when there is one, else the second whitespace token (what
// predict_system.py shows as rec_docs, §7.2), else the whole line.
func labelOfDoc(doc string) (source, label string) {
	if parts := strings.Split(doc, "\t"); len(parts) >= 2 {
		return parts[0], parts[1]
	}
	if f := strings.Fields(doc); len(f) >= 2 {
		return f[0], f[1]
	}
	return "", strings.TrimSpace(doc)
}

// ExportPaddleClas writes vector.index and id_map.pkl into dir so that
// PaddleClas' predict_system.py loads the gallery (§11.6); every file is
// written atomically. It returns the paths written.
func ExportPaddleClas(g *gallery.Gallery, dir string) ([]string, error) {
	idmap, err := writeVectorIndex(g, dir)
	if err != nil {
		return nil, err
	}
	docs := make(map[int64]string, len(idmap))
	for id, it := range idmap {
		docs[id] = docOf(it)
	}
	p := filepath.Join(dir, IDMapPickle)
	if err := gallery.WriteFileAtomic(p, func(w io.Writer) error { return WriteIDMap(w, docs) }); err != nil {
		return nil, err
	}
	return []string{filepath.Join(dir, VectorIndexFile), p}, nil
}

// ExportPaddleX writes vector.index and id_map.yaml (index_type,
// metric_type, id_map {id: label}) as PaddleX's IndexData.save does (§17).
func ExportPaddleX(g *gallery.Gallery, dir string) ([]string, error) {
	idmap, err := writeVectorIndex(g, dir)
	if err != nil {
		return nil, err
	}
	ids := make([]int64, 0, len(idmap))
	for id := range idmap {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	m := &yaml.Node{Kind: yaml.MappingNode}
	for _, id := range ids {
		m.Content = append(m.Content,
			&yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: strconv.FormatInt(id, 10)},
			&yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: idmap[id].Label})
	}
	str := func(s string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s} }
	metric := g.Metric().String()
	doc := &yaml.Node{Kind: yaml.MappingNode, Content: []*yaml.Node{
		str("id_map"), m,
		str("index_type"), str(g.Method()),
		str("metric_type"), str(metric),
	}}
	p := filepath.Join(dir, IDMapYAML)
	err = gallery.WriteFileAtomic(p, func(w io.Writer) error {
		enc := yaml.NewEncoder(w)
		if err := enc.Encode(doc); err != nil {
			return err
		}
		return enc.Close()
	})
	if err != nil {
		return nil, err
	}
	return []string{filepath.Join(dir, VectorIndexFile), p}, nil
}

// IndexDir is the content of a PaddleClas or PaddleX index_dir.
type IndexDir struct {
	Format string // "paddleclas" or "paddlex"
	Dims   int    // bits for binary indexes
	Metric vecindex.Metric
	Method string         // Flat, HNSW32 or IVF as found in vector.index
	Items  []gallery.Item // ID kept from the index; Vector or Code filled

	index any // the vecindex index as read, serving Import directly
}

// ReadIndexDir reads vector.index with id_map.pkl (PaddleClas) or
// id_map.yaml (PaddleX). Labels: PaddleX stores them; for PaddleClas they
// are recovered from the doc lines (second TAB column, else second
// whitespace token).
func ReadIndexDir(dir string) (*IndexDir, error) {
	var docs map[int64]string
	format := "paddleclas"
	labelsOnly := false
	if f, err := os.Open(filepath.Join(dir, IDMapPickle)); err == nil {
		docs, err = ReadIDMap(bufio.NewReader(f))
		f.Close()
		if err != nil {
			return nil, err
		}
	} else if b, err := os.ReadFile(filepath.Join(dir, IDMapYAML)); err == nil {
		format, labelsOnly = "paddlex", true
		if docs, err = readPaddleXMap(b); err != nil {
			return nil, err
		}
	} else {
		return nil, fmt.Errorf("%w: %s has neither %s nor %s", gallery.ErrNoGallery, dir, IDMapPickle, IDMapYAML)
	}
	fx, err := readVectorIndex(filepath.Join(dir, VectorIndexFile))
	if err != nil {
		return nil, err
	}
	if len(fx.ids) != len(docs) {
		return nil, fmt.Errorf("%w: vector.index holds %d vectors, the id map %d entries (data number in index is not equal in id_map)", gallery.ErrFormat, len(fx.ids), len(docs))
	}
	out := &IndexDir{Format: format, Dims: fx.dims, Metric: fx.metric, Method: fx.method, index: fx.index}
	per := fx.dims
	if fx.metric == vecindex.Hamming {
		per = fx.dims / 8
	}
	for i, id := range fx.ids {
		doc, ok := docs[id]
		if !ok {
			return nil, fmt.Errorf("%w: vector id %d has no id map entry", gallery.ErrFormat, id)
		}
		it := gallery.Item{ID: id}
		if labelsOnly {
			it.Label = doc
		} else {
			it.Doc = doc
			it.Source, it.Label = labelOfDoc(doc)
		}
		if fx.metric == vecindex.Hamming {
			it.Code = fx.codes[i*per : (i+1)*per]
		} else {
			it.Vector = fx.vecs[i*per : (i+1)*per]
		}
		out.Items = append(out.Items, it)
	}
	return out, nil
}

func readPaddleXMap(b []byte) (map[int64]string, error) {
	var info struct {
		IDMap      map[int64]string `yaml:"id_map"`
		IndexType  string           `yaml:"index_type"`
		MetricType string           `yaml:"metric_type"`
	}
	if err := yaml.Unmarshal(b, &info); err != nil {
		return nil, fmt.Errorf("%w: id_map.yaml: %v", gallery.ErrFormat, err)
	}
	if info.IDMap == nil || info.MetricType == "" || info.IndexType == "" {
		return nil, fmt.Errorf("%w: id_map.yaml lacks id_map, metric_type or index_type", gallery.ErrFormat)
	}
	return info.IDMap, nil
}

// Import creates a gallery in dst from a PaddleClas or PaddleX index_dir,
// keeping ids, labels, doc lines and vectors; model is the fingerprint
// (feature.Fingerprint, see gallery.Options.Model) of the model that made the
// vectors: the caller vouches for it.
func Import(src, dst, model string) (*gallery.Gallery, error) {
	d, err := ReadIndexDir(src)
	if err != nil {
		return nil, err
	}
	return gallery.CreateFrom(dst, gallery.Options{Model: model, Dims: d.Dims, Metric: d.Metric, Method: d.Method}, d.Items, d.index)
}
