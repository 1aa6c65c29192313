package models

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/shitu-go/shitu/arch"
	"github.com/shitu-go/shitu/onnx"
	"github.com/shitu-go/shitu/paddle"
)

// SynthMirror writes a mirror folder for offline machines: the two
// PP-ShiTuV2 networks with seeded weights (package arch) as Paddle
// inference models in the official tarball layout, dir/<name>.tar holding
// <name>/inference.pdmodel, inference.pdiparams, inference.pdiparams.info
// (and infer_cfg.yml for the detector). Pull with Mirror: dir then
// installs and converts them exactly as it would the official downloads.
// It returns the tarball paths. The detector has the released file's
// shape: three feeds and post-processing in control flow, which
// PaddleConverter cuts at the head outputs.
func SynthMirror(dir string, seed int64) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrArchive, err)
	}
	det, err := arch.BuildDet(seed, arch.DetOptions{})
	if err != nil {
		return nil, fmt.Errorf("%w: detector: %w", ErrConvert, err)
	}
	rec, err := arch.BuildRec(seed, arch.RecOptions{})
	if err != nil {
		return nil, fmt.Errorf("%w: extractor: %w", ErrConvert, err)
	}
	var out []string
	for _, n := range []struct {
		name  string
		model *onnx.ModelProto
		extra map[string][]byte
	}{
		{detName, det, map[string][]byte{"infer_cfg.yml": []byte(synthInferCfg), SynthMarker: synthMarker(seed)}},
		{recName, rec, map[string][]byte{SynthMarker: synthMarker(seed)}},
	} {
		pm, err := paddle.FromONNX(n.model)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %w", ErrConvert, n.name, err)
		}
		if n.name == detName {
			// Like the released v1.0 file: feeds image, im_shape and
			// scale_factor, post-processing in control flow that the
			// converter must cut at the head (models-and-formats.md §B.4).
			if err := paddle.AppendPicoDetPost(pm, paddle.PicoDetPost{Released: true}); err != nil {
				return nil, fmt.Errorf("%w: %s: %w", ErrConvert, n.name, err)
			}
		}
		var buf bytes.Buffer
		if err := paddle.WriteTar(&buf, n.name, pm); err != nil {
			return nil, fmt.Errorf("%w: %s: %w", ErrArchive, n.name, err)
		}
		b, err := appendToTar(buf.Bytes(), n.name, n.extra)
		if err != nil {
			return nil, err
		}
		p := filepath.Join(dir, n.name+".tar")
		if err := writeAtomic(p, b); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrArchive, err)
		}
		out = append(out, p)
	}
	return out, nil
}

const (
	detName = "picodet_PPLCNet_x2_5_mainbody_lite_v1.0_infer"
	recName = "general_PPLCNetV2_base_pretrained_v1.0_infer"
)

// synthInferCfg is the PaddleDetection side file of the mainbody detector,
// with the values of ppshitu-pipeline.md §4 (raw-head export, one class).
const synthInferCfg = `mode: paddle
draw_threshold: 0.5
metric: COCO
use_dynamic_shape: false
arch: PicoDet
min_subgraph_size: 3
Preprocess:
- interp: 2
  keep_ratio: false
  target_size:
  - 640
  - 640
  type: Resize
- is_scale: true
  mean:
  - 0.485
  - 0.456
  - 0.406
  std:
  - 0.229
  - 0.224
  - 0.225
  type: NormalizeImage
- type: Permute
label_list:
- foreground
NMS:
  keep_top_k: 100
  name: MultiClassNMS
  nms_threshold: 0.6
  nms_top_k: 1000
  score_threshold: 0.025
fpn_stride:
- 8
- 16
- 32
- 64
synthetic: seeded weights
`

// appendToTar rewrites an uncompressed tarball with extra files under
// prefix/.
func appendToTar(tb []byte, prefix string, extra map[string][]byte) ([]byte, error) {
	if len(extra) == 0 {
		return tb, nil
	}
	var out bytes.Buffer
	tw := tar.NewWriter(&out)
	tr := tar.NewReader(bytes.NewReader(tb))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrArchive, err)
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrArchive, err)
		}
		if _, err := io.Copy(tw, tr); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrArchive, err)
		}
	}
	for _, name := range sortedKeys(extra) {
		h := &tar.Header{Typeflag: tar.TypeReg, Name: prefix + "/" + name, Mode: 0o644,
			Size: int64(len(extra[name])), ModTime: time.Date(2022, 8, 1, 0, 0, 0, 0, time.UTC)}
		if err := tw.WriteHeader(h); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrArchive, err)
		}
		tw.Write(extra[name])
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrArchive, err)
	}
	return out.Bytes(), nil
}

// TarDir writes the folder src as an uncompressed tarball whose entries
// sit under prefix/ (the official layout: "drink_dataset_v2.0/gallery/..."),
// in lexical order with a fixed modification time, so the same folder gives
// the same bytes. Only folders and regular files are stored.
func TarDir(w io.Writer, src, prefix string) error {
	tw := tar.NewWriter(w)
	mt := time.Date(2022, 8, 1, 0, 0, 0, 0, time.UTC)
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		name := prefix
		if rel != "." {
			name = prefix + "/" + filepath.ToSlash(rel)
		}
		switch {
		case d.IsDir():
			return tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: name + "/", Mode: 0o755, ModTime: mt})
		case d.Type().IsRegular():
			f, err := os.Open(p)
			if err != nil {
				return err
			}
			defer f.Close()
			st, err := f.Stat()
			if err != nil {
				return err
			}
			if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, Size: st.Size(), ModTime: mt}); err != nil {
				return err
			}
			_, err = io.Copy(tw, f)
			return err
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("%w: %v", ErrArchive, err)
	}
	if err := tw.Close(); err != nil {
		return fmt.Errorf("%w: %v", ErrArchive, err)
	}
	return nil
}

func sortedKeys(m map[string][]byte) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// SynthMarker is a file that SynthMirror puts into its tarballs, so that
// models installed from such a mirror stay marked as synthesized (manifest
// Synthetic, `models list`, results) although they have the official
// layout and names.
const SynthMarker = "SHITU_SYNTHETIC"

func synthMarker(seed int64) []byte {
	return fmt.Appendf(nil, "seed %d\n%s\n", seed, SynthNote)
}

// markSynthetic sets m.Synthetic (and Note, Seed) when dir holds SynthMarker.
func markSynthetic(m *Manifest, dir string) {
	b, err := os.ReadFile(filepath.Join(dir, SynthMarker))
	if err != nil {
		return
	}
	m.Synthetic, m.Note = true, SynthNote
	var seed int64
	if _, err := fmt.Sscanf(string(b), "seed %d", &seed); err == nil {
		m.Seed = &seed
	}
}
