package gallery

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"

	"github.com/shitu-go/shitu/imaging"
)

// Extractor turns images into L2-normalised features, in batched model
// runs. It is the one extractor interface of shitu: recognition, gallery
// building and evaluation all take it, and feature.Extractor implements it.
type Extractor interface {
	// Extract returns one feature per image, in order.
	Extract(ctx context.Context, imgs []*imaging.Image) ([][]float32, error)
}

// FileExtractor is an Extractor with its own path for image files (e.g.
// decoding and preprocessing pipelined with the model runs, as
// feature.Extractor does). ExtractFiles uses it when available.
type FileExtractor interface {
	Extractor
	// ExtractFiles calls each exactly once per path, in path order, with the
	// feature or the error of that one image (decode failures are per image,
	// not fatal). A non-nil error from each stops the run and is returned.
	ExtractFiles(ctx context.Context, paths []string, each func(i int, vec []float32, err error) error) error
}

// fileBatch is how many decoded images ExtractFiles hands to a plain
// Extractor at once.
const fileBatch = 32

// ExtractFiles embeds image files with e, with FileExtractor's semantics:
// each is called once per path, in order, with the feature or that image's
// error. An Extractor without its own file path gets the files decoded
// (EXIF orientation applied) in batches of 32.
func ExtractFiles(ctx context.Context, e Extractor, paths []string, each func(i int, vec []float32, err error) error) error {
	if fe, ok := e.(FileExtractor); ok {
		return fe.ExtractFiles(ctx, paths, each)
	}
	for lo := 0; lo < len(paths); lo += fileBatch {
		hi := min(lo+fileBatch, len(paths))
		imgs := make([]*imaging.Image, 0, hi-lo)
		idx := make([]int, 0, hi-lo)
		errs := make([]error, hi-lo)
		for i := lo; i < hi; i++ {
			img, err := imaging.DecodeFile(paths[i], imaging.DecodeOptions{})
			if err != nil {
				errs[i-lo] = err
				continue
			}
			imgs, idx = append(imgs, img), append(idx, i)
		}
		vecs := make([][]float32, hi-lo)
		if len(imgs) > 0 {
			fs, err := e.Extract(ctx, imgs)
			if err != nil {
				return err
			}
			if len(fs) != len(imgs) {
				return fmt.Errorf("%w: extractor returned %d features for %d images", ErrConfig, len(fs), len(imgs))
			}
			for j, i := range idx {
				vecs[i-lo] = fs[j]
			}
		}
		for i := lo; i < hi; i++ {
			if err := each(i, vecs[i-lo], errs[i-lo]); err != nil {
				return err
			}
		}
	}
	return nil
}

// NewImage is an image to add: the bytes of its file and what to store
// with it.
type NewImage struct {
	Data   []byte
	Label  string
	Source string // e.g. the file path (optional)
	Meta   map[string]string
}

// AddImages is the one path from image bytes to stored items: each image
// is decoded (dec bounds its size), its bytes hashed (Item.SHA256), all
// are embedded by e in one batched run and added as one atomic, durable
// change. It returns the stored items with their ids (vectors left out).
// An image that cannot be decoded fails the call, which adds nothing; the
// error names the image's index.
func (g *Gallery) AddImages(ctx context.Context, e Extractor, imgs []NewImage, dec imaging.DecodeOptions) ([]Item, error) {
	return g.addImages(ctx, e, imgs, dec, func(i int) string { return fmt.Sprintf("item %d", i) })
}

// addImages is AddImages naming image i by name(i) in errors.
func (g *Gallery) addImages(ctx context.Context, e Extractor, imgs []NewImage, dec imaging.DecodeOptions, name func(int) string) ([]Item, error) {
	items, err := embedImages(ctx, e, imgs, dec, name)
	if err != nil || len(items) == 0 {
		return nil, err
	}
	ids, err := g.Add(items...)
	if err != nil {
		return nil, err
	}
	for i := range items {
		items[i].ID, items[i].Vector = ids[i], nil
	}
	return items, nil
}

// EmbedImages is AddImages without the adding: the items, with their
// SHA256 and Vector filled, as one batched model run makes them (a
// replicated gallery writes them to its log instead).
func EmbedImages(ctx context.Context, e Extractor, imgs []NewImage, dec imaging.DecodeOptions) ([]Item, error) {
	return embedImages(ctx, e, imgs, dec, func(i int) string { return fmt.Sprintf("item %d", i) })
}

func embedImages(ctx context.Context, e Extractor, imgs []NewImage, dec imaging.DecodeOptions, name func(int) string) ([]Item, error) {
	if e == nil {
		return nil, fmt.Errorf("%w: no extractor", ErrConfig)
	}
	decoded := make([]*imaging.Image, len(imgs))
	items := make([]Item, len(imgs))
	for i, im := range imgs {
		var err error
		if decoded[i], err = imaging.Decode(im.Data, dec); err != nil {
			return nil, fmt.Errorf("%s: %w", name(i), err)
		}
		sum := sha256.Sum256(im.Data)
		items[i] = Item{Label: im.Label, Source: im.Source, SHA256: hex.EncodeToString(sum[:]), Meta: im.Meta}
	}
	if len(imgs) == 0 {
		return nil, nil
	}
	feats, err := e.Extract(ctx, decoded)
	if err != nil {
		return nil, err
	}
	if len(feats) != len(items) {
		return nil, fmt.Errorf("%w: extractor returned %d features for %d images", ErrConfig, len(feats), len(items))
	}
	for i := range items {
		items[i].Vector = feats[i]
	}
	return items, nil
}

// AddFiles reads image files and adds them under one label with AddImages
// (Source is the path; errors name the path).
func (g *Gallery) AddFiles(ctx context.Context, e Extractor, label string, meta map[string]string, paths ...string) ([]Item, error) {
	imgs := make([]NewImage, len(paths))
	for i, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		imgs[i] = NewImage{Data: b, Label: label, Source: p, Meta: meta}
	}
	return g.addImages(ctx, e, imgs, imaging.DecodeOptions{}, func(i int) string { return paths[i] })
}
