package paddleclas

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/shitu-go/shitu/gallery"
	"github.com/shitu-go/shitu/vecindex"
	"github.com/shitu-go/shitu/vecindex/faiss"
)

// faissData is a vector.index as read: ids in storage order and their
// vectors or codes, plus the loaded index itself, which serves the gallery
// directly (same graph and parameters, so the same results as faiss).
type faissData struct {
	dims   int
	metric vecindex.Metric
	method string
	ids    []int64
	vecs   []float32
	codes  []byte
	index  any // vecindex.Index or vecindex.BinaryIndex
}

// readVectorIndex reads a faiss vector.index (write_index or
// write_index_binary) with vecindex/faiss.
func readVectorIndex(path string) (*faissData, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("paddleclas: %w", err)
	}
	fx := &faissData{}
	if bytes.HasPrefix(b, []byte("IB")) {
		bi, err := faiss.ReadBinary(bytes.NewReader(b))
		if err != nil {
			return nil, fmt.Errorf("paddleclas: %s: %w", path, err)
		}
		fx.index, fx.dims, fx.metric = bi, bi.Dims(), vecindex.Hamming
		switch v := bi.(type) {
		case *vecindex.BinaryFlat:
			fx.method = gallery.MethodFlat
			fx.ids, fx.codes = v.Data()
		case *vecindex.BinaryHNSW:
			fx.method = gallery.MethodHNSW
			_, fx.ids, fx.codes = v.Graph()
		default:
			return nil, fmt.Errorf("%w: binary index type %T", gallery.ErrUnsupported, bi)
		}
		return fx, nil
	}
	ix, err := faiss.Read(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("paddleclas: %s: %w", path, err)
	}
	fx.index, fx.dims, fx.metric = ix, ix.Dims(), ix.Metric()
	switch v := ix.(type) {
	case *vecindex.Flat:
		fx.method = gallery.MethodFlat
		fx.ids, fx.vecs = v.Data()
	case *vecindex.HNSW:
		fx.method = gallery.MethodHNSW
		_, fx.ids, fx.vecs = v.Graph()
	case *vecindex.IVF:
		fx.method = gallery.MethodIVF
		_, lists, _ := v.Lists()
		for _, l := range lists {
			fx.ids = append(fx.ids, l.IDs...)
			fx.vecs = append(fx.vecs, l.Vecs...)
		}
	default:
		return nil, fmt.Errorf("%w: index type %T", gallery.ErrUnsupported, ix)
	}
	return fx, nil
}

// writeVectorIndex writes the gallery's index as a faiss vector.index in
// dir (float: wrapped in IndexIDMap2 as build_gallery.py does; binary:
// IBxF/IBHf, with an IBM2 id map when ids are not positions) and returns
// the items by faiss id. Writers are blocked meanwhile.
func writeVectorIndex(g *gallery.Gallery, dir string) (map[int64]*gallery.Item, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("paddleclas: %w", err)
	}
	var byID map[int64]*gallery.Item
	err := g.Frozen(func(index any, items []gallery.Item) error {
		err := gallery.WriteFileAtomic(filepath.Join(dir, VectorIndexFile), func(w io.Writer) error {
			bw := bufio.NewWriterSize(w, 1<<20)
			var err error
			switch ix := index.(type) {
			case vecindex.BinaryIndex:
				err = faiss.WriteBinary(bw, ix)
			case vecindex.Index:
				err = faiss.Write(bw, ix, faiss.WriteOptions{IDMap: faiss.IDMap2})
			default:
				err = fmt.Errorf("%w: index of type %T", gallery.ErrUnsupported, index)
			}
			if err != nil {
				return err
			}
			return bw.Flush()
		})
		if err != nil {
			return err
		}
		byID = make(map[int64]*gallery.Item, len(items))
		for i := range items {
			byID[items[i].ID] = &items[i]
		}
		return nil
	})
	return byID, err
}
